"""``[identity] admin_scope``: who the cloud admin is, across every service's policy.

``any-project`` (the default, Keystone's effective default that Tempest's dynamic credentials
rely on): the admin role on the system or on any project. ``admin-project``: only on the system
or on the cloud's admin project. Both are checked on Identity and on Image, for a project admin,
a domain admin (and what it can reach by granting itself a project role) and the cloud admin.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest

from onestack.common.config import load_settings
from onestack.server import Cloud
from tests.conftest import (
    TEST_ROUNDS,
    fresh_database,
    issue,
    password_auth,
    password_of,
    private_transport,
)
from tests.functional.identity.assignment_helpers import (
    V3,
    add_domain,
    add_project,
    add_user,
    headers_for,
    role_id,
    unique,
)

H = dict[str, str]
IMAGES = "/image/v2/images"


@dataclass
class Scene:
    mode: str
    client: httpx.AsyncClient
    cloud: Cloud
    admin: H  # the bootstrap admin on the admin project
    system_admin: H
    project_admin: H  # admin role on an ordinary project of the Default domain
    domain_admin: H  # admin role on domain `domain` (a domain-scoped token)
    domain_admin_user: str
    domain: str
    domain_project: str  # a project of `domain`
    private_image: str  # another project's private image

    @property
    def any_project(self) -> bool:
        return self.mode == "any-project"


@pytest.fixture(scope="module", params=["any-project", "admin-project"])
async def scene(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Scene]:
    mode = request.param
    async with (
        fresh_database(os.environ.get("ONESTACK_TEST_DATABASE_URL")) as url,
        private_transport(os.environ.get("ONESTACK_TEST_TRANSPORT_URL")) as transport_url,
    ):
        settings = load_settings(
            data_dir=tmp_path_factory.mktemp(f"onestack-{mode}"), port=8997, database_url=url,
            transport_url=transport_url, services=["identity", "image"],
            identity={"password_hash_rounds": TEST_ROUNDS, "admin_scope": mode},
        )
        cloud = Cloud(settings)
        await cloud.start()
        transport = httpx.ASGITransport(app=cloud.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield await _scene(mode, cloud, c)
        await cloud.stop()


async def _grant(client: httpx.AsyncClient, admin: H, path: str) -> None:
    r = await client.put(f"{V3}/{path}", headers=admin)
    assert r.status_code == 204, (path, r.text)


async def _scene(mode: str, cloud: Cloud, client: httpx.AsyncClient) -> Scene:
    password = password_of(cloud, "admin")
    admin = {"X-Auth-Token": await issue(client, password_auth("admin", password,
                                                               project="admin"))}
    system_admin = {"X-Auth-Token": await issue(client, password_auth("admin", password,
                                                                      system=True))}
    admin_role, member_role = await role_id(cloud, "admin"), await role_id(cloud, "member")
    boss, boss_project = await add_user(cloud), await add_project(cloud)
    await _grant(client, admin, f"projects/{boss_project}/users/{boss}/roles/{admin_role}")
    domain = await add_domain(cloud)
    domain_boss, domain_project = await add_user(cloud, domain_id=domain), await add_project(
        cloud, domain_id=domain)
    await _grant(client, admin, f"domains/{domain}/users/{domain_boss}/roles/{admin_role}")
    owner, owner_project = await add_user(cloud), await add_project(cloud)
    await _grant(client, admin, f"projects/{owner_project}/users/{owner}/roles/{member_role}")
    owner_headers = await headers_for(client, owner, project_id=owner_project)
    r = await client.post(IMAGES, headers=owner_headers, json={"name": unique("private")})
    assert r.status_code == 201, r.text
    return Scene(
        mode=mode, client=client, cloud=cloud, admin=admin, system_admin=system_admin,
        project_admin=await headers_for(client, boss, project_id=boss_project),
        domain_admin=await headers_for(client, domain_boss, domain_id=domain),
        domain_admin_user=domain_boss, domain=domain, domain_project=domain_project,
        private_image=r.json()["id"],
    )


async def _identity_admin_calls(s: Scene, headers: H) -> list[int]:
    """Statuses of cloud-admin-only Identity calls made with ``headers``."""
    c = s.client
    statuses = [
        (await c.get(f"{V3}/users", headers=headers)).status_code,
        (await c.post(f"{V3}/regions", headers=headers,
                      json={"region": {"id": unique("r")}})).status_code,
        (await c.post(f"{V3}/users", headers=headers,
                      json={"user": {"name": unique("u"), "domain_id": "default"}})).status_code,
        (await c.post(f"{V3}/domains", headers=headers,
                      json={"domain": {"name": unique("d")}})).status_code,
    ]
    return statuses


async def _image_admin_calls(s: Scene, headers: H) -> list[int]:
    """Statuses of image-admin-only calls: another project's private image, a public image."""
    c = s.client
    public = await c.post(IMAGES, headers=headers,
                          json={"name": unique("pub"), "visibility": "public"})
    return [
        (await c.get(f"{IMAGES}/{s.private_image}", headers=headers)).status_code,
        public.status_code,
    ]


