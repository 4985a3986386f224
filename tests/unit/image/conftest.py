"""Helpers for the image data path tests: disk images made by the real qemu-img."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def qemu_img() -> str:
    path = shutil.which("qemu-img")
    if path is None:
        pytest.fail("qemu-img is missing: apt-get install qemu-utils (scripts/setup.sh --test)")
    return path


@pytest.fixture
def make_image(qemu_img: str, tmp_path: Path):
    """make_image(fmt, size, *options) -> path of a fresh image made by qemu-img create."""

    def make(fmt: str, size: str, *options: str, name: str | None = None) -> Path:
        path = tmp_path / (name or f"disk.{fmt}")
        args = [qemu_img, "create", "-q", "-f", fmt]
        for option in options:
            args += ["-o", option]
        subprocess.run([*args, str(path), size], check=True, cwd=tmp_path)
        return path

    return make
