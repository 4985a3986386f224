"""Metadata definitions: namespaces, properties, objects, tags, resource types."""

from __future__ import annotations

import uuid

import httpx

from tests.functional.image.conftest import IMG, new_project_user

MD = f"{IMG}/metadefs/namespaces"


def ns_name() -> str:
    return f"OS::Test::{uuid.uuid4().hex[:8]}"


async def test_namespace_lifecycle(api: httpx.AsyncClient, admin: dict[str, str],
                                   demo: dict[str, str]) -> None:
    name = ns_name()
    r = await api.post(MD, headers=admin, json={
        "namespace": name, "display_name": "Test", "description": "d", "visibility": "public",
        "resource_type_associations": [{"name": "OS::Glance::Image", "prefix": "hw_"}],
        "properties": {"cpu_cores": {"title": "Cores", "type": "integer", "minimum": 1}},
        "objects": [{"name": "CPU", "properties": {
            "sockets": {"title": "Sockets", "type": "integer"}}, "required": ["sockets"]}],
        "tags": [{"name": "alpha"}],
    })
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["namespace"] == name and created["visibility"] == "public"
    assert created["protected"] is False
    assert created["self"] == f"/v2/metadefs/namespaces/{name}"
    assert created["schema"] == "/v2/schemas/metadefs/namespace"
    shown = (await api.get(f"{MD}/{name}", headers=demo)).json()
    assert shown["properties"]["cpu_cores"] == {"title": "Cores", "type": "integer",
                                                "minimum": 1}
    assert shown["objects"][0]["name"] == "CPU"
    assert shown["tags"] == [{"name": "alpha"}]
    assert shown["resource_type_associations"][0]["prefix"] == "hw_"
    prefixed = (await api.get(f"{MD}/{name}", headers=demo,
                              params={"resource_type": "OS::Glance::Image"})).json()
    assert "hw_cpu_cores" in prefixed["properties"]
    listed = (await api.get(MD, headers=demo, params={"limit": 1000})).json()
    assert name in {n["namespace"] for n in listed["namespaces"]}
    assert listed["schema"] == "/v2/schemas/metadefs/namespaces"
    by_type = (await api.get(MD, headers=demo,
                             params={"resource_types": "OS::Glance::Image"})).json()
    assert name in {n["namespace"] for n in by_type["namespaces"]}
    # only admins write
    assert (await api.post(MD, headers=demo, json={"namespace": ns_name()})).status_code == 403
    r = await api.put(f"{MD}/{name}", headers=demo, json={"namespace": name})
    assert r.status_code == 403
    # duplicate
    assert (await api.post(MD, headers=admin, json={"namespace": name})).status_code == 409
    r = await api.put(f"{MD}/{name}", headers=admin,
                      json={"namespace": name, "description": "new", "protected": True,
                            "visibility": "public"})
    assert r.status_code == 200 and r.json()["description"] == "new"
    assert (await api.delete(f"{MD}/{name}", headers=admin)).status_code == 403  # protected
    r = await api.put(f"{MD}/{name}", headers=admin, json={"namespace": name,
                                                           "protected": False})
    assert r.json()["visibility"] == "public" and r.json()["description"] == "new"
    assert (await api.delete(f"{MD}/{name}", headers=admin)).status_code == 204
    assert (await api.get(f"{MD}/{name}", headers=admin)).status_code == 404


async def test_private_namespaces(api: httpx.AsyncClient, admin: dict[str, str]) -> None:
    project, h = await new_project_user(api, admin)
    name = ns_name()
    r = await api.post(MD, headers=admin, json={"namespace": name, "owner": project})
    assert r.status_code == 201 and r.json()["visibility"] == "private"
    assert (await api.get(f"{MD}/{name}", headers=h)).status_code == 200
    _, stranger = await new_project_user(api, admin)
    assert (await api.get(f"{MD}/{name}", headers=stranger)).status_code == 404
    listed = (await api.get(MD, headers=stranger, params={"limit": 1000})).json()
    assert name not in {n["namespace"] for n in listed["namespaces"]}


