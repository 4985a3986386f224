"""``onestack ring ...`` (build the rings) and ``onestack object ...`` (run a daemon pass,
read what the daemons did)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from onestack.cli.console import LazyConsole

ring_app = typer.Typer(
    help="Object Storage rings (account, container, object).", no_args_is_help=True
)
object_app = typer.Typer(help="Object Storage daemons and reports.", no_args_is_help=True)
console = LazyConsole()

Kind = Annotated[
    str, typer.Argument(help="account, container, object (policy 0) or object-N (policy N)")
]
DataDir = Annotated[Path | None, typer.Option("--data-dir", help="state directory")]


def _layout(data_dir: Path | None):  # type: ignore[no-untyped-def]
    from onestack.common.config import load_settings
    from onestack.object.layout import Layout

    settings = load_settings(None, data_dir=data_dir)
    return Layout(settings.data_dir / "object", settings.object.devices)


def _kind(kind: str) -> str:
    policy = kind.removeprefix("object-")
    if kind not in ("account", "container", "object") and not (
        kind.startswith("object-") and policy.isdigit()
    ):
        console.print(f"[red]unknown ring {kind!r}: account, container, object or object-N[/]")
        raise typer.Exit(2)
    return kind


def _fail(exc: Exception) -> None:
    console.print(f"[red]{exc}[/]")
    raise typer.Exit(1)


@ring_app.command("create")
def ring_create(
    kind: Kind,
    part_power: int,
    replicas: float,
    min_part_hours: int = 1,
    data_dir: DataDir = None,
    force: Annotated[bool, typer.Option(help="replace an existing builder")] = False,
) -> None:
    """Start a ring builder with a partition power, a (fractional) replica count and
    min_part_hours."""
    from onestack.object.ring import RingBuilder, RingError

    layout = _layout(data_dir)
    path = layout.builder_path(_kind(kind))
    if path.exists() and not force:
        _fail(RingError(f"{path} exists (use --force to replace it)"))
    try:
        builder = RingBuilder(part_power, replicas, min_part_hours)
    except RingError as exc:
        _fail(exc)
    path.parent.mkdir(parents=True, exist_ok=True)
    builder.save(path)
    console.print(f"{kind} ring builder: {2**part_power} partitions, {replicas} replicas")


@ring_app.command("add")
def ring_add(
    kind: Kind,
    device: str,
    region: int = 1,
    zone: int = 1,
    weight: float = 100.0,
    ip: str = "127.0.0.1",
    port: int = 0,
    node: Annotated[
        int | None,
        typer.Option(
            help="served by object node N (onestack serve object --node N) at --ip:--port",
            min=0,
        ),
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Add a device (a directory under the devices root) in a region and zone."""
    from onestack.object.ring import RingBuilder, RingError

    layout = _layout(data_dir)
    if node is not None and not port:
        _fail(RingError("a device of an object node needs the node's --port"))
    try:
        builder = RingBuilder.load(layout.builder_path(_kind(kind)))
        dev_id = builder.add_device(
            region=region,
            zone=zone,
            weight=weight,
            ip=ip,
            port=port,
            device=device,
            meta=f"node={node}" if node is not None else "",
        )
    except RingError as exc:
        _fail(exc)
    builder.save(layout.builder_path(kind))
    console.print(f"device {dev_id} ({device}, r{region}z{zone}, weight {weight}) added")


@ring_app.command("remove")
def ring_remove(kind: Kind, dev_id: int, data_dir: DataDir = None) -> None:
    """Remove a device; its partitions move at the next rebalance."""
    from onestack.object.ring import RingBuilder, RingError

    layout = _layout(data_dir)
    try:
        builder = RingBuilder.load(layout.builder_path(_kind(kind)))
        builder.remove_device(dev_id)
    except RingError as exc:
        _fail(exc)
    builder.save(layout.builder_path(kind))
    console.print(f"device {dev_id} removed")


@ring_app.command("rebalance")
def ring_rebalance(kind: Kind, data_dir: DataDir = None) -> None:
    """Assign partitions, move as few as possible, and write the ring file the servers read
    (a running cloud picks it up at its next start)."""
    from onestack.object.ring import RingBuilder, RingError

    layout = _layout(data_dir)
    try:
        builder = RingBuilder.load(layout.builder_path(_kind(kind)))
        moved = builder.rebalance()
        builder.write_ring(layout.ring_path(kind))
    except RingError as exc:
        _fail(exc)
    builder.save(layout.builder_path(kind))
    for dev in builder.devs.values():
        if not dev.port:  # a device with a port is made by its object node
            (layout.devices / dev.device).mkdir(parents=True, exist_ok=True)
    console.print(f"reassigned {moved} partition replicas; balance {builder.balance():.2f}")


