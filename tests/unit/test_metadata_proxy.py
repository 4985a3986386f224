"""The metadata proxy's shared secret (kept in the data dir unless configured), the signature
Nova's metadata API checks, and where the proxy forwards."""

from __future__ import annotations

import hashlib
import hmac
import stat
from pathlib import Path

from onestack.common import metadata_proxy as mp
from onestack.common.config import load_settings


def test_secret_made_once_private_and_kept(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path)
    first = mp.shared_secret(settings)
    path = tmp_path / mp.SECRET_FILE
    assert len(first) >= 32 and path.read_text().strip() == first
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert mp.shared_secret(load_settings(data_dir=tmp_path)) == first  # another process
    configured = load_settings(data_dir=tmp_path, metadata_proxy_shared_secret="s3")
    assert mp.shared_secret(configured) == "s3"


def test_signature_is_hex_hmac_sha256_of_the_instance_id() -> None:
    expected = hmac.new(b"k", b"uuid-1", hashlib.sha256).hexdigest()
    assert mp.sign("k", "uuid-1") == expected
    assert mp.verify("k", "uuid-1", expected)
    assert not mp.verify("k", "uuid-2", expected) and not mp.verify("other", "uuid-1", expected)
    assert not mp.verify("k", "uuid-1", "\xe9" * 64)


def test_api_url_is_where_compute_runs(tmp_path: Path) -> None:
    here = load_settings(data_dir=tmp_path, port=8123)
    assert mp.api_url(here) == "http://127.0.0.1:8123/compute-metadata"
    there = load_settings(data_dir=tmp_path, services=["identity", "network"],
                          remote_services={"compute": "http://10.0.0.9:8000/"})  # fmt: skip
    assert mp.api_url(there) == "http://10.0.0.9:8000/compute-metadata"
