"""An in-process cloud with Identity and Image, and helpers for two projects' users."""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from onestack.common.config import load_settings
from onestack.image.manager import ImageManager
from onestack.server import Cloud
from tests.conftest import (
    TEST_ROUNDS,
    free_port,
    fresh_database,
    issue,
    password_auth,
    password_of,
    private_transport,
)

IMG = "/image/v2"
#: The local HTTP server web-download tests fetch from.
WEB_PORT = free_port()
#: What the local web server answers at /image.raw (anything else: 404).
WEB_DATA = b"downloaded image " * 5000


@pytest.fixture(scope="session")
async def image_cloud(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Cloud]:
    data_dir = tmp_path_factory.mktemp("onestack-image")
    async with (
        fresh_database(os.environ.get("ONESTACK_TEST_DATABASE_URL")) as url,
        private_transport(os.environ.get("ONESTACK_TEST_TRANSPORT_URL")) as transport_url,
    ):
        settings = load_settings(
            data_dir=data_dir,
            port=8998,
            database_url=url,
            transport_url=transport_url,
            services=["identity", "image"],
            identity={"password_hash_rounds": TEST_ROUNDS},
            image={
                "web_download_allowed_ports": [80, 443, WEB_PORT],
                "stores": {"file": {}, "backup": {"description": "second store"}},
            },
        )
        cloud = Cloud(settings)
        await cloud.start()
        yield cloud
        await cloud.stop()


@pytest.fixture(scope="session")
def web_server() -> Iterator[str]:
    """A local HTTP server for web-download imports: its base URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/image.raw":
                self.send_response(200)
                self.send_header("Content-Length", str(len(WEB_DATA)))
                self.end_headers()
                self.wfile.write(WEB_DATA)
            else:
                self.send_response(404)
                self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", WEB_PORT), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{WEB_PORT}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def mgr(image_cloud: Cloud) -> ImageManager:
    svc = next(s for s in image_cloud.services if s.spec.name == "image")
    return svc.manager  # type: ignore[attr-defined, no-any-return]


@pytest.fixture(scope="session")
async def api(image_cloud: Cloud) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=image_cloud.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@pytest.fixture(scope="session")
async def admin(image_cloud: Cloud, api: httpx.AsyncClient) -> dict[str, str]:
    token = await issue(api, password_auth("admin", password_of(image_cloud, "admin"),
                                           project="admin"))
    return {"X-Auth-Token": token}


@pytest.fixture(scope="session")
async def demo(image_cloud: Cloud, api: httpx.AsyncClient) -> dict[str, str]:
    """A plain member of project demo."""
    token = await issue(api, password_auth("demo", password_of(image_cloud, "demo"),
                                           project="demo"))
    return {"X-Auth-Token": token}


async def new_project_user(
    api: httpx.AsyncClient, admin: dict[str, str], role: str = "member"
) -> tuple[str, dict[str, str]]:
    """A fresh project with a user holding ``role`` on it: (project id, its token headers)."""
    r = await api.post("/identity/v3/projects", headers=admin,
                       json={"project": {"name": f"p-{uuid.uuid4().hex[:8]}",
                                         "domain_id": "default"}})
    assert r.status_code == 201, r.text
    project_id = r.json()["project"]["id"]
    return project_id, await user_on(api, admin, project_id, role)


async def user_on(
    api: httpx.AsyncClient, admin: dict[str, str], project_id: str, role: str
) -> dict[str, str]:
    """A new user holding ``role`` on an existing project: its project-scoped token headers."""
    r = await api.get(f"/identity/v3/projects/{project_id}", headers=admin)
    project_name = r.json()["project"]["name"]
    name, password = f"u-{uuid.uuid4().hex[:8]}", "pw-" + uuid.uuid4().hex
    r = await api.post("/identity/v3/users", headers=admin,
                       json={"user": {"name": name, "domain_id": "default",
                                      "password": password}})
    assert r.status_code == 201, r.text
    user_id = r.json()["user"]["id"]
    r = await api.get("/identity/v3/roles", headers=admin, params={"name": role})
    role_id = r.json()["roles"][0]["id"]
    r = await api.put(f"/identity/v3/projects/{project_id}/users/{user_id}/roles/{role_id}",
                      headers=admin)
    assert r.status_code == 204, r.text
    return {"X-Auth-Token": await issue(api, password_auth(name, password,
                                                           project=project_name))}


@pytest.fixture(scope="session")
async def alice(api: httpx.AsyncClient, admin: dict[str, str]) -> tuple[str, dict[str, str]]:
    return await new_project_user(api, admin)


@pytest.fixture(scope="session")
async def bob(api: httpx.AsyncClient, admin: dict[str, str]) -> tuple[str, dict[str, str]]:
    return await new_project_user(api, admin)


async def create_image(api: httpx.AsyncClient, headers: dict[str, str], **body: Any
                       ) -> dict[str, Any]:
    body.setdefault("name", f"img-{uuid.uuid4().hex[:8]}")
    r = await api.post(f"{IMG}/images", headers=headers, json=body)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


async def upload(api: httpx.AsyncClient, headers: dict[str, str], image_id: str,
                 data: bytes | Any) -> httpx.Response:
    return await api.put(f"{IMG}/images/{image_id}/file", content=data,
                         headers={**headers, "Content-Type": "application/octet-stream"})


PATCH = "application/openstack-images-v2.1-json-patch"


async def patch(api: httpx.AsyncClient, headers: dict[str, str], image_id: str,
                ops: list[dict[str, Any]], content_type: str = PATCH) -> httpx.Response:
    return await api.patch(f"{IMG}/images/{image_id}", json=ops,
                           headers={**headers, "Content-Type": content_type})
