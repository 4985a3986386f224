"""Microversion negotiation, response headers, route ranges and Placement's error body."""

from __future__ import annotations

import httpx
import pytest
from fastapi import APIRouter, Depends, Request

from onestack.common import errors, microversions
from onestack.common.api import create_app, json
from onestack.common.microversions import MicroversionSpec, Version, since

PLACEMENT = MicroversionSpec("placement", "1.0", "1.39")
COMPUTE = MicroversionSpec(
    "compute", "2.1", "2.96", legacy_header="X-OpenStack-Nova-API-Version",
    exempt=lambda path: path in ("/", ""),
)


def test_version_parse_and_compare() -> None:
    v = Version.parse("1.36")
    assert (v.major, v.minor, str(v)) == (1, 36, "1.36")
    assert v >= "1.9" and v > (1, 35) and v == "1.36" and v < Version(2, 0)
    assert v != "1.35" and v <= "1.36" and not v < "1.36"
    assert Version.parse(" 1.2 ") == (1, 2)
    assert len({Version(1, 2), Version.of("1.2"), Version.of((1, 2))}) == 1
    assert v.between("1.0", "1.36") and not v.between("1.37") and v.between(high="1.39")
    for bad in ("1", "1.x", "", "a.b", "1.2.3", "-1.2", "latest"):
        with pytest.raises(ValueError):
            Version.parse(bad)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, "1.0"),
        ({"OpenStack-API-Version": "placement 1.14"}, "1.14"),
        ({"openstack-api-version": "placement latest"}, "1.39"),
        ({"OpenStack-API-Version": "compute 2.5, placement 1.20"}, "1.20"),
        ({"OpenStack-API-Version": "compute 2.5"}, "1.0"),  # another service's header
    ],
)
def test_negotiate(headers: dict[str, str], expected: str) -> None:
    assert PLACEMENT.negotiate(headers) == expected


def test_negotiate_legacy_header_and_precedence() -> None:
    assert COMPUTE.negotiate({"X-OpenStack-Nova-API-Version": "2.37"}) == "2.37"
    assert COMPUTE.negotiate({"X-OpenStack-Nova-API-Version": "latest"}) == "2.96"
    both = {"OpenStack-API-Version": "compute 2.60", "X-OpenStack-Nova-API-Version": "2.3"}
    assert COMPUTE.negotiate(both) == "2.60"
    # Placement has no legacy header: a Nova one means nothing to it
    assert PLACEMENT.negotiate({"X-OpenStack-Nova-API-Version": "1.5"}) == "1.0"


@pytest.mark.parametrize("value", ["1.40", "2.0", "0.9", "1.100"])
def test_negotiate_out_of_range_is_406(value: str) -> None:
    with pytest.raises(errors.NotAcceptable) as exc:
        PLACEMENT.negotiate({"OpenStack-API-Version": f"placement {value}"})
    assert value in exc.value.message


@pytest.mark.parametrize("value", ["1", "one.two", "1.2.3", "1.x", "1.-1"])
def test_negotiate_malformed_is_400(value: str) -> None:
    with pytest.raises(errors.BadRequest) as exc:
        PLACEMENT.negotiate({"OpenStack-API-Version": f"placement {value}"})
    assert not isinstance(exc.value, errors.NotAcceptable)


def _app(spec: MicroversionSpec, formatter: errors.ErrorFormatter) -> httpx.AsyncClient:
    router = APIRouter()

    @router.get("/")
    async def root() -> dict[str, str]:
        return {"root": "yes"}

    @router.get("/things")
    async def things(request: Request) -> dict[str, str]:
        return {"seen": str(request.state.microversion)}

    @router.get("/new", dependencies=[Depends(since("1.10"))])
    async def new() -> dict[str, str]:
        return {"new": "yes"}

    @router.put("/things", dependencies=[Depends(since("1.2", "1.5", status=405))])
    async def put_things(version: Version = Depends(microversions.microversion)) -> object:
        return json({"put": str(version)})

    @router.get("/boom")
    async def boom() -> None:
        raise errors.Conflict("busy", error_code="placement.concurrent_update")

    app = create_app(
        title="t mv", routers=[router], error_format=formatter, token_validator=None,
        middleware=[microversions.middleware(spec, formatter)],
    )
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


