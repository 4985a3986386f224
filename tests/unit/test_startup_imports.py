"""Start-up regression guard: what `onestack up` must not load before its APIs answer.

Each check runs in a fresh interpreter (a subprocess), so modules other tests imported do not
count; none is timed, so a loaded CI machine cannot make them flaky. A module on a list here was
made lazy on purpose (docs/benchmarks.md, Start-up): importing it again at the top of a module
on the start path makes the test name it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

#: Never needed before the first request: the QEMU driver and what only it, the RPC transport
#: to RabbitMQ, image inspection, another database's driver, policy parsing or the CLI's
#: pretty printing uses.
HEAVY = [
    "onestack.compute.virt.qemu",
    "pycdlib",
    "aio_pika",
    "aiormq",
    "oslo_utils",
    "oslo_policy",
    "oslo_config",
    "boto3",
    "botocore",
    "jsonschema",
    "rich",
    "pygments",
    "click",
    "httpx._main",
    "websockets",
    "pydantic.v1",
    "asyncpg",
    "aiomysql",
    "sqlalchemy.dialects.postgresql",
    "sqlalchemy.dialects.mysql",
]
#: Built after the APIs answer (LazyApp): the API modules and their routes.
APIS = [
    "onestack.identity.api.auth",
    "onestack.image.api.images",
    "onestack.placement.api.allocations",
    "onestack.network.api.core",
    "onestack.compute.api.servers",
    "onestack.volume.api.volumes",
]
#: Started in the background task after the APIs answer.
WORKERS = [
    "onestack.compute.manager",
    "onestack.compute.scheduler.manager",
    "onestack.compute.conductor.manager",
    "onestack.volume.agent",
    "onestack.image.worker",
]

PROBE = textwrap.dedent(
    """
    import asyncio, json, os, sys
    import onestack.cli.main  # what `onestack up` imports first
    from onestack.common.config import Settings
    from onestack.server import Cloud

    services = sys.argv[2].split(",") if sys.argv[2] else None
    settings = Settings(data_dir=sys.argv[1], **({"services": services} if services else {}))
    cloud = Cloud(settings)
    made = sorted(sys.modules)

    async def start():
        # as the lifespan of `onestack up` does; what the workers' task imports comes later
        await cloud.start(agents_in_background=True)
        return sorted(m for m in sys.modules if sys.modules[m] is not None)

    started = asyncio.run(start()) if sys.argv[3] == "start" else []
    print(json.dumps({"made": [m for m in made if sys.modules[m] is not None], "started": started}))
    sys.stdout.flush()
    os._exit(0)  # the workers' task is not waited for
    """
)


def _modules(tmp_path: Path, services: str = "", start: bool = False) -> dict[str, set[str]]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(tmp_path / "data"), services, "start" if start else ""],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    found = json.loads(out.stdout.strip().splitlines()[-1])
    return {key: set(value) for key, value in found.items()}


def _loaded(modules: set[str], names: list[str]) -> list[str]:
    return [n for n in names if any(m == n or m.startswith(n + ".") for m in modules)]


def test_whole_cloud_start_path_stays_light(tmp_path: Path) -> None:
    """Every service (the default), a warm start (the first one migrates and bootstraps): made
    and started, none of the heavy modules, API modules or workers is loaded yet."""
    _modules(tmp_path, start=True)
    found = _modules(tmp_path, start=True)
    assert _loaded(found["made"], HEAVY + APIS + WORKERS) == []
    assert _loaded(found["started"], HEAVY + APIS + WORKERS) == []
    assert "onestack.compute.service" in found["made"]  # the probe did load every service


def test_object_storage_alone_loads_no_identity_or_orm(tmp_path: Path) -> None:
    """`onestack serve object` (issue 12): no Identity, SQLAlchemy or cryptography."""
    found = _modules(tmp_path, services="object")
    assert "onestack.object.service" in found["made"]
    heavy = [*HEAVY, "onestack.identity", "sqlalchemy", "cryptography", "bcrypt"]
    assert _loaded(found["made"], heavy) == []
