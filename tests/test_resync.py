"""Nothing rests on broker persistence (issue #14 item 2): a terminal that comes online is
sent again what it should be showing, from the database.

The real firmware (the flashed bundle on the MicroPython unix port) talks to Mosquitto
started with exactly the files `fingerpos broker-config` writes, and to the real cloud.
While the terminal is off, a card-paid web order prompts it and a receipt is printed at
it (both wait in the broker's session for the terminal); Mosquitto is SIGKILLed; a buyer
then chooses cash at the counter for a second order (the cloud cannot reach the broker).
Broker (with its persistence directory emptied: nothing survives there), cloud and
terminal restart. The terminal must show both prompts and print the receipt, and a
second `online` must neither announce them again nor print twice.
"""

from __future__ import annotations

import asyncio
import base64
import os
import pwd
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from fingerpos import protocol
from fingerpos.cloud.accounts.auth import create_api_token
from fingerpos.cloud.accounts.users import create_user
from fingerpos.cloud.app import create_app
from fingerpos.cloud.core.appkeys import KEYRING
from fingerpos.cloud.core.config import Config
from fingerpos.cloud.models.users import Role
from fingerpos.tools.cli import main
from fingerpos.tools.fleet.provisioning import member_from_dir
from fingerpos.tools.fleet.shop import Person, create_admin, create_staff
from fingerpos.tools.fleet.terminal import Terminal
from fingerpos.tools.mosquitto import Mosquitto, free_port

from tests.conftest import in_app
from tests.support.firmware import KEY, Cloud, assert_healthy, provision, run_terminal
from tests.test_broker_config import make_certs

DEV = "rs1"


async def _cli(*argv: str) -> int:
    return await asyncio.to_thread(main, list(argv))