async def test_middleware_headers_and_state() -> None:
    async with _app(PLACEMENT, errors.placement_format) as client:
        r = await client.get("/things")
        assert r.json() == {"seen": "1.0"}
        assert r.headers["openstack-api-version"] == "placement 1.0"
        assert r.headers["vary"] == "OpenStack-API-Version"
        assert r.headers["x-openstack-request-id"].startswith("req-")
        r = await client.get("/things", headers={"OpenStack-API-Version": "placement latest"})
        assert r.json() == {"seen": "1.39"}
        assert r.headers["openstack-api-version"] == "placement 1.39"
        # errors raised by handlers carry the headers too, in Placement's body
        r = await client.get("/boom", headers={"OpenStack-API-Version": "placement 1.7"})
        assert r.status_code == 409
        assert r.headers["openstack-api-version"] == "placement 1.7"
        (err,) = r.json()["errors"]
        assert err["code"] == "placement.concurrent_update" and err["status"] == 409
        assert err["title"] == "Conflict" and err["detail"] == "busy"
        assert err["request_id"] == r.headers["x-openstack-request-id"]


async def test_middleware_refuses_bad_versions_in_service_format() -> None:
    async with _app(PLACEMENT, errors.placement_format) as client:
        r = await client.get("/things", headers={"OpenStack-API-Version": "placement 1.99"})
        assert r.status_code == 406
        (err,) = r.json()["errors"]
        assert err["status"] == 406 and err["code"] == "placement.undefined_code"
        assert err["title"] == "Not Acceptable" and "1.99" in err["detail"]
        assert r.headers["vary"] == "OpenStack-API-Version"
        assert "openstack-api-version" not in r.headers  # nothing was negotiated
        assert r.headers["x-openstack-request-id"] == err["request_id"]
        r = await client.get("/things", headers={"OpenStack-API-Version": "placement 1.a"})
        assert r.status_code == 400 and r.json()["errors"][0]["status"] == 400


async def test_route_ranges_answer_404_or_405() -> None:
    async with _app(PLACEMENT, errors.placement_format) as client:
        assert (await client.get("/new")).status_code == 404
        r = await client.get("/new", headers={"OpenStack-API-Version": "placement 1.10"})
        assert r.status_code == 200 and r.json() == {"new": "yes"}
        assert (await client.put("/things")).status_code == 405
        r = await client.put("/things", headers={"OpenStack-API-Version": "placement 1.3"})
        assert r.json() == {"put": "1.3"}
        r = await client.put("/things", headers={"OpenStack-API-Version": "placement 1.6"})
        assert r.status_code == 405 and r.headers["openstack-api-version"] == "placement 1.6"


async def test_compute_legacy_header_vary_and_exempt_root() -> None:
    async with _app(COMPUTE, errors.nova_format) as client:
        r = await client.get("/things", headers={"X-OpenStack-Nova-API-Version": "2.47"})
        assert r.json() == {"seen": "2.47"}
        assert r.headers["openstack-api-version"] == "compute 2.47"
        assert r.headers["x-openstack-nova-api-version"] == "2.47"
        assert r.headers["vary"] == "OpenStack-API-Version, X-OpenStack-Nova-API-Version"
        r = await client.get("/things", headers={"OpenStack-API-Version": "compute 3.0"})
        assert r.status_code == 406
        fault = r.json()["computeFault"]  # Nova has no named key for 406
        assert fault["code"] == 406 and "3.0" in fault["message"]
        r = await client.get("/", headers={"OpenStack-API-Version": "compute 9.9"})
        assert r.status_code == 200 and "openstack-api-version" not in r.headers


def test_placement_format_default_code() -> None:
    body = errors.placement_format(errors.NotFound("No resource provider with uuid x found."))
    (err,) = body["errors"]
    assert err == {
        "status": 404, "title": "Not Found", "detail": "No resource provider with uuid x found.",
        "code": "placement.undefined_code", "request_id": err["request_id"],
    }
