"""A Fernet key repository in Keystone's layout.

Key files are named by integer: ``0`` is the staged key (the next primary), the highest number is
the primary (it encrypts), the others are secondary (they still decrypt). Rotation promotes the
staged key, stages a new one and drops the oldest secondaries beyond ``max_active_keys``, so every
token issued under the previous primary still validates until it expires.
"""

from __future__ import annotations

import base64
import os
import struct
import threading
import time
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

__all__ = ["InvalidToken", "KeyRepository"]


class KeyRepository:
    def __init__(self, path: Path, max_active_keys: int = 3):
        self.path = Path(path)
        self.max_active_keys = max_active_keys
        self._fernet: MultiFernet | None = None
        self._loaded_mtime: float | None = None
        self._checked_at = 0.0
        self._lock = threading.Lock()

    # -- files ----------------------------------------------------------------------------
    def keys(self) -> dict[int, bytes]:
        """Every key in the repository by index."""
        found: dict[int, bytes] = {}
        if not self.path.is_dir():
            return found
        for entry in self.path.iterdir():
            if entry.name.isdigit() and entry.is_file():
                found[int(entry.name)] = entry.read_bytes().strip()
        return found

    def _write_key(self, index: int) -> None:
        tmp = self.path / f".{index}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(Fernet.generate_key())
            fh.flush()
            os.fsync(fh.fileno())
        tmp.rename(self.path / str(index))

    def setup(self) -> bool:
        """Create the repository with a staged and a primary key, if it has none. Idempotent."""
        self.path.mkdir(mode=0o700, parents=True, exist_ok=True)
        keys = self.keys()
        if 0 not in keys:
            self._write_key(0)
        if len(self.keys()) < 2:
            self.rotate()
            return True
        return False

    def rotate(self) -> int:
        """Promote the staged key to primary, stage a new key, purge the oldest; return primary."""
        keys = self.keys()
        if 0 not in keys:
            self._write_key(0)
            keys = self.keys()
        new_primary = max(keys) + 1
        (self.path / "0").rename(self.path / str(new_primary))
        self._write_key(0)
        active = sorted(i for i in self.keys() if i != 0)
        # staged + primary + secondaries must fit max_active_keys
        excess = len(active) + 1 - self.max_active_keys
        for index in active[: max(0, excess)]:
            (self.path / str(index)).unlink()
        self._fernet = None
        return new_primary

    # -- crypto ---------------------------------------------------------------------------
    def fernet(self) -> MultiFernet:
        """Primary first (it encrypts), then the rest newest first; reloaded when files change."""
        now = time.monotonic()
        if self._fernet is not None and now - self._checked_at < 1.0:
            return self._fernet
        with self._lock:
            self._checked_at = now
            try:
                mtime = self.path.stat().st_mtime
            except FileNotFoundError as exc:
                raise RuntimeError(f"Fernet key repository {self.path} does not exist") from exc
            if self._fernet is None or mtime != self._loaded_mtime:
                keys = self.keys()
                if len(keys) < 2:
                    raise RuntimeError(f"Fernet key repository {self.path} is not set up")
                ordered = [*sorted((i for i in keys if i != 0), reverse=True), 0]
                self._fernet = MultiFernet([Fernet(keys[i]) for i in ordered])
                self._loaded_mtime = mtime
            return self._fernet

    def encrypt(self, data: bytes) -> bytes:
        return self.fernet().encrypt(data)

    def decrypt(self, token: bytes) -> bytes:
        """Raises :class:`InvalidToken` if no key opens it."""
        return self.fernet().decrypt(token)

    @staticmethod
    def timestamp(token: bytes) -> int:
        """The creation time Fernet wrote into a token (seconds); read it after decrypt()."""
        raw = base64.urlsafe_b64decode(token)
        return int(struct.unpack(">Q", raw[1:9])[0])
