"""A real tiny guest's consoles and moves through the ``openstack`` CLI: its VGA screen over
the noVNC websocket proxy (an RFB handshake and a framebuffer update), its serial login over
the serial proxy, rescue (the rescue disk first, its own disk second) and unrescue, and a
resize seen from inside the guest (memory, CPUs, disk), reverted once and then confirmed."""

from __future__ import annotations

import asyncio
import re
import struct
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import httpx
import pytest
import websockets
from websockets.exceptions import InvalidStatus

from tests.dataplane.conftest import BOOT_MARKER, BOOT_TIMEOUT, wait_for
from tests.e2e.conftest import RunningCloud

pytestmark = pytest.mark.dataplane
NAME = "dp-con"
#: printed at every boot (user data runs at each boot from the config drive)
USER_DATA = """#!/bin/sh
echo "guest mem $(awk '/MemTotal/ {print $2}' /proc/meminfo) kB cpus $(nproc)"
echo "guest disks $(cd /sys/block && echo vd*) vda $(cat /sys/block/vda/size) sectors"
mkdir -p /mnt/second
mount -t ext4 -o ro /dev/vdb /mnt/second 2>/dev/null &&
    echo "second disk holds: $(ls /mnt/second | grep -v lost+found | tr '\\n' ' ')"
[ -f /data/original-disk ] || echo yes > /data/original-disk
sync
"""


def _boot(cloud: RunningCloud, n: int, sid: str) -> str:
    """The console log of the ``n``-th boot (1-based), once it finished: read from the
    guest's log file while waiting (a CLI call costs a second), then through the CLI."""
    log = cloud.data_dir / "instances" / sid / "console.log"

    def nth(text: str) -> str | None:
        parts = text.replace("\r\n", "\n").split(BOOT_MARKER)
        return parts[n - 1] if len(parts) > n else None

    wait_for(lambda: nth(log.read_text(errors="replace")), BOOT_TIMEOUT, f"boot {n}", 0.3)
    return str(nth(str(cloud.osc("console", "log", "show", NAME, parse=False))))


def _status(cloud: RunningCloud, wanted: str) -> None:
    wait_for(lambda: cloud.osc("server", "show", NAME)["status"] == wanted, 300, wanted, 0.5)


def _guest_size(log: str) -> tuple[int, int, int]:
    mem = re.search(r"guest mem (\d+) kB cpus (\d+)", log)
    disk = re.search(r"vda (\d+) sectors", log)
    assert mem and disk, log
    return int(mem[1]), int(mem[2]), int(disk[1]) * 512


async def _rfb_screen(url: str, origin: str) -> tuple[str, bytes]:
    """RFB 3.8 through the websocket as noVNC's page opens it (its origin, ``binary``):
    security None, ClientInit, one full raw update."""
    ws_open = websockets.connect(url, subprotocols=["binary"], max_size=None, origin=origin)
    async with ws_open as ws:
        buf = bytearray()

        async def read(n: int) -> bytes:
            while len(buf) < n:
                buf.extend(await asyncio.wait_for(ws.recv(), 30))
            out = bytes(buf[:n])
            del buf[:n]
            return out

        assert await read(12) == b"RFB 003.008\n"
        await ws.send(b"RFB 003.008\n")
        types = await read((await read(1))[0])
        assert 1 in types, types  # None: the socket is reachable only through the proxy
        await ws.send(b"\x01")
        assert await read(4) == b"\0\0\0\0"
        await ws.send(b"\x01")  # shared
        width, height = struct.unpack(">HH", await read(4))
        bpp = (await read(16))[0] // 8
        name = (await read(struct.unpack(">I", await read(4))[0])).decode()
        await ws.send(struct.pack(">BxHi", 2, 1, 0))  # SetEncodings: raw
        await ws.send(struct.pack(">BBHHHH", 3, 0, 0, 0, width, height))
        assert (await read(1))[0] == 0  # FramebufferUpdate
        await read(1)
        pixels = bytearray()
        for _ in range(struct.unpack(">H", await read(2))[0]):
            _, _, w, h, encoding = struct.unpack(">HHHHi", await read(12))
            assert encoding == 0
            pixels += await read(w * h * bpp)
        return name, bytes(pixels)


