"""Files written so that a crash at any moment leaves the old content or the new, never half."""

from __future__ import annotations

import os
from pathlib import Path


def write_private(path: Path, content: str) -> None:
    """Atomically replace ``path`` with ``content``, readable by the owner only (0600)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(content)
        fh.flush()
        os.fsync(fh.fileno())
    tmp.replace(path)
