"""qemu-img, run as a program with an argument list (never a shell string)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from onestack.volume.drivers import DriverError

GiB = 1024**3


def run(*args: str) -> str:
    try:
        done = subprocess.run(
            ["qemu-img", *args], check=True, capture_output=True, text=True, timeout=3600
        )
    except FileNotFoundError:
        raise DriverError("qemu-img is not installed (Debian package qemu-utils)") from None
    except subprocess.CalledProcessError as exc:
        raise DriverError(f"qemu-img {args[0]} failed: {exc.stderr.strip()[:500]}") from None
    return done.stdout


def create(path: Path, fmt: str, size_gb: int, backing: Path | None = None) -> None:
    args = ["create", "-q", "-f", fmt]
    if backing is not None:
        args += ["-b", str(backing), "-F", info(backing)["format"]]
    run(*args, str(path), str(size_gb * GiB))


def info(path: Path) -> dict[str, Any]:
    return dict(json.loads(run("info", "--output", "json", "--force-share", str(path))))


def convert(source: Path, source_fmt: str, target: Path, target_fmt: str) -> None:
    run("convert", "-q", "-f", source_fmt, "-O", target_fmt, str(source), str(target))


def resize(path: Path, fmt: str, size_gb: int) -> None:
    run("resize", "-q", "-f", fmt, str(path), str(size_gb * GiB))


def rebase(path: Path, backing: Path | None) -> None:
    """Make ``path`` stand on ``backing`` (or alone), copying what the old chain held."""
    if backing is None:
        run("rebase", "-q", "-f", "qcow2", "-b", "", str(path))
    else:
        run("rebase", "-q", "-f", "qcow2", "-b", str(backing), "-F", "qcow2", str(path))
