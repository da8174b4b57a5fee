"""`fingerpos device provision` against a real aiohttp server on 127.0.0.1.

The server here implements only the device-registration endpoint exactly as
the cloud contract between the helpers states it
(POST /api/v1/devices, bearer token, 201 / 409 / 401). cloud-a builds the
real one in cloud/ (test_device_provision_cloud.py runs the CLI against it);
this stand-in also lets the tests make the cloud answer what the real one
never should (HTTP 500 with an HTML page).
"""

from __future__ import annotations

import asyncio
import json
import re
import stat
import threading
from pathlib import Path

import pytest
from aiohttp import web
from fingerpos import protocol
from fingerpos.tools.cli import main
from fingerpos.tools.mosquitto import free_port

TOKEN = "tok-admin-1"


class ContractCloud:
    """A real HTTP server in a thread: POST /api/v1/devices as the contract defines it."""

    def __init__(self) -> None:
        self.devices: dict[str, dict] = {}
        self.requests: list[dict] = []
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    async def register(self, request: web.Request) -> web.Response:
        self.requests.append({"auth": request.headers.get("Authorization"),
                              "body": await request.text()})
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return web.json_response({"error": "unauthorized", "message": "bad token"}, status=401)
        try:
            body = await request.json()
            dev, shop, key = body["id"], body["shop"], body["key"]
        except (ValueError, KeyError, TypeError):
            return web.json_response({"error": "bad_request", "message": "id, shop, key"},
                                     status=400)
        if dev in self.devices:
            return web.json_response({"error": "conflict", "message": f"device {dev} exists"},
                                     status=409)
        self.devices[dev] = {"shop": shop, "key": key}
        return web.json_response({"id": dev, "shop": shop}, status=201)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_post("/api/v1/devices", self.register)
        self._runner = web.AppRunner(app)
        self._loop.run_until_complete(self._runner.setup())
        self._loop.run_until_complete(web.TCPSite(self._runner, "127.0.0.1", self.port).start())
        self._ready.set()
        self._loop.run_forever()

    def __enter__(self) -> ContractCloud:
        self._thread.start()
        assert self._ready.wait(10), "test cloud did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


@pytest.fixture
def cloud():
    with ContractCloud() as c:
        yield c


def provision(tmp_path: Path, cloud_url: str, *extra: str, dev: str = "t1") -> list[str]:
    return ["device", "provision", "--id", dev, "--shop", "shop1", "--cloud", cloud_url,
            "--token", TOKEN, "--out", str(tmp_path / "devices"), *extra]


def test_provision_registers_and_writes_config(cloud, tmp_path, capsys):
    rc = main(provision(tmp_path, cloud.url, "--wifi-ssid", "Shop WiFi", "--wifi-password",
                        "correct horse", "--broker", "mqtts://broker.example.com"))
    out = capsys.readouterr()
    assert rc == 0, out.err
    path = tmp_path / "devices" / "t1" / "config.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    config = json.loads(path.read_text())
    assert list(config) == ["v", "id", "shop", "key", "wifi", "broker", "settings"]
    assert config["v"] == 1 and config["id"] == "t1" and config["shop"] == "shop1"
    assert re.fullmatch(r"[0-9a-f]{64}", config["key"])
    assert config["wifi"] == {"ssid": "Shop WiFi", "password": "correct horse"}
    assert config["broker"] == {"host": "broker.example.com", "port": 8883, "tls": True}
    # The cloud got the same key, with the bearer token.
    assert cloud.devices["t1"] == {"shop": "shop1", "key": config["key"]}
    assert cloud.requests[0]["auth"] == f"Bearer {TOKEN}"
    # Never printed without --show-key (nor its broker password).
    assert config["key"] not in out.out + out.err
    assert protocol.broker_password(bytes.fromhex(config["key"])) not in out.out + out.err


def test_show_key_prints_it_and_default_broker_is_the_cloud_host(cloud, tmp_path, capsys):
    assert main(provision(tmp_path, cloud.url, "--show-key")) == 0
    out = capsys.readouterr().out
    config = json.loads((tmp_path / "devices" / "t1" / "config.json").read_text())
    assert config["key"] in out
    assert config["broker"] == {"host": "127.0.0.1", "port": 1883, "tls": False}
    assert config["wifi"] == {"ssid": "", "password": ""}


def test_keys_differ_between_terminals(cloud, tmp_path):
    assert main(provision(tmp_path, cloud.url, dev="a")) == 0
    assert main(provision(tmp_path, cloud.url, dev="b")) == 0
    assert cloud.devices["a"]["key"] != cloud.devices["b"]["key"]


