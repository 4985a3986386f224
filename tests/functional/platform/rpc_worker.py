"""A worker process for the killed-worker test: serves TOPIC, finishes cast 0 at once and hangs
on every other one, printing what it does on stdout.

    python -m tests.functional.platform.rpc_worker URL TOPIC
"""

from __future__ import annotations

import asyncio
import sys

from onestack.common.context import RequestContext
from onestack.common.rpc import RPCServer, get_transport


class Worker:
    async def work(self, ctx: RequestContext | None, n: int) -> None:
        print(f"handling {n}", flush=True)
        if n:
            await asyncio.Event().wait()  # killed before it finishes
        print(f"done {n}", flush=True)


async def main(url: str, topic: str) -> None:
    transport = get_transport(url)
    await transport.start()
    await RPCServer(transport, topic, "doomed", endpoints=[Worker()]).start()
    print("ready", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