class Site:
    """The production pieces of one test: generated broker files, Mosquitto, the cloud."""

    def __init__(self, tmp: Path, db_url: str) -> None:
        self.tmp, self.db_url = tmp, db_url
        self.devices, self.out, self.state = tmp / "devices", tmp / "broker", tmp / "state"
        self.devices.mkdir()
        self.certs = make_certs(tmp / "certs")
        self.tls_port, self.plain_port, self.http_port = free_port(), free_port(), free_port()
        self.base = f"http://127.0.0.1:{self.http_port}"
        self.secret = secrets.token_hex(16)
        self.broker: Mosquitto | None = None
        self.runner: web.AppRunner | None = None

    async def broker_config(self) -> None:
        assert await _cli(
            "broker-config", "--out", str(self.out), "--devices-from", str(self.devices),
            "--tls-port", str(self.tls_port), "--loopback-port", str(self.plain_port),
            "--run-as", pwd.getpwuid(os.geteuid()).pw_name,
            "--persistence-dir", str(self.state),
            *sum(([f"--{k}", v] for k, v in self.certs.items()), [])) == 0

    def start_broker(self) -> None:
        if self.broker is None:
            self.broker = Mosquitto(config_file=self.out / "mosquitto.conf",
                                    port=self.plain_port, workdir=self.tmp / "mosq")
            self.broker.dir.mkdir()
        self.broker.start()

    def kill_broker(self, empty: bool) -> None:
        """SIGKILL: nothing is saved on the way out; `empty` wipes what was saved before."""
        assert self.broker is not None and self.broker.proc is not None
        self.broker.proc.kill()
        self.broker.proc.wait(10)
        self.broker.proc = None
        if empty:
            shutil.rmtree(self.state, ignore_errors=True)
            self.state.mkdir()

    async def start_cloud(self) -> web.Application:
        pw = (self.out / "cloud-password").read_text().strip()
        config = Config(db_url=self.db_url, data_dir=self.tmp, port=self.http_port,
                        mqtt_url=f"mqtt://cloud:{pw}@127.0.0.1:{self.plain_port}",
                        key_secret=self.secret, timer_interval_s=3600.0)
        self.app = create_app(config.validated())
        self.runner = web.AppRunner(self.app)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.http_port).start()
        return self.app

    async def stop_cloud(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None

    async def api(self, method: str, path: str, token: str, body: dict | None = None) -> dict:
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as s:
            r = await s.request(method, self.base + path, json=body)
            assert r.status in (200, 201), f"{method} {path}: {r.status} {await r.text()}"
            return await r.json()


async def _wait(t: Terminal, what: str, *args: object) -> object:
    return await asyncio.to_thread(getattr(t, what), *args)


@pytest.mark.cloud  # on PostgreSQL too, in ./run test's second pass
async def test_prompts_and_print_jobs_outlive_a_broker_that_lost_everything(tmp_path,
                                                                            cloud_db_url):
    site = Site(tmp_path, cloud_db_url)
    await site.broker_config()
    site.start_broker()
    app = await site.start_cloud()
    terminal = None
    try:
        admin = await create_admin(Person("admin@resync.test", "Admin", "admin", "password-123"))
        seller = Person("sam@resync.test", "Sam", "seller", "password-123", pin="4321")
        await create_staff([seller], app[KEYRING], shop="shop1")
        with in_app(app):
            buyer = await create_api_token(await create_user(
                "bo@resync.test", "password-123", Role.BUYER, name="Bo"))
        await site.api("POST", "/api/v1/shops/shop1/products", admin,
                       {"sku": "101", "name": "Oolong 乌龙茶", "price": 890, "currency": "EUR",
                        "stock": 50})
        assert await _cli("device", "provision", "--id", DEV, "--shop", "shop1",
                          "--cloud", site.base, "--token", admin, "--out", str(site.devices),
                          "--broker", f"mqtt://127.0.0.1:{site.plain_port}") == 0
        await site.broker_config()
        # A restart, not SIGHUP: the new passwd and acl, and this broker then stays up
        # until it is killed (its session for the terminal is what gets lost).
        site.kill_broker(empty=False)
        site.start_broker()
        member = await asyncio.to_thread(member_from_dir, site.devices / DEV)
        terminal = Terminal(member.run_dir, member.config, firmware_dir=member.firmware_dir)
        await _wait(terminal, "start")
        await _wait(terminal, "wait_display", "online", 45)
        await _wait(terminal, "wait_log", "cmd catalog applied", 30)

        # The terminal goes off (power loss); its persistent session stays at the broker.
        await _wait(terminal, "kill")
        card = await site.api("POST", "/api/v1/orders", buyer,
                              {"shop": "shop1", "items": [{"sku": "101", "qty": 2}]})
        intent = await site.api("POST", f"/api/v1/orders/{card['id']}/payments", buyer,
                                {"provider": "sandbox", "version": 1})
        paid = await site.api("POST", f"/api/v1/pay/sandbox/{intent['id']}", buyer,
                              {"card_number": "4242 4242 4242 4242", "expiry": "12/30",
                               "cvc": "123"})
        job = await site.api("POST", f"/api/v1/orders/{card['id']}/print", admin,
                             {"device": DEV})
        assert job["device"] == DEV and job["sent"] is True  # handed to the broker

        site.kill_broker(empty=True)   # the queued order_new and print are gone
        cash = await site.api("POST", "/api/v1/orders", buyer,
                              {"shop": "shop1", "items": [{"sku": "101", "qty": 1}]})
        await site.api("POST", f"/api/v1/orders/{cash['id']}/payments", buyer,
                       {"provider": "cash", "version": 1})  # its prompt: broker unreachable

        # Everything restarts: the cloud too (whatever it still held in memory is gone).
        await site.stop_cloud()
        site.start_broker()
        app = await site.start_cloud()
        terminal.mark()
        await _wait(terminal, "restart")
        await _wait(terminal, "wait_display", f"NEW ORDER {card['id']}", 45)
        await _wait(terminal, "wait_display", f"CASH ORDER {cash['id']}", 30)
        await _wait(terminal, "wait_log", "cmd print applied", 30)
        await _wait(terminal, "wait_log", "cmd catalog applied", 30)
        receipt = terminal.printed
        assert b"101" in receipt  # the receipt (an ascii printer gets the SKU)

        # The re-sent prompt is usable: the buyer's pickup code hands the order over.
        await asyncio.to_thread(terminal.press, "A4321#")
        await _wait(terminal, "wait_display", "LOGIN OK", 15)
        await asyncio.to_thread(terminal.press, "C")
        await _wait(terminal, "wait_display", f"Order {card['id']} 17.80", 15)
        await asyncio.to_thread(terminal.press, "3" + paid["pickup_code"] + "#")
        await _wait(terminal, "wait_display", f"HANDOVER {card['id']} OK", 15)

        # A second `online` (the cloud restarts and reads the retained status) re-sends the
        # cash prompt the terminal shows: it is not announced again, nothing is printed.
        applied = sum("cmd order_new applied" in x for x in terminal.logs)
        since = terminal.control.end
        await site.stop_cloud()
        app = await site.start_cloud()
        await _wait(terminal, "wait_log", "cmd catalog applied", 30)
        assert sum("cmd order_new applied" in x for x in terminal.logs) > applied  # it came
        ctl = terminal.control
        shown = [x for i in range(since, ctl.end) for x in ctl.get(i).get("display", [])]
        assert not [x for x in shown if "ORDER" in x], shown    # ... and was shown already
        on = [v for _, v, _ in terminal.gpio_history("buzzer") if v]
        assert len(on) == 2 * 3, on   # three chirps per prompt (firmware/prompts.py), two prompts
        assert terminal.printed == receipt
        assert "MemoryError" not in terminal.output() and "Traceback" not in terminal.output()
    finally:
        if terminal is not None:
            await asyncio.to_thread(terminal.stop)
        await site.stop_cloud()
        if site.broker is not None:
            site.broker.stop()


@pytest.fixture
def firmware_terminal(tmp_path, broker, topic_prefix) -> Iterator[tuple[Terminal, Cloud]]:
    yield from run_terminal(tmp_path, broker.port, topic_prefix + "r")


def _notes(t: Terminal, since: int) -> list[str]:
    """The trade notes the display showed from control event `since` on, each time one
    appeared (a note re-shown after another one counts again)."""
    out: list[str] = []
    last = None
    for i in range(since, t.control.end):
        lines = t.control.get(i).get("display")
        if lines is None:
            continue
        note = next((x for x in lines if "ORDER" in x or x.startswith("PAID")), None)
        if note is not None and note != last:
            out.append(note)
        last = note
    return out


def test_the_firmware_takes_re_sent_prompts_and_print_parts_once(firmware_terminal):
    """What the cloud re-sends on every connect, as the terminal sees it (the test plays
    the cloud): a prompt it shows at that version, a `paid` it knows, a print part it
    printed, even before a reboot, change nothing; a new version is a new prompt."""
    t, cloud = firmware_terminal
    provision(t, cloud)
    since = t.control.end

    def prompt(order: int, version: int, **extra: object) -> dict:
        return {"order": order, "total": 500, "currency": "EUR", "version": version,
                "pickup_hash": protocol.pickup_hash(KEY, order, "1357"), **extra}

    paid = {"order": 61, "state": "paid", "version": 1, "total": 500}
    for typ, data in (("order_new", prompt(61, 1, pay="cash")), ("order_new", prompt(62, 1)),
                      ("order_new", prompt(61, 1, pay="cash")),   # re-sent
                      ("order_update", paid), ("order_new", prompt(62, 1)),   # re-sent
                      ("order_update", paid),                      # re-sent
                      ("order_new", prompt(62, 2))):               # a revision: new prompt
        cloud.send(typ, data)
    cloud.wait(lambda: sum("cmd order_new applied" in x for x in t.logs) >= 5, 20,
               "five prompts handled")
    t.wait_display("NEW ORDER 62")
    assert _notes(t, since) == ["CASH ORDER 61", "NEW ORDER 62", "PAID 61", "NEW ORDER 62"]

    parts = [b"\x1b@part one\n", b"part two\n\x1dV\x00", b"\x1b@job eight\n"]

    def part(job: int, n: int, of: int, raw: bytes) -> dict:
        return {"order": 61, "version": 1, "job": job, "part": n, "parts": of,
                "escpos": base64.b64encode(raw).decode()}

    for data in (part(7, 1, 2, parts[0]), part(7, 2, 2, parts[1]),
                 part(7, 1, 2, parts[0]), part(7, 2, 2, parts[1])):   # the job re-sent
        cloud.send("print", data)
    cloud.wait(lambda: sum("cmd print applied" in x for x in t.logs) >= 4, 20, "four prints")
    t.mark()
    t.restart()   # power cycle: what was printed is known from flash
    cloud.send("print", part(7, 2, 2, parts[1]))
    cloud.send("print", part(8, 1, 1, parts[2]))
    t.wait_log("cmd print applied", 30)
    t.wait_log("cmd print applied", 30)
    cloud.wait(lambda: len(cloud.of_type("printed")) >= 3, 20, "three printed events")
    assert t.printed == b"".join(parts)
    assert len(cloud.of_type("printed")) == 3
    assert_healthy(t)
