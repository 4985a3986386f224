"""The ring servers read: partition of a path, its primary devices and its handoffs."""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def hash_path(
    account: str,
    container: str | None = None,
    obj: str | None = None,
    prefix: bytes = b"",
    suffix: bytes = b"",
) -> str:
    """The md5 hex digest of ``/account[/container[/object]]`` salted with the cluster's
    hash path prefix and suffix (as Swift)."""
    path = "/" + account
    if container is not None:
        path += "/" + container
        if obj is not None:
            path += "/" + obj
    return hashlib.md5(
        prefix + path.encode("utf-8", "surrogateescape") + suffix, usedforsecurity=False
    ).hexdigest()


class Ring:
    def __init__(self, data: dict[str, Any], prefix: bytes = b"", suffix: bytes = b""):
        self.part_power: int = data["part_power"]
        self.replicas: float = data["replicas"]
        self.devs: dict[int, dict[str, Any]] = {d["id"]: d for d in data["devs"]}
        self.assignment: list[list[int]] = data["assignment"]
        self.counts: list[int] = data["counts"]
        self.part_shift = 32 - self.part_power
        self.prefix = prefix
        self.suffix = suffix

    @classmethod
    def load(cls, path: Path, prefix: bytes = b"", suffix: bytes = b"") -> Ring:
        with gzip.open(path, "rt") as fh:
            return cls(json.load(fh), prefix, suffix)

    @property
    def partition_count(self) -> int:
        return 2**self.part_power

    @property
    def replica_count(self) -> int:
        return max(self.counts) if self.counts else 0

    def partition(self, account: str, container: str | None = None, obj: str | None = None) -> int:
        digest = hash_path(account, container, obj, self.prefix, self.suffix)
        return int(digest[:8], 16) >> self.part_shift

    def part_nodes(self, part: int) -> list[dict[str, Any]]:
        """The primary devices of ``part``, replica order."""
        return [self.devs[self.assignment[r][part]] for r in range(self.counts[part])]

    def nodes(
        self, account: str, container: str | None = None, obj: str | None = None
    ) -> tuple[int, list[dict[str, Any]]]:
        part = self.partition(account, container, obj)
        return part, self.part_nodes(part)

    def handoffs(self, part: int) -> Iterator[dict[str, Any]]:
        """Devices that are not primaries of ``part``, new zones first, in an order fixed
        for the part (so every proxy picks the same handoffs)."""
        primaries = self.part_nodes(part)
        used_ids = {d["id"] for d in primaries}
        used_zones = {(d["region"], d["zone"]) for d in primaries}

        def order(dev: dict[str, Any]) -> tuple[int, str]:
            seed = hashlib.md5(f"{part}-{dev['id']}".encode(), usedforsecurity=False)
            return ((dev["region"], dev["zone"]) in used_zones, seed.hexdigest())

        for dev in sorted((d for d in self.devs.values() if d["id"] not in used_ids), key=order):
            if dev.get("weight", 0) > 0:
                yield dev
