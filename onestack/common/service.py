"""What every onestack service tells the all-in-one server about itself."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from starlette.types import ASGIApp


@dataclass(frozen=True, slots=True)
class ServiceSpec:
    name: str  # config section and data file name: "identity"
    prefix: str  # URL prefix in the all-in-one server: "/identity"
    catalog_type: str  # "identity"
    catalog_name: str  # "keystone"
    endpoint_suffix: str = ""  # appended to base URL + prefix in the catalog, e.g. "/v2.1"


class RunnableService(Protocol):
    spec: ServiceSpec

    @property
    def app(self) -> ASGIApp: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...
