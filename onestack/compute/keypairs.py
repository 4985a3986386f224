"""Keypairs: generated (the private key answered once) or imported; ssh and x509 as Nova."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import re

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from onestack.common.errors import BadRequest, Conflict, NotFound
from onestack.compute.models import KeyPair

_NAME = re.compile(r"^[a-zA-Z0-9 _\-.@]+$")


def check_name(name: object) -> str:
    if not isinstance(name, str) or not name.strip() or len(name) > 255:
        raise BadRequest(
            "Keypair data is invalid: Keypair name must be string and between 1 "
            "and 255 characters long"
        )
    if not _NAME.match(name):
        raise BadRequest("Keypair data is invalid: Keypair name contains unsafe characters")
    return name


def _colons(digest: bytes) -> str:
    return ":".join(f"{b:02x}" for b in digest)


def ssh_fingerprint(public_key: str) -> str:
    """Nova's fingerprint of an OpenSSH public key: MD5 of the key blob, colon-separated."""
    from cryptography.hazmat.primitives.serialization import load_ssh_public_key

    text = public_key.strip()
    try:
        load_ssh_public_key(text.encode())
        blob = base64.b64decode(text.split()[1], validate=True)
    except Exception:
        raise BadRequest("Keypair data is invalid: failed to generate fingerprint") from None
    return _colons(hashlib.md5(blob, usedforsecurity=False).digest())


def x509_fingerprint(pem: str) -> str:
    """SHA-1 of the certificate's DER form, colon-separated, as Nova computes it."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    try:
        cert = x509.load_pem_x509_certificate(pem.encode())
    except Exception:
        raise BadRequest("Keypair data is invalid: failed to generate X509 fingerprint") from None
    return _colons(hashlib.sha1(cert.public_bytes(Encoding.DER), usedforsecurity=False).digest())


def generate_ssh() -> tuple[str, str]:
    """(private key in OpenSSH PEM, public key line) of a new 2048-bit RSA key."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode()
    )
    return private, f"{public} Generated-by-Nova"


def generate_x509(user_id: str) -> tuple[str, str]:
    """(private key PEM, self-signed certificate PEM) for a new x509 keypair."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, user_id)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=3650))
        .sign(key, hashes.SHA256())
    )
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    return private, cert.public_bytes(serialization.Encoding.PEM).decode()


async def create(
    session: AsyncSession, user_id: str, name: str, key_type: str, public_key: str | None
) -> tuple[KeyPair, str | None]:
    """Import ``public_key`` or generate one; (keypair, private key when generated)."""
    check_name(name)
    if key_type not in ("ssh", "x509"):
        raise BadRequest("Invalid input for field 'type': must be 'ssh' or 'x509'.")
    found = await session.execute(
        select(KeyPair.id).where(KeyPair.user_id == user_id, KeyPair.name == name)
    )
    if found.first() is not None:
        raise Conflict(f"Key pair '{name}' already exists.")
    private = None
    if public_key is None:
        if key_type == "x509":
            private, public_key = generate_x509(user_id)
        else:
            private, public_key = generate_ssh()
    elif not isinstance(public_key, str) or len(public_key) > 65536:
        raise BadRequest("Keypair data is invalid: public_key must be a string.")
    fingerprint = (
        x509_fingerprint(public_key) if key_type == "x509" else ssh_fingerprint(public_key)
    )
    pair = KeyPair(
        user_id=user_id,
        name=name,
        type=key_type,
        public_key=public_key.strip(),
        fingerprint=fingerprint,
    )
    session.add(pair)
    await session.flush()
    return pair, private


async def get(session: AsyncSession, user_id: str, name: str) -> KeyPair:
    pair = (
        await session.execute(
            select(KeyPair).where(KeyPair.user_id == user_id, KeyPair.name == name)
        )
    ).scalar()
    if pair is None:
        raise NotFound(f"Keypair {name} not found for user {user_id}")
    return pair


async def list_pairs(
    session: AsyncSession, user_id: str, limit: int | None, marker: str | None
) -> list[KeyPair]:
    stmt = select(KeyPair).where(KeyPair.user_id == user_id).order_by(KeyPair.name)
    if marker:
        await get(session, user_id, marker)
        stmt = stmt.where(KeyPair.name > marker)
    if limit is not None:
        stmt = stmt.limit(limit)
    return list((await session.execute(stmt)).scalars())
