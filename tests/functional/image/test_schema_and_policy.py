"""Migrations match the models; property protections; notifications; policy overrides."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import httpx
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from onestack.common.db import Database, head_revision
from onestack.image.manager import MIGRATIONS
from onestack.image.models import Base
from onestack.image.protections import PropertyProtections, ProtectionsError
from tests.conftest import fresh_database
from tests.functional.image.conftest import IMG, create_image, new_project_user, patch, upload


async def test_migrations_match_models(tmp_path: Path) -> None:
    async with fresh_database(os.environ.get("ONESTACK_TEST_DATABASE_URL")) as url:
        db = Database(url or f"sqlite+aiosqlite:///{tmp_path}/m.sqlite", "image", MIGRATIONS)
        await db.upgrade()
        await db.upgrade()  # idempotent
        assert await db.current_revision() == head_revision(MIGRATIONS)
        async with db.engine.connect() as conn:
            diff = await conn.run_sync(
                lambda c: compare_metadata(MigrationContext.configure(c), Base.metadata))
        await db.dispose()
    diff = [d for d in diff if not (d[0] == "remove_table"
                                    and d[1].name.startswith("alembic_version"))]
    assert diff == []


PROTECTIONS = """
[^x_billing_.*]
create = admin
read = admin,member
update = admin
delete = admin

[^x_open_.*]
create = @
read = @
update = @
delete = @

[^x_sealed$]
create = admin
read = !
update = !
delete = !
"""


@pytest.fixture
def protections(mgr: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "protections.conf"
    path.write_text(PROTECTIONS)
    monkeypatch.setattr(mgr, "protections", PropertyProtections(path))


async def test_property_protections(
    api: httpx.AsyncClient, admin: dict[str, str], protections: None
) -> None:
    _, h = await new_project_user(api, admin)
    # a member may not create an admin-only property, nor one no section matches
    r = await api.post(f"{IMG}/images", headers=h, json={"x_billing_code": "1"})
    assert r.status_code == 403
    r = await api.post(f"{IMG}/images", headers=h, json={"unlisted": "1"})
    assert r.status_code == 403
    img = await create_image(api, h, x_open_note="hello")
    assert img["x_open_note"] == "hello"
    # the admin sets the billing code on the member's image; the member reads it only
    r = await patch(api, admin, img["id"], [
        {"op": "add", "path": "/x_billing_code", "value": "42"},
        {"op": "add", "path": "/x_sealed", "value": "s"},
    ])
    assert r.status_code == 200, r.text
    assert "x_sealed" not in r.json()  # no one reads it
    shown = (await api.get(f"{IMG}/images/{img['id']}", headers=h)).json()
    assert shown["x_billing_code"] == "42" and "x_sealed" not in shown
    r = await patch(api, h, img["id"], [{"op": "replace", "path": "/x_billing_code",
                                         "value": "0"}])
    assert r.status_code == 403
    r = await patch(api, h, img["id"], [{"op": "remove", "path": "/x_billing_code"}])
    assert r.status_code == 403
    r = await patch(api, h, img["id"], [{"op": "replace", "path": "/x_open_note",
                                         "value": "bye"}])
    assert r.status_code == 200
    # core attributes are not subject to protections
    r = await patch(api, h, img["id"], [{"op": "replace", "path": "/name", "value": "n"}])
    assert r.status_code == 200


def test_bad_protection_files(tmp_path: Path) -> None:
    bad_regex = tmp_path / "a.conf"
    bad_regex.write_text("[(unclosed]\ncreate = @\n")
    with pytest.raises(ProtectionsError):
        PropertyProtections(bad_regex)
    with pytest.raises(ProtectionsError):
        PropertyProtections(tmp_path / "missing.conf")


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    async def info(self, ctx: Any, event_type: str, payload: dict[str, Any]) -> None:
        self.events.append((event_type, payload))


async def test_notifications(api: httpx.AsyncClient, demo: dict[str, str], mgr: Any,
                             monkeypatch: pytest.MonkeyPatch) -> None:
    recorder = Recorder()
    monkeypatch.setattr(mgr, "_notifier", recorder)
    img = await create_image(api, demo, disk_format="raw", container_format="bare",
                             color="red")
    await upload(api, demo, img["id"], b"bits")
    await patch(api, demo, img["id"], [{"op": "replace", "path": "/name", "value": "n2"}])
    await api.delete(f"{IMG}/images/{img['id']}", headers=demo)
    kinds = [e for e, _ in recorder.events]
    assert kinds == ["image.create", "image.upload", "image.activate", "image.update",
                     "image.delete"]
    create = recorder.events[0][1]
    assert create["id"] == img["id"] and create["status"] == "queued"
    assert create["properties"] == {"color": "red"} and create["deleted"] is False
    upload_payload = recorder.events[1][1]
    assert upload_payload["status"] == "active" and upload_payload["size"] == 4
    deleted = recorder.events[-1][1]
    assert deleted["deleted"] is True and deleted["status"] == "deleted"


async def test_a_failing_notifier_never_fails_the_request(
    api: httpx.AsyncClient, demo: dict[str, str], mgr: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Broken:
        async def info(self, *args: Any) -> None:
            raise ConnectionError("bus down")

    monkeypatch.setattr(mgr, "_notifier", Broken())
    await create_image(api, demo)


async def test_policy_file_override(api: httpx.AsyncClient, demo: dict[str, str], mgr: Any,
                                    tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from onestack.common.policy import Policy
    from onestack.image.policies import DEFAULT_RULES

    path = tmp_path / "policy.yaml"
    path.write_text('"add_image": "!"\n')
    monkeypatch.setattr(mgr, "policy", Policy(DEFAULT_RULES, path))
    r = await api.post(f"{IMG}/images", headers=demo, json={"name": "x"})
    assert r.status_code == 403
