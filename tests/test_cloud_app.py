"""The cloud app: startup, schema check, health, metrics, config validation."""

from __future__ import annotations

import pytest
from fingerpos.cloud.app import create_app
from fingerpos.cloud.core.config import Config, ConfigError
from fingerpos.cloud.core.db import DatabaseError

pytestmark = pytest.mark.cloud


async def test_healthz_and_metrics(aiohttp_client, cloud_config):
    client = await aiohttp_client(create_app(cloud_config))
    r = await client.get("/healthz")
    assert r.status == 200 and (await r.json()) == {"ok": True}
    r = await client.get("/metrics")
    assert r.status == 200
    assert r.headers["Content-Type"].startswith("text/plain")


async def test_unknown_api_path_is_json_404(aiohttp_client, cloud_config):
    client = await aiohttp_client(create_app(cloud_config))
    r = await client.get("/api/v1/nothing-here")
    assert r.status == 404
    assert (await r.json())["error"] == "not_found"


@pytest.mark.parametrize("changes, word", [
    ({"port": 70000}, "port"),
    ({"db_url": "mysql://x"}, "--db"),
    ({"mqtt_url": "http://x"}, "--mqtt"),
    ({"share_group": "other"}, "share_group"),
    ({"key_secret": "short"}, "FINGERPOS_SECRET"),
])
def test_config_rejects_bad_settings(tmp_path, changes, word):
    with pytest.raises(ConfigError, match=word):
        Config(data_dir=tmp_path, **changes).validated()


def test_config_defaults_to_sqlite_in_data_dir_with_a_kept_secret(tmp_path):
    c = Config(data_dir=tmp_path).validated()
    assert c.database_url == f"sqlite://{tmp_path}/fingerpos.sqlite3"
    assert len(c.key_secret) == 64
    assert Config(data_dir=tmp_path).validated().key_secret == c.key_secret
    assert (tmp_path / "secret").stat().st_mode & 0o077 == 0


async def test_serve_refuses_an_unmigrated_database(aiohttp_client, tmp_path):
    config = Config(db_url=f"sqlite://{tmp_path}/empty.sqlite3", data_dir=tmp_path,
                    key_secret="x" * 32, ingest=False)
    with pytest.raises(DatabaseError, match="fingerpos migrate"):
        await aiohttp_client(create_app(config))


async def test_unreachable_postgres_is_a_one_line_error(aiohttp_client, tmp_path):
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = Config(db_url=f"postgres://u@127.0.0.1:{port}/x", data_dir=tmp_path,
                    key_secret="x" * 32, ingest=False)
    with pytest.raises(DatabaseError, match="cannot reach the database") as e:
        await aiohttp_client(create_app(config))
    assert "\n" not in str(e.value)
