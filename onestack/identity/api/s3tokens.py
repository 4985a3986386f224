"""``POST /v3/s3tokens`` and ``POST /v3/ec2tokens``: an S3 / EC2 request's signature checked
with the secret of the EC2 credential its access key names; the answer is a token of the
credential's user scoped to its project (what Swift's s3token middleware and Nova's EC2 API
ask Keystone). As in Keystone, the signature is the proof: no X-Auth-Token is needed."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac

import orjson
from fastapi import Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from onestack.common.api import json
from onestack.common.errors import Unauthorized
from onestack.identity import credentials
from onestack.identity.api import public_router
from onestack.identity.api.common import body_as
from onestack.identity.manager import manager_of
from onestack.identity.models import Credential
from onestack.identity.token_formatter import TokenPayload, new_audit_id
from onestack.identity.tokens import TokenInvalid

router = public_router()


class SignedRequest(BaseModel):
    model_config = ConfigDict(extra="allow")
    access: str = Field(min_length=1, max_length=255)
    token: str = Field(min_length=1, max_length=65536)  # base64 of the string to sign
    signature: str = Field(min_length=1, max_length=1024)


class S3TokenRequest(BaseModel):
    model_config = ConfigDict(extra="allow")
    credentials: SignedRequest


def expected_signature(secret: str, string_to_sign: str) -> str:
    """SigV4 (hex) when the string to sign is a SigV4 one, else SigV2 (base64 HMAC-SHA1)."""
    if string_to_sign.startswith("AWS4-HMAC-SHA256\n"):
        lines = string_to_sign.split("\n")
        if len(lines) < 4:
            raise Unauthorized("The signature is not valid.")
        date, region, service, terminal = ([*lines[2].split("/"), "", "", "", ""])[:4]
        key = ("AWS4" + secret).encode()
        for part in (date, region, service, terminal):
            key = hmac.new(key, part.encode(), hashlib.sha256).digest()
        return hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
    digest = hmac.new(secret.encode(), string_to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


async def _answer(request: Request) -> Response:
    body = await body_as(request, S3TokenRequest)
    signed = body.credentials
    try:
        string_to_sign = base64.b64decode(signed.token, validate=False).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise Unauthorized("The signature is not valid.") from None
    mgr = manager_of(request)
    async with mgr.read() as session:
        cred = await session.get(Credential, credentials.ec2_id(signed.access))
        if cred is None or cred.type != credentials.EC2:
            raise Unauthorized("The EC2 credential is not known.")
        blob = orjson.loads(credentials.decrypt(mgr.credential_keys, cred))
    if not hmac.compare_digest(
        expected_signature(blob["secret"], string_to_sign), signed.signature
    ):
        raise Unauthorized("The signature is not valid.")
    state = request.app.state
    expires = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=mgr.conf.token_expiration)
    payload = TokenPayload(
        cred.user_id, ["ec2credential"], expires, [new_audit_id()], project_id=cred.project_id
    )
    try:
        token, info = await state.tokens.issue(payload)
    except TokenInvalid:
        raise Unauthorized("The credential's user has no role on its project.") from None
    catalog = await state.tokens.catalog(cred.project_id)
    return json(info.body(catalog), headers={"X-Subject-Token": token})


@router.post("/v3/s3tokens")
async def s3tokens(request: Request) -> Response:
    return await _answer(request)


@router.post("/v3/ec2tokens")
async def ec2tokens(request: Request) -> Response:
    return await _answer(request)
