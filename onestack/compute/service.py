"""The runnable Compute service: its app (``/compute``), core and first-start defaults."""

from __future__ import annotations

import functools

from fastapi import FastAPI
from starlette.types import ASGIApp

from onestack.common import microversions
from onestack.common.api import LazyApp, create_app
from onestack.common.errors import nova_format
from onestack.common.metadata_proxy import PREFIX as METADATA_PREFIX
from onestack.common.platform import Platform, PlatformValidator
from onestack.common.service import ServiceSpec
from onestack.compute.api import versions
from onestack.compute.core import ComputeCore, SharedCore

SPEC = ServiceSpec("compute", "/compute", "compute", "nova", endpoint_suffix="/v2.1")
MICROVERSIONS = microversions.MicroversionSpec(
    "compute",
    versions.MIN_VERSION,
    versions.MAX_VERSION,
    legacy_header="X-OpenStack-Nova-API-Version",
    exempt=lambda path: path in ("/", ""),
)


def _routers() -> list[object]:
    from onestack.compute.api import (
        consoles,
        extras,
        flavors,
        interfaces,
        keypairs,
        migrations,
        server_password,
        servers,
        usage_audit,
        volumes,
    )

    areas = (versions, servers, flavors, keypairs, extras, interfaces, migrations, consoles)
    return [m.router for m in (*areas, usage_audit, server_password, volumes)]


class ComputeService:
    spec = SPEC

    def __init__(self, platform: Platform):
        self.platform = platform
        self.settings = platform.settings
        self.core = SharedCore.get(platform)
        self.app = LazyApp(self._build_app)
        #: more apps of this service, by URL prefix: the metadata API (no token, no catalog)
        #: (unless the compute-metadata service runs in this process and serves it)
        self.mounts = (
            {}
            if "compute-metadata" in self.settings.services
            else {METADATA_PREFIX: LazyApp(self._build_metadata_app)}
        )

    def _build_app(self) -> FastAPI:
        return create_app(
            title="onestack compute",
            routers=_routers(),  # type: ignore[arg-type]
            error_format=nova_format,
            token_validator=PlatformValidator(self.platform),
            policy=self.core.policy,
            max_body=self.settings.max_request_body,
            state={"compute": self.core},
            service="compute",
            middleware=[microversions.middleware(MICROVERSIONS, nova_format)],
        )

    def _build_metadata_app(self) -> ASGIApp:
        from onestack.compute.metadata.app import MetadataApp

        return MetadataApp(self.core).app

    async def start(self) -> None:
        """Migrate, then create DevStack's flavors on the first start (and the metadata
        proxy's shared secret, which Networking's proxy reads from the data dir too)."""
        from onestack.common.metadata_proxy import shared_secret
        from onestack.compute import flavors as flavor_area

        shared_secret(self.settings)

        core = await SharedCore.start(self.platform)
        async with core.write() as session:
            await flavor_area.bootstrap(session)
        self._guest_image(core)

    def _guest_image(self, core: ComputeCore) -> None:
        """With real guests (the QEMU driver here), onestack-tiny is built and registered
        beside the start (a minute on the first, from the package cache later)."""
        from onestack.compute.virt import virt_driver_of

        conf = self.settings.compute
        if not conf.tiny_image or virt_driver_of(conf) != "qemu":
            return
        if "image" not in self.settings.services or not self.settings.run_agents:
            return
        from onestack.compute.guest import registry

        core.spawn(
            registry.register_when_ready(functools.partial(core.image_request, None)),
            "register-onestack-tiny",
        )

    async def stop(self) -> None:
        await SharedCore.stop(self.platform)