@ring_app.command("show")
def ring_show(kind: Kind, data_dir: DataDir = None) -> None:
    """The builder: partitions, replicas, balance and every device."""
    from onestack.object.ring import RingBuilder, RingError

    layout = _layout(data_dir)
    try:
        builder = RingBuilder.load(layout.builder_path(_kind(kind)))
    except RingError as exc:
        _fail(exc)
    counts = builder.part_counts()
    wanted = builder.wanted()
    console.print(
        f"{kind}: {builder.parts} partitions, {builder.replicas} replicas, "
        f"min_part_hours {builder.min_part_hours}, balance {builder.balance():.2f}"
    )
    console.print(" id region zone device          weight  parts  balance")
    for dev in builder.devs.values():
        want = wanted.get(dev.id, 0)
        bal = (counts[dev.id] - want) / want * 100 if want else 0.0
        console.print(
            f"{dev.id:3} {dev.region:6} {dev.zone:4} {dev.device:15} "
            f"{dev.weight:7.1f} {counts[dev.id]:6} {bal:8.2f}"
        )


def _service(data_dir: Path | None):  # type: ignore[no-untyped-def]
    from onestack.common.config import load_settings
    from onestack.common.platform import Platform
    from onestack.object.service import ObjectService

    return ObjectService(Platform(load_settings(None, data_dir=data_dir)))


def _daemon(name: str, data_dir: Path | None, once: bool) -> None:
    import time

    from onestack.object.daemons import run_one

    service = _service(data_dir)
    while True:
        report = run_one(service, name)
        typer.echo(json.dumps(report, sort_keys=True))
        if once:
            return
        time.sleep(getattr(service.conf, f"{name}_interval"))


Once = Annotated[bool, typer.Option("--once", help="one pass, then exit")]


@object_app.command("replicate")
def replicate(data_dir: DataDir = None, once: Once = False) -> None:
    """Push differing partition suffixes to peers; drain handoffs back to primaries."""
    _daemon("replicator", data_dir, once)


@object_app.command("audit")
def audit(data_dir: DataDir = None, once: Once = False) -> None:
    """Verify every object's checksum; quarantine corrupt ones."""
    _daemon("auditor", data_dir, once)


@object_app.command("update")
def update(data_dir: DataDir = None, once: Once = False) -> None:
    """Retry container listing updates that failed."""
    _daemon("updater", data_dir, once)


@object_app.command("expire")
def expire(data_dir: DataDir = None, once: Once = False) -> None:
    """Delete objects whose X-Delete-At has passed."""
    _daemon("expirer", data_dir, once)


@object_app.command("reap")
def reap(data_dir: DataDir = None, once: Once = False) -> None:
    """Delete the contents of accounts a reseller admin deleted."""
    _daemon("reaper", data_dir, once)


@object_app.command("sync")
def container_sync(data_dir: DataDir = None, once: Once = False) -> None:
    """Send containers' changes to their X-Container-Sync-To containers."""
    _daemon("sync", data_dir, once)


@object_app.command("reconcile")
def reconcile(data_dir: DataDir = None, once: Once = False) -> None:
    """Move objects stored under another policy than their container's into its policy."""
    _daemon("reconciler", data_dir, once)


@object_app.command("recon")
def recon(data_dir: DataDir = None) -> None:
    """What each daemon did in its last pass (like swift-recon)."""
    from onestack.object.daemons.recon import read

    layout = _layout(data_dir)
    data = read(layout.root)
    if not data:
        console.print("no daemon has reported yet")
        return
    typer.echo(json.dumps(data, indent=1, sort_keys=True))


def serve_node(settings, node: int) -> None:  # type: ignore[no-untyped-def]
    """``onestack serve object --node N``: object node N until SIGINT / SIGTERM."""
    from onestack.common.logs import setup_logging
    from onestack.object.servers.node import serve

    setup_logging(settings.log_level, settings.log_format, settings.access_log)
    try:
        serve(settings.data_dir, node, policies=len(settings.object.storage_policies))
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
