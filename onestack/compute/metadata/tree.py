"""The metadata API's paths over one instance's facts (no HTTP, no database): the
OpenStack tree under ``/openstack`` and EC2's ``/<version>/meta-data/...`` and
``/<version>/user-data``, as Nova's metadata handler lays them out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from onestack.compute import instance_metadata as md
from onestack.compute.virt.driver import GuestSpec

TEXT = "text/plain; charset=UTF-8"
JSON = "application/json"


@dataclass(frozen=True, slots=True)
class Answer:
    body: bytes
    content_type: str = TEXT


def lines(items: list[str]) -> Answer:
    return Answer("\n".join(items).encode())


def parts_of(path: str) -> list[str]:
    """``/openstack//latest/`` -> ["openstack", "latest"]; ``..`` and ``.`` never climb."""
    return [p for p in path.split("/") if p and p not in (".", "..")]


def root() -> Answer:
    """``/``: the EC2 versions and ``latest`` (answered without naming an instance)."""
    return lines([*md.EC2_VERSIONS, md.LATEST])


def openstack_version(parts: list[str]) -> str | None:
    """The OpenStack version a path under ``/openstack/`` names, if it is one."""
    known = (*md.OPENSTACK_VERSIONS, md.LATEST)
    return parts[1] if len(parts) >= 2 and parts[0] == "openstack" and parts[1] in known else None


def resolve(parts: list[str], guest: GuestSpec, *, launch_index: int = 0) -> Answer | None:
    """The answer for ``parts`` about ``guest``; None for a path that does not exist
    (``password`` is the caller's: it lives in the database)."""
    if parts and parts[0] == "openstack":
        return _openstack(parts[1:], guest, launch_index)
    if not parts:
        return root()
    if parts[0] in md.EC2_VERSIONS or parts[0] == md.LATEST:
        return _ec2(parts[1:], guest, launch_index)
    return None


def _openstack(parts: list[str], guest: GuestSpec, launch_index: int) -> Answer | None:
    if not parts:
        return lines([*md.OPENSTACK_VERSIONS, md.LATEST])
    version = parts[0]
    if version not in md.OPENSTACK_VERSIONS and version != md.LATEST:
        return None
    user = md.user_data(guest)
    if len(parts) == 1:
        names = ["meta_data.json"]
        names += ["user_data"] if user is not None else []
        names += [
            n
            for n in ("password", "vendor_data.json", "network_data.json", "vendor_data2.json")
            if md.has(version, n)
        ]
        return lines(names)
    if len(parts) > 2:
        return None
    name = parts[1]
    if name == "meta_data.json":
        return _json(md.meta_data(guest, version, launch_index=launch_index))
    if name == "user_data":
        return Answer(user, "application/octet-stream") if user is not None else None
    if not md.has(version, name):
        return None
    if name == "network_data.json":
        return _json(md.network_data(guest))
    if name in ("vendor_data.json", "vendor_data2.json"):
        return _json(md.vendor_data(guest))
    return None


def _ec2(parts: list[str], guest: GuestSpec, launch_index: int) -> Answer | None:
    user = md.user_data(guest)
    if not parts:
        return lines(["meta-data/", *(["user-data"] if user is not None else [])])
    if parts[0] == "user-data" and len(parts) == 1:
        return Answer(user, "application/octet-stream") if user is not None else None
    if parts[0] != "meta-data":
        return None
    node: Any = md.ec2_meta_data(guest, launch_index=launch_index)
    for i, part in enumerate(parts[1:]):
        if not isinstance(node, dict):
            return None
        if part not in node:
            return None
        if i == 0 and part == "public-keys" and len(parts) == 2:
            return lines([f"{k}={guest.key_name or 'key'}" for k in node[part]])
        node = node[part]
    if isinstance(node, dict):
        return lines([f"{k}/" if isinstance(v, dict) else str(k) for k, v in node.items()])
    if isinstance(node, list):
        return lines([str(v) for v in node])
    return Answer(str(node).encode())


def _json(data: dict[str, Any]) -> Answer:
    return Answer(orjson.dumps(data), JSON)
