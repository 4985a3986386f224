"""Ring builder properties: dispersion, balance where weights allow, minimal movement."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from onestack.object.ring import Ring, RingBuilder, RingError

FAST = settings(max_examples=25, deadline=None)


def build(zones: int, per_zone: int, replicas: float, part_power: int = 8,
          weights: list[float] | None = None) -> RingBuilder:
    builder = RingBuilder(part_power, replicas, min_part_hours=0)
    n = 0
    for zone in range(1, zones + 1):
        for _ in range(per_zone):
            weight = weights[n % len(weights)] if weights else 100.0
            builder.add_device(region=1, zone=zone, weight=weight, device=f"d{n}")
            n += 1
    builder.rebalance(now=0)
    return builder


def part_devices(builder: RingBuilder, part: int) -> list[int]:
    counts = builder.replica_counts()
    return [builder.assignment[r][part] for r in range(counts[part])]


@FAST
@given(zones=st.integers(1, 5), per_zone=st.integers(1, 3), replicas=st.integers(1, 3))
def test_replicas_of_a_part_spread_over_devices_and_zones(zones: int, per_zone: int,
                                                          replicas: int) -> None:
    builder = build(zones, per_zone, float(replicas), part_power=6)
    devices = zones * per_zone
    for part in range(builder.parts):
        devs = part_devices(builder, part)
        assert len(devs) == replicas
        assert len(set(devs)) == min(replicas, devices)
        zones_used = {builder.devs[d].zone for d in devs}
        assert len(zones_used) == min(replicas, zones)


@FAST
@given(zones=st.integers(3, 5), per_zone=st.integers(1, 3))
def test_equal_weights_balance_within_one_percent(zones: int, per_zone: int) -> None:
    builder = build(zones, per_zone, 3.0, part_power=10)
    counts = builder.part_counts()
    wanted = builder.wanted()
    if all(abs(w - round(w)) < 1e-9 for w in wanted.values()):
        assert builder.balance() <= 1.0
    else:  # integer rounding: at most one part off
        assert all(abs(counts[d] - w) <= 1 for d, w in wanted.items())


def test_weights_are_honoured() -> None:
    builder = build(4, 1, 1.0, part_power=10, weights=[100, 100, 200, 400])
    counts = builder.part_counts()
    assert builder.balance() <= 1.0
    assert counts[3] == pytest.approx(2 * counts[2], rel=0.02)


@FAST
@given(replicas=st.sampled_from([1.5, 2.25, 2.5, 3.0]))
def test_fractional_replicas(replicas: float) -> None:
    builder = build(4, 1, replicas, part_power=8)
    total = sum(builder.replica_counts())
    assert total == round(replicas * builder.parts)
    assert sum(builder.part_counts().values()) == total


def test_adding_a_device_moves_only_its_share_and_one_replica_per_part() -> None:
    builder = build(4, 1, 3.0, part_power=10)
    before = [row[:] for row in builder.assignment]
    builder.add_device(region=1, zone=5, weight=100.0, device="new")
    moved = builder.rebalance(now=3600 * 10)
    share = 3 * builder.parts / 5
    assert moved <= share * 1.05
    assert builder.part_counts()[4] >= share * 0.95
    for part in range(builder.parts):
        changed = sum(before[r][part] != builder.assignment[r][part] for r in range(3))
        assert changed <= 1


def test_min_part_hours_holds_parts_that_just_moved() -> None:
    builder = RingBuilder(8, 3.0, min_part_hours=24)
    for zone in range(1, 4):
        builder.add_device(zone=zone, weight=100, device=f"d{zone}")
    builder.rebalance(now=0)
    builder.add_device(zone=4, weight=100, device="d4")
    assert builder.rebalance(now=3600) == 0  # everything moved an hour ago
    assert builder.rebalance(now=3600 * 25) > 0


def test_removing_a_device_reassigns_its_parts() -> None:
    builder = build(4, 1, 3.0, part_power=8)
    builder.remove_device(0)
    builder.rebalance(now=3600 * 48)
    assert 0 not in builder.part_counts()
    for part in range(builder.parts):
        assert len(set(part_devices(builder, part))) == 3


def test_ring_file_and_lookups(tmp_path: Path) -> None:
    builder = build(3, 1, 3.0, part_power=6)
    builder.save(tmp_path / "object.builder")
    builder = RingBuilder.load(tmp_path / "object.builder")
    builder.write_ring(tmp_path / "object.ring.gz")
    ring = Ring.load(tmp_path / "object.ring.gz", b"pre", b"suf")
    part, nodes = ring.nodes("AUTH_a", "c", "o")
    assert 0 <= part < 64 and len({n["id"] for n in nodes}) == 3
    assert ring.nodes("AUTH_a", "c", "o") == (part, nodes)
    spread = Counter(ring.partition("AUTH_a", "c", f"o{i}") for i in range(2000))
    assert len(spread) > 50
    assert list(ring.handoffs(part)) == []  # every device is a primary


def test_bad_builder_requests() -> None:
    with pytest.raises(RingError):
        RingBuilder(0, 3)
    with pytest.raises(RingError):
        RingBuilder(8, 0.5)
    builder = RingBuilder(8, 1)
    with pytest.raises(RingError):
        builder.rebalance()
    builder.add_device(device="d1")
    with pytest.raises(RingError):
        builder.add_device(device="d1")
    with pytest.raises(RingError):
        builder.remove_device(42)
