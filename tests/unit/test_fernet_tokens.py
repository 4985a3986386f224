"""Key repository rotation and Keystone's token payload layout."""

from __future__ import annotations

import datetime as dt
import stat
import uuid
from pathlib import Path

import msgpack
import pytest

from onestack.common.fernet import InvalidToken, KeyRepository
from onestack.identity.token_formatter import TokenFormatter, TokenPayload, new_audit_id


@pytest.fixture
def keys(tmp_path: Path) -> KeyRepository:
    repo = KeyRepository(tmp_path / "keys", max_active_keys=3)
    assert repo.setup() is True
    assert repo.setup() is False  # idempotent
    return repo


def payload(**scope: str) -> TokenPayload:
    return TokenPayload(uuid.uuid4().hex, ["password", "token"],
                        dt.datetime.now(dt.UTC) + dt.timedelta(hours=1),
                        [new_audit_id(), new_audit_id()], **scope)


def test_repository_layout(keys: KeyRepository) -> None:
    assert sorted(keys.keys()) == [0, 1]
    assert stat.S_IMODE(keys.path.stat().st_mode) == 0o700
    assert all(stat.S_IMODE((keys.path / str(i)).stat().st_mode) == 0o600 for i in (0, 1))


def test_rotation_keeps_previous_primary_valid(keys: KeyRepository) -> None:
    fmt = TokenFormatter(keys)
    staged_before = keys.keys()[0]
    token = fmt.create(payload(project_id=uuid.uuid4().hex))
    assert keys.rotate() == 2
    assert keys.keys()[2] == staged_before  # the staged key became primary
    assert fmt.parse(token).methods == ["password", "token"]
    keys.rotate()  # 3 keys max: staged 0, primary 3, secondary 2 -> key 1 is gone
    assert sorted(keys.keys()) == [0, 2, 3]
    with pytest.raises(InvalidToken):
        fmt.parse(token)


@pytest.mark.parametrize("scope", [
    {}, {"project_id": uuid.uuid4().hex}, {"domain_id": "default"}, {"system": "all"},
    {"project_id": uuid.uuid4().hex, "trust_id": uuid.uuid4().hex},
    {"project_id": uuid.uuid4().hex, "app_cred_id": uuid.uuid4().hex},
    {"project_id": "not-a-uuid-project"},
])
def test_round_trip(keys: KeyRepository, scope: dict[str, str]) -> None:
    fmt = TokenFormatter(keys)
    original = payload(**scope)
    token = fmt.create(original)
    assert "=" not in token and len(token) < 255
    parsed = fmt.parse(token)
    for field in ("user_id", "methods", "audit_ids", "project_id", "domain_id", "system",
                  "trust_id", "app_cred_id"):
        assert getattr(parsed, field) == getattr(original, field), field
    assert abs((parsed.expires_at - original.expires_at).total_seconds()) < 0.001
    assert abs((parsed.issued_at - dt.datetime.now(dt.UTC)).total_seconds()) < 2


def test_keystone_layout(keys: KeyRepository) -> None:
    """Version 2 (project scope): (user, methods bitmask, project, expires, audit ids)."""
    user, project = uuid.uuid4().hex, uuid.uuid4().hex
    p = TokenPayload(user, ["password"], dt.datetime.now(dt.UTC), [new_audit_id()],
                     project_id=project)
    token = TokenFormatter(keys).create(p)
    raw = keys.decrypt((token + "=" * (-len(token) % 4)).encode())
    version, b_user, methods, b_project, expires, audit = msgpack.unpackb(raw)
    assert version == 2 and methods == 2  # password is bit 1
    assert b_user == [True, uuid.UUID(user).bytes]
    assert b_project == [True, uuid.UUID(project).bytes]
    assert isinstance(expires, float) and len(audit[0]) == 16


@pytest.mark.parametrize("bad", ["", "garbage", "gAAAAA" + "x" * 100, "é" * 50, "a" * 5000])
def test_garbage_is_invalid(keys: KeyRepository, bad: str) -> None:
    with pytest.raises(InvalidToken):
        TokenFormatter(keys).parse(bad)


def test_foreign_key_is_invalid(keys: KeyRepository, tmp_path: Path) -> None:
    other = KeyRepository(tmp_path / "other")
    other.setup()
    token = TokenFormatter(other).create(payload())
    with pytest.raises(InvalidToken):
        TokenFormatter(keys).parse(token)


@pytest.mark.parametrize("scope,version", [
    ({"project_id": uuid.uuid4().hex, "access_token_id": uuid.uuid4().hex}, 5),
    ({"idp_id": "corp-idp", "protocol_id": "saml2"}, 4),
    ({"idp_id": "corp-idp", "protocol_id": "openid", "project_id": uuid.uuid4().hex}, 6),
    ({"idp_id": "corp-idp", "protocol_id": "openid", "domain_id": "default"}, 7),
])
def test_oauth_and_federated_layouts(keys: KeyRepository, scope: dict[str, str],
                                     version: int) -> None:
    """Keystone's OAuth (5) and federated unscoped / project / domain (4, 6, 7) payloads."""
    fmt = TokenFormatter(keys)
    p = payload(**scope)
    if "idp_id" in scope:
        p.federated_group_ids = [uuid.uuid4().hex, "named-group"]
    token = fmt.create(p)
    raw = keys.decrypt((token + "=" * (-len(token) % 4)).encode())
    assert msgpack.unpackb(raw, raw=False)[0] == version
    back = fmt.parse(token)
    for field in ("user_id", "project_id", "domain_id", "access_token_id", "idp_id",
                  "protocol_id", "federated_group_ids", "audit_ids"):
        assert getattr(back, field) == getattr(p, field), field
    assert abs(back.expires_at.timestamp() - p.expires_at.timestamp()) < 1
