"""The secret Compute's metadata API and Networking's metadata proxy share.

The proxy names the instance a request comes from in ``X-Instance-ID`` and proves it with
``X-Instance-ID-Signature``: the hex HMAC-SHA256 of the instance id keyed by this secret
(Nova's ``metadata_proxy_shared_secret``). Set it in ``metadata_proxy_shared_secret``, or one
is made on first use and kept in ``DATA/metadata-proxy-secret`` (0600) for every process.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import TYPE_CHECKING

from onestack.common.files import write_private

if TYPE_CHECKING:
    from onestack.common.config import Settings

SECRET_FILE = "metadata-proxy-secret"
#: where the process serving Compute mounts its metadata API
PREFIX = "/compute-metadata"


def shared_secret(settings: Settings) -> str:
    """The configured secret, else the one kept in the data dir (made on first use)."""
    if settings.metadata_proxy_shared_secret:
        return settings.metadata_proxy_shared_secret
    path = settings.data_dir / SECRET_FILE
    kept = path.read_text().strip() if path.is_file() else ""
    if kept:
        return kept
    value = secrets.token_urlsafe(32)
    write_private(path, value + "\n")
    return value


def api_url(settings: Settings) -> str:
    """Where the proxy forwards: Compute's metadata API in this cloud (``remote_services``
    names Compute's base URL when another process serves it)."""
    base = settings.remote_services.get("compute") or settings.base_url
    return base.rstrip("/") + PREFIX


def sign(secret: str, instance_id: str) -> str:
    """``X-Instance-ID-Signature`` for ``instance_id``."""
    return hmac.new(secret.encode(), instance_id.encode(), hashlib.sha256).hexdigest()


def verify(secret: str, instance_id: str, signature: str) -> bool:
    """Whether ``signature`` signs ``instance_id`` (in constant time, any characters)."""
    given = signature.encode("utf-8", "surrogateescape")
    return hmac.compare_digest(sign(secret, instance_id).encode(), given)
