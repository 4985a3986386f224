"""``onestack ring`` and ``onestack object`` commands."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from onestack.cli.main import app
from onestack.object.ring import Ring

runner = CliRunner()


def run(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_ring_commands(tmp_path: Path) -> None:
    d = ["--data-dir", str(tmp_path)]
    run("ring", "create", "object", "6", "3", *d)
    for zone in (1, 2, 3, 4):
        run("ring", "add", "object", f"z{zone}", "--zone", str(zone), *d)
    out = run("ring", "rebalance", "object", *d)
    assert "reassigned 192 partition replicas" in out
    ring = Ring.load(tmp_path / "object" / "rings" / "object.ring.gz")
    assert len(ring.devs) == 4 and ring.replica_count == 3
    assert all((tmp_path / "object" / "devices" / f"z{z}").is_dir() for z in (1, 2, 3, 4))
    shown = run("ring", "show", "object", *d)
    assert "64 partitions, 3.0 replicas" in shown and "z4" in shown
    run("ring", "remove", "object", "3", *d)
    run("ring", "rebalance", "object", *d)
    assert 3 not in Ring.load(tmp_path / "object" / "rings" / "object.ring.gz").devs
    bad = runner.invoke(app, ["ring", "add", "object", "z1", *d])
    assert bad.exit_code == 1 and "already exists" in bad.output
    bad = runner.invoke(app, ["ring", "create", "object", "6", "3", *d])
    assert bad.exit_code == 1
    assert runner.invoke(app, ["ring", "show", "nope", *d]).exit_code == 2


def test_devices_of_object_nodes(tmp_path: Path) -> None:
    d = ["--data-dir", str(tmp_path)]
    run("ring", "create", "object", "4", "1", *d)
    run("ring", "add", "object", "n1a", "--port", "6201", "--node", "1", *d)
    run("ring", "add", "object", "n2a", "--zone", "2", "--port", "6202", "--node", "2", *d)
    run("ring", "rebalance", "object", *d)
    devs = Ring.load(tmp_path / "object" / "rings" / "object.ring.gz").devs.values()
    assert sorted((x["device"], x["port"], x["meta"]) for x in devs) == [
        ("n1a", 6201, "node=1"), ("n2a", 6202, "node=2")]
    assert not (tmp_path / "object" / "devices" / "n1a").exists()  # the node makes its own
    bad = runner.invoke(app, ["ring", "add", "object", "n3a", "--node", "3", *d])
    assert bad.exit_code == 1 and "--port" in bad.output
    bad = runner.invoke(app, ["serve", "object", "--node", "7", *d])
    assert bad.exit_code == 2 and "node=7" in bad.output
    bad = runner.invoke(app, ["serve", "image", "--node", "1", *d])
    assert bad.exit_code != 0 and "--node is for serve object" in bad.output


def test_daemon_passes_and_recon(tmp_path: Path) -> None:
    d = ["--data-dir", str(tmp_path)]
    for command in ("replicate", "audit", "update", "expire"):
        out = run("object", command, "--once", *d)
        assert json.loads(out.strip().splitlines()[-1])["last_pass"] > 0
    recon = json.loads(run("object", "recon", *d))
    assert set(recon) == {"replicator", "auditor", "updater", "expirer"}
    assert recon["auditor"]["quarantined"] == 0
