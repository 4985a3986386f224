"""Reproducible installs: uv.lock pins every dependency of pyproject.toml, and setup refuses a
lock that disagrees with pyproject in one line telling to run ``make lock``."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
VENV = Path(sys.prefix)
UV = VENV / "bin" / "uv"


def test_the_lock_pins_every_dependency_at_one_version() -> None:
    lock = tomllib.loads((REPO / "uv.lock").read_text())
    versions = {p["name"]: p.get("version") for p in lock["package"]}
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    wanted = [*project["dependencies"], *project["optional-dependencies"]["test"][1:]]
    for requirement in wanted:
        name = requirement.split(">")[0].split("=")[0].split("[")[0].split("<")[0].strip()
        normal = name.lower().replace("_", "-").replace(".", "-")
        assert versions.get(normal), f"{name} is not pinned in uv.lock"
    proc = subprocess.run([str(UV), "lock", "--check"], cwd=REPO, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, f"uv.lock is stale, run `make lock`: {proc.stderr}"


def test_setup_refuses_a_stale_lock_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "scripts").mkdir()
    shutil.copy(REPO / "scripts" / "setup.sh", tmp_path / "scripts" / "setup.sh")
    shutil.copy(REPO / "uv.lock", tmp_path / "uv.lock")
    shutil.copy(REPO / "README.md", tmp_path / "README.md")
    pyproject = (REPO / "pyproject.toml").read_text()
    # another branch added a dependency to pyproject.toml without re-locking
    stale = pyproject.replace('    "oslo.utils>=7.3",\n',
                              '    "oslo.utils>=7.3",\n    "tenacity>=8",\n')
    assert stale != pyproject
    (tmp_path / "pyproject.toml").write_text(stale)
    proc = subprocess.run(["bash", "scripts/setup.sh"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120, env={**os.environ, "VENV": str(VENV)})
    assert proc.returncode != 0
    assert proc.stderr.strip().splitlines() == [
        "onestack setup: uv.lock does not match pyproject.toml: run 'make lock' and commit uv.lock"
    ]
    assert (tmp_path / "uv.lock").read_bytes() == (REPO / "uv.lock").read_bytes()  # untouched
