"""Disk format inspection of an upload stream: does the data match the declared disk_format?

Built on oslo.utils' format inspectors (what Glance, Nova and Cinder share since the 2024 qcow2
and vmdk CVEs). Every inspector sees the stream only until it has the headers it needs, so a
GiB of raw data costs a few MiB of inspection. The verdict follows Glance 33 with one
stricter rule: content of a structured format (qcow2, vmdk, ...) declared as ``raw`` is refused
instead of stored with a warning.
"""

from __future__ import annotations

import functools
import logging
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from oslo_utils.imageutils import format_inspector as fi

log = logging.getLogger(__name__)

#: Formats qemu interprets (headers, tables, external references): never accepted under
#: another name, since a consumer trusting the declared format would misread them.
STRUCTURED = frozenset({"qcow2", "vhd", "vhdx", "vmdk", "vdi", "qed", "luks"})
#: Declared formats whose content is plain bytes (disks, kernels, ramdisks); a partition table
#: (gpt) or a CD filesystem (iso) inside them is still plain bytes to a hypervisor.
RAW_LIKE = frozenset({"raw", "ami", "aki", "ari"})
#: Inspectors are fed at most this much at a time: some add capture regions one step after
#: another region completes (vhdx's metadata -> virtual size entry), which a big chunk skips.
FEED_SIZE = 64 * 1024


@functools.cache
def _fi() -> ModuleType:
    """oslo.utils' inspectors, imported when the first image arrives (not at start: ~50 ms)."""
    from oslo_utils.imageutils import format_inspector

    return format_inspector


class InvalidImageData(ValueError):
    """The uploaded data is refused (Glance answers 415 and puts the image back to queued)."""


class FormatMismatch(InvalidImageData):
    """The content is not in the declared disk_format."""


class UnsafeImage(InvalidImageData):
    """The content is in the declared format but fails its safety checks (backing file...)."""


def _complete(inspector: fi.FileInspector) -> bool:
    try:
        return bool(inspector.complete)
    except Exception:
        return False


def _matches(inspector: fi.FileInspector) -> bool:
    try:
        return bool(inspector.format_match)
    except Exception:  # e.g. a vmdk whose descriptor was never parsed
        return False


def _waiting_for_end(inspector: fi.FileInspector) -> bool:
    """True when all the inspector still waits for is the end of the stream (vmdk footer)."""
    regions = inspector._capture_regions.values()
    end = _fi().EndCaptureRegion
    return any(isinstance(r, end) for r in regions) and all(
        r.complete or isinstance(r, end) for r in regions
    )


