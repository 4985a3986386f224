"""Remote consoles on the fake driver: a URL with a token the admin resolves to the guest's
console on its host; old console actions below 2.6; 400 for what is not offered, 409 when
the server is not running."""

from __future__ import annotations

from urllib.parse import parse_qs, unquote, urlsplit

import httpx
import pytest

from tests.functional.compute.conftest import API, action, boot, mv, wait_for, wait_gone


@pytest.fixture
async def server(client: httpx.AsyncClient, demo_headers: dict[str, str], image_id: str):
    created = await boot(client, demo_headers, image_id, name="con")
    sid = created["server"]["id"]
    await wait_for(client, demo_headers, sid, "ACTIVE")
    yield sid
    await client.delete(f"{API}/servers/{sid}", headers=demo_headers)
    await wait_gone(client, demo_headers, sid)


def token_of(url: str) -> str:
    query = parse_qs(urlsplit(url).query)
    if "path" in query:  # noVNC: ?path=%3Ftoken%3D...
        return parse_qs(urlsplit(unquote(query["path"][0])).query)["token"][0]
    return query["token"][0]


async def _console(client, headers, server, protocol, kind, version="2.96", expect=200):
    r = await client.post(f"{API}/servers/{server}/remote-consoles", headers=mv(headers, version),
                          json={"remote_console": {"protocol": protocol, "type": kind}})
    assert r.status_code == expect, r.text
    return r.json()


CONSOLES = [("vnc", "novnc", 5900, None), ("spice", "spice-html5", 5901, None),
            ("serial", "serial", 10000, None), ("rdp", "rdp-html5", 3389, None),
            ("mks", "webmks", 8902, "/fake-webmks")]


@pytest.mark.parametrize(("protocol", "kind", "port", "path"), CONSOLES)
async def test_remote_console_token_resolves(
    client: httpx.AsyncClient, cloud, demo_headers: dict[str, str], admin_headers: dict[str, str],
    server: str, protocol: str, kind: str, port: int, path: str | None,
) -> None:
    body = (await _console(client, demo_headers, server, protocol, kind))["remote_console"]
    assert body["protocol"] == protocol and body["type"] == kind
    token = token_of(body["url"])
    r = await client.get(f"{API}/os-console-auth-tokens/{token}", headers=mv(admin_headers))
    assert r.status_code == 200, r.text
    assert r.json()["console"] == {"instance_uuid": server, "host": "127.0.0.1", "port": port,
                                   "internal_access_path": path}
    r = await client.get(f"{API}/os-console-auth-tokens/{token}", headers=mv(demo_headers))
    assert r.status_code == 403 and "forbidden" in r.json()
    # before 2.31 only rdp-html5 tokens are shown
    r = await client.get(f"{API}/os-console-auth-tokens/{token}",
                         headers=mv(admin_headers, "2.30"))
    assert r.status_code == (200 if kind == "rdp-html5" else 400), r.text


async def test_urls_and_bad_requests(
    client: httpx.AsyncClient, demo_headers: dict[str, str], admin_headers: dict[str, str],
    server: str,
) -> None:
    url = (await _console(client, demo_headers, server, "vnc", "novnc"))["remote_console"]["url"]
    assert url.startswith("http://127.0.0.1:6080/vnc_auto.html?path=%3Ftoken%3D")
    serial = (await _console(client, demo_headers, server, "serial", "serial"))
    assert serial["remote_console"]["url"].startswith("ws://127.0.0.1:6083/?token=")
    for protocol, kind, version in (("vnc", "spice-html5", "2.96"), ("telnet", "serial", "2.96"),
                                    ("mks", "webmks", "2.7"), ("vnc", "xvpvnc", "2.96"),
                                    (None, "novnc", "2.96"), ("vnc", 5, "2.96")):
        body = await _console(client, demo_headers, server, protocol, kind, version, expect=400)
        assert "badRequest" in body
    r = await client.post(f"{API}/servers/{server}/remote-consoles", headers=mv(demo_headers),
                          json={"remote_console": {"protocol": "vnc", "type": "novnc", "x": 1}})
    assert r.status_code == 400
    r = await client.post(f"{API}/servers/{server}/remote-consoles",
                          headers=mv(demo_headers, "2.5"),
                          json={"remote_console": {"protocol": "vnc", "type": "novnc"}})
    assert r.status_code == 404
    r = await client.get(f"{API}/os-console-auth-tokens/not-a-token", headers=mv(admin_headers))
    assert r.status_code == 404 and "itemNotFound" in r.json()


async def test_old_console_actions(
    client: httpx.AsyncClient, demo_headers: dict[str, str], admin_headers: dict[str, str],
    server: str,
) -> None:
    for name, kind in (("os-getVNCConsole", "novnc"), ("os-getSPICEConsole", "spice-html5"),
                       ("os-getRDPConsole", "rdp-html5"), ("os-getSerialConsole", "serial")):
        r = await action(client, demo_headers, server, {name: {"type": kind}}, expect=200,
                         version="2.5")
        console = r.json()["console"]
        assert console["type"] == kind
        got = await client.get(f"{API}/os-console-auth-tokens/{token_of(console['url'])}",
                               headers=mv(admin_headers))
        assert got.json()["console"]["instance_uuid"] == server
        await action(client, demo_headers, server, {name: {"type": "bogus"}}, expect=400,
                     version="2.5")
        await action(client, demo_headers, server, {name: {"type": kind}}, expect=404,
                     version="2.6")


async def test_stopped_server_and_deleted_tokens(
    client: httpx.AsyncClient, demo_headers: dict[str, str], admin_headers: dict[str, str],
    image_id: str, server: str,
) -> None:
    await action(client, demo_headers, server, {"os-stop": None})
    await wait_for(client, demo_headers, server, "SHUTOFF")
    body = await _console(client, demo_headers, server, "vnc", "novnc", expect=409)
    assert "conflictingRequest" in body
    created = await boot(client, demo_headers, image_id, name="con2")
    other = created["server"]["id"]
    await wait_for(client, demo_headers, other, "ACTIVE")
    url = (await _console(client, demo_headers, other, "vnc", "novnc"))["remote_console"]["url"]
    await client.delete(f"{API}/servers/{other}", headers=demo_headers)
    await wait_gone(client, demo_headers, other)
    r = await client.get(f"{API}/os-console-auth-tokens/{token_of(url)}", headers=mv(admin_headers))
    assert r.status_code == 404  # a deleted server's console is gone with it
    r = await client.post(f"{API}/servers/{other}/remote-consoles", headers=mv(demo_headers),
                          json={"remote_console": {"protocol": "vnc", "type": "novnc"}})
    assert r.status_code == 404
