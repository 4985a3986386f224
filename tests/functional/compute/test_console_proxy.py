"""The console proxies in process: a websocket with a valid token is piped to the guest's
console (here a stand-in VNC/serial server the fake driver points at); unknown, expired,
other-type and other-project tokens and foreign pages are refused at the handshake."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import httpx
import pytest
import websockets
from sqlalchemy import update
from websockets.exceptions import InvalidStatus

from onestack.common.db import utcnow
from onestack.compute.console.proxy import NoVNCProxy, SerialProxy
from onestack.compute.core import SharedCore
from onestack.compute.models import ConsoleAuthToken
from onestack.compute.virt import fake
from tests.conftest import issue, make_user, password_auth
from tests.functional.compute.conftest import API, boot, mv, wait_for, wait_gone
from tests.functional.compute.test_consoles import token_of

RFB = b"RFB 003.008\n"


@pytest.fixture
async def console_server(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[int]:
    """A stand-in console: says RFB's hello, then echoes; the fake driver points at it."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(RFB)
        while data := await reader.read(1024):
            writer.write(b"echo:" + data)
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    monkeypatch.setitem(fake.FAKE_CONSOLE_PORTS, "vnc", port)
    monkeypatch.setitem(fake.FAKE_CONSOLE_PORTS, "serial", port)
    yield port
    server.close()


def _sock() -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    return sock


@pytest.fixture
async def proxies(cloud) -> AsyncIterator[tuple[NoVNCProxy, SerialProxy]]:
    novnc = NoVNCProxy(cloud.platform, sock=_sock())
    serial = SerialProxy(cloud.platform, sock=_sock())
    await novnc.start()
    await serial.start()
    yield novnc, serial
    await novnc.stop()
    await serial.stop()


@pytest.fixture
async def server(client: httpx.AsyncClient, demo_headers: dict[str, str], image_id: str):
    created = await boot(client, demo_headers, image_id, name="proxied")
    sid = created["server"]["id"]
    await wait_for(client, demo_headers, sid, "ACTIVE")
    yield sid
    await client.delete(f"{API}/servers/{sid}", headers=demo_headers)
    await wait_gone(client, demo_headers, sid)


async def _token(client, headers, server: str, protocol: str, kind: str) -> str:
    r = await client.post(f"{API}/servers/{server}/remote-consoles", headers=mv(headers),
                          json={"remote_console": {"protocol": protocol, "type": kind}})
    assert r.status_code == 200, r.text
    return token_of(r.json()["remote_console"]["url"])


async def _refused(port: int, token: str, **kwargs) -> None:
    with pytest.raises(InvalidStatus) as caught:
        async with websockets.connect(f"ws://127.0.0.1:{port}/?token={token}", **kwargs):
            pass
    assert caught.value.response.status_code == 403


async def test_valid_tokens_reach_the_console(
    client: httpx.AsyncClient, demo_headers: dict[str, str], server: str, console_server: int,
    proxies: tuple[NoVNCProxy, SerialProxy],
) -> None:
    novnc, serial = proxies
    token = await _token(client, demo_headers, server, "vnc", "novnc")
    url = f"ws://127.0.0.1:{novnc.port}/?token={token}"
    origin = f"http://127.0.0.1:{novnc.port}"
    async with websockets.connect(url, subprotocols=["binary"], origin=origin) as ws:
        assert ws.subprotocol == "binary"  # what noVNC asks for
        assert await asyncio.wait_for(ws.recv(), 5) == RFB
        await ws.send(RFB)
        assert await asyncio.wait_for(ws.recv(), 5) == b"echo:" + RFB
    token = await _token(client, demo_headers, server, "serial", "serial")
    async with websockets.connect(f"ws://127.0.0.1:{serial.port}/?token={token}") as ws:
        assert await asyncio.wait_for(ws.recv(), 5) == RFB
        await ws.send("\r")  # a terminal's text frames reach the serial port as bytes
        assert await asyncio.wait_for(ws.recv(), 5) == b"echo:\r"
    # noVNC's pages are served beside the websocket (Debian's novnc package)
    async with httpx.AsyncClient() as web:
        page = await web.get(f"http://127.0.0.1:{novnc.port}/vnc_auto.html")
    assert page.status_code == 200, "noVNC's files missing: apt-get install novnc"
    assert "noVNC" in page.text


async def test_bad_tokens_are_refused(
    cloud, client: httpx.AsyncClient, demo_headers: dict[str, str], admin_headers: dict[str, str],
    image_id: str, server: str, console_server: int, proxies: tuple[NoVNCProxy, SerialProxy],
) -> None:
    novnc, serial = proxies
    await _refused(novnc.port, "")
    await _refused(novnc.port, "not-a-token")
    vnc = await _token(client, demo_headers, server, "vnc", "novnc")
    await _refused(serial.port, vnc)  # a VNC token opens no serial console
    await _refused(novnc.port, vnc, origin="http://evil.example")  # a foreign page
    # another project sees neither the server nor so its consoles
    r = await client.post("/identity/v3/projects", headers=admin_headers,
                          json={"project": {"name": "proxy-other", "domain_id": "default"}})
    assert r.status_code == 201, r.text
    await make_user(cloud, "proxy-other-user", "pw-proxy-1", project="proxy-other")
    other = {"X-Auth-Token": await issue(client, password_auth(
        "proxy-other-user", "pw-proxy-1", project="proxy-other"))}
    r = await client.post(f"{API}/servers/{server}/remote-consoles", headers=mv(other),
                          json={"remote_console": {"protocol": "vnc", "type": "novnc"}})
    assert r.status_code == 404, r.text
    # its own server's token opens its own console, never the demo server's
    created = await boot(client, other, image_id, name="proxied-other")
    theirs = created["server"]["id"]
    await wait_for(client, other, theirs, "ACTIVE")
    own = await _token(client, other, theirs, "vnc", "novnc")
    r = await client.get(f"{API}/os-console-auth-tokens/{own}", headers=mv(admin_headers))
    assert r.json()["console"]["instance_uuid"] == theirs
    # an expired token is refused
    core = SharedCore.get(cloud.platform)
    async with core.write() as session:
        await session.execute(update(ConsoleAuthToken).values(expires=utcnow()))
    await _refused(novnc.port, vnc)
    await _refused(novnc.port, own)
    await client.delete(f"{API}/servers/{theirs}", headers=other)
    await wait_gone(client, other, theirs)
