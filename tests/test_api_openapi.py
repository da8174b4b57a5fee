"""The OpenAPI document matches the code, and schemathesis fuzzes the API against it:
no 500s, only documented status codes and content types, error bodies as documented."""

from __future__ import annotations

import asyncio
import socket
import threading

import pytest
import schemathesis
from aiohttp import web
from fingerpos.cloud.api.openapi import build
from fingerpos.cloud.api.routes import V1
from fingerpos.cloud.app import create_app
from fingerpos.cloud.core.config import Config
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

pytestmark = pytest.mark.cloud


def _app_routes(app: web.Application) -> set[tuple[str, str]]:
    """The app's routes, less the HTML pages (cloud/web): they are not the JSON API."""
    from fingerpos.cloud.web import PAGES
    out = set()
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter")
        # The API and the infrastructure endpoints; browser pages (commerce) are not API.
        if route.method != "HEAD" and path and (path.startswith("/api/")
                                                or path in ("/healthz", "/metrics")):
            out.add((route.method.lower(), path))
    return out - {(method.lower(), path) for method, path, _, _ in PAGES}


def test_every_route_is_documented_and_every_documented_route_exists(tmp_path):
    app = create_app(Config(data_dir=tmp_path, key_secret="x" * 32, ingest=False))
    documented = {(method, path) for path, ops in build()["paths"].items() for method in ops}
    assert _app_routes(app) == documented


async def test_served_document_is_the_built_one(cloud):
    r = await cloud.client.get(V1 + "/openapi.json")
    assert r.status == 200 and await r.json() == build()


@pytest.fixture(scope="module")
def live_cloud(cloud_db_template, tmp_path_factory):
    """The app served from a thread (schemathesis calls are blocking), on a fresh database."""
    import shutil

    from .conftest import _migrate, forget_sql_dialect
    forget_sql_dialect()
    kind, template = cloud_db_template
    tmp = tmp_path_factory.mktemp("live")
    if kind == "postgres":
        asyncio.run(template.execute("CREATE DATABASE fp_fuzz TEMPLATE fp_template"))
        url = template.url("fp_fuzz")
    else:
        shutil.copy(template, tmp / "db.sqlite3")
        url = f"sqlite://{tmp}/db.sqlite3"
    asyncio.run(_migrate(url))  # a no-op on the template copy; proves re-running is safe
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = Config(db_url=url, data_dir=tmp, key_secret="x" * 32, ingest=False,
                    timer_interval_s=3600.0)
    loop = asyncio.new_event_loop()
    ready, stop = threading.Event(), asyncio.Event()
    token: list[str] = []

    async def main() -> None:
        app = create_app(config)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        from fingerpos.cloud.accounts.auth import create_api_token
        from fingerpos.cloud.accounts.users import create_user
        from fingerpos.cloud.models.users import Role

        from .conftest import in_app
        with in_app(app):
            admin = await create_user("fuzz@example.com", "password123", Role.ADMIN)
            token.append(await create_api_token(admin))
        ready.set()
        await stop.wait()
        await runner.cleanup()

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    assert ready.wait(30), "the cloud did not start"
    yield f"http://127.0.0.1:{port}", {"Authorization": f"Bearer {token[0]}"}
    loop.call_soon_threadsafe(stop.set)
    thread.join(30)


schema = schemathesis.openapi.from_dict(build())
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]


@schema.exclude(path_regex=r"/ws$").parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_document(case, live_cloud):
    base_url, headers = live_cloud
    case.call_and_validate(base_url=base_url, headers=headers, checks=CHECKS, timeout=10)
