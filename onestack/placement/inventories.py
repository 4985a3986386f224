"""Inventories of a provider, and what is used of them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from onestack.common.db import utcnow
from onestack.placement.api.common import bad_request, conflict
from onestack.placement.models import allocations, inventories
from onestack.placement.providers import Provider, bump
from onestack.placement.rows import fetch_all

DEFAULTS = {
    "reserved": 0,
    "min_unit": 1,
    "max_unit": 2147483647,
    "step_size": 1,
    "allocation_ratio": 1.0,
}
FIELDS = ("total", "reserved", "min_unit", "max_unit", "step_size", "allocation_ratio")


@dataclass(slots=True)
class Inventory:
    total: int
    reserved: int
    min_unit: int
    max_unit: int
    step_size: int
    allocation_ratio: float

    @property
    def capacity(self) -> int:
        return int((self.total - self.reserved) * self.allocation_ratio)

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in FIELDS}

    def fits(self, amount: int) -> bool:
        """Whether one allocation of ``amount`` meets min/max unit and step size."""
        return self.min_unit <= amount <= self.max_unit and amount % self.step_size == 0


def inventory_of(values: dict[str, Any], *, reserved_may_equal_total: bool, rc: str) -> Inventory:
    """An inventory from a request's fields (defaults filled); inconsistent values are a 400."""
    merged = {**DEFAULTS, **{k: v for k, v in values.items() if k in FIELDS}}
    inv = Inventory(**merged)
    if inv.reserved > inv.total or (inv.reserved == inv.total and not reserved_may_equal_total):
        raise bad_request(
            f"Unable to update inventory for resource provider: Invalid inventory for '{rc}': "
            f"the reserved value {inv.reserved} is greater than or equal to total "
            f"{inv.total}."
            if not reserved_may_equal_total
            else f"Unable to update inventory: Invalid inventory for '{rc}': the reserved value "
            f"{inv.reserved} is greater than total {inv.total}."
        )
    if inv.min_unit > inv.max_unit:
        raise bad_request(
            f"Unable to update inventory: Invalid inventory for '{rc}': min_unit "
            f"{inv.min_unit} is greater than max_unit {inv.max_unit}."
        )
    return inv


async def of_provider(conn: AsyncConnection, provider_id: int) -> dict[int, Inventory]:
    rows = await conn.execute(
        select(inventories.c.resource_class_id, *(inventories.c[f] for f in FIELDS)).where(
            inventories.c.resource_provider_id == provider_id
        )
    )
    return {row[0]: Inventory(*row[1:]) for row in rows}


async def usages_of(
    conn: AsyncConnection, provider_ids: set[int] | None, class_ids: set[int] | None = None
) -> dict[tuple[int, int], int]:
    """``(provider id, class id) -> used`` (of every provider when ``provider_ids`` is None)."""
    query = select(
        allocations.c.resource_provider_id,
        allocations.c.resource_class_id,
        func.sum(allocations.c.used),
    ).group_by(allocations.c.resource_provider_id, allocations.c.resource_class_id)
    if provider_ids is not None:
        if not provider_ids:
            return {}
        if len(provider_ids) < 900:
            query = query.where(allocations.c.resource_provider_id.in_(sorted(provider_ids)))
    if class_ids is not None:
        query = query.where(allocations.c.resource_class_id.in_(sorted(class_ids)))
    return {
        (rp, rc): int(used)
        for rp, rc, used in await fetch_all(conn, query)
        if provider_ids is None or rp in provider_ids
    }


async def replace(
    conn: AsyncConnection,
    provider: Provider,
    generation: int,
    wanted: dict[int, Inventory],
    *,
    names: dict[int, str],
    only: set[int] | None = None,
    allow_in_use: bool = False,
) -> int:
    """Set the provider's inventories to ``wanted`` (for the classes in ``only``, or all);
    409 on a stale generation or for a class removed while in use. The new generation."""
    if generation != provider.generation:
        raise conflict("resource provider generation conflict")
    current = await of_provider(conn, provider.id)
    scope = set(current) if only is None else only & set(current)
    removed = scope - wanted.keys()
    if removed and not allow_in_use:
        used = await usages_of(conn, {provider.id}, removed)
        busy = sorted(names[rc] for (_, rc), n in used.items() if n)
        if busy:
            raise conflict(
                f"Inventory for {', '.join(busy)} on resource provider {provider.uuid} in use.",
                "placement.inventory.inuse",
            )
    if removed:
        await conn.execute(
            delete(inventories).where(
                inventories.c.resource_provider_id == provider.id,
                inventories.c.resource_class_id.in_(sorted(removed)),
            )
        )
    now = utcnow()
    for rc, inv in wanted.items():
        values = inv.as_dict()
        if rc in current:
            if current[rc] != inv:
                await conn.execute(
                    update(inventories)
                    .where(
                        inventories.c.resource_provider_id == provider.id,
                        inventories.c.resource_class_id == rc,
                    )
                    .values(**values, updated_at=now)
                )
        else:
            await conn.execute(
                insert(inventories).values(
                    resource_provider_id=provider.id,
                    resource_class_id=rc,
                    **values,
                    created_at=now,
                    updated_at=now,
                )
            )
    return await bump(conn, provider.id, provider.generation)