class FormatInspector:
    """Incremental inspection of one stream against ``disk_format``.

    Call :meth:`feed` with the chunks in order (it raises as soon as a mismatch or an unsafe
    header is known) and :meth:`finish` at the end; then :attr:`format` is the detected format
    and :attr:`virtual_size` the disk size (None when unknown).
    """

    def __init__(self, disk_format: str):
        self.disk_format = disk_format
        self.position = 0
        self.format: str | None = None
        self.virtual_size: int | None = None
        self._active: list[fi.FileInspector] = [
            cls() for name, cls in _fi().ALL_FORMATS.items() if name != "raw"
        ]
        self._done: list[fi.FileInspector] = []
        self._finished = False

    @property
    def needs_data(self) -> bool:
        """False once every inspector has what it needs (the rest of the stream is not read)."""
        return bool(self._active)

    def feed(self, chunk: bytes | memoryview) -> None:
        """Present the next chunk; raises FormatMismatch / UnsafeImage as soon as known."""
        start = self.position
        self.position += len(chunk)
        if not self._active:
            return
        view = memoryview(chunk)
        still: list[fi.FileInspector] = []
        for inspector in self._active:
            if self._eat(inspector, view, start):
                still.append(inspector)
        self._active = still

    def _eat(self, inspector: fi.FileInspector, view: memoryview, start: int) -> bool:
        """Feed one inspector; True while it wants more data."""
        name = inspector.NAME
        settled = False
        try:
            i, n = 0, len(view)
            while i < n:
                if _complete(inspector):
                    # Some inspectors add a region one step after another completes: one
                    # more slice tells whether this one is really done.
                    count = len(inspector._capture_regions)
                    inspector.eat_chunk(view[i : i + FEED_SIZE])  # type: ignore[arg-type]
                    i += FEED_SIZE
                    if len(inspector._capture_regions) == count and _complete(inspector):
                        settled = True
                        break
                elif _waiting_for_end(inspector):
                    inspector.eat_chunk(view[i:])  # type: ignore[arg-type]
                    break
                else:
                    inspector.eat_chunk(view[i : i + FEED_SIZE])  # type: ignore[arg-type]
                    i += FEED_SIZE
        except Exception as exc:
            if name == self.disk_format:
                raise FormatMismatch(f"Image content is not valid {name}") from None
            log.debug("%s inspector gave up at byte %d: %s", name, start, exc)
            return False
        if not settled:
            return True
        self._done.append(inspector)
        self._early_verdict(inspector)
        return False

    def _early_verdict(self, inspector: fi.FileInspector) -> None:
        name, matches = inspector.NAME, _matches(inspector)
        if name == self.disk_format:
            if not matches:
                raise FormatMismatch(f"Image content does not match disk_format {name}")
            self._safety_check(inspector)
        elif matches and name in STRUCTURED:
            raise FormatMismatch(
                f"Image content is {name}, not the declared disk_format {self.disk_format}"
            )

    def _safety_check(self, inspector: fi.FileInspector) -> None:
        formats = _fi()
        try:
            inspector.safety_check()
        except formats.SafetyCheckFailed as exc:
            reasons = ", ".join(f"{k} ({v})" for k, v in sorted(exc.failures.items()))
            message = f"{inspector.NAME} image refused by safety checks: {reasons}"
            raise UnsafeImage(message) from None
        except formats.ImageFormatError as exc:
            raise FormatMismatch(f"Image content is not valid {inspector.NAME}: {exc}") from None

    def finish(self, size: int | None = None) -> str:
        """End of stream: the final verdict. Returns the detected format name."""
        if self._finished:
            return self.format or "raw"
        self._finished = True
        size = self.position if size is None else size
        for inspector in self._active:
            try:
                inspector.finish()
            except Exception as exc:
                log.debug("%s inspector failed to finish: %s", inspector.NAME, exc)
                continue
            if _complete(inspector):
                self._done.append(inspector)
                self._early_verdict(inspector)
        self._active = []

        matched = {i.NAME: i for i in self._done if _matches(i)}
        if matched.keys() == {"iso", "gpt"}:
            del matched["gpt"]  # a bootable ISO carries a GPT in front of its filesystem
        if len(matched) > 1:
            raise FormatMismatch(
                "Image content matches several formats: " + ", ".join(sorted(matched))
            )
        detected = next(iter(matched), "raw")
        found = matched.get(detected)
        declared = self.disk_format
        self.format = detected

        if declared in RAW_LIKE:
            if detected in STRUCTURED:
                raise FormatMismatch(
                    f"Image content is {detected}, not the declared disk_format {declared}"
                )
            if found is not None and declared not in ("aki", "ari"):
                # A GPT with a broken protective MBR is refused (kernels may look like one).
                self._safety_check(found)
            self.virtual_size = size if declared == "raw" else None
        elif detected != declared:
            if declared in _fi().ALL_FORMATS or detected != "raw":
                raise FormatMismatch(
                    f"Image content is {detected}, not the declared disk_format {declared}"
                )
            self.virtual_size = None  # not inspectable (ploop...), nothing recognised in it
        else:
            assert found is not None
            self._safety_check(found)
            virtual = 0 if detected in ("gpt", "luks") else found.virtual_size
            self.virtual_size = virtual or (size if detected == "gpt" else None)
        return detected
