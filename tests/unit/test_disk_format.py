"""The shared disk-format inspection: formats found, unsafe files refused."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from onestack.common.disk_format import UnsafeImage, inspect_file


def test_raw_and_qcow2_are_recognised(tmp_path: Path) -> None:
    raw = tmp_path / "disk.raw"
    raw.write_bytes(b"\0" * 65536)
    assert inspect_file(raw) == "raw"
    qcow = tmp_path / "disk.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(qcow), "1M"], check=True)
    assert inspect_file(qcow) == "qcow2"


def test_a_qcow2_with_a_backing_file_is_refused(tmp_path: Path) -> None:
    base = tmp_path / "base.raw"
    base.write_bytes(b"\0" * 65536)
    top = tmp_path / "top.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", str(base), "-F", "raw",
                    str(top)], check=True)
    with pytest.raises(UnsafeImage, match="safety check"):
        inspect_file(top)
