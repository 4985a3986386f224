"""Credentials (EC2 keys, TOTP secrets, certificates ...) with their blob encrypted at rest.

The blob is encrypted with the primary key of the credential key repository; ``key_hash``
(sha1 of that key) records which key it was, so a rotation can find what to re-encrypt.
An ``ec2`` credential's id is the sha256 of the access key it was created with (as in Keystone);
an update may change the access key (the id stays), so ``access_hash`` (the sha256 of the access
key the blob holds now) is what a lookup by access key searches.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from onestack.common.db import new_id
from onestack.common.errors import APIError, BadRequest, Conflict, Forbidden, NotFound
from onestack.common.fernet import InvalidToken, KeyRepository
from onestack.common.pagination import PageRequest, paginate
from onestack.identity import assignment, resource, users
from onestack.identity.models import Credential

EC2 = "ec2"


def _primary_key(keys: KeyRepository) -> bytes:
    found = keys.keys()
    return found[max(i for i in found if i != 0)]


def encrypt(keys: KeyRepository, blob: str) -> tuple[str, str]:
    """(encrypted blob, key_hash) for storing ``blob``."""
    key_hash = hashlib.sha1(_primary_key(keys)).hexdigest()
    return keys.encrypt(blob.encode()).decode(), key_hash


def decrypt(keys: KeyRepository, cred: Credential) -> str:
    try:
        return keys.decrypt(cred.encrypted_blob.encode()).decode()
    except InvalidToken:
        raise APIError(
            f"The blob of credential {cred.id} cannot be decrypted with the credential keys."
        ) from None


def ec2_access(blob: str) -> str:
    """The access key of an ec2 blob (a JSON object with ``access``); 400 otherwise."""
    try:
        data = orjson.loads(blob)
    except orjson.JSONDecodeError:
        raise BadRequest("Invalid blob in credential: an ec2 blob must be JSON.") from None
    access = data.get("access") if isinstance(data, dict) else None
    if not isinstance(access, str) or not access:
        raise BadRequest("Invalid blob in credential: an ec2 blob needs an 'access' key.")
    return access


def ec2_id(access: str) -> str:
    return hashlib.sha256(access.encode()).hexdigest()


async def get_credential(session: AsyncSession, credential_id: str) -> Credential:
    cred = await session.get(Credential, credential_id)
    if cred is None:
        raise NotFound(f"Could not find credential: {credential_id}.")
    return cred


async def list_credentials(
    session: AsyncSession,
    page: PageRequest,
    *,
    user_id: str | None = None,
    type: str | None = None,
) -> list[Credential]:
    stmt = select(Credential)
    if user_id is not None:
        stmt = stmt.where(Credential.user_id == user_id)
    if type is not None:
        stmt = stmt.where(Credential.type == type)
    return await paginate(session, stmt, Credential, page)


async def create_credential(
    session: AsyncSession,
    keys: KeyRepository,
    *,
    user_id: str,
    type: str,
    blob: str,
    project_id: str | None = None,
    extra: dict[str, Any] | None = None,
) -> Credential:
    cred_id, access_hash = new_id(), None
    if type == EC2:
        access = ec2_access(blob)
        cred_id = access_hash = ec2_id(access)
        await _assert_access_free(session, access, cred_id)
    if await session.get(Credential, cred_id) is not None:
        raise Conflict(
            f"Conflict occurred attempting to store credential - Duplicate ID, {cred_id}."
        )
    encrypted, key_hash = encrypt(keys, blob)
    cred = Credential(
        id=cred_id,
        user_id=user_id,
        project_id=project_id,
        type=type,
        encrypted_blob=encrypted,
        key_hash=key_hash,
        access_hash=access_hash,
        extra=extra or {},
    )
    session.add(cred)
    await session.flush()
    return cred


async def update_credential(
    session: AsyncSession, keys: KeyRepository, cred: Credential, changes: dict[str, Any]
) -> Credential:
    """Apply ``changes`` (user_id, project_id, type, blob); an ec2 id keeps its access key."""
    blob = changes.pop("blob", None)
    for key, value in changes.items():
        setattr(cred, key, value)
    cred.access_hash = None
    if cred.type == EC2:
        access = ec2_access(blob if blob is not None else decrypt(keys, cred))
        await _assert_access_free(session, access, cred.id)
        cred.access_hash = ec2_id(access)
    if blob is not None:
        cred.encrypted_blob, cred.key_hash = encrypt(keys, blob)
    await session.flush()
    return cred


async def delete_credential(session: AsyncSession, credential_id: str) -> None:
    await session.delete(await get_credential(session, credential_id))


# -- OS-EC2: generated access/secret pairs, stored as credentials of type ec2 ------------------
async def check_ec2_owner(session: AsyncSession, user_id: str, project_id: str) -> None:
    """The user and project exist and the user holds a role on the project (404 / 403)."""
    await users.get_user(session, user_id)
    project = await resource.get_project(session, project_id)
    if not await assignment.direct_role_ids(session, user_id, project=project):
        raise Forbidden(f"User {user_id} has no role on project {project_id}.")


async def create_ec2_credential(
    session: AsyncSession,
    keys: KeyRepository,
    *,
    user_id: str,
    project_id: str,
    trust_id: str | None = None,
) -> tuple[Credential, str]:
    """A new random access/secret pair for the user on the project: (row, plaintext blob)."""
    await check_ec2_owner(session, user_id, project_id)
    blob = orjson.dumps({"access": new_id(), "secret": new_id(), "trust_id": trust_id}).decode()
    cred = await create_credential(
        session, keys, user_id=user_id, type=EC2, blob=blob, project_id=project_id
    )
    return cred, blob


async def _ec2_by_access(
    session: AsyncSession, access: str, user_id: str | None = None
) -> Credential | None:
    """The ec2 credential whose blob holds ``access`` now (of ``user_id`` when given)."""
    stmt = select(Credential).where(
        Credential.type == EC2, Credential.access_hash == ec2_id(access)
    )
    if user_id is not None:
        stmt = stmt.where(Credential.user_id == user_id)
    return (await session.execute(stmt)).scalars().first()


async def _assert_access_free(session: AsyncSession, access: str, cred_id: str) -> None:
    """No other ec2 credential may hold this access key: 409."""
    clash = await _ec2_by_access(session, access)
    if clash is not None and clash.id != cred_id:
        raise Conflict("Conflict occurred attempting to store credential - Duplicate access key.")


async def get_ec2_credential(session: AsyncSession, user_id: str, access: str) -> Credential:
    """The user's ec2 credential with this access key; 404 when it is not theirs."""
    cred = await _ec2_by_access(session, access, user_id)
    if cred is None:
        raise NotFound(f"Could not find credential: {access}.")
    return cred
