"""What every onestack service tells the all-in-one server about itself."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from starlette.types import ASGIApp

if TYPE_CHECKING:
    from onestack.common.config import Settings
    from onestack.common.platform import Platform


@dataclass(frozen=True, slots=True)
class ServiceSpec:
    name: str  # config section and data file name: "identity"
    prefix: str  # URL prefix in the all-in-one server: "/identity"
    catalog_type: str  # "identity"; "" for a service outside the catalog
    catalog_name: str  # "keystone"
    endpoint_suffix: str = ""  # appended to base URL + prefix in the catalog, e.g. "/v2.1"
    #: more catalog types for the same endpoint (Cinder: block-storage and volumev3)
    catalog_aliases: tuple[str, ...] = ()


class RunnableService(Protocol):
    """A service the server runs: its app is mounted under ``spec.prefix``."""

    spec: ServiceSpec

    @property
    def app(self) -> ASGIApp: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class ServiceFactory(Protocol):
    spec: ServiceSpec

    def __call__(self, platform: Platform) -> RunnableService: ...


#: Every service onestack can run, in start order: name -> "module:Class".
SERVICES: dict[str, str] = {
    "identity": "onestack.identity.service:IdentityService",
    "image": "onestack.image.service:ImageService",
    "placement": "onestack.placement.service:PlacementService",
    "network": "onestack.network.service:NetworkService",
    "compute": "onestack.compute.service:ComputeService",
    # Compute mounts its metadata API itself; enabled alone, this serves only that API
    "compute-metadata": "onestack.compute.metadata.service:MetadataService",
    "object": "onestack.object.service:ObjectService",
    "volume": "onestack.volume.service:VolumeService",
}

#: Services another service cannot work without (it calls their APIs from the start).
REQUIRES: dict[str, tuple[str, ...]] = {"compute": ("placement",)}


def missing_requirements(services: list[str], remote: dict[str, str]) -> list[str]:
    """What the enabled ``services`` need that neither runs here nor is named as remote, as
    "compute needs placement" lines; only a process that holds the catalog (runs Identity)
    can tell: elsewhere the other services are found in the catalog."""
    if "identity" not in services:
        return []
    return [
        f"{name} needs {need}"
        for name in services
        for need in REQUIRES.get(name, ())
        if need not in services and need not in remote
    ]


def service_names(settings: Settings) -> list[str]:
    """The enabled services in start order; unknown names are a configuration error."""
    unknown = set(settings.services) - SERVICES.keys()
    if unknown:
        raise ValueError(f"unknown services in configuration: {sorted(unknown)}")
    return [name for name in SERVICES if name in settings.services]


def load_service(name: str) -> ServiceFactory:
    module, _, cls = SERVICES[name].partition(":")
    factory: ServiceFactory = getattr(importlib.import_module(module), cls)
    return factory
