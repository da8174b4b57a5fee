"""`fingerpos device provision` and `broker-config --db` against the real cloud app.

The cloud (cloud-a's create_app on a migrated test database, SQLite or
PostgreSQL) runs on aiohttp's test server on 127.0.0.1; the CLI runs in a
thread, as a technician's separate process would talk to it over HTTP.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from fingerpos import protocol
from fingerpos.cloud.models.devices import Device
from fingerpos.tools import broker_config as bc
from fingerpos.tools.cli import main

from .conftest import in_app

pytestmark = pytest.mark.cloud


def token_of(headers: dict[str, str]) -> str:
    return headers["Authorization"].split(" ", 1)[1]


async def provision(cloud, tmp_path, dev: str, token: str, out: str = "devices") -> int:
    url = str(cloud.client.make_url("")).rstrip("/")
    return await asyncio.to_thread(main, [
        "device", "provision", "--id", dev, "--shop", "shop1", "--cloud", url,
        "--token", token, "--out", str(tmp_path / out)])


async def test_provision_registers_the_key_the_config_holds(cloud, tmp_path, capsys):
    assert await provision(cloud, tmp_path, "t1", token_of(await cloud.admin())) == 0
    config = json.loads((tmp_path / "devices" / "t1" / "config.json").read_text())
    with in_app(cloud.app):
        device = await Device.get(id="t1")
    from fingerpos.cloud.core.appkeys import KEYRING
    assert cloud.app[KEYRING].open(device.key_enc, "t1").hex() == config["key"]
    assert device.shop == "shop1"
    assert config["key"] not in capsys.readouterr().out


async def test_duplicate_and_unauthorised_are_refused(cloud, tmp_path, capsys):
    admin = token_of(await cloud.admin())
    assert await provision(cloud, tmp_path, "t1", admin) == 0
    capsys.readouterr()
    # Another laptop (another devices dir) tries the same id: the cloud says 409.
    assert await provision(cloud, tmp_path, "t1", admin, out="laptop2") == 1
    assert "the cloud already has a terminal 't1'" in capsys.readouterr().err
    assert not (tmp_path / "laptop2" / "t1").exists()
    seller = token_of(await cloud.user("seller", shop="shop1"))
    assert await provision(cloud, tmp_path, "t2", seller) == 1
    assert "refused the token (HTTP 403)" in capsys.readouterr().err


async def test_broker_config_from_the_cloud_database(cloud, cloud_config, tmp_path,
                                                     monkeypatch, capsys):
    keys = {dev: await cloud.device(dev, "shop1") for dev in ("tA", "tB", "tR")}
    r = await cloud.client.post("/api/v1/devices/tR/revoke", headers=await cloud.admin())
    assert r.status == 200, await r.text()
    monkeypatch.setenv("FINGERPOS_SECRET", cloud_config.key_secret)
    out = tmp_path / "broker"
    argv = ["broker-config", "--out", str(out), "--db", cloud_config.db_url]
    assert await asyncio.to_thread(main, argv) == 0
    std = capsys.readouterr().out
    assert "terminals (2): tA, tB" in std and "revoked, left out: tR" in std
    users = dict(line.split(":", 1) for line in (out / "passwd").read_text().splitlines())
    assert sorted(users) == ["cloud", "tA", "tB"]
    for dev in ("tA", "tB"):
        assert bc.mosquitto_check(protocol.broker_password(keys[dev]), users[dev])

    # With the wrong secret no key opens: refuse, and keep the files that work.
    before = (out / "passwd").read_text()
    monkeypatch.setenv("FINGERPOS_SECRET", "another-secret-0123456789")
    assert await asyncio.to_thread(main, argv) == 1
    assert "does not decrypt" in capsys.readouterr().err
    assert (out / "passwd").read_text() == before


async def test_broker_config_db_errors(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("FINGERPOS_SECRET", "x" * 20)
    argv = ["broker-config", "--out", str(tmp_path / "o"), "--db", "mysql://nope"]
    assert await asyncio.to_thread(main, argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1
    argv = ["broker-config", "--out", str(tmp_path / "o"), "--devices-from", str(tmp_path),
            "--data-dir", str(tmp_path)]
    assert await asyncio.to_thread(main, argv) == 1
    assert "--data-dir goes with --db" in capsys.readouterr().err