async def _serial_prompt(url: str) -> str:
    async with websockets.connect(url, max_size=None) as ws:
        seen = ""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        while "login:" not in seen:
            await ws.send("\r")  # getty asks again
            try:
                data = await asyncio.wait_for(ws.recv(), max(0.1, min(2, deadline - loop.time())))
            except TimeoutError:
                if loop.time() > deadline:
                    raise AssertionError(f"no login prompt on the serial: {seen!r}") from None
                continue
            seen += data.decode(errors="replace") if isinstance(data, bytes) else data
        return seen


def _novnc_ws(url: str) -> tuple[str, str]:
    """The websocket noVNC opens for a console URL (its ``path``), and the page's URL."""
    parts = urlsplit(url)
    path = unquote(parse_qs(parts.query)["path"][0])
    return f"ws://{parts.netloc}/{path.lstrip('/')}", f"{parts.scheme}://{parts.netloc}"


def test_consoles_rescue_and_resize(qemu_cloud: RunningCloud, tmp_path: Path) -> None:
    cloud = qemu_cloud
    user_data = tmp_path / "ud.sh"
    user_data.write_text(USER_DATA)
    server = cloud.osc(
        "server", "create", "--image", "onestack-tiny", "--flavor", "m1.tiny", "--nic", "none",
        "--user-data", str(user_data), "--config-drive", "true", "--wait", NAME,
    )  # fmt: skip
    sid = server["id"]
    first = _boot(cloud, 1, sid)
    mem, cpus, disk = _guest_size(first)
    assert cpus == 1 and 400_000 < mem <= 512 * 1024 and disk == 1024**3

    # VNC: the proxy's page, then the guest's screen through the websocket
    url = cloud.osc("console", "url", "show", "--novnc", NAME)["url"]
    assert "/vnc_auto.html?path=" in url
    ws_url, origin = _novnc_ws(url)
    assert httpx.get(url, timeout=10).status_code == 200
    name, pixels = asyncio.run(_rfb_screen(ws_url, origin))
    assert name == f"QEMU (instance-{server['id']})"  # QEMU names the screen so
    assert pixels and pixels.count(0) < len(pixels)  # the screen shows something
    with pytest.raises(InvalidStatus) as refused:
        asyncio.run(_rfb_screen(ws_url.replace("token=", "token=x"), origin))
    assert refused.value.response.status_code == 403

    # serial: the guest's getty answers through the websocket
    serial = cloud.osc("console", "url", "show", "--serial", NAME)["url"]
    assert serial.startswith("ws://")
    assert f"{NAME} login:" in asyncio.run(_serial_prompt(serial))

    # rescue: a fresh disk of the image first, the server's own disk second
    cloud.osc("server", "rescue", NAME, parse=False)
    _status(cloud, "RESCUE")
    rescued = _boot(cloud, 2, sid)
    assert "second disk holds: original-disk" in rescued
    assert re.search(r"/data holds: *\n", rescued), rescued
    cloud.osc("server", "unrescue", NAME, parse=False)
    _status(cloud, "ACTIVE")
    assert "/data holds: original-disk" in _boot(cloud, 3, sid)

    # resize to a bigger flavor: reverted (back to the old size), then confirmed
    cloud.osc("flavor", "create", "--ram", "768", "--vcpus", "2", "--disk", "2", "dp-bigger")
    cloud.osc("server", "resize", "--flavor", "dp-bigger", "--wait", NAME, parse=False)
    _status(cloud, "VERIFY_RESIZE")
    mem2, cpus2, disk2 = _guest_size(_boot(cloud, 4, sid))
    assert cpus2 == 2 and mem2 > mem + 200 * 1024 and disk2 == 2 * 1024**3
    cloud.osc("server", "resize", "revert", NAME, parse=False)
    _status(cloud, "ACTIVE")
    assert _guest_size(_boot(cloud, 5, sid)) == (mem, cpus, disk)
    cloud.osc("server", "resize", "--flavor", "dp-bigger", "--wait", NAME, parse=False)
    _status(cloud, "VERIFY_RESIZE")
    assert _guest_size(_boot(cloud, 6, sid)) == (mem2, cpus2, disk2)
    cloud.osc("server", "resize", "confirm", NAME, parse=False)
    _status(cloud, "ACTIVE")
    assert "dp-bigger" in str(cloud.osc("server", "show", NAME)["flavor"])
    kept = cloud.data_dir / "instances" / sid
    assert (kept / "disk").exists() and not (kept / "resize").exists()  # confirmed: no backup
    cloud.osc("server", "delete", "--wait", NAME, parse=False)
