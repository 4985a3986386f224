"""``onestack``: run the cloud and look after it."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from onestack.common.config import Settings, load_settings
from onestack.common.logs import setup_logging

app = typer.Typer(
    help="The whole OpenStack cloud in one coherent Python project.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)
keys_app = typer.Typer(help="Fernet key repositories.", no_args_is_help=True)
db_app = typer.Typer(help="Databases.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
app.add_typer(db_app, name="db")
from onestack.object.cli import object_app, ring_app  # noqa: E402  (typer apps only)

app.add_typer(ring_app, name="ring")
app.add_typer(object_app, name="object")
console = Console(stderr=True)

DataDir = Annotated[Path | None, typer.Option("--data-dir", help="state directory")]
ConfigFile = Annotated[Path | None, typer.Option("--config", help="onestack.toml")]


def _settings(config: Path | None, **overrides: object) -> Settings:
    return load_settings(config, **overrides)


Transport = Annotated[
    str | None,
    typer.Option("--transport", help="RPC bus: memory:// (default) or rabbit://user:pass@host/"),
]
DatabaseUrl = Annotated[str | None, typer.Option(help="SQLAlchemy URL for every service")]
Host = Annotated[str | None, typer.Option(help="address to listen on")]
Port = Annotated[int | None, typer.Option(help="port to listen on")]


def _services(value: str | None) -> list[str] | None:
    return [name.strip() for name in value.split(",") if name.strip()] if value else None


@app.command()
def up(
    data_dir: DataDir = None,
    host: Host = None,
    port: Port = None,
    database_url: DatabaseUrl = None,
    transport: Transport = None,
    services: Annotated[
        str | None, typer.Option(help="comma-separated services to run (default: all)")
    ] = None,
    config: ConfigFile = None,
    object_replicas: Annotated[
        int | None,
        typer.Option(
            help="Object Storage: replicas (devices, one per zone) of the rings made at first start"
        ),
    ] = None,
) -> None:
    """Run the cloud in the foreground (SIGINT/SIGTERM stop it cleanly)."""
    settings = _settings(
        config,
        object={"replicas": object_replicas} if object_replicas else None,
        data_dir=data_dir,
        host=host,
        port=port,
        database_url=database_url,
        transport_url=_transport_url(transport),
        services=_services(services),
    )
    _serve(settings, announce=True)


@app.command()
def serve(
    service: Annotated[str, typer.Argument(help="the service to run, e.g. image")],
    data_dir: DataDir = None,
    host: Host = None,
    port: Port = None,
    database_url: DatabaseUrl = None,
    transport: Transport = None,
    identity_url: Annotated[
        str | None, typer.Option(help="Identity endpoint, when identity runs elsewhere")
    ] = None,
    config: ConfigFile = None,
) -> None:
    """Run one service's API alone (it validates tokens through the Identity API)."""
    settings = _settings(
        config,
        data_dir=data_dir,
        host=host,
        port=port,
        database_url=database_url,
        transport_url=_transport_url(transport),
        services=[service],
        identity_url=identity_url,
        run_agents=False,
    )
    _serve(settings, announce=False)


@app.command()
def agent(
    kind: Annotated[str, typer.Argument(help="the worker to run, e.g. image")],
    host_name: Annotated[str | None, typer.Option("--host", help="this host's name")] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    transport: Transport = None,
    identity_url: Annotated[str | None, typer.Option(help="Identity endpoint")] = None,
    config: ConfigFile = None,
) -> None:
    """Run a worker (RPC server) alone; it takes work from the bus the APIs send to."""
    from onestack.common.agents import run_agent

    settings = _settings(
        config,
        data_dir=data_dir,
        database_url=database_url,
        host_name=host_name,
        transport_url=_transport_url(transport),
        identity_url=identity_url,
    )
    setup_logging(settings.log_level, settings.log_format)
    try:
        asyncio.run(run_agent(kind, settings))
    except KeyError:
        console.print(f"[red]unknown agent kind {kind!r}[/]")
        raise typer.Exit(2) from None


def _transport_url(value: str | None) -> str | None:
    if value == "rabbit":
        return "rabbit://guest:guest@127.0.0.1:5672/"
    if value == "memory":
        return "memory://"
    return value


