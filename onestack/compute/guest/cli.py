"""``onestack image build tiny``: build the tiny guest image into the package cache (the
compute service registers it in the Image service at its next start)."""

from __future__ import annotations

from typing import Annotated

import typer

from onestack.cli.console import LazyConsole

image_app = typer.Typer(help="Guest images built from Debian packages.", no_args_is_help=True)
console = LazyConsole(stderr=True)


@image_app.command("build")
def build(
    kind: Annotated[str, typer.Argument(help="the image to build: tiny")],
    force: Annotated[bool, typer.Option("--force", help="build again from the cache")] = False,
) -> None:
    """Build a guest image (packages are downloaded once into ~/.cache/onestack/guest)."""
    from onestack.compute.guest import registry, tiny

    if kind != "tiny":
        console.print(f"onestack: unknown image {kind!r}: only 'tiny' can be built", style="red")
        raise typer.Exit(2)
    with console.status("building onestack-tiny") as status:

        def progress(line: str) -> None:
            status.update(line)
            console.print(line)

        try:
            image = tiny.build(registry.cache_dir(), progress, force=force)
        except tiny.BuildError as exc:
            console.print(f"onestack: {exc}", style="red")
            raise typer.Exit(1) from exc
    for label, path in (("kernel", image.kernel), ("ramdisk", image.ramdisk), ("disk", image.disk)):
        typer.echo(f"{label}\t{path}")
