"""End to end through a production-style Mosquitto: provision -> bundle -> the bundle's .mpy
files on the MicroPython unix port -> Mosquitto configured by `fingerpos broker-config`
(passwords + ACLs) -> the cloud -> a sale keyed at the terminal becomes an order (API)."""

from __future__ import annotations

import asyncio
import os
import pwd
import secrets
import signal

import aiohttp
from aiohttp import web
from fingerpos.cloud.app import create_app
from fingerpos.cloud.core.appkeys import KEYRING
from fingerpos.cloud.core.config import Config
from fingerpos.tools.cli import main
from fingerpos.tools.fleet.provisioning import member_from_dir
from fingerpos.tools.fleet.shop import Person, create_admin, create_staff
from fingerpos.tools.fleet.terminal import Terminal
from fingerpos.tools.mosquitto import Mosquitto, free_port

from tests.test_broker_config import make_certs


async def _cli(*argv: str) -> int:
    return await asyncio.to_thread(main, list(argv))


async def _broker_config(tmp_path, devices, out, tls_port, plain_port, certs) -> None:
    rc = await _cli("broker-config", "--out", str(out), "--devices-from", str(devices),
                    "--tls-port", str(tls_port), "--loopback-port", str(plain_port),
                    "--run-as", pwd.getpwuid(os.geteuid()).pw_name,
                    "--persistence-dir", str(tmp_path / "state"),
                    *sum(([f"--{k}", v] for k, v in certs.items()), []))
    assert rc == 0


async def test_sale_through_production_mosquitto_becomes_an_order(tmp_path, cloud_db_url, capsys):
    devices, out = tmp_path / "devices", tmp_path / "broker"
    devices.mkdir()
    certs = make_certs(tmp_path / "certs")
    tls_port, plain_port, http_port = free_port(), free_port(), free_port()
    # 1. the broker, with no terminal yet: only the cloud user may log in
    await _broker_config(tmp_path, devices, out, tls_port, plain_port, certs)
    cloud_pw = (out / "cloud-password").read_text().strip()
    broker = Mosquitto(config_file=out / "mosquitto.conf", port=plain_port,
                       workdir=tmp_path / "mosq")
    broker.dir.mkdir()
    broker.start()
    # 2. the cloud on that broker, as its `cloud` user
    config = Config(db_url=cloud_db_url, data_dir=tmp_path, port=http_port,
                    mqtt_url=f"mqtt://cloud:{cloud_pw}@127.0.0.1:{plain_port}",
                    key_secret=secrets.token_hex(16), timer_interval_s=3600.0)
    app = create_app(config.validated())
    runner = web.AppRunner(app)
    await runner.setup()
    terminal = None
    try:
        await web.TCPSite(runner, "127.0.0.1", http_port).start()
        base = f"http://127.0.0.1:{http_port}"
        admin = Person("admin@e2e.test", "Admin", "admin", "password-123")
        seller = Person("sam@e2e.test", "Sam", "seller", "password-123", pin="4321")
        token = await create_admin(admin)
        await create_staff([seller], app[KEYRING], shop="shop1")
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as s:
            r = await s.post(f"{base}/api/v1/shops/shop1/products",
                             json={"sku": "101", "name": "Oolong 乌龙茶", "price": 890,
                                   "currency": "EUR", "stock": 5})
            assert r.status == 200, await r.text()

        # 3. the technician's path: provision (registers with the cloud), broker-config, bundle
        assert await _cli("device", "provision", "--id", "e2e1", "--shop", "shop1",
                          "--cloud", base, "--token", token, "--out", str(devices),
                          "--broker", f"mqtt://127.0.0.1:{plain_port}") == 0
        await _broker_config(tmp_path, devices, out, tls_port, plain_port, certs)
        broker.proc.send_signal(signal.SIGHUP)  # Mosquitto re-reads passwd + acl
        member = await asyncio.to_thread(member_from_dir, devices / "e2e1")
        assert sorted(p.name for p in member.firmware_dir.glob("*.mpy"))  # compiled, not .py
        assert "e2e1" in capsys.readouterr().out

        # 4. the bundle on the unix port; a seller logs in by PIN and keys a sale
        terminal = Terminal(member.run_dir, member.config, firmware_dir=member.firmware_dir)
        await asyncio.to_thread(terminal.start)
        await asyncio.to_thread(terminal.wait_display, "online", 45)
        await asyncio.to_thread(terminal.wait_log, "cmd roster applied", 20)
        await asyncio.to_thread(terminal.wait_log, "cmd catalog applied", 20)
        await asyncio.to_thread(terminal.press, "A4321#")
        await asyncio.to_thread(terminal.wait_display, "LOGIN OK", 15)
        await asyncio.to_thread(terminal.press, "B101#2##1780#")
        await asyncio.to_thread(terminal.wait_display, "SALE #", 15)

        # 5. the sale is an order in the cloud, paid, from this terminal (the API says so)
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as s:
            async with asyncio.timeout(30):
                while True:
                    r = await s.get(f"{base}/api/v1/orders")
                    listing = await r.json()
                    orders = listing.get("orders", listing.get("items", []))
                    if orders:
                        break
                    await asyncio.sleep(0.3)
        order = orders[0]
        assert order["source"] == "terminal" and order["device"] == "e2e1"
        assert order["total"] == 1780 and order["currency"] == "EUR"
        assert order["state"] == "completed"  # an in-person sale paid in full (#16 item 2)
        assert "MemoryError" not in terminal.output()
    finally:
        if terminal is not None:
            await asyncio.to_thread(terminal.stop)
        await runner.cleanup()
        broker.stop()