async def test_the_cloud_admin_is_admin_in_every_mode(scene: Scene) -> None:
    for headers in (scene.admin, scene.system_admin):
        assert await _identity_admin_calls(scene, headers) == [200, 201, 201, 201]
    assert await _image_admin_calls(scene, scene.admin) == [200, 201]


async def test_a_project_admin_is_the_cloud_admin_only_under_any_project(scene: Scene) -> None:
    identity = await _identity_admin_calls(scene, scene.project_admin)
    image = await _image_admin_calls(scene, scene.project_admin)
    if scene.any_project:
        assert identity == [200, 201, 201, 201]
        assert image == [200, 201]
    else:
        assert identity == [403, 403, 403, 403]
        assert image == [404, 403]


async def test_the_token_says_whether_its_project_is_an_admin_project(scene: Scene) -> None:
    c = scene.client
    for headers, expected in ((scene.admin, True), (scene.project_admin, scene.any_project)):
        r = await c.get(f"{V3}/auth/tokens",
                        headers={**scene.admin, "X-Subject-Token": headers["X-Auth-Token"]})
        assert r.json()["token"]["is_admin_project"] is expected


async def test_a_domain_admin_manages_its_domain_only(scene: Scene) -> None:
    """The same in both modes while it holds a domain-scoped token."""
    c, h = scene.client, scene.domain_admin
    r = await c.post(f"{V3}/users", headers=h,
                     json={"user": {"name": unique("u"), "domain_id": scene.domain}})
    assert r.status_code == 201, r.text
    r = await c.get(f"{V3}/users", headers=h, params={"domain_id": scene.domain})
    assert r.status_code == 200
    # a listing without a domain is of its own domain only
    statuses = await _identity_admin_calls(scene, h)
    assert statuses == [200, 403, 403, 403]
    r = await c.get(f"{V3}/users", headers=h)
    assert {u["domain_id"] for u in r.json()["users"]} == {scene.domain}
    r = await c.get(f"{V3}/users", headers=h, params={"domain_id": "default"})
    assert r.status_code == 403
    assert (await c.get(IMAGES, headers=h)).status_code == 403
    assert (await c.get(f"{IMAGES}/{scene.private_image}", headers=h)).status_code in (403, 404)


async def test_a_domain_admin_granting_itself_a_project_role(scene: Scene) -> None:
    """What the README says: under any-project a domain admin can make itself the cloud admin
    by granting itself admin on a project of its domain; under admin-project it cannot."""
    c = scene.client
    admin_role = await role_id(scene.cloud, "admin")
    path = f"projects/{scene.domain_project}/users/{scene.domain_admin_user}/roles/{admin_role}"
    r = await c.put(f"{V3}/{path}", headers=scene.domain_admin)
    assert r.status_code == 204, r.text
    h = await headers_for(c, scene.domain_admin_user, project_id=scene.domain_project)
    identity = await _identity_admin_calls(scene, h)
    image = await _image_admin_calls(scene, h)
    if scene.any_project:
        assert identity == [200, 201, 201, 201]
        assert image == [200, 201]
    else:
        assert identity == [403, 403, 403, 403]
        assert image == [404, 403]
        # and it still may not grant anything outside its domain
        other = await add_project(scene.cloud)
        path = f"projects/{other}/users/{scene.domain_admin_user}/roles/{admin_role}"
        assert (await c.put(f"{V3}/{path}", headers=scene.domain_admin)).status_code == 403


async def test_a_project_admin_grants_cloud_roles_only_under_any_project(scene: Scene) -> None:
    c, h = scene.client, scene.project_admin
    victim = await add_user(scene.cloud)
    admin_role = await role_id(scene.cloud, "admin")
    expected = 204 if scene.any_project else 403
    for path in (f"domains/default/users/{victim}/roles/{admin_role}",
                 f"system/users/{victim}/roles/{admin_role}"):
        assert (await c.put(f"{V3}/{path}", headers=h)).status_code == expected, path
    r = await c.get(f"{V3}/role_assignments", headers=h)
    assert r.status_code == (200 if scene.any_project else 403)
