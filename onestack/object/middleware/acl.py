"""Container ACLs (X-Container-Read / X-Container-Write): referrers (``.r:*``,
``.r:example.com``, ``.r:-bad.example.com``), ``.rlistings``, and grants of the form
``project:user`` (ids or names, ``*`` for any) or a role name."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

from onestack.object.proxy.http import HTTPError


@dataclass
class ACL:
    referrers: list[str] = field(default_factory=list)
    listings: bool = False
    grants: list[str] = field(default_factory=list)


def parse_acl(value: str | None) -> ACL:
    acl = ACL()
    for item in (value or "").split(","):
        item = item.strip()
        if not item:
            continue
        if item.startswith(".r:"):
            acl.referrers.append(item[3:])
        elif item in (".rlistings",):
            acl.listings = True
        elif item.startswith(".referrer:"):
            acl.referrers.append(item.split(":", 1)[1])
        else:
            acl.grants.append(item)
    return acl


def clean_acl(name: str, value: str) -> str:
    """Normalize an ACL header a client sets; 400 for a malformed one (as Swift)."""
    items = []
    for item in value.split(","):
        item = item.strip()
        if not item:
            continue
        if item.startswith((".r:", ".ref:", ".referer:", ".referrer:")):
            if "write" in name.lower():
                raise HTTPError(400, f"Referrers not allowed in write ACL: {item!r}")
            host = item.split(":", 1)[1].strip()
            if not host or host in ("-", "-*"):
                raise HTTPError(
                    400, f"No host/domain value after referrer designation in ACL: {item!r}"
                )
            items.append(f".r:{host}")
        elif item.startswith("."):
            if item != ".rlistings":
                raise HTTPError(400, f"Unknown designator {item!r} in ACL: {value!r}")
            items.append(item)
        else:
            items.append(item)
    return ",".join(items)


def referrer_allowed(referer: str | None, referrers: list[str]) -> bool:
    host = urlsplit(referer).hostname if referer else None
    allowed = False
    for rule in referrers:
        negate = rule.startswith("-")
        pattern = rule[1:] if negate else rule
        if pattern == "*":
            match = True
        elif host is None:
            match = False
        elif pattern.startswith("."):
            match = host.endswith(pattern) or host == pattern[1:]
        elif pattern.startswith("*."):
            match = host.endswith(pattern[1:])
        else:
            match = host == pattern
        if match:
            allowed = not negate
    return allowed


def granted(
    acl: ACL,
    project: tuple[str | None, str | None],
    user: tuple[str | None, str | None],
    roles: tuple[str, ...],
) -> bool:
    """Whether a ``project:user`` grant (ids or names, ``*`` wildcards) or a role matches."""
    for grant in acl.grants:
        if ":" in grant:
            want_project, _, want_user = grant.partition(":")
            project_ok = want_project == "*" or want_project in project
            user_ok = want_user == "*" or want_user in user
            if project_ok and user_ok:
                return True
        elif grant in roles:
            return True
    return False
