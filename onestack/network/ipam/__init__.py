"""IPAM: subnet pools of addresses, and allocation that never hands one address to two ports.

The guarantee is the primary key of ``network_ip_allocations`` (subnet, address): every
allocation is an INSERT in a savepoint, and an address a concurrent request took first is an
integrity error that moves on to the next candidate, on SQLite, PostgreSQL and MariaDB alike.
Candidates are random (as Neutron picks them) while the pool is sparse, so concurrent
allocators rarely collide, and the free addresses in order once it is dense.
"""

from __future__ import annotations

import ipaddress
import itertools
import random
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from onestack.network.errors import IpAddressGenerationFailure, bad_request, conflict
from onestack.network.models import IPAllocation, Subnet

IPNet = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddr = ipaddress.IPv4Address | ipaddress.IPv6Address
SLAAC_MODES = ("slaac", "dhcpv6-stateless")


def default_gateway(net: IPNet) -> str:
    return str(net.network_address + 1)


def default_pools(net: IPNet, gateway: str | None) -> list[dict[str, str]]:
    """Every host address but the gateway (and IPv4's network and broadcast addresses)."""
    first = int(net.network_address) + 1
    last = int(net.broadcast_address) - (1 if net.version == 4 else 0)
    if net.prefixlen >= (31 if net.version == 4 else 127):
        first, last = int(net.network_address), int(net.broadcast_address)
    ranges = [(first, last)]
    if gateway is not None:
        gw = int(ipaddress.ip_address(gateway))
        ranges = (
            [(a, b) for a, b in ((first, gw - 1), (gw + 1, last)) if a <= b]
            if (first <= gw <= last)
            else ranges
        )
    make = type(net.network_address)
    return [{"start": str(make(a)), "end": str(make(b))} for a, b in ranges]


def check_pools(
    net: IPNet, pools: Sequence[dict[str, Any]], gateway: str | None
) -> list[dict[str, str]]:
    """Validate the requested allocation pools; the gateway must lie outside them."""
    out: list[tuple[int, int]] = []
    for pool in pools:
        if not isinstance(pool, dict) or set(pool) != {"start", "end"}:
            raise bad_request(
                f"Invalid input for allocation_pools: '{pool}' must have exactly 'start' and 'end'."
            )
        try:
            start = ipaddress.ip_address(pool["start"])
            end = ipaddress.ip_address(pool["end"])
        except (ValueError, TypeError):
            raise bad_request(
                f"The allocation pool {pool} is not valid.", "InvalidAllocationPool"
            ) from None
        if start not in net or end not in net or int(start) > int(end):
            raise bad_request(
                f"The allocation pool {pool['start']}-{pool['end']} spans beyond "
                f"the subnet cidr {net}.",
                "OutOfBoundsAllocationPool",
            )
        if (
            net.version == 4
            and net.prefixlen < 31
            and (start == net.network_address or end == net.broadcast_address)
        ):
            raise bad_request(
                f"The allocation pool {pool['start']}-{pool['end']} includes the "
                "network or broadcast address.",
                "InvalidAllocationPool",
            )
        out.append((int(start), int(end)))
    out.sort()
    for (_, a_end), (b_start, _) in itertools.pairwise(out):
        if b_start <= a_end:
            raise bad_request("Found overlapping allocation pools.", "OverlappingAllocationPools")
    if gateway is not None:
        gw = int(ipaddress.ip_address(gateway))
        if any(a <= gw <= b for a, b in out):
            raise conflict(
                "GatewayConflictWithAllocationPools",
                f"Gateway ip {gateway} conflicts with allocation pool(s).",
            )
    make = type(net.network_address)
    return [{"start": str(make(a)), "end": str(make(b))} for a, b in out]


def pool_size(subnet: Subnet) -> int:
    return sum(
        int(ipaddress.ip_address(p["end"])) - int(ipaddress.ip_address(p["start"])) + 1
        for p in subnet.allocation_pools
    )


def _nth(subnet: Subnet, index: int) -> str:
    for p in subnet.allocation_pools:
        start, end = int(ipaddress.ip_address(p["start"])), int(ipaddress.ip_address(p["end"]))
        if index <= end - start:
            return str(ipaddress.ip_address(start + index))
        index -= end - start + 1
    raise IndexError(index)


