"""The config drive: an ISO 9660 image labelled ``config-2`` as Nova writes it.

``openstack/<version>/`` (every version and ``latest``) holds ``meta_data.json``,
``network_data.json``, ``vendor_data.json``, ``vendor_data2.json`` and ``user_data`` as the
version has them; ``ec2/{latest,2009-04-04}/`` the EC2 view of the same facts
(``meta-data.json``, ``user-data``). The content comes from
:mod:`onestack.compute.instance_metadata`, which the metadata API serves too.
"""

from __future__ import annotations

import io
from pathlib import Path

import orjson
import pycdlib

from onestack.compute import instance_metadata as md
from onestack.compute.virt.driver import GuestSpec

EC2_VERSIONS = ("2009-04-04", "latest")


def files(guest: GuestSpec) -> dict[str, bytes]:
    """The drive's files by path (the content the metadata API serves too, with the admin
    password, which only a config drive carries)."""
    out: dict[str, bytes] = {}
    user = md.user_data(guest)
    vendor = orjson.dumps(md.vendor_data(guest))
    net = orjson.dumps(md.network_data(guest))
    for version in (*md.OPENSTACK_VERSIONS, md.LATEST):
        base = f"openstack/{version}"
        out[f"{base}/meta_data.json"] = orjson.dumps(md.meta_data(guest, version, admin_pass=True))
        for name, data in (
            ("network_data.json", net),
            ("vendor_data.json", vendor),
            ("vendor_data2.json", vendor),
        ):
            if md.has(version, name):
                out[f"{base}/{name}"] = data
        if user is not None:
            out[f"{base}/user_data"] = user
    ec2 = orjson.dumps(md.ec2_meta_data(guest))
    for version in EC2_VERSIONS:
        out[f"ec2/{version}/meta-data.json"] = ec2
        if user is not None:
            out[f"ec2/{version}/user-data"] = user
    return out


def write(guest: GuestSpec, path: Path) -> None:
    """The ISO (Joliet and Rock Ridge names, so long and lower-case names survive)."""
    iso = pycdlib.PyCdlib()
    iso.new(interchange_level=3, joliet=3, rock_ridge="1.09", vol_ident="config-2")
    made: set[str] = set()
    for name, data in sorted(files(guest).items()):
        parts = name.split("/")
        for depth in range(1, len(parts)):
            folder = "/".join(parts[:depth])
            if folder not in made:
                made.add(folder)
                iso.add_directory(
                    _iso_name(folder, directory=True),
                    rr_name=parts[depth - 1],
                    joliet_path="/" + folder,
                )
        iso.add_fp(
            io.BytesIO(data),
            len(data),
            _iso_name(name),
            rr_name=parts[-1],
            joliet_path="/" + name,
        )
    tmp = path.with_suffix(".tmp")
    iso.write(str(tmp))
    iso.close()
    tmp.replace(path)


def _iso_name(path: str, directory: bool = False) -> str:
    """An ISO 9660 level 3 name for ``path`` (upper case, [A-Z0-9_], ``;1`` on files)."""
    parts = []
    for i, part in enumerate(path.split("/")):
        last = i == len(path.split("/")) - 1
        clean = "".join(c if c.isalnum() else "_" for c in part.upper())
        if last and not directory:
            stem, _, ext = clean.rpartition("_") if "." in part else (clean, "", "")
            clean = f"{stem}.{ext};1" if stem else f"{clean};1"
        parts.append(clean[:30])
    return "/" + "/".join(parts)
