"""Remote consoles: a console of a running server is a token-bearing URL of a console proxy;
the token (Nova keeps only its hash) resolves to the guest's console on its host."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from sqlalchemy import delete, select

from onestack.common.context import RequestContext
from onestack.common.db import utcnow
from onestack.common.errors import BadRequest, Conflict, NotFound
from onestack.common.microversions import Version
from onestack.compute import servers
from onestack.compute import states as S
from onestack.compute.actions import action
from onestack.compute.models import ConsoleAuthToken

if TYPE_CHECKING:
    from onestack.common.config import ComputeSettings
    from onestack.compute.core import ComputeCore

#: console types by protocol (``remote-consoles``), and the microversion each needs
TYPES = {"vnc": ("novnc",), "spice": ("spice-html5",), "rdp": ("rdp-html5",),
         "serial": ("serial",), "mks": ("webmks",)}  # fmt: skip
PROTOCOL_SINCE = {"mks": (2, 8)}
#: the actions of 2.1 - 2.5 and the protocol each asks for
OLD_ACTIONS = {"os-getVNCConsole": "vnc", "os-getSPICEConsole": "spice",
               "os-getRDPConsole": "rdp", "os-getSerialConsole": "serial"}  # fmt: skip


def check_request(protocol: Any, kind: Any, version: Version) -> None:
    offered = [p for p in TYPES if version >= PROTOCOL_SINCE.get(p, (2, 6))]
    if protocol not in offered:
        raise BadRequest(
            f"Invalid input for field/attribute protocol. Value: {protocol}. "
            f"It must be one of {', '.join(offered)}."
        )
    if kind not in TYPES[protocol]:
        raise BadRequest(
            f"Invalid input for field/attribute type. Value: {kind}. "
            f"Unsupported console type for protocol {protocol}: use {TYPES[protocol][0]}."
        )


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def create(
    core: ComputeCore, ctx: RequestContext, uuid: str, protocol: str, kind: str
) -> str:
    """A console URL for the server: 409 unless it is running on a host, 400 when its
    driver has no console of this protocol."""
    async with core.read() as session:
        instance = await servers.get(session, core, ctx, uuid, "os-remote-consoles")
    if instance.vm_state != S.ACTIVE or not instance.host:
        raise Conflict(f"Instance {uuid} is not ready yet: it is {instance.vm_state}.")
    info = await core.agents.get_console(ctx, instance.host, uuid, protocol)
    if "not_ready" in info:
        raise Conflict(f"Instance {uuid} is not ready yet: {info['not_ready']}")
    if "unavailable" in info:
        raise BadRequest(f"Unavailable console type {kind}.")
    token = secrets.token_urlsafe(24)
    now = utcnow()
    async with core.write() as session:
        await session.execute(delete(ConsoleAuthToken).where(ConsoleAuthToken.expires < now))
        session.add(
            ConsoleAuthToken(
                token_hash=_hash(token),
                console_type=kind,
                host=info["host"],
                port=int(info["port"]),
                internal_access_path=info.get("path"),
                instance_uuid=uuid,
                expires=now + dt.timedelta(seconds=core.conf.console_token_ttl),
            )
        )
    return access_url(base_url(core.conf, kind), kind, token)


def base_url(conf: ComputeSettings, kind: str) -> str:
    """The configured base URL of ``kind``; noVNC and serial default to our own proxies."""
    if conf.console_base_urls.get(kind):
        return conf.console_base_urls[kind]
    if kind == "novnc":
        return f"http://{conf.novncproxy_host}:{conf.novncproxy_port}/vnc_auto.html"
    if kind == "serial":
        return f"ws://{conf.serialproxy_host}:{conf.serialproxy_port}/"
    return ""


async def connection(
    core: ComputeCore, token: str, kinds: tuple[str, ...]
) -> ConsoleAuthToken | None:
    """The console a proxy of ``kinds`` may open with ``token``: None when the token is
    unknown, expired or of another kind of console. A token names one instance's console
    (the one its creator could see), so it opens that console and no other."""
    if not token:
        return None
    async with core.read() as session:
        stmt = select(ConsoleAuthToken).where(
            ConsoleAuthToken.token_hash == _hash(token),
            ConsoleAuthToken.expires > utcnow(),
            ConsoleAuthToken.console_type.in_(kinds),
        )
        return (await session.execute(stmt)).scalar()


def access_url(base: str, kind: str, token: str) -> str:
    """noVNC takes the token inside its websocket ``path``; the others as ``token``."""
    sep = "&" if "?" in base else "?"
    if kind == "novnc":
        return f"{base}{sep}path={quote('?token=' + token, safe='')}"
    return f"{base}{sep}token={token}"


async def resolve(
    core: ComputeCore, ctx: RequestContext, token: str, version: Version
) -> dict[str, Any]:
    """What ``GET /os-console-auth-tokens/{token}`` shows (rdp-html5 only before 2.31)."""
    core.enforce(ctx, "os-console-auth-tokens")
    async with core.read() as session:
        stmt = select(ConsoleAuthToken).where(
            ConsoleAuthToken.token_hash == _hash(token), ConsoleAuthToken.expires > utcnow()
        )
        row = (await session.execute(stmt)).scalar()
    if row is None:
        raise NotFound(f"The token '{token}' is invalid or has expired")
    if version < (2, 31) and row.console_type != "rdp-html5":
        raise BadRequest("The requested console type details are not accessible")
    return {
        "instance_uuid": row.instance_uuid,
        "host": row.host,
        "port": row.port,
        "internal_access_path": row.internal_access_path,
    }


def _old_action(name: str, protocol: str) -> Any:
    @action(name)
    async def get_console(
        core: ComputeCore, ctx: RequestContext, uuid: str, args: Any, version: Version
    ) -> dict[str, Any]:
        if version >= (2, 6):
            # Nova: the action's method does not exist at this version
            raise NotFound(f"{name} is not supported from 2.6: use remote-consoles.")
        kind = args.get("type") if isinstance(args, dict) else None
        if kind not in TYPES[protocol]:
            raise BadRequest(f"Invalid input for field/attribute type. Value: {kind}.")
        url = await create(core, ctx, uuid, protocol, kind)
        return {"console": {"type": kind, "url": url}}

    return get_console


for _name, _protocol in OLD_ACTIONS.items():
    _old_action(_name, _protocol)
