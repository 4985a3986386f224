#!/usr/bin/env python3
"""The image data path alone: upload pipeline + filesystem store, in process and over HTTP.

1. in process: a 1 GiB stream of 64 KiB chunks through ``ImageDataPipeline`` (md5, sha512,
   inspection) into ``FilesystemStore.add``, then ``FilesystemStore.get`` read back: MB/s,
   CPU seconds per GiB, peak RSS of this process;
2. over HTTP (``--http``): a minimal Starlette app on uvicorn (uvloop + httptools, as
   ``onestack up``) whose ``PUT /file`` streams the request body through the same pipeline into
   the store and whose ``GET /file`` streams it back; curl uploads and downloads the same
   random file the side-by-side benchmark uses: MB/s, the server's CPU s/GiB and peak RSS.

This is the ceiling the Image API's data routes can reach; bench/glance_side_by_side.py
measures the real API beside upstream Glance.

Usage: .venv/bin/python bench/glance_data_path.py [--size-mib 1024] [--http] [--repeat 3]
                                                  [--loop uvloop|asyncio]
Scratch data goes to ${TMPDIR:-/tmp}/onestack-bench/data-path/ and is removed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from glance_side_by_side import WORK, PeakRSS, curl, random_file  # noqa: E402
from keystone_tokens import CLK_TCK, bench_lock, cpu_ticks, loadavg  # noqa: E402

from onestack.image.hashing import BLOCK_SIZE, ImageDataPipeline  # noqa: E402
from onestack.image.stores.filesystem import FilesystemStore  # noqa: E402

SCRATCH = WORK / "data-path"
MB = 1e6


def cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


async def synthetic(size: int, chunk: int = 65536) -> AsyncIterator[bytes]:
    block = os.urandom(chunk)
    for _ in range(size // chunk):
        yield block


async def in_process(size: int, block_size: int) -> dict[str, float]:
    store = FilesystemStore("file", SCRATCH / "images")
    t0, c0 = time.perf_counter(), cpu_seconds()
    pipeline = ImageDataPipeline(
        synthetic(size), disk_format="raw", max_size=None, block_size=block_size
    )
    location, written = await store.add("image", pipeline)
    await pipeline.finish()
    up_t, up_c = time.perf_counter() - t0, cpu_seconds() - c0
    t0, c0 = time.perf_counter(), cpu_seconds()
    total = 0
    async for chunk in store.get(location):
        total += len(chunk)
    down_t, down_c = time.perf_counter() - t0, cpu_seconds() - c0
    assert written == total == size
    await store.delete(location)
    return {
        "upload MB/s": size / up_t / MB,
        "upload CPU-s/GiB": up_c * 2**30 / size,
        "read MB/s": size / down_t / MB,
        "read CPU-s/GiB": down_c * 2**30 / size,
        "peak RSS MB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def app(directory: Path, block_size: int):  # type: ignore[no-untyped-def]
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response, StreamingResponse
    from starlette.routing import Route

    store = FilesystemStore("file", directory)
    state: dict[str, str] = {}

    async def put(request: Request) -> Response:
        if "location" in state:
            await store.delete(state.pop("location"))
        pipeline = ImageDataPipeline(
            request.stream(), disk_format="raw", max_size=None, block_size=block_size
        )
        state["location"], _ = await store.add("image", pipeline)
        await pipeline.finish()
        state["md5"] = pipeline.checksum or ""
        return Response(status_code=204, headers={"X-Checksum": state["md5"]})

    async def get(request: Request) -> Response:
        size = await store.size(state["location"])
        return StreamingResponse(
            store.get(state["location"]), media_type="application/octet-stream",
            headers={"Content-Length": str(size)},
        )

    return Starlette(routes=[Route("/file", put, methods=["PUT"]),
                             Route("/file", get, methods=["GET"])])


def serve(port: int, loop: str, block_size: int) -> None:
    import uvicorn

    uvicorn.run(app(SCRATCH / "http-images", block_size), host="127.0.0.1", port=port,
                log_level="warning", loop=loop, http="httptools")


def over_http(size: int, port: int, loop: str, block_size: int) -> dict[str, float]:
    path, md5 = random_file(size)
    shutil.rmtree(SCRATCH / "http-images", ignore_errors=True)
    proc = subprocess.Popen([sys.executable, __file__, "--serve", str(port), "--loop", loop,
                             "--block-kib", str(block_size // 1024)])
    try:
        deadline = time.monotonic() + 30
        while subprocess.run(["curl", "-s", "-o", "/dev/null", f"http://127.0.0.1:{port}/"],
                             check=False).returncode != 0:
            if time.monotonic() > deadline:
                raise TimeoutError("the test server did not start")
            time.sleep(0.1)
        url = f"http://127.0.0.1:{port}/file"
        c0 = cpu_ticks(proc.pid)
        with PeakRSS(proc.pid) as up_peak:
            up = curl("-X", "PUT", "-T", str(path), "-D", str(SCRATCH / "h"), "-o", "/dev/null",
                      url)
        up_cpu = (cpu_ticks(proc.pid) - c0) / CLK_TCK
        assert up["code"] == 204 and md5 in (SCRATCH / "h").read_text(), up
        c0 = cpu_ticks(proc.pid)
        with PeakRSS(proc.pid) as down_peak:
            down = curl("-o", "/dev/null", url)
        down_cpu = (cpu_ticks(proc.pid) - c0) / CLK_TCK
        assert down["code"] == 200 and down["down"] == size, down
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return {
        "HTTP upload MB/s": size / up["time"] / MB,
        "HTTP upload server CPU-s/GiB": up_cpu * 2**30 / size,
        "HTTP upload peak RSS MB": up_peak.peak,
        "HTTP download MB/s": size / down["time"] / MB,
        "HTTP download server CPU-s/GiB": down_cpu * 2**30 / size,
        "HTTP download peak RSS MB": down_peak.peak,
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--size-mib", type=int, default=1024)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--http", action="store_true", help="also measure over HTTP")
    p.add_argument("--port", type=int, default=8191)
    p.add_argument("--loop", choices=("uvloop", "asyncio"), default="uvloop",
                   help="the HTTP server's event loop (default uvloop, as onestack up means to)")
    p.add_argument("--block-kib", type=int, default=BLOCK_SIZE // 1024,
                   help="the pipeline's block size (default %(default)s)")
    p.add_argument("--lock", default="/tmp/bench.lock")
    p.add_argument("--serve", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.serve:
        serve(args.serve, args.loop, args.block_kib * 1024)
        return 0
    size = args.size_mib * 2**20
    SCRATCH.mkdir(parents=True, exist_ok=True)
    results: dict[str, list[float]] = {}
    with bench_lock(args.lock):
        try:
            for _ in range(args.repeat):
                figures = {"load average": loadavg()[0]}
                figures |= asyncio.run(in_process(size, args.block_kib * 1024))
                if args.http:
                    figures |= over_http(size, args.port, args.loop, args.block_kib * 1024)
                for key, value in figures.items():
                    results.setdefault(key, []).append(value)
        finally:
            shutil.rmtree(SCRATCH, ignore_errors=True)
    print(f"| measure ({args.size_mib} MiB, median of {args.repeat}) | value |")
    print("|---|---:|")
    for key, values in results.items():
        print(f"| {key} | {statistics.median(values):,.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
