"""Placement in one process, without HTTP sockets: the server-side cost of the two big reads.

The same data as ``bench/placement.py`` (1,000 providers with VCPU ratio 16, MEMORY_MB ratio
1.5 and DISK_GB, every tenth with CUSTOM_GPU, each in one of 10 aggregates), written through
the API over the ASGI transport; then ``GET /resource_providers`` and ``GET
/allocation_candidates?resources=VCPU:1,MEMORY_MB:512,DISK_GB:10&limit=1000`` (microversion
1.39, a real token) are requested N times each, alternating. Wall p50 / min and the process's
CPU per request (the client's work included: the ASGI transport and reading the body; the
JSON is not parsed). For side-by-side ratios use ``bench/placement.py`` (wrk, real sockets).

    .venv/bin/python bench/placement_inprocess.py --repeat 50
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

HEADERS = {"OpenStack-API-Version": "placement 1.39"}
QUERIES = {
    "list 1,000 providers": "/placement/resource_providers",
    "candidates limit=1000": "/placement/allocation_candidates?"
    "resources=VCPU:1,MEMORY_MB:512,DISK_GB:10&limit=1000",
    "candidates limit=10": "/placement/allocation_candidates?"
    "resources=VCPU:1,MEMORY_MB:512,DISK_GB:10&limit=10",
}


async def fill(client: httpx.AsyncClient, headers: dict[str, str], n: int) -> None:
    r = await client.put("/placement/traits/CUSTOM_GPU", headers=headers)
    assert r.status_code in (201, 204), r.text
    aggs = [str(uuidlib.uuid4()) for _ in range(10)]

    async def one(i: int) -> None:
        rp = str(uuidlib.uuid4())
        r = await client.post("/placement/resource_providers", headers=headers,
                              json={"name": f"cn{i}", "uuid": rp})
        assert r.status_code == 200, r.text
        gen = r.json()["generation"]
        r = await client.put(f"/placement/resource_providers/{rp}/inventories", headers=headers,
                             json={"resource_provider_generation": gen, "inventories": {
                                 "VCPU": {"total": 32, "allocation_ratio": 16.0},
                                 "MEMORY_MB": {"total": 131072, "allocation_ratio": 1.5},
                                 "DISK_GB": {"total": 2000}}})
        assert r.status_code == 200, r.text
        gen = r.json()["resource_provider_generation"]
        r = await client.put(f"/placement/resource_providers/{rp}/aggregates", headers=headers,
                             json={"resource_provider_generation": gen, "aggregates": [
                                 aggs[i % 10]]})
        assert r.status_code == 200, r.text
        gen = r.json()["resource_provider_generation"]
        if i % 10 == 0:
            r = await client.put(f"/placement/resource_providers/{rp}/traits", headers=headers,
                                 json={"resource_provider_generation": gen,
                                       "traits": ["CUSTOM_GPU"]})
            assert r.status_code == 200, r.text

    for start in range(0, n, 50):
        await asyncio.gather(*(one(i) for i in range(start, min(n, start + 50))))


async def main(args: argparse.Namespace) -> list[dict[str, Any]]:
    data_dir = Path(tempfile.mkdtemp(prefix="onestack-bench-placement-"))
    cloud = Cloud(load_settings(data_dir=data_dir, port=8999, log_level="WARNING",
                                services=["identity", "placement"]))
    await cloud.start()
    try:
        transport = httpx.ASGITransport(app=cloud.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench",
                                     timeout=120) as client:
            headers = {"X-Auth-Token": await admin_token(client, data_dir), **HEADERS}
            await fill(client, headers, args.providers)
            times: dict[str, tuple[list[float], list[float]]] = {k: ([], []) for k in QUERIES}
            sizes = {}
            for name, url in QUERIES.items():  # warm-up
                r = await client.get(url, headers=headers)
                assert r.status_code == 200, r.text
                sizes[name] = len(r.content)
            if args.profile:
                import cProfile
                import pstats

                prof = cProfile.Profile()
                prof.enable()
                for _ in range(10):
                    await client.get(QUERIES[args.profile], headers=headers)
                prof.disable()
                pstats.Stats(prof).sort_stats("tottime").print_stats(25)
            for _ in range(args.repeat):
                for name, url in QUERIES.items():
                    c0, t0 = time.process_time(), time.perf_counter()
                    r = await client.get(url, headers=headers)
                    times[name][0].append(time.perf_counter() - t0)
                    times[name][1].append(time.process_time() - c0)
            return [{"request": name, "bytes": sizes[name],
                     "wall_ms_p50": round(statistics.median(w) * 1000, 2),
                     "wall_ms_min": round(min(w) * 1000, 2),
                     "cpu_ms_p50": round(statistics.median(c) * 1000, 2)}
                    for name, (w, c) in times.items()]
    finally:
        await cloud.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--providers", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--profile", choices=list(QUERIES), help="print a cProfile of 10")
    for line in asyncio.run(main(parser.parse_args())):
        print(json.dumps(line))
