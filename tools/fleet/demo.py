"""`fingerpos demo`: the whole system on one machine, on the embedded defaults.

The cloud runs in this process (aiohttp + embedded amqtt broker + SQLite in a
fresh data dir, migrations applied); a shop, its catalogue and its people are
seeded; N terminals are provisioned and bundled through the technician's own
code path and run as real firmware under the MicroPython unix port, each with
a sensor simulator and a scripted seller; a scripted buyer places and pays web
orders. It runs until Ctrl-C (or --duration), then stops the buyer, the
sellers, every firmware process group and the cloud, in that order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import signal
import socket
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from aiohttp import web
from fingerpos.cloud.app import create_app
from fingerpos.cloud.commerce.catalog import terminal_catalog
from fingerpos.cloud.core import db
from fingerpos.cloud.core.appkeys import CONFIG, KEYRING
from fingerpos.cloud.core.config import Config
from fingerpos.cloud.ingest.wiring import BIND_ENV, BROKER_URL
from fingerpos.cloud.models.orders import Order
from fingerpos.tools.device.provision import CloudEndpoint
from fingerpos.tools.fleet import shop
from fingerpos.tools.fleet.buyer import Buyer
from fingerpos.tools.fleet.fleet import Fleet
from fingerpos.tools.fleet.provisioning import provision_fleet
from fingerpos.tools.fleet.seller import Staff, enrol
from fingerpos.tools.fleet.staffdesk import StaffDesk

STATUS_EVERY_S = 10.0


class DemoError(Exception):
    """Why the demo cannot start (one line for the user)."""


@dataclass
class DemoOptions:
    port: int = 8080
    terminals: int = 3
    data_dir: Path | None = None
    rate: float = 4.0            # sales per minute per terminal
    buyer_every_s: float = 12.0  # one web order this often (on average)
    duration: float | None = None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _fresh_dir(path: Path | None) -> Path:
    if path is None:
        return Path(tempfile.mkdtemp(prefix="fingerpos-demo-"))
    path = Path(path)
    if path.exists() and any(path.iterdir()):
        raise DemoError(f"{path} is not empty: the demo starts from a fresh data dir "
                        "(give a new --data-dir, or omit it for a temporary one)")
    path.mkdir(parents=True, exist_ok=True)
    return path


async def _migrate(url: str) -> list[str]:
    ctx = await db.open_context(url)
    try:
        with ctx:
            return await db.migrate(ctx)
    finally:
        await ctx.close_connections()


class Demo:
    def __init__(self, opts: DemoOptions, say: Callable[[str], None]) -> None:
        self.opts = opts
        self.say = say
        self.stop = asyncio.Event()
        self.runner: web.AppRunner | None = None
        self.fleet: Fleet | None = None
        self.buyer: Buyer | None = None
        self.staff: dict[str, list[Staff]] = {}

    async def run(self) -> int:
        # amqtt logs every client that connects without a full CONNECT at ERROR level; the
        # firmware's link drops its socket on purpose around each fingerprint session.
        logging.getLogger("amqtt").setLevel(logging.CRITICAL)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.stop.set)
        stopped = asyncio.create_task(self.stop.wait())
        try:
            await self._open_cloud()
            starting = asyncio.create_task(self._populate())
            # Ctrl-C during start-up cancels it at once: what already runs is stopped below
            await asyncio.wait({starting, stopped}, return_when=asyncio.FIRST_COMPLETED)
            if not starting.done():
                starting.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await starting
            else:
                starting.result()  # a DemoError from start-up
                await self._watch()
        finally:
            stopped.cancel()
            await self._shutdown()
        return 0

    async def _open_cloud(self) -> None:
        """Data dir, migrations, the cloud app. Runs in the main task: runner.setup() enters
        the database context here, and every task made afterwards inherits it (the shared
        TortoiseContext must not be entered by concurrent tasks: its token is per object)."""
        o = self.opts
        data = _fresh_dir(o.data_dir)
        os.environ[BIND_ENV] = f"127.0.0.1:{_free_port()}"  # never collide with a real 1883
        config = Config(data_dir=data, port=o.port, key_secret=secrets.token_hex(16)).validated()
        self.say(f"fingerpos demo: data in {data}")
        applied = await _migrate(config.database_url)
        self.say(f"database {config.database_url} ({len(applied)} migrations applied)")
        app = create_app(config)
        self.app = app
        self.runner = web.AppRunner(app)
        await self.runner.setup()  # database, monitor, embedded broker, ingestion
        try:
            await web.TCPSite(self.runner, config.host, config.port).start()
        except OSError as e:
            raise DemoError(f"cannot listen on {config.host}:{config.port}: "
                            f"{e.strerror or e} (choose another --port)") from None
        base = f"http://{config.host}:{config.port}"
        self.base = base
        self.say(f"cloud on {base}/ with the embedded MQTT broker on {app[BROKER_URL]}")

    async def _populate(self) -> None:
        o, app, base = self.opts, self.app, self.base
        data = Path(app[CONFIG].data_dir)
        persons = shop.people(sellers=o.terminals)
        admin = next(p for p in persons if p.role == "admin")
        token = await shop.create_admin(admin)
        async with aiohttp.ClientSession() as s:
            n = await shop.seed_catalogue(s, base, token)
            n2 = await shop.seed_shanghai(s, base, token)
        await shop.create_staff(persons, app[KEYRING])
        self.say(f"shop {shop.SHOP} ({shop.SHOP_NAME}): {n} products")
        self.say(f"shop {shop.SHANGHAI} ({shop.SHANGHAI_SETTINGS['name']}): {n2} products, "
                 f"CNY, {shop.SHANGHAI_SETTINGS['timezone']}")
        self.persons = persons
        self.desk = StaffDesk(app)

        ids = [f"t{i + 1}" for i in range(o.terminals)]
        self.say(f"provisioning {len(ids)} terminals through `fingerpos device provision` + bundle:")
        members = await asyncio.to_thread(provision_fleet, CloudEndpoint(base, token),
                                          app[BROKER_URL], shop.SHOP, ids, data / "devices",
                                          self.say)
        self._banner()
        if self.stop.is_set():
            return
        self.fleet = Fleet(members)
        await asyncio.to_thread(self.fleet.start)
        self.say(f"{len(members)} terminals booting (MicroPython unix port, 128 KiB heap) ...")
        online = await asyncio.to_thread(self.fleet.wait_online, 60.0)
        self.say(f"online: {', '.join(online) or 'none yet'}")
        if self.stop.is_set():
            return
        await self._enrol(ids)
        counter = (await terminal_catalog(shop.SHOP))["items"]  # what the terminals were sent
        self.fleet.start_sellers(lambda dev: self.staff[dev], counter, o.rate)
        buyer = next(p for p in persons if p.role == "buyer")
        self.buyer = Buyer(base, buyer, every_s=o.buyer_every_s)
        self.buyer_task = asyncio.create_task(self.buyer.run(self.stop))
        self.say("sellers are selling, the buyer is buying; Ctrl-C stops everything")

    async def _enrol(self, ids: list[str]) -> None:
        """Each terminal's own seller enrols a finger there (cloud enrol_start, then the sensor)."""
        desk = self.desk
        sellers = [p for p in self.persons if p.role == "seller"]
        manager = next(p for p in self.persons if p.role == "manager")

        async def one(dev: str, person: shop.Person) -> None:
            who = Staff(person.id, person.name, person.pin, person.finger)
            boss = Staff(manager.id, manager.name, manager.pin, manager.finger)
            self.staff[dev] = [who, boss]
            assert self.fleet is not None
            t = self.fleet.terminals[dev]
            for attempt in (1, 2):  # a terminal that rebooted meanwhile lost the enrol_start
                try:
                    await desk.start_enrolment(dev, who.id)
                    await asyncio.to_thread(enrol, t, who, 20.0)
                    slot = await desk.wait_enrolled(dev, who.id)
                    self.say(f"  {dev}: {person.name} enrolled finger {who.finger} (slot {slot})")
                    return
                except (TimeoutError, OSError) as e:
                    who.enrolled = False
                    why = str(e).splitlines()[0][:90]
                    with contextlib.suppress(TimeoutError, OSError):
                        await asyncio.to_thread(t.lift)
                    if attempt == 2:
                        self.say(f"  {dev}: enrolment of {person.name} failed ({why}; terminal "
                                 f"log: {t.logs[-3:]}); PIN logins only")

        await asyncio.gather(*(one(dev, sellers[i % len(sellers)]) for i, dev in enumerate(ids)))

    def _banner(self) -> None:
        say = self.say
        say("")
        say(f"  open  {self.base}/            buyer shop")
        say(f"        {self.base}/monitor     live order monitor (manager, admin)")
        say(f"        {self.base}/api/v1/openapi.json")
        say("  logins (email / password / terminal PIN):")
        for p in self.persons:
            pin = f"  PIN {p.pin}" if p.pin else ""
            say(f"    {p.role:<8} {p.email:<32} {p.password}{pin}")
        say("")

    async def _counts(self) -> dict[str, int]:
        web_n = await Order.filter(source="web").count()
        term_n = await Order.filter(source="terminal").count()
        return {"web": web_n, "terminal": term_n}

    async def _watch(self) -> None:
        started = time.monotonic()
        while not self.stop.is_set():
            left = STATUS_EVERY_S
            if self.opts.duration is not None:
                left = min(left, self.opts.duration - (time.monotonic() - started))
                if left <= 0:
                    return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop.wait(), timeout=left)
            if self.fleet is None:
                continue
            counts = await self._counts()
            b = self.buyer.stats if self.buyer else None
            self.say(f"[{time.monotonic() - started:5.0f}s] orders: {counts['terminal']} from "
                     f"terminals, {counts['web']} web"
                     + (f" (buyer: {b.paid} paid, {b.errors} errors; {b.last})" if b else ""))
            for line in self.fleet.status_lines():
                self.say("  " + line)

    async def _shutdown(self) -> None:
        self.stop.set()
        self.say("stopping: buyer, sellers, terminals, cloud ...")
        task = getattr(self, "buyer_task", None)
        if task is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(task, timeout=10)
        if self.fleet is not None:
            await asyncio.to_thread(self.fleet.stop)
        if self.runner is not None:
            await self.runner.cleanup()
        self.say("stopped")


def run(opts: DemoOptions, say: Callable[[str], None] = print) -> int:
    return asyncio.run(Demo(opts, say).run())
