"""Run the ingestion alone in a process, for the crash tests: runner.py DB_URL MQTT_URL CLIENT_ID

Prints "ready" once subscribed; runs until killed. (The tests SIGKILL it.)
"""

from __future__ import annotations

import asyncio
import sys

from fingerpos.cloud.ingest.pipeline import Ingestion
from fingerpos.cloud.ingest.registry import DeviceRegistry
from tortoise import Tortoise

from tests.support.ingest_env import MODELS, open_hex


async def main(db_url: str, mqtt_url: str, client_id: str) -> None:
    await Tortoise.init(db_url=db_url, modules={"models": MODELS})
    ing = Ingestion(mqtt_url, DeviceRegistry(open_hex), client_id=client_id)
    await ing.start()
    print("ready", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
