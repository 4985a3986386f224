"""In-service token validation latency: what every onestack API pays per request.

Measures TokenProvider.context_for (the validator every service uses) on
- a cached token (seen before),
- a token never seen before, for a user and scope already known (decrypt + revocation check),
- a cold token right after an identity write (scope looked up in the database again).

Usage: .venv/bin/python bench/token_validation.py [--n 20000]
Writes nothing; prints p50/p99 in microseconds.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from onestack.common.config import load_settings
from onestack.identity.auth import AuthRequest
from onestack.server import Cloud


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def main(n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(data_dir=Path(tmp), identity={"password_hash_rounds": 4})
        cloud = Cloud(settings)
        await cloud.start()
        ident = cloud.identity
        password = (Path(tmp) / "admin-password").read_text().strip()
        body = AuthRequest.model_validate(
            {
                "auth": {
                    "identity": {
                        "methods": ["password"],
                        "password": {
                            "user": {
                                "name": "admin",
                                "domain": {"id": "default"},
                                "password": password,
                            }
                        },
                    },
                    "scope": {"project": {"name": "admin", "domain": {"id": "default"}}},
                }
            }
        )
        token, info = await ident.authenticator.authenticate(body)

        cached = []
        for _ in range(n):
            t = time.perf_counter()
            await ident.tokens.context_for(token, "req")
            cached.append((time.perf_counter() - t) * 1e6)

        # new tokens for a known user and scope: made without touching the caches
        fresh_tokens = [ident.manager.formatter.create(info.payload) for _ in range(n // 10)]
        first = []
        for tok in fresh_tokens:
            t = time.perf_counter()
            await ident.tokens.context_for(tok, "req")
            first.append((time.perf_counter() - t) * 1e6)

        cold = []
        for _ in range(200):
            ident.manager.revision += 1  # as after any identity write
            tok = ident.manager.formatter.create(info.payload)
            t = time.perf_counter()
            await ident.tokens.context_for(tok, "req")
            cold.append((time.perf_counter() - t) * 1e6)
        await cloud.stop()

    print("| case | samples | p50 µs | p99 µs | mean µs |")
    print("|---|---|---|---|---|")
    for name, s in (
        ("cached token", cached),
        ("first sight, known user+scope", first),
        ("first sight after an identity write", cold),
    ):
        print(
            f"| {name} | {len(s)} | {pct(s, 0.5):.1f} | {pct(s, 0.99):.1f} | "
            f"{statistics.mean(s):.1f} |"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=20000)
    asyncio.run(main(parser.parse_args().n))
