"""Small helpers for the big in-memory stretches of a request (wide listings, candidates)."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection during a stretch that builds many containers (thousands
    of rows, candidates, summaries or servers): otherwise collections triggered by the
    allocations themselves cost more than the work. Awaits inside only defer collections (other
    tasks meanwhile allocate without them); a nested use leaves it to the outermost, and the
    next allocation after it collects as usual."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