def test_env_gives_cloud_and_token(cloud, tmp_path, monkeypatch):
    monkeypatch.setenv("FINGERPOS_CLOUD", cloud.url)
    monkeypatch.setenv("FINGERPOS_TOKEN", TOKEN)
    rc = main(["device", "provision", "--id", "t9", "--shop", "s", "--out", str(tmp_path)])
    assert rc == 0 and "t9" in cloud.devices


def test_duplicate_in_cloud_is_refused_and_nothing_written(cloud, tmp_path, capsys):
    cloud.devices["t1"] = {"shop": "other", "key": "00" * 32}
    assert main(provision(tmp_path, cloud.url)) == 1
    err = capsys.readouterr().err
    assert "already has a terminal 't1'" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "devices" / "t1").exists()
    assert cloud.devices["t1"]["shop"] == "other"


def test_existing_directory_is_refused_before_the_cloud_is_asked(cloud, tmp_path, capsys):
    (tmp_path / "devices" / "t1").mkdir(parents=True)
    (tmp_path / "devices" / "t1" / "config.json").write_text("keep me")
    assert main(provision(tmp_path, cloud.url)) == 1
    assert "already exists" in capsys.readouterr().err
    assert cloud.requests == []
    assert (tmp_path / "devices" / "t1" / "config.json").read_text() == "keep me"


def test_unreachable_cloud_is_one_line_and_leaves_nothing(tmp_path, capsys):
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    assert main(provision(tmp_path, url)) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: cannot reach the cloud at " + url)
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "devices" / "t1").exists()


def test_wrong_token_is_explained(cloud, tmp_path, capsys):
    args = provision(tmp_path, cloud.url)
    args[args.index("--token") + 1] = "nope"
    assert main(args) == 1
    assert "refused the token (HTTP 401)" in capsys.readouterr().err
    assert not (tmp_path / "devices" / "t1").exists()


def test_unexpected_answer_names_the_status(tmp_path, capsys):
    async def broken(request: web.Request) -> web.Response:
        return web.Response(status=500, text="<html>Internal error</html>")

    srv = ContractCloud()
    srv.register = broken  # type: ignore[method-assign]
    with srv:
        assert main(provision(tmp_path, srv.url)) == 1
    assert "the cloud answered HTTP 500: <html>Internal error</html>" in capsys.readouterr().err


@pytest.mark.parametrize("change, message", [
    (("--id", "t 1"), "device id 't 1' must be 1-32 characters"),
    (("--id", "x" * 33), "must be 1-32 characters"),
    (("--id", ""), "must be 1-32 characters"),
    (("--shop", "my shop"), "shop 'my shop' must be"),
    (("--wifi-password", "short"), "--wifi-password needs --wifi-ssid"),
    (("--broker", "http://b"), "must start with mqtt:// or mqtts://"),
    (("--broker", "mqtt://b:99999"), "has a bad port"),
    (("--broker", "mqtt://user:pw@b"), "must be just scheme://host[:port]"),
    (("--cloud", "ftp://x"), "cloud URL 'ftp://x' must be http(s)://"),
    (("--token", ""), "no API token"),
])
def test_bad_input_is_refused_before_anything_happens(cloud, tmp_path, capsys, change, message):
    args = provision(tmp_path, cloud.url, "--wifi-ssid", "net", "--wifi-password", "12345678")
    if change[0] == "--wifi-password":  # a password without a network
        i = args.index("--wifi-ssid")
        del args[i:i + 2]
    i = args.index(change[0]) if change[0] in args else None
    if i is None:
        args += list(change)
    else:
        args[i + 1] = change[1]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert message in err, err
    assert cloud.requests == []
    assert not (tmp_path / "devices").exists() or not any((tmp_path / "devices").iterdir())


def test_wifi_password_length_is_checked(cloud, tmp_path, capsys):
    assert main(provision(tmp_path, cloud.url, "--wifi-ssid", "n", "--wifi-password", "1234567")) == 1
    assert "8-63 characters" in capsys.readouterr().err


def test_a_cloud_that_never_answers_times_out(tmp_path, capsys, monkeypatch):
    import socket

    from fingerpos.tools.device import provision as provision_mod

    monkeypatch.setattr(provision_mod, "HTTP_TIMEOUT_S", 0.5)
    with socket.socket() as silent:  # accepts the connection, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        assert main(provision(tmp_path, url)) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: cannot reach the cloud at {url}: ") and "timed out" in err
    assert not (tmp_path / "devices" / "t1").exists()
