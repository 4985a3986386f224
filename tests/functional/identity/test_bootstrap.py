"""Bootstrap is idempotent and reconciles the kept secrets with the database."""

from __future__ import annotations

import stat
from pathlib import Path

from sqlalchemy import func, select

from onestack.common.config import load_settings
from onestack.identity.auth import AuthRequest
from onestack.identity.models import Assignment, Endpoint, Project, Role, User
from onestack.server import Cloud
from tests.conftest import TEST_ROUNDS


def _login(user: str, password: str) -> AuthRequest:
    return AuthRequest.model_validate({"auth": {"identity": {"methods": ["password"], "password": {
        "user": {"name": user, "domain": {"id": "default"}, "password": password}}}}})


async def _counts(cloud: Cloud) -> tuple[int, ...]:
    async with cloud.identity.manager.read() as s:
        return tuple([(await s.execute(select(func.count()).select_from(m))).scalar_one()
                      for m in (User, Project, Role, Assignment, Endpoint)])


async def test_restart_is_idempotent_and_reconciles(tmp_path: Path) -> None:
    # the services are named: the counts below do not change as services are added
    settings = load_settings(data_dir=tmp_path, port=8998, services=["identity", "image"],
                             identity={"password_hash_rounds": TEST_ROUNDS})
    cloud = Cloud(settings)
    await cloud.start()
    before = await _counts(cloud)
    # users admin, demo and glance (image's service user); projects admin, demo, service;
    # roles admin, member, reader, service; grants: admin x2, demo, glance x3 (service and
    # admin on project service, reader on the system); endpoints: 3 interfaces x 2 services
    assert before == (3, 3, 4, 6, 6)
    await cloud.stop()

    # a lost password file: a new one is made and the database follows it
    (tmp_path / "demo-password").unlink()
    (tmp_path / "clouds.yaml").unlink()
    moved = load_settings(data_dir=tmp_path, port=8997, services=["identity", "image"],
                          identity={"password_hash_rounds": TEST_ROUNDS})
    cloud = Cloud(moved)
    await cloud.start()
    try:
        assert await _counts(cloud) == before  # nothing created twice
        new_password = (tmp_path / "demo-password").read_text().strip()
        assert stat.S_IMODE((tmp_path / "demo-password").stat().st_mode) == 0o600
        _token, info = await cloud.identity.authenticator.authenticate(
            _login("demo", new_password))
        assert info.scope.project is not None and info.scope.project["name"] == "demo"
        # the catalog follows the new address
        async with cloud.identity.manager.read() as s:
            urls = set((await s.execute(select(Endpoint.url))).scalars())
        assert urls == {"http://127.0.0.1:8997/identity", "http://127.0.0.1:8997/image"}
        assert "8997" in (tmp_path / "clouds.yaml").read_text()
    finally:
        await cloud.stop()