async def test_properties_objects_tags(api: httpx.AsyncClient, admin: dict[str, str],
                                       demo: dict[str, str]) -> None:
    name = ns_name()
    await api.post(MD, headers=admin, json={"namespace": name, "visibility": "public"})
    base = f"{MD}/{name}"
    # properties
    r = await api.post(f"{base}/properties", headers=admin,
                       json={"name": "speed", "title": "Speed", "type": "string",
                             "enum": ["fast", "slow"]})
    assert r.status_code == 201, r.text
    assert r.json() == {"name": "speed", "title": "Speed", "type": "string",
                        "enum": ["fast", "slow"]}
    for bad in ({"name": "x", "type": "string"}, {"name": "x", "title": "X", "type": "blob"},
                {"name": "x", "title": "X", "type": "string", "bogus": 1}):
        assert (await api.post(f"{base}/properties", headers=admin, json=bad)
                ).status_code == 400
    r = await api.post(f"{base}/properties", headers=admin,
                       json={"name": "speed", "title": "Speed", "type": "string"})
    assert r.status_code == 409
    props = (await api.get(f"{base}/properties", headers=demo)).json()["properties"]
    assert list(props) == ["speed"]
    r = await api.put(f"{base}/properties/speed", headers=admin,
                      json={"name": "velocity", "title": "Velocity", "type": "number"})
    assert r.status_code == 200
    assert (await api.get(f"{base}/properties/speed", headers=demo)).status_code == 404
    shown = (await api.get(f"{base}/properties/velocity", headers=demo)).json()
    assert shown["type"] == "number"
    assert (await api.delete(f"{base}/properties/velocity", headers=demo)).status_code == 403
    assert (await api.delete(f"{base}/properties/velocity", headers=admin)).status_code == 204
    # objects
    r = await api.post(f"{base}/objects", headers=admin, json={
        "name": "Disk", "description": "disk", "required": ["bus"],
        "properties": {"bus": {"title": "Bus", "type": "string"}}})
    assert r.status_code == 201, r.text
    obj = r.json()
    assert obj["self"] == f"/v2/metadefs/namespaces/{name}/objects/Disk"
    assert obj["properties"]["bus"]["type"] == "string"
    objects = (await api.get(f"{base}/objects", headers=demo)).json()["objects"]
    assert [o["name"] for o in objects] == ["Disk"]
    r = await api.put(f"{base}/objects/Disk", headers=admin,
                      json={"name": "Disk", "description": "changed"})
    assert r.status_code == 200 and r.json()["description"] == "changed"
    assert (await api.get(f"{base}/objects/Nope", headers=demo)).status_code == 404
    assert (await api.delete(f"{base}/objects/Disk", headers=admin)).status_code == 204
    # tags
    r = await api.post(f"{base}/tags/one", headers=admin)
    assert r.status_code == 201 and r.json()["name"] == "one"
    assert (await api.post(f"{base}/tags/one", headers=admin)).status_code == 409
    r = await api.post(f"{base}/tags", headers={**admin, "X-Openstack-Append": "True"},
                       json={"tags": [{"name": "two"}, {"name": "three"}]})
    assert r.status_code == 201
    tags = (await api.get(f"{base}/tags", headers=demo)).json()["tags"]
    assert sorted(t["name"] for t in tags) == ["one", "three", "two"]
    r = await api.post(f"{base}/tags", headers=admin, json={"tags": [{"name": "only"}]})
    assert r.status_code == 201
    tags = (await api.get(f"{base}/tags", headers=demo)).json()["tags"]
    assert [t["name"] for t in tags] == ["only"]
    r = await api.put(f"{base}/tags/only", headers=admin, json={"name": "renamed"})
    assert r.status_code == 200 and r.json()["name"] == "renamed"
    assert (await api.delete(f"{base}/tags/renamed", headers=admin)).status_code == 204
    # delete-all endpoints
    await api.post(f"{base}/tags/x", headers=admin)
    assert (await api.delete(f"{base}/tags", headers=admin)).status_code == 204
    assert (await api.get(f"{base}/tags", headers=demo)).json()["tags"] == []
    assert (await api.delete(f"{base}/nonsense", headers=admin)).status_code == 404


async def test_resource_types(api: httpx.AsyncClient, admin: dict[str, str],
                              demo: dict[str, str]) -> None:
    types = (await api.get(f"{IMG}/metadefs/resource_types", headers=demo)).json()
    names = {t["name"] for t in types["resource_types"]}
    assert {"OS::Glance::Image", "OS::Nova::Flavor", "OS::Cinder::Volume"} <= names
    name = ns_name()
    await api.post(MD, headers=admin, json={"namespace": name, "visibility": "public"})
    r = await api.post(f"{MD}/{name}/resource_types", headers=admin,
                       json={"name": "OS::Nova::Flavor", "prefix": "hw:",
                             "properties_target": None})
    assert r.status_code == 201, r.text
    assert r.json()["prefix"] == "hw:"
    r = await api.post(f"{MD}/{name}/resource_types", headers=admin,
                       json={"name": "OS::Nova::Flavor"})
    assert r.status_code == 409
    assocs = (await api.get(f"{MD}/{name}/resource_types", headers=demo)).json()
    assert [a["name"] for a in assocs["resource_type_associations"]] == ["OS::Nova::Flavor"]
    r = await api.delete(f"{MD}/{name}/resource_types/OS::Nova::Flavor", headers=admin)
    assert r.status_code == 204
    r = await api.delete(f"{MD}/{name}/resource_types/OS::Nova::Flavor", headers=admin)
    assert r.status_code == 404


async def test_metadef_schemas(api: httpx.AsyncClient, demo: dict[str, str]) -> None:
    for name in ("namespace", "namespaces", "object", "objects", "property", "properties",
                 "tag", "tags", "resource_type", "resource_types"):
        r = await api.get(f"{IMG}/schemas/metadefs/{name}", headers=demo)
        assert r.status_code == 200, name
    assert (await api.get(f"{IMG}/schemas/metadefs/nothing", headers=demo)).status_code == 404
