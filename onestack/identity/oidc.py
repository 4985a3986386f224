"""OpenID Connect bearer tokens checked by onestack itself (no front end needed).

With ``identity.federation_oidc_audience`` set, a ``Authorization: Bearer <JWT>`` on a
federated authentication URL is verified here: its ``iss`` must be one of the identity
provider's remote ids, its signature must verify with a key of that issuer's JWKS (found
through ``{iss}/.well-known/openid-configuration``), its ``aud`` must hold the configured
audience and it must not be expired. Its claims then become the assertion, named as
mod_auth_openidc names them (``OIDC-CLAIM-email`` ...), so the same mappings serve both.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

import httpx

from onestack.common.errors import Unauthorized

ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512")
#: How long an issuer's keys are kept before they are fetched again (seconds).
JWKS_TTL = 300.0
_jwks: dict[str, tuple[float, dict[str, Any]]] = {}


def unverified_issuer(token: str) -> str:
    import jwt

    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise Unauthorized("The bearer token is not a JWT.") from None
    issuer = claims.get("iss")
    if not isinstance(issuer, str) or not issuer:
        raise Unauthorized("The bearer token names no issuer.")
    return issuer


async def _issuer_keys(issuer: str, *, refresh: bool = False) -> dict[str, Any]:
    cached = _jwks.get(issuer)
    if cached is not None and not refresh and time.monotonic() - cached[0] < JWKS_TTL:
        return cached[1]
    try:
        async with httpx.AsyncClient(timeout=10) as client:
            discovery = await client.get(f"{issuer.rstrip('/')}/.well-known/openid-configuration")
            discovery.raise_for_status()
            jwks_uri = discovery.json()["jwks_uri"]
            keys = (await client.get(jwks_uri)).raise_for_status().json()
    except (httpx.HTTPError, ValueError, KeyError, TypeError):
        raise Unauthorized(f"The keys of the issuer {issuer} could not be fetched.") from None
    _jwks[issuer] = (time.monotonic(), keys)
    return keys  # type: ignore[no-any-return]


def _key_for(keys: dict[str, Any], kid: str | None) -> Any:
    import jwt

    candidates = [k for k in keys.get("keys", []) if kid is None or k.get("kid") == kid]
    for candidate in candidates:
        try:
            return jwt.PyJWK(candidate).key
        except jwt.PyJWTError:
            continue
    return None


async def verify(token: str, issuer: str, audience: str) -> dict[str, Any]:
    """The claims of ``token`` once its signature, issuer, audience and times check out."""
    import jwt

    try:
        kid = jwt.get_unverified_header(token).get("kid")
    except jwt.PyJWTError:
        raise Unauthorized("The bearer token is not a JWT.") from None
    key = _key_for(await _issuer_keys(issuer), kid)
    if key is None:  # the issuer may have rotated its keys
        key = _key_for(await _issuer_keys(issuer, refresh=True), kid)
    if key is None:
        raise Unauthorized("No key of the issuer matches the bearer token.")
    try:
        return jwt.decode(  # type: ignore[no-any-return]
            token,
            key,
            algorithms=list(ALGORITHMS),
            audience=audience,
            issuer=issuer,
            options={"require": ["exp", "iss", "aud"]},
            leeway=30,
        )
    except jwt.PyJWTError as exc:
        raise Unauthorized(f"The bearer token is not valid: {exc}.") from None


def claims_as_assertion(claims: dict[str, Any], prefix: str) -> dict[str, str]:
    """Claims as assertion attributes: lists joined with ``;``, objects as JSON."""
    assertion: dict[str, str] = {}
    for name, value in claims.items():
        if isinstance(value, str):
            text = value
        elif isinstance(value, Sequence):
            text = ";".join(str(v) for v in value)
        elif isinstance(value, bool | int | float):
            text = json.dumps(value)
        else:
            text = json.dumps(value, sort_keys=True)
        assertion[f"{prefix}{name}"] = text
    return assertion
