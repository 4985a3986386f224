"""openstacksdk and keystoneauth1 used directly, as Ansible and scripts use them."""

from __future__ import annotations

import uuid

import openstack
import pytest
from keystoneauth1 import session as ks_session
from keystoneauth1.exceptions import Unauthorized
from keystoneauth1.identity import v3
from openstack.config import loader

from tests.e2e.conftest import RunningCloud

pytestmark = pytest.mark.e2e


def connect(cloud: RunningCloud, name: str = "onestack") -> openstack.connection.Connection:
    config = loader.OpenStackConfig(config_files=[str(cloud.clouds_yaml)])
    return openstack.connection.Connection(config=config.get_one(cloud=name))


def test_keystoneauth_session(running_cloud: RunningCloud) -> None:
    password = (running_cloud.data_dir / "admin-password").read_text().strip()
    auth = v3.Password(auth_url=f"{running_cloud.url}/identity", username="admin",
                       password=password, user_domain_id="default", project_name="admin",
                       project_domain_id="default")
    sess = ks_session.Session(auth=auth)
    assert sess.get_token()
    assert sess.get_endpoint(service_type="identity", interface="public") == \
        f"{running_cloud.url}/identity"
    assert sess.get_user_id() and sess.get_project_id()
    bad = v3.Password(auth_url=f"{running_cloud.url}/identity", username="admin",
                      password="wrong", user_domain_id="default", project_name="admin",
                      project_domain_id="default")
    with pytest.raises(Unauthorized):
        ks_session.Session(auth=bad).get_token()


def test_sdk_identity_proxy(running_cloud: RunningCloud) -> None:
    conn = connect(running_cloud)
    name = f"sdk-{uuid.uuid4().hex[:8]}"
    project = conn.identity.create_project(name=name, domain_id="default", description="sdk")
    user = conn.identity.create_user(name=name, password="Sdk-pw-1234", domain_id="default",
                                     default_project_id=project.id, email="sdk@example.org")
    member = conn.identity.find_role("member")
    conn.identity.assign_project_role_to_user(project, user, member)
    assert conn.identity.validate_user_has_project_role(project, user, member)
    assert conn.identity.find_user(name).email == "sdk@example.org"
    assert name in [p.name for p in conn.identity.projects()]

    # the new user logs in with the sdk and sees only its own project
    config = loader.OpenStackConfig(config_files=[str(running_cloud.clouds_yaml)])
    region = config.get_one(cloud="onestack")
    auth = dict(region.config["auth"], username=name, password="Sdk-pw-1234", project_name=name)
    own = openstack.connect(auth=auth, identity_api_version="3")
    assert own.current_project_id == project.id
    with pytest.raises(openstack.exceptions.ForbiddenException):
        list(own.identity.users())

    conn.identity.delete_user(user)
    conn.identity.delete_project(project)
    assert conn.identity.find_project(name) is None
