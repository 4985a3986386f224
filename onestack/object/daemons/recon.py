"""What the daemons did, kept where ``onestack object recon`` and ``/metrics`` read it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prometheus_client import Gauge

from onestack.common.metrics import REGISTRY

if TYPE_CHECKING:
    from onestack.object.service import ObjectService

DAEMON_STATS = Gauge(
    "onestack_object_daemon_stat",
    "What the object daemons did in their last pass, by daemon and counter.",
    ("daemon", "stat"),
    registry=REGISTRY,
)


def recon_file(root: Path) -> Path:
    return root / "recon.json"


def record(service: ObjectService, name: str, report: dict[str, Any]) -> None:
    for key, value in report.items():
        if isinstance(value, (int, float)):
            DAEMON_STATS.labels(name, key).set(value)
    path = recon_file(service.layout.root)
    data = read(service.layout.root)
    data[name] = report
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
    tmp.replace(path)


def read(root: Path) -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads(recon_file(root).read_text())
        return data
    except (FileNotFoundError, ValueError):
        return {}
