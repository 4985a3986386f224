"""``GET /compute/v2.1/servers/detail`` of N servers, in one process (no boot run needed):

one server is booted on the fake driver, its row is copied N-1 times (new uuid, name, host
spread over 10 hosts, one cached port each), then the listing is requested R times as admin at
microversion 2.96 (and once with a ``name`` filter, a ``limit`` and a marker). The time is the
server's (the ASGI app's) wall and the whole process's CPU per request.

    .venv/bin/python bench/compute_listing.py --servers 1000 --repeat 20

Writes nothing into the repository; the data dir is a temporary directory.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
import uuid as uuidlib
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from inprocess import admin_token  # bench/, the script's own directory

from onestack.common.config import load_settings
from onestack.server import Cloud

API = "/compute/v2.1"


async def fill(cloud: Cloud, client: httpx.AsyncClient, headers: dict[str, str], n: int) -> None:
    from sqlalchemy import insert, select

    from onestack.compute.core import SharedCore
    from onestack.compute.models import Instance

    r = await client.post("/image/v2/images", headers=headers, json={
        "name": "bench", "disk_format": "raw", "container_format": "bare",
        "visibility": "public"})
    image = r.json()["id"]
    await client.put(f"/image/v2/images/{image}/file", content=b"\0" * 1024,
                     headers={**headers, "Content-Type": "application/octet-stream"})
    r = await client.post(f"{API}/servers", headers=headers, json={"server": {
        "name": "b0", "imageRef": image, "flavorRef": "42", "networks": "none",
        "metadata": {"role": "bench"}, "tags": ["a", "b"]}})
    assert r.status_code == 202, r.text
    first = r.json()["server"]["id"]
    for _ in range(200):
        r = await client.get(f"{API}/servers/{first}", headers=headers)
        if r.json()["server"]["status"] == "ACTIVE":
            break
        await asyncio.sleep(0.05)
    core = SharedCore.get(cloud.platform)
    async with core.write() as session:
        row = (await session.execute(select(Instance).where(Instance.uuid == first))).scalar_one()
        columns = [c.key for c in Instance.__mapper__.column_attrs if c.key != "id"]
        template = {c: getattr(row, c) for c in columns}
        rows = []
        for i in range(1, n):
            mac = f"fa:16:3e:00:{i // 256:02x}:{i % 256:02x}"
            port = {"id": str(uuidlib.uuid4()), "mac_address": mac,
                    "network": {"id": "net", "name": "private"}, "fixed_ips": [
                        {"version": 4, "ip_address": f"10.0.{i // 250}.{i % 250 + 2}",
                         "floating_ips": []}]}
            rows.append({**template, "uuid": str(uuidlib.uuid4()), "name": f"b{i}",
                         "host": f"host{i % 10}", "node": f"host{i % 10}",
                         "system_metadata": {**(template["system_metadata"] or {}),
                                             "network_info": [port]}})
        await session.execute(insert(Instance), rows)


async def timed(client: httpx.AsyncClient, url: str, headers: dict[str, str],
                repeat: int) -> dict[str, Any]:
    walls, cpus = [], []
    count = 0
    for _ in range(repeat):
        c0, t0 = time.process_time(), time.perf_counter()
        r = await client.get(url, headers=headers)
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
        assert r.status_code == 200, r.text
        count = len(r.json()["servers"])
    return {"url": url, "servers": count, "wall_ms_p50": round(statistics.median(walls) * 1000, 1),
            "wall_ms_min": round(min(walls) * 1000, 1),
            "cpu_ms_p50": round(statistics.median(cpus) * 1000, 1)}


async def main(args: argparse.Namespace) -> list[dict[str, Any]]:
    data_dir = Path(tempfile.mkdtemp(prefix="onestack-bench-listing-"))
    settings = load_settings(data_dir=data_dir, port=8999, log_level="WARNING",
                             compute={"fake_hosts": 1, "virt_driver": "fake"})
    cloud = Cloud(settings)
    await cloud.start()
    try:
        transport = httpx.ASGITransport(app=cloud.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench",
                                     timeout=120) as client:
            headers = {"X-Auth-Token": await admin_token(client, data_dir),
                       "OpenStack-API-Version": "compute 2.96"}
            await fill(cloud, client, headers, args.servers)
            if args.profile:
                import cProfile
                import pstats

                prof = cProfile.Profile()
                prof.enable()
                await timed(client, f"{API}/servers/detail", headers, 5)
                prof.disable()
                pstats.Stats(prof).sort_stats("tottime").print_stats(25)
            out = [await timed(client, f"{API}/servers/detail", headers, args.repeat)]
            out.append(await timed(client, f"{API}/servers/detail?limit=100", headers,
                                   args.repeat))
            out.append(await timed(client, f"{API}/servers/detail?name=b1", headers,
                                   args.repeat))
            out.append(await timed(client, f"{API}/servers", headers, args.repeat))
            return out
    finally:
        await cloud.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--servers", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--profile", action="store_true", help="print a cProfile of 5 requests")
    args = parser.parse_args()
    for line in asyncio.run(main(args)):
        print(json.dumps(line))
