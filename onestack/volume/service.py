"""The runnable Block Storage service: its app (``/volume``), core and first-start defaults."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from onestack.common import microversions
from onestack.common.api import LazyApp, create_app
from onestack.common.errors import nova_format
from onestack.common.platform import Platform, PlatformValidator
from onestack.common.service import ServiceSpec
from onestack.volume.api import versions
from onestack.volume.core import SharedCore

SPEC = ServiceSpec(
    "volume",
    "/volume",
    "block-storage",
    "cinder",
    endpoint_suffix="/v3/$(project_id)s",
    catalog_aliases=("volumev3",),
)
MICROVERSIONS = microversions.MicroversionSpec(
    "volume",
    microversions.Version.parse(versions.MIN_VERSION),
    microversions.Version.parse(versions.MAX_VERSION),
    exempt=lambda path: path in ("/", "", "/v3", "/v3/"),
)


def routers() -> list[APIRouter]:
    """Every area under ``/v3/{project_id}`` and, without the project (3.67+), ``/v3``."""
    from onestack.volume.api import (
        actions,
        attachments,
        backups,
        misc,
        snapshots,
        transfers,
        types,
        volumes,
    )

    areas = (volumes, actions, snapshots, types, misc, attachments, backups, transfers)
    with_project = APIRouter()
    without = APIRouter()
    for area in areas:
        with_project.include_router(area.router, prefix="/v3/{project_id}")
        without.include_router(area.router, prefix="/v3")
    return [versions.router, with_project, without]


class VolumeService:
    spec = SPEC

    def __init__(self, platform: Platform):
        self.platform = platform
        self.settings = platform.settings
        self.core = SharedCore.get(platform)
        self.app = LazyApp(self._build_app)

    def _build_app(self) -> FastAPI:
        return create_app(
            title="onestack volume",
            routers=routers(),
            error_format=nova_format,
            token_validator=PlatformValidator(self.platform),
            policy=self.core.policy,
            max_body=self.settings.max_request_body,
            state={"volume": self.core},
            service="volume",
            middleware=[microversions.middleware(MICROVERSIONS, nova_format)],
        )

    async def start(self) -> None:
        """Migrate, then create the default volume type on the first start."""
        from onestack.volume import types as type_area

        core = await SharedCore.start(self.platform)
        async with core.write() as session:
            await type_area.bootstrap(session)

    async def stop(self) -> None:
        await SharedCore.stop(self.platform)
