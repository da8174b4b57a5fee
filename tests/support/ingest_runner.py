"""Run the real cloud app (create_app, ingestion and order engine, no HTTP site) in a
process of its own, for the crash tests:

    python -m tests.support.ingest_runner DB_URL MQTT_URL CLIENT_ID DATA_DIR

Prints "ready" once subscribed; runs until killed. (The tests SIGKILL it.)
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from aiohttp import web
from fingerpos.cloud.app import create_app
from fingerpos.cloud.core.config import Config

SECRET = "crash-test-secret-0123456789abcdef"


def config(db_url: str, mqtt_url: str, data_dir: str) -> Config:
    return Config(db_url=db_url, mqtt_url=mqtt_url, data_dir=Path(data_dir), port=0,
                  key_secret=SECRET, timer_interval_s=3600.0)


async def main(db_url: str, mqtt_url: str, client_id: str, data_dir: str) -> None:
    os.environ["FINGERPOS_WORKER"] = client_id  # the persistent MQTT session's name
    runner = web.AppRunner(create_app(config(db_url, mqtt_url, data_dir)))
    await runner.setup()  # database, monitor, timers, ingestion
    print("ready", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:5]))
