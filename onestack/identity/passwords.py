"""Password hashing (bcrypt, Keystone's default) off the event loop."""

from __future__ import annotations

import asyncio
import functools

import bcrypt

#: bcrypt only reads the first 72 bytes; Keystone truncates the same way.
_MAX = 72


@functools.cache
def _dummy(rounds: int) -> bytes:
    """A hash to check against when there is none, so timing reveals nothing."""
    return bcrypt.hashpw(b"onestack", bcrypt.gensalt(rounds))


def _encode(password: str) -> bytes:
    return password.encode("utf-8")[:_MAX]


async def hash_password(password: str, rounds: int) -> str:
    salt = bcrypt.gensalt(rounds)
    return (await asyncio.to_thread(bcrypt.hashpw, _encode(password), salt)).decode()


async def check_password(password: str, hashed: str | None, rounds: int = 12) -> bool:
    """True if ``password`` matches ``hashed``; with no hash, spends the time and says no."""
    target = hashed.encode() if hashed else await asyncio.to_thread(_dummy, rounds)
    try:
        ok = await asyncio.to_thread(bcrypt.checkpw, _encode(password), target)
    except ValueError:
        return False
    return ok and hashed is not None
