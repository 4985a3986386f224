"""``onestack``: run the cloud and look after it.

A configuration or usage error (a bad TOML file, a wrong value, an unknown service, an unwritable
data dir, a port in use) ends the command with one line on stderr that names the setting or file
and the fix, and exit status 2; never a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import signal
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from onestack.cli.console import LazyConsole
from onestack.common.agents import AGENTS
from onestack.common.config import (
    DEFAULT_DATA_DIR,
    ConfigError,
    Settings,
    load_settings,
)
from onestack.common.logs import setup_logging
from onestack.common.service import SERVICES

#: seconds an idle client connection stays open
KEEP_ALIVE_S = 75


def _default(name: str) -> str:
    """A setting's default as help shows it."""
    value = Settings.model_fields[name].get_default(call_default_factory=True)
    if isinstance(value, list):
        value = ",".join(map(str, value))
    return f"(default: {value})"


app = typer.Typer(
    help="The whole OpenStack cloud in one coherent Python project.\n\n"
    f"Services: {', '.join(SERVICES)}. Worker kinds: {', '.join(AGENTS)}. Settings come from "
    f"--config FILE, $ONESTACK_CONFIG or DATA/onestack.toml (DATA: {DEFAULT_DATA_DIR}), "
    "and $ONESTACK_<KEY> / $ONESTACK_<SECTION>__<KEY>; options win.",
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
from onestack.compute.guest.cli import image_app  # noqa: E402  (a typer app only)

app.add_typer(image_app, name="image")
console = LazyConsole(stderr=True)

DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", help=f"state directory {_default('data_dir')}"),
]
ConfigFile = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help="settings file (TOML) (default: $ONESTACK_CONFIG, else DATA/onestack.toml if present)",
    ),
]


def fail(message: str) -> NoReturn:
    """End the command with one line naming the problem and the fix, exit status 2."""
    print(f"onestack: {message}", file=sys.stderr)
    raise typer.Exit(2)


def _settings(config: Path | None, **overrides: object) -> Settings:
    try:
        return load_settings(config, **overrides)
    except ConfigError as exc:
        fail(str(exc))


Transport = Annotated[
    str | None,
    typer.Option(
        "--transport",
        help="RPC bus: memory:// (one process), rabbit://user:pass@host:5672/, or rabbit (the "
        f"local RabbitMQ's guest account) {_default('transport_url')}",
    ),
]
DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        help="database of every service: postgresql://, mysql://, mariadb:// or sqlite:///PATH "
        "(default: one SQLite file per service in DATA)"
    ),
]
Host = Annotated[str | None, typer.Option(help=f"address to listen on {_default('host')}")]
Port = Annotated[int | None, typer.Option(help=f"port to listen on {_default('port')}")]
IdentityUrl = Annotated[
    str | None,
    typer.Option(
        help="Identity endpoint, when identity runs elsewhere (default: BASE_URL/identity)"
    ),
]


def _services(value: str | None) -> list[str] | None:
    if not value:
        return None
    names = [name.strip() for name in value.split(",") if name.strip()]
    unknown = [name for name in names if name not in SERVICES]
    if unknown:
        fail(
            f"--services: unknown service {', '.join(map(repr, unknown))}; "
            f"choose from {', '.join(SERVICES)}"
        )
    return names


def _writable_data_dir(settings: Settings) -> None:
    """The data dir exists (created if need be) and takes files, or the command fails."""
    try:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=settings.data_dir, prefix=".onestack-probe-"):
            pass
    except OSError as exc:
        fail(
            f"data directory {settings.data_dir} is not writable ({exc.strerror or exc}): "
            "choose another with --data-dir (or data_dir / $ONESTACK_DATA_DIR) or fix its "
            "permissions"
        )


def _listen(settings: Settings) -> socket.socket:
    """The listening socket, bound before anything is bootstrapped; a port in use fails here."""
    from onestack.common.net import bound_socket

    host, port = settings.host, settings.port
    try:
        sock = bound_socket(host, port)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            fail(
                f"port {port} on {host} is in use by another program: stop it, or choose "
                "another port with --port (or port / $ONESTACK_PORT)"
            )
        fail(
            f"cannot listen on {host}:{port} ({exc.strerror or exc}): choose another address "
            "with --host / --port"
        )
    sock.set_inheritable(True)
    return sock


