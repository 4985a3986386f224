"""One change of an instance's ports at a time on a host, however many queue for it."""

from __future__ import annotations

import asyncio

from onestack.compute.network import HostNetworking


async def test_guard_admits_one_change_at_a_time() -> None:
    net = object.__new__(HostNetworking)  # the guard needs no Networking service
    net._locks = {}
    inside: list[int] = []
    most = 0

    async def change(n: int) -> None:
        nonlocal most
        async with net.guard("server-1"):
            inside.append(n)
            most = max(most, len(inside))
            await asyncio.sleep(0.01)
            inside.remove(n)

    first = asyncio.create_task(change(0))
    await asyncio.sleep(0)  # holds the lock
    second = asyncio.create_task(change(1))  # waits
    await asyncio.sleep(0)
    # the first releases while the second has not run yet; a third arriving then must wait
    await asyncio.wait_for(first, 1)
    third = asyncio.create_task(change(2))
    await asyncio.gather(second, third)
    assert most == 1
    assert net._locks == {}  # nothing kept for an instance no one is changing
