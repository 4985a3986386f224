"""The cloud-admin persona through openstacksdk, in both ``[identity] admin_scope`` settings, and
token answers as keystoneauth sees them (issue 9)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import openstack
import pytest
from keystoneauth1 import exceptions as ks_exc
from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3
from openstack.config import loader

from tests.conftest import free_port
from tests.e2e.conftest import RunningCloud, start_cloud, stop_cloud

pytestmark = pytest.mark.e2e
PASSWORD = "Sc0pe-pw-1234"


@pytest.fixture(scope="module")
def admin_project_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCloud]:
    """A second cloud with the stricter setting (admin only via the system or admin project)."""
    data_dir = tmp_path_factory.mktemp("e2e-admin-project") / "data"
    cloud = start_cloud(data_dir, free_port(), {"ONESTACK_IDENTITY__ADMIN_SCOPE": "admin-project"})
    yield cloud
    stop_cloud(cloud)


def connect(cloud: RunningCloud, name: str = "onestack") -> openstack.connection.Connection:
    config = loader.OpenStackConfig(config_files=[str(cloud.clouds_yaml)])
    return openstack.connection.Connection(config=config.get_one(cloud=name))


def project_admin(cloud: RunningCloud) -> openstack.connection.Connection:
    """What Tempest's dynamic credentials make: a new user, admin of a new project."""
    conn = connect(cloud)
    name = f"scope-{uuid.uuid4().hex[:8]}"
    project = conn.identity.create_project(name=name, domain_id="default")
    user = conn.identity.create_user(name=name, password=PASSWORD, domain_id="default")
    conn.identity.assign_project_role_to_user(project, user, conn.identity.find_role("admin"))
    config = loader.OpenStackConfig(config_files=[str(cloud.clouds_yaml)])
    auth = dict(config.get_one(cloud="onestack").config["auth"], username=name,
                password=PASSWORD, project_name=name)
    return openstack.connect(auth=auth, identity_api_version="3")


def demo_private_image(cloud: RunningCloud) -> str:
    demo = connect(cloud, "onestack-demo")
    return str(demo.image.create_image(name=f"private-{uuid.uuid4().hex[:6]}",
                                       disk_format="raw", container_format="bare").id)


def test_a_project_admin_is_the_cloud_admin_by_default(running_cloud: RunningCloud) -> None:
    own = project_admin(running_cloud)
    assert "admin" in [u.name for u in own.identity.users()]
    region = own.identity.create_region(id=f"scope-{uuid.uuid4().hex[:6]}")
    own.identity.delete_region(region)
    image = demo_private_image(running_cloud)
    assert own.image.get_image(image).id == image


def test_a_project_admin_is_no_admin_under_admin_project(
    admin_project_cloud: RunningCloud,
) -> None:
    own = project_admin(admin_project_cloud)
    with pytest.raises(openstack.exceptions.ForbiddenException):
        list(own.identity.users())
    image = demo_private_image(admin_project_cloud)
    with pytest.raises(openstack.exceptions.NotFoundException):
        own.image.get_image(image)
    # the admin project's admin still is the cloud admin
    assert "demo" in [u.name for u in connect(admin_project_cloud).identity.users()]


def test_tokens_through_keystoneauth(running_cloud: RunningCloud) -> None:
    """A rescoped password token says both methods; a revoked token validates to 404."""
    password = (running_cloud.data_dir / "admin-password").read_text().strip()
    identity = f"{running_cloud.url}/identity"
    unscoped = v3.Password(auth_url=identity, username="admin", password=password,
                           user_domain_id="default", unscoped=True)
    parent = ks_session.Session(auth=unscoped).get_token()
    rescoped = v3.Token(auth_url=identity, token=parent, project_name="admin",
                        project_domain_id="default")
    sess = ks_session.Session(auth=rescoped)
    url = f"{identity}/v3/auth/tokens"
    body = sess.get(url, headers={"X-Subject-Token": sess.get_token()}).json()
    assert sorted(body["token"]["methods"]) == ["password", "token"]
    subject = {"X-Subject-Token": parent}
    assert sess.get(url, headers=subject).status_code == 200
    sess.delete(url, headers=subject)
    with pytest.raises(ks_exc.NotFound):
        sess.get(url, headers=subject)
    with pytest.raises(ks_exc.NotFound):
        sess.head(url, headers=subject)
