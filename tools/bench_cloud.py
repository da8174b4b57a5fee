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
    def __init__(self, db_url: str, mqtt_url: str, data_dir: Path, port: int) -> None:
        self.config = Config(db_url=db_url, mqtt_url=mqtt_url, data_dir=data_dir, port=port,
                             key_secret=secrets.token_hex(16), timer_interval_s=3600.0)
        self.feed_url = f"http://127.0.0.1:{port}/api/v1/monitor/ws"
        self.auth: dict[str, str] = {}
        self.app: web.Application | None = None
        self._runner: web.AppRunner | None = None

    async def __aenter__(self) -> BenchCloud:
        ctx = await db.open_context(self.config.database_url)
        try:
            with ctx:
                await db.migrate(ctx)
                admin = await create_user("bench@example.com", secrets.token_hex(8), Role.ADMIN)
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

    def stats(self) -> dict:
        assert self.app is not None
        return self.app[INGESTION].stats.snapshot()

    async def __aexit__(self, t: type[BaseException] | None, e: BaseException | None,
                        tb: TracebackType | None) -> None:
        if self._runner:
            await self._runner.cleanup()
