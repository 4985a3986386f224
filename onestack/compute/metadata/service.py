"""The metadata API as a service of its own (``onestack serve compute-metadata``, as Nova's
nova-api-metadata runs apart from nova-api): no token, no catalog entry, Compute's database."""

from __future__ import annotations

from onestack.common.metadata_proxy import PREFIX, shared_secret
from onestack.common.platform import Platform
from onestack.common.service import ServiceSpec
from onestack.compute.core import SharedCore
from onestack.compute.metadata.app import MetadataApp

#: no catalog type: guests reach it through the metadata proxy, never through the catalog
SPEC = ServiceSpec("compute-metadata", PREFIX, "", "nova")


class MetadataService:
    spec = SPEC

    def __init__(self, platform: Platform):
        self.platform = platform
        self.app = MetadataApp(SharedCore.get(platform)).app

    async def start(self) -> None:
        await SharedCore.start(self.platform)
        shared_secret(self.platform.settings)

    async def stop(self) -> None:
        await SharedCore.stop(self.platform)
