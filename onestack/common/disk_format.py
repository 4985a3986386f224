"""The real format of a disk image file, with oslo.utils' format inspectors and their safety
checks (what Glance, Nova and Cinder share since the 2024 qcow2/vmdk CVEs)."""

from __future__ import annotations

from pathlib import Path

#: Formats qemu reads as plain bytes.
RAW_LIKE = frozenset({"raw", "iso", "gpt", "mbr"})


class UnsafeImage(ValueError):
    """The file's format could not be recognised, or it failed the safety checks."""


def inspect_file(path: Path) -> str:
    """``path``'s format (``raw`` for the raw-like ones), refused when unsafe."""
    from oslo_utils.imageutils import format_inspector as fi  # only when an image arrives

    try:
        found = fi.detect_file_format(str(path))
    except Exception as exc:
        raise UnsafeImage(f"its format could not be inspected: {exc}") from None
    if found is None:
        raise UnsafeImage("its format could not be inspected")
    try:
        found.safety_check()
    except Exception as exc:
        raise UnsafeImage(f"it failed the safety check: {exc}") from None
    name = str(found.NAME)
    return "raw" if name in RAW_LIKE else name