def _serve(settings: Settings, *, announce: bool) -> None:
    """Serve the services ``settings`` enables until SIGINT/SIGTERM (exit status 0)."""
    import uvicorn

    from onestack.server import Cloud

    started = time.monotonic()
    setup_logging(settings.log_level, settings.log_format)

    class Server(uvicorn.Server):
        """A signal means a clean stop with exit status 0 (uvicorn would re-raise it)."""

        def capture_signals(self) -> Any:
            return contextlib.nullcontext()

    cloud = Cloud(settings)
    server = Server(
        uvicorn.Config(
            cloud.app,
            host=settings.host,
            port=settings.port,
            log_level="warning",
            access_log=False,
            loop="uvloop",
            http="httptools",
            lifespan="on",
            timeout_graceful_shutdown=10,
        )
    )

    async def say_ready() -> None:
        while not server.started:
            if server.should_exit:
                return
            await asyncio.sleep(0.02)
        names = ", ".join(svc.spec.name for svc in cloud.services)
        if not announce:
            console.print(f"onestack {names} is up at {settings.base_url}")
            return
        clouds = settings.data_dir / "clouds.yaml"
        osc = Path(sys.executable).parent / "openstack"
        osc_cmd = str(osc) if osc.exists() else "openstack"
        console.print(
            f"[bold green]onestack is up[/] at {settings.base_url} "
            f"({time.monotonic() - started:.1f}s; {names})\n"
            f"  export OS_CLIENT_CONFIG_FILE={clouds}\n"
            f"  {osc_cmd} --os-cloud onestack catalog list     # as admin\n"
            f"  {osc_cmd} --os-cloud onestack-demo token issue  # as the demo member\n"
            f"  admin password: {settings.data_dir / 'admin-password'}",
            soft_wrap=True,
        )

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, server.handle_exit, sig, None)
        task = asyncio.create_task(say_ready())
        await server.serve()
        task.cancel()

    import uvloop

    with contextlib.suppress(KeyboardInterrupt):
        uvloop.run(main())
    if not server.started:
        sys.exit(1)


@app.command()
def status(
    data_dir: DataDir = None,
    config: ConfigFile = None,
    port: Annotated[int | None, typer.Option(help="port of the running cloud")] = None,
) -> None:
    """Is the cloud up? Which services does it serve, at which URLs?"""
    import httpx

    settings = _settings(config, data_dir=data_dir, port=port)
    try:
        health = httpx.get(f"{settings.base_url}/healthcheck", timeout=5)
        services = httpx.get(f"{settings.base_url}/", timeout=5).json().get("services", {})
    except httpx.HTTPError as exc:
        console.print(f"[red]onestack is not answering at {settings.base_url}[/]: {exc}")
        raise typer.Exit(1) from None
    ready = health.status_code == 200
    console.print(
        f"onestack at {settings.base_url}: " + ("[green]ready" if ready else "[yellow]starting")
    )
    for name, url in services.items():
        console.print(f"  {name:<14} {url}")
    raise typer.Exit(0 if ready else 1)


@keys_app.command("setup")
def keys_setup(data_dir: DataDir = None, config: ConfigFile = None) -> None:
    """Create the token and credential key repositories if missing."""
    from onestack.identity.manager import IdentityManager

    mgr = IdentityManager(_settings(config, data_dir=data_dir))
    for repo in (mgr.keys, mgr.credential_keys):
        created = repo.setup()
        console.print(f"{repo.path}: {'created' if created else 'already set up'}")


@keys_app.command("rotate")
def keys_rotate(
    data_dir: DataDir = None,
    config: ConfigFile = None,
    credential: Annotated[bool, typer.Option(help="rotate the credential keys instead")] = False,
) -> None:
    """Promote the staged key to primary; tokens from the old primary stay valid."""
    from onestack.identity.manager import IdentityManager

    mgr = IdentityManager(_settings(config, data_dir=data_dir))
    repo = mgr.credential_keys if credential else mgr.keys
    repo.setup()
    primary = repo.rotate()
    console.print(f"{repo.path}: primary key is now {primary}; keys {sorted(repo.keys())}")


@db_app.command("upgrade")
def db_upgrade(
    data_dir: DataDir = None,
    config: ConfigFile = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Apply every enabled service's migrations (start-up does this too)."""
    from onestack.common.platform import Platform
    from onestack.common.service import load_service, service_names

    settings = _settings(config, data_dir=data_dir, database_url=database_url)
    platform = Platform(settings)

    async def run() -> None:
        for name in service_names(settings):
            service: Any = load_service(name)(platform)
            if not hasattr(service, "manager"):
                continue  # no SQL database (Object Storage keeps its own SQLite files)
            db = service.manager.db
            await db.upgrade()
            await db.dispose()
            console.print(f"{name}: {db.url.split('@')[-1]} at head")

    asyncio.run(run())


if __name__ == "__main__":
    app()
