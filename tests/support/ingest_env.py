"""Test set-up for the ingestion: a database with the device models, registered devices.

Until the app's DeviceKeyring is used here, test devices keep their key as
hex in key_enc (`open_hex`): these tests are about ingestion, not key storage.
"""

from __future__ import annotations

import itertools
import os

import pytest
from fingerpos.cloud.fleet.registry import DeviceRegistry
from fingerpos.cloud.ingest.pipeline import Ingestion
from fingerpos.cloud.models.devices import Device
from tortoise import Tortoise
from tortoise.backends.base.executor import EXECUTOR_CACHE

MODELS = ["fingerpos.cloud.models.devices"]


def open_hex(sealed: str, device_id: str) -> bytes:
    return bytes.fromhex(sealed)


async def init_db(url: str, create: bool = True) -> None:
    # tortoise caches each model's INSERT text per connection name, not per dialect;
    # these tests switch between SQLite and PostgreSQL in one process.
    EXECUTOR_CACHE.clear()
    await Tortoise.init(db_url=url, modules={"models": MODELS})
    if create:
        await Tortoise.generate_schemas(safe=True)


async def register(dev: str, shop: str = "shop1", key: bytes | None = None) -> bytes:
    key = key or os.urandom(32)
    await Device.create(id=dev, shop=shop, key_enc=key.hex())
    return key


_numbers = itertools.count(1)


@pytest.fixture
async def ingest_db(request, tmp_path):
    """SQLite, or with FINGERPOS_TEST_DB=postgres a fresh database on the session's cluster."""
    if os.environ.get("FINGERPOS_TEST_DB", "sqlite") == "postgres":
        cluster = request.getfixturevalue("postgres")
        name = f"fp_ingest_{os.getpid()}_{next(_numbers)}"
        await cluster.execute(f"CREATE DATABASE {name}")
        await init_db(cluster.url(name))
    else:
        await init_db(f"sqlite://{tmp_path}/cloud.db")
    yield
    await Tortoise.close_connections()


@pytest.fixture
async def ingestion(ingest_db, broker, topic_prefix):
    feed: list[tuple[str, dict]] = []

    async def notify(kind: str, payload: dict) -> None:
        feed.append((kind, payload))

    async def roster(dev: str) -> dict:
        return {"sellers": [{"id": "s1", "name": "Ann", "slots": [1], "pin": "", "manager": False}]}

    ing = Ingestion(broker.url, DeviceRegistry(open_hex), notify=notify, roster=roster,
                    client_id="cloud-" + topic_prefix, gap_grace=0.5)
    ing.feed = feed
    await ing.start()
    yield ing
    await ing.stop()
