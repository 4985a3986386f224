"""The ring: which devices hold a partition's replicas (a small pure module)."""

from onestack.object.ring.builder import RingBuilder, RingError
from onestack.object.ring.ring import Ring, hash_path

__all__ = ["Ring", "RingBuilder", "RingError", "hash_path"]