@app.command()
def up(
    data_dir: DataDir = None,
    host: Host = None,
    port: Port = None,
    database_url: DatabaseUrl = None,
    transport: Transport = None,
    services: Annotated[
        str | None,
        typer.Option(
            help=f"comma-separated services to run, of: {', '.join(SERVICES)} "
            f"{_default('services')}"
        ),
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
    service: Annotated[
        str, typer.Argument(help=f"the service to run: one of {', '.join(SERVICES)}")
    ],
    data_dir: DataDir = None,
    host: Host = None,
    port: Port = None,
    database_url: DatabaseUrl = None,
    transport: Transport = None,
    identity_url: IdentityUrl = None,
    config: ConfigFile = None,
    node: Annotated[
        int | None,
        typer.Option(
            help="object: run object node N (the object ring's devices with meta node=N, "
            "on their ip:port, under DATA/object/nodes/N) instead of the API",
            min=0,
        ),
    ] = None,
) -> None:
    """Run one service's API alone (it validates tokens through the Identity API)."""
    if service not in SERVICES:
        fail(f"unknown service {service!r} for serve: choose one of {', '.join(SERVICES)}")
    if node is not None:
        if service != "object":
            fail("--node is for serve object")
        from onestack.object.cli import serve_node

        serve_node(_settings(config, data_dir=data_dir), node)
        return
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
    kind: Annotated[str, typer.Argument(help=f"the worker to run: one of {', '.join(AGENTS)}")],
    host_name: Annotated[
        str | None,
        typer.Option("--host", help="this host's name in RPC topics (default: the hostname)"),
    ] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    transport: Transport = None,
    identity_url: IdentityUrl = None,
    config: ConfigFile = None,
    fake: Annotated[bool, typer.Option("--fake", help="compute: the fake virt driver")] = False,
    hosts: Annotated[
        int | None, typer.Option("--hosts", min=1, help="compute: fake hosts to simulate")
    ] = None,
) -> None:
    """Run a worker (RPC server) alone; it takes work from the bus the APIs send to."""
    from onestack.common.agents import run_agent

    if kind not in AGENTS:
        fail(f"unknown worker kind {kind!r} for agent: choose one of {', '.join(AGENTS)}")
    compute: dict[str, object] = {}
    if fake:
        compute["virt_driver"] = "fake"
    if hosts is not None:
        compute["fake_hosts"] = hosts
    settings = _settings(
        config,
        data_dir=data_dir,
        database_url=database_url,
        host_name=host_name,
        transport_url=_transport_url(transport),
        identity_url=identity_url,
        compute=compute or None,
    )
    if kind == "network" and settings.network.dataplane == "auto":
        settings.network.dataplane = "linux"  # asked for by name: whatever Compute runs here
    _writable_data_dir(settings)
    setup_logging(settings.log_level, settings.log_format, settings.access_log)
    asyncio.run(run_agent(kind, settings))


network_app = typer.Typer(help="The Networking dataplane of this host.", no_args_is_help=True)
app.add_typer(network_app, name="network")


@network_app.command("cleanup")
def network_cleanup() -> None:
    """Remove every bridge, tap, veth, namespace and DHCP server onestack made here."""
    from onestack.network.agent import check_host
    from onestack.network.agent.cleanup import cleanup

    try:
        check_host()
    except RuntimeError as exc:
        fail(str(exc))
    for line in cleanup():
        typer.echo(f"removed {line}")


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
    _writable_data_dir(settings)
    sock = _listen(settings)  # before anything is bootstrapped or written
    setup_logging(settings.log_level, settings.log_format, settings.access_log)

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
            # longer than the clients' polling pauses (`openstack ... --wait` sleeps 5 s, as
            # uvicorn's default keep-alive is): a poll on a connection the server is closing
            # just then is reset, and keystoneauth does not retry it
            timeout_keep_alive=KEEP_ALIVE_S,
        )
    )

    async def say_ready() -> None:
        while not (server.started and cloud.ready):  # the workers too
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

    failed: list[bool] = []

    def fatal() -> None:  # a worker failed to start after the APIs did: a failed start
        failed.append(True)
        server.should_exit = True

    cloud.on_fatal = fatal

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, server.handle_exit, sig, None)
        task = asyncio.create_task(say_ready())
        await server.serve(sockets=[sock])
        task.cancel()

    import uvloop

    with contextlib.suppress(KeyboardInterrupt):
        uvloop.run(main())
    if failed:  # as uvicorn exits when the lifespan's startup fails
        sys.exit(uvicorn.config.STARTUP_FAILURE)
    if not server.started:
        sys.exit(1)


@app.command()
def status(
    data_dir: DataDir = None,
    config: ConfigFile = None,
    port: Annotated[
        int | None, typer.Option(help=f"port of the running cloud {_default('port')}")
    ] = None,
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

    settings = _settings(config, data_dir=data_dir)
    _writable_data_dir(settings)
    mgr = IdentityManager(settings)
    for repo in (mgr.keys, mgr.credential_keys):
        created = repo.setup()
        console.print(f"{repo.path}: {'created' if created else 'already set up'}")


@keys_app.command("rotate")
def keys_rotate(
    data_dir: DataDir = None,
    config: ConfigFile = None,
    credential: Annotated[
        bool, typer.Option(help="rotate the credential keys instead (default: the token keys)")
    ] = False,
) -> None:
    """Promote the staged key to primary; tokens from the old primary stay valid."""
    from onestack.identity.manager import IdentityManager

    settings = _settings(config, data_dir=data_dir)
    _writable_data_dir(settings)
    mgr = IdentityManager(settings)
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
    _writable_data_dir(settings)
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


#: Click's error classes, found from typer's public BadParameter (typer may vendor click).
_USAGE_ERROR = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "UsageError")
_CLICK_ERROR = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")


def main() -> None:
    """The ``onestack`` command; a usage error (a bad option or value) is one line too."""
    try:
        code = app(standalone_mode=False)
    except _USAGE_ERROR as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":
            exc.show()  # no arguments: the help
            sys.exit(exc.exit_code)
        ctx = getattr(exc, "ctx", None)
        hint = f" (see {ctx.command_path} --help)" if ctx is not None else ""
        print(f"onestack: {exc.format_message()}{hint}", file=sys.stderr)
        sys.exit(2)
    except _CLICK_ERROR as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except typer.Abort:
        print("Aborted!", file=sys.stderr)
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
