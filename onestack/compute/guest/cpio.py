"""A cpio archive in the "newc" format the kernel unpacks as an initramfs."""

from __future__ import annotations

import stat
from pathlib import Path


class Newc:
    """Entries appended in order; :meth:`finish` returns the archive."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._ino = 0

    def _entry(
        self, name: str, mode: int, data: bytes = b"", rdev: tuple[int, int] = (0, 0)
    ) -> None:
        self._ino += 1
        encoded = name.encode() + b"\0"
        fields = (self._ino, mode, 0, 0, 1, 0, len(data), 0, 0, *rdev, len(encoded), 0)
        header = b"070701" + b"".join(b"%08X" % f for f in fields)
        self._parts += [header, encoded, b"\0" * (-(len(header) + len(encoded)) % 4)]
        self._parts += [data, b"\0" * (-len(data) % 4)]

    def directory(self, name: str) -> None:
        self._entry(name, stat.S_IFDIR | 0o755)

    def file(self, name: str, data: bytes, mode: int = 0o644) -> None:
        self._entry(name, stat.S_IFREG | mode, data)

    def char_device(self, name: str, major: int, minor: int, mode: int = 0o600) -> None:
        self._entry(name, stat.S_IFCHR | mode, rdev=(major, minor))

    def symlink(self, name: str, target: str) -> None:
        self._entry(name, stat.S_IFLNK | 0o777, target.encode())

    def tree(self, source: Path, prefix: str) -> None:
        """Every file, link and directory under ``source`` as ``prefix/...``."""
        for path in sorted(source.rglob("*")):
            name = f"{prefix}/{path.relative_to(source)}"
            if path.is_symlink():
                self.symlink(name, str(path.readlink()))
            elif path.is_dir():
                self.directory(name)
            else:
                self.file(name, path.read_bytes(), path.stat().st_mode & 0o777)

    def finish(self) -> bytes:
        self._entry("TRAILER!!!", 0)
        return b"".join(self._parts)
