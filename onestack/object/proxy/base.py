"""What every controller shares: the storage, authorization and header helpers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from onestack.object import timestamps
from onestack.object.proxy.http import HTTPError, Request

if TYPE_CHECKING:
    from onestack.object.service import ObjectService


def authorize(req: Request, account: str, acls: dict[str, str] | None, target: str) -> None:
    check = req.environ.get("authorize")
    if check is None:
        raise HTTPError(401)
    check(req, account, acls, target=target)


def container_acls(metadata: dict[str, str]) -> dict[str, str]:
    return {
        "read": metadata.get("x-container-read", ""),
        "write": metadata.get("x-container-write", ""),
    }


def request_timestamp(req: Request) -> str:
    given = req.header("x-timestamp")
    if given is not None:
        ts = timestamps.valid(given)
        if ts is None:
            raise HTTPError(
                400, f"X-Timestamp should be a UNIX timestamp float value; was {given!r}"
            )
        return ts
    return timestamps.now()


def meta_updates(
    headers: dict[str, str], kind: str, timestamp: str, extra: tuple[str, ...] = ()
) -> dict[str, list[Any]]:
    """Metadata changes of a PUT/POST as ``{header: [value, ts]}`` (``X-Remove-*`` clears)."""
    prefix = f"x-{kind}-meta-"
    remove = f"x-remove-{kind}-meta-"
    updates: dict[str, list[Any]] = {}
    for name, value in headers.items():
        if name.startswith(prefix) or name in extra:
            updates[name] = [value.strip(), timestamp]
        elif name.startswith(remove):
            updates[prefix + name[len(remove) :]] = ["", timestamp]
        elif name.startswith("x-remove-") and "x-" + name[len("x-remove-") :] in extra:
            updates["x-" + name[len("x-remove-") :]] = ["", timestamp]
    return updates


def title(name: str) -> str:
    return "-".join(p[:1].upper() + p[1:] for p in name.split("-"))


class Controller:
    def __init__(self, service: ObjectService):
        self.service = service
        self.storage = service.storage


def check_quota_headers(req: Request, kind: str) -> None:
    """Quota metadata must be whole numbers; account quotas are set by a reseller admin."""
    names = (
        ("x-account-meta-quota-bytes",)
        if kind == "account"
        else ("x-container-meta-quota-bytes", "x-container-meta-quota-count")
    )
    for name in names:
        value = req.header(name)
        remove = req.header(name.replace("x-", "x-remove-", 1))
        if value is None and remove is None:
            continue
        if kind == "account" and not req.environ["identity"].reseller:
            raise HTTPError(403)
        if value not in (None, ""):
            try:
                int(value)
            except ValueError:
                raise HTTPError(
                    400, f"Invalid value for {title(name)}: must be an integer"
                ) from None
