"""BenchCloud: the whole cloud app running in this process for `fingerpos bench ingest`.

A fresh database (migrated), create_app with the ingestion on the bench's
Mosquitto, an HTTP site on a loopback port for the WebSocket feed, an admin
API token, and devices registered with keys sealed by the app's keyring.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from types import TracebackType

from aiohttp import web
from fingerpos.cloud.accounts.auth import create_api_token
from fingerpos.cloud.accounts.users import create_user
from fingerpos.cloud.app import create_app
from fingerpos.cloud.core import db
from fingerpos.cloud.core.appkeys import KEYRING
from fingerpos.cloud.core.config import Config
from fingerpos.cloud.ingest.wiring import INGESTION
from fingerpos.cloud.models.devices import Device
from fingerpos.cloud.models.shops import Shop
from fingerpos.cloud.models.users import Role

SHOP = "bench"


class BenchCloud:
    def __init__(self, db_url: str, mqtt_url: str, data_dir: Path, port: int,
                 secret: str | None = None) -> None:
        self.config = Config(db_url=db_url, mqtt_url=mqtt_url, data_dir=data_dir, port=port,
                             key_secret=secret or secrets.token_hex(16), timer_interval_s=3600.0)
        self.feed_url = f"http://127.0.0.1:{port}/api/v1/monitor/ws"
        self.auth: dict[str, str] = {}
        self.app: web.Application | None = None
        self._runner: web.AppRunner | None = None

    async def __aenter__(self) -> BenchCloud:
        ctx = await db.open_context(self.config.database_url)
        try:
            with ctx:
                await db.migrate(ctx)
                admin = await create_user(f"bench-{secrets.token_hex(4)}@example.com",
                                          secrets.token_hex(8), Role.ADMIN)
                self.auth = {"Authorization": "Bearer " + await create_api_token(admin)}
                await Shop.get_or_create(id=SHOP)
        finally:
            await ctx.close_connections()
        self.app = create_app(self.config)
        self._runner = web.AppRunner(self.app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.config.port).start()
        return self

    async def register(self, devices: list[tuple[str, str]]) -> None:
        assert self.app is not None
        ring = self.app[KEYRING]
        with self.app[db.DB]:
            await Device.bulk_create([
                Device(id=dev, shop=SHOP, key_enc=ring.seal(dev, bytes.fromhex(key)))
                for dev, key in devices])

    async def warm(self, devices: list[tuple[str, str]]) -> None:
        """Load the devices into the ingestion's registry (key opened, tracker seeded), as
        a running cloud has them: the streams measure steady state, not first contact."""
        assert self.app is not None
        registry = self.app[INGESTION].registry
        with self.app[db.DB]:
            for dev, _ in devices:
                await registry.load(dev)

    async def stats(self) -> dict:
        assert self.app is not None
        return self.app[INGESTION].stats.snapshot()

    async def __aexit__(self, t: type[BaseException] | None, e: BaseException | None,
                        tb: TracebackType | None) -> None:
        if self._runner:
            await self._runner.cleanup()


class WorkersCloud:
    """`--workers N`: the cloud as N `fingerpos serve --share-group` processes
    (tools/serve_workers.py) on a database seeded beforehand (tools/serve_workers.py's
    seed_fleet, with the workers' secret). The feed is worker 0's: on PostgreSQL every
    worker's messages reach it through NOTIFY, as a monitor sees them. The devices are
    not warmed: each worker loads a device at its first event (one query)."""

    def __init__(self, n: int, db_url: str, mqtt_url: str, data_dir: Path, secret: str,
                 token: str) -> None:
        from fingerpos.tools.serve_workers import ServeWorkers
        self.workers = ServeWorkers(n, db_url, mqtt_url, secret, data_dir / "workers")
        self.feed_url = self.workers.url(0) + "/api/v1/monitor/ws"
        self.auth = {"Authorization": "Bearer " + token}

    async def __aenter__(self) -> WorkersCloud:
        import asyncio
        await asyncio.to_thread(self.workers.__enter__)
        return self

    async def register(self, devices: list[tuple[str, str]]) -> None:
        return None  # seeded before the broker config was generated

    async def warm(self, devices: list[tuple[str, str]]) -> None:
        return None

    async def stats(self) -> dict:
        """The ingestion counters of /metrics, summed over the workers."""
        import aiohttp
        total: dict = {"dropped": {}}
        async with aiohttp.ClientSession() as http:
            for i in range(len(self.workers.ports)):
                async with http.get(self.workers.url(i) + "/metrics") as r:
                    text = await r.text()
                for line in text.splitlines():
                    if line.startswith("fingerpos_ingest_") and "_total " in line \
                            and "{" not in line:
                        name, value = line.split()
                        key = name[len("fingerpos_ingest_"):-len("_total")]
                        total[key] = total.get(key, 0) + int(float(value))
                    elif line.startswith("fingerpos_dropped_total{"):
                        reason = line.split('"')[1]
                        n = int(float(line.split()[-1]))
                        if n:
                            total["dropped"][reason] = total["dropped"].get(reason, 0) + n
        return total

    async def __aexit__(self, *exc: object) -> None:
        import asyncio
        await asyncio.to_thread(self.workers.stop)
