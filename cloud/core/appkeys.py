"""Typed keys for everything the cloud keeps on its aiohttp Application.

One module so every part (core, ingestion, commerce pages) agrees on them.
"""

from __future__ import annotations

from typing import Any, Protocol

from aiohttp import web
from fingerpos.cloud.core.config import Config
from fingerpos.cloud.core.keyring import DeviceKeyring
from fingerpos.cloud.core.metrics import Registry


class CommandSender(Protocol):
    """What the core needs from cloud-b's signed command sender (cloud/fleet/commands.py).

    `send` signs `data` as a command of type `typ` for `device_id`, allocating the
    device's next command seq in the database, and publishes it (QoS 1).
    """

    async def send(self, device_id: str, typ: str, data: dict[str, Any]) -> None: ...


CONFIG = web.AppKey("config", Config)
METRICS = web.AppKey("metrics", Registry)
# Set by cloud-b's ingestion cleanup_ctx; absent until it runs (the engine then skips
# the terminal prompt and records that it could not send it).
COMMANDS = web.AppKey("commands", CommandSender)
MONITOR = web.AppKey("monitor", object)      # fingerpos.cloud.core.monitor.Hub (object: avoids an import cycle)
THROTTLE = web.AppKey("throttle", object)    # fingerpos.cloud.accounts.throttle.Throttle (failed logins)
KEYRING = web.AppKey("keyring", DeviceKeyring)
