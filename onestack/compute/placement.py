"""The Placement API as Compute uses it: providers and inventories (agents), allocation
candidates and claims (scheduler), allocation clean-up (agents, conductor).

Every request goes through the platform's service clients as the ``nova`` service user, so
the all-in-one process calls Placement in-process and a split deployment over HTTP.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import httpx

from onestack.common.clients import ServiceClients
from onestack.common.errors import ServiceUnavailable

LOG = logging.getLogger(__name__)
VERSION = "placement 1.36"
HEADERS = {"OpenStack-API-Version": VERSION}


class PlacementError(Exception):
    """Placement answered something Compute cannot go on with."""

    def __init__(self, message: str, status: int = 0):
        super().__init__(message)
        self.status = status


class Conflict(PlacementError):
    """A generation or consumer generation was stale, or capacity ran out meanwhile."""


class PlacementClient:
    def __init__(self, clients: ServiceClients):
        self.api = clients.for_service("placement", user="nova")

    async def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return await self.api.request(method, path, headers=HEADERS, **kwargs)
        except Exception as exc:  # no endpoint, no route, broken connection
            raise ServiceUnavailable(f"The Placement service is unreachable: {exc}") from exc

    @staticmethod
    def _fail(resp: httpx.Response, what: str) -> PlacementError:
        cls = Conflict if resp.status_code == 409 else PlacementError
        return cls(
            f"{what}: Placement answered {resp.status_code} {resp.text[:300]}", resp.status_code
        )

    # -- providers (compute agents) -------------------------------------------------------
    async def ensure_provider(self, uuid: str, name: str) -> int:
        """Create the provider unless it exists; its current generation."""
        resp = await self._request("GET", f"/resource_providers/{uuid}")
        if resp.status_code == 200:
            return int(resp.json()["generation"])
        resp = await self._request("POST", "/resource_providers", json={"uuid": uuid, "name": name})
        if resp.status_code == 409:  # a provider of that name from an earlier node uuid
            found = await self._request("GET", "/resource_providers", params={"name": name})
            for old in found.json().get("resource_providers", []):
                await self._request("DELETE", f"/resource_providers/{old['uuid']}")
            resp = await self._request(
                "POST", "/resource_providers", json={"uuid": uuid, "name": name}
            )
        if resp.status_code not in (200, 201):
            raise self._fail(resp, f"creating provider {name}")
        return int(resp.json().get("generation", 0))

    async def set_inventory(self, uuid: str, inventories: Mapping[str, Mapping[str, Any]]) -> None:
        for _ in range(5):
            resp = await self._request("GET", f"/resource_providers/{uuid}/inventories")
            if resp.status_code != 200:
                raise self._fail(resp, "reading inventory")
            body = resp.json()
            current = body.get("inventories", {})
            if all(
                current.get(rc, {}).get(k) == v
                for rc, inv in inventories.items()
                for k, v in inv.items()
            ) and set(current) == set(inventories):
                return
            resp = await self._request(
                "PUT",
                f"/resource_providers/{uuid}/inventories",
                json={
                    "resource_provider_generation": body["resource_provider_generation"],
                    "inventories": inventories,
                },
            )
            if resp.status_code == 200:
                return
            if resp.status_code != 409:
                raise self._fail(resp, "setting inventory")
        raise PlacementError("setting inventory: the provider kept changing")

    async def set_traits(self, uuid: str, traits: list[str]) -> None:
        for trait in traits:
            if trait.startswith("CUSTOM_"):
                await self._request("PUT", f"/traits/{trait}")
        for _ in range(5):
            resp = await self._request("GET", f"/resource_providers/{uuid}/traits")
            if resp.status_code != 200:
                raise self._fail(resp, "reading traits")
            body = resp.json()
            if set(body.get("traits", [])) == set(traits):
                return
            resp = await self._request(
                "PUT",
                f"/resource_providers/{uuid}/traits",
                json={
                    "resource_provider_generation": body["resource_provider_generation"],
                    "traits": traits,
                },
            )
            if resp.status_code == 200:
                return
            if resp.status_code != 409:
                raise self._fail(resp, "setting traits")

    async def provider_allocations(self, uuid: str) -> dict[str, Any]:
        """``{consumer uuid: {"resources": {...}}}`` on one provider."""
        resp = await self._request("GET", f"/resource_providers/{uuid}/allocations")
        if resp.status_code == 404:
            return {}
        if resp.status_code != 200:
            raise self._fail(resp, "reading provider allocations")
        return dict(resp.json().get("allocations", {}))

    async def delete_provider(self, uuid: str) -> None:
        await self._request("DELETE", f"/resource_providers/{uuid}")

    async def set_aggregates(self, uuid: str, aggregates: list[str]) -> None:
        resp = await self._request("GET", f"/resource_providers/{uuid}/aggregates")
        if resp.status_code != 200:
            return
        body = resp.json()
        await self._request(
            "PUT",
            f"/resource_providers/{uuid}/aggregates",
            json={
                "aggregates": aggregates,
                "resource_provider_generation": body["resource_provider_generation"],
            },
        )

    # -- scheduling -----------------------------------------------------------------------
    async def candidates(
        self,
        resources: Mapping[str, int],
        *,
        limit: int,
        required: list[str] | None = None,
        member_of: list[str] | None = None,
    ) -> dict[str, Any]:
        params: dict[str, Any] = {
            "resources": ",".join(f"{rc}:{n}" for rc, n in resources.items() if n > 0),
            "limit": str(limit),
        }
        if required:
            params["required"] = ",".join(required)
        if member_of:
            params["member_of"] = "in:" + ",".join(member_of)
        resp = await self._request("GET", "/allocation_candidates", params=params)
        if resp.status_code != 200:
            raise self._fail(resp, "asking for allocation candidates")
        return dict(resp.json())

    async def claim(
        self,
        consumer: str,
        allocations: Mapping[str, Any],
        *,
        project_id: str,
        user_id: str,
        consumer_generation: int | None = None,
    ) -> bool:
        """Write the consumer's allocations; False when capacity or a generation moved."""
        body = {
            "allocations": allocations,
            "project_id": project_id,
            "user_id": user_id,
            "consumer_generation": consumer_generation,
        }
        resp = await self._request("PUT", f"/allocations/{consumer}", json=body)
        if resp.status_code == 204:
            return True
        if resp.status_code == 409:
            return False
        raise self._fail(resp, f"claiming for {consumer}")

    async def allocations(self, consumer: str) -> dict[str, Any]:
        resp = await self._request("GET", f"/allocations/{consumer}")
        if resp.status_code != 200:
            raise self._fail(resp, f"reading allocations of {consumer}")
        return dict(resp.json())

    async def release(self, consumer: str) -> None:
        """Remove every allocation of the consumer (gone already is fine)."""
        resp = await self._request("DELETE", f"/allocations/{consumer}")
        if resp.status_code not in (204, 404):
            raise self._fail(resp, f"removing allocations of {consumer}")

    async def move(
        self,
        consumer: str,
        provider: str,
        resources: Mapping[str, int],
        *,
        project_id: str,
        user_id: str,
    ) -> bool:
        """Replace the consumer's allocations by ``resources`` on ``provider``."""
        current = await self.allocations(consumer)
        return await self.claim(
            consumer,
            {provider: {"resources": dict(resources)}},
            project_id=project_id,
            user_id=user_id,
            consumer_generation=current.get("consumer_generation"),
        )


def resources_of(flavor: Mapping[str, Any]) -> dict[str, int]:
    """The resource amounts a flavor asks of a host (Nova's request spec translation)."""
    wanted = {
        "VCPU": int(flavor.get("vcpus", 0)),
        "MEMORY_MB": int(flavor.get("memory_mb", 0)),
        "DISK_GB": int(flavor.get("root_gb", 0))
        + int(flavor.get("ephemeral_gb", 0))
        + (int(flavor.get("swap", 0)) + 1023) // 1024,
    }
    for key, value in (flavor.get("extra_specs") or {}).items():
        if key.startswith("resources:"):
            try:
                wanted[key.split(":", 1)[1]] = int(value)
            except ValueError:
                continue
    return {rc: n for rc, n in wanted.items() if n > 0}