def _in_order(subnet: Subnet, taken: set[str]) -> Iterator[str]:
    for p in subnet.allocation_pools:
        start, end = int(ipaddress.ip_address(p["start"])), int(ipaddress.ip_address(p["end"]))
        for value in range(start, end + 1):
            text = str(ipaddress.ip_address(value))
            if text not in taken:
                yield text


def eui64(cidr: str, mac: str) -> str:
    """The SLAAC address of ``mac`` in the /64 ``cidr`` (modified EUI-64)."""
    net = ipaddress.ip_network(cidr)
    octets = [int(b, 16) for b in mac.split(":")]
    octets[0] ^= 0x02
    iid = [*octets[:3], 255, 254, *octets[3:]]
    return str(ipaddress.ip_address(int(net.network_address) | int.from_bytes(bytes(iid), "big")))


async def _take(session: AsyncSession, subnet: Subnet, address: str, port_id: str) -> bool:
    try:
        async with session.begin_nested():
            session.add(
                IPAllocation(
                    subnet_id=subnet.id,
                    ip_address=address,
                    port_id=port_id,
                    network_id=subnet.network_id,
                )
            )
            await session.flush()
    except IntegrityError:
        return False
    return True


def check_address(subnet: Subnet, address: str, *, allow_gateway: bool = False) -> str:
    """``address`` normalised; 400 unless it is a usable host address of ``subnet``."""
    try:
        addr = ipaddress.ip_address(address)
    except (ValueError, TypeError):
        raise bad_request(
            f"Invalid input for operation: '{address}' is not a valid IP address."
        ) from None
    net = ipaddress.ip_network(subnet.cidr)
    if addr not in net:
        raise bad_request(
            f"IP address {address} is not a valid IP for the specified subnet.",
            "InvalidIpForSubnet",
        )
    if (
        net.version == 4
        and net.prefixlen < 31
        and addr in (net.network_address, net.broadcast_address)
    ):
        raise bad_request(
            f"IP address {address} is not a valid IP for the specified subnet.",
            "InvalidIpForSubnet",
        )
    if not allow_gateway and subnet.gateway_ip and str(addr) == subnet.gateway_ip:
        raise conflict(
            "IpAddressInUse",
            f"Unable to complete operation for network {subnet.network_id}. The IP "
            f"address {address} is in use.",
        )
    return str(addr)


async def allocate_specific(
    session: AsyncSession,
    subnet: Subnet,
    address: str,
    port_id: str,
    *,
    allow_gateway: bool = False,
) -> str:
    text = check_address(subnet, address, allow_gateway=allow_gateway)
    if not await _take(session, subnet, text, port_id):
        raise conflict(
            "IpAddressAlreadyAllocated",
            f"IP address {text} already allocated in subnet {subnet.id}",
        )
    return text


async def allocate_any(
    session: AsyncSession, subnet: Subnet, port_id: str, mac: str | None = None
) -> str:
    """A free address of ``subnet``'s pools (SLAAC subnets: the MAC's EUI-64 address)."""
    if subnet.ip_version == 6 and subnet.ipv6_address_mode in SLAAC_MODES and mac:
        return await allocate_specific(session, subnet, eui64(subnet.cidr, mac), port_id)
    total = pool_size(subnet)
    for _round in range(8):
        used = (
            await session.execute(
                select(func.count())
                .select_from(IPAllocation)
                .where(IPAllocation.subnet_id == subnet.id)
            )
        ).scalar_one()
        if total == 0:
            break
        if total - used > total // 4:
            candidates = list({_nth(subnet, random.randrange(total)) for _ in range(8)})
        else:
            rows = await session.execute(
                select(IPAllocation.ip_address).where(IPAllocation.subnet_id == subnet.id)
            )
            free = list(_in_order(subnet, {r[0] for r in rows}))
            if not free:
                break
            head = free[:16]
            random.shuffle(head)
            candidates = head + free[16:64]
        for candidate in candidates:
            if await _take(session, subnet, candidate, port_id):
                return candidate
    raise IpAddressGenerationFailure(
        f"No more IP addresses available on network {subnet.network_id}."
    )
