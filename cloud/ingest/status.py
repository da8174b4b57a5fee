"""StatusDesk: `online` / `offline` on fp/v1/dev/{id}/status (the latter is the will).

The status payload is not signed (protocol/README.md: the broker's ACL lets
only the device write it), so it only moves the online flag and last-seen
time; on `online` the device gets the time and its roster as signed commands.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

from fingerpos.cloud.fleet.commands import CommandSender, UnknownDevice
from fingerpos.cloud.ingest.stats import IngestStats
from fingerpos.cloud.models.devices import Device

log = logging.getLogger(__name__)

_STATES = {b"online": True, b"offline": False}


class StatusDesk:
    def __init__(self, commands: CommandSender, stats: IngestStats,
                 notify: Callable[[str, dict], Awaitable[None]],
                 roster: Callable[[str], Awaitable[dict]],
                 welcome: Callable[[str], Awaitable[object]] | None = None) -> None:
        self.commands = commands
        self.welcome = welcome  # more commands for a device that came online (the catalogue)
        self.stats = stats
        self.notify = notify
        self.roster = roster

    async def handle(self, dev: str, payload: bytes) -> str | None:
        """Apply one status message. Returns a drop reason or None."""
        online = _STATES.get(bytes(payload))
        if online is None:
            return "bad_status"
        registry = self.commands.registry
        st = registry.cached(dev) or await registry.load(dev)
        if st is None:
            return "unknown_device"
        if st.revoked:
            return "revoked"
        now = time.time()
        await Device.filter(id=dev).update(online=online, last_seen=_utc(now))
        await self.notify("device", {"id": dev, "online": online, "last_seen": now})
        if online:
            try:
                await self.commands.send(dev, "time", {"now": int(now)})
                await self.commands.send(dev, "roster", await self.roster(dev))
                if self.welcome is not None:
                    await self.welcome(dev)
            except UnknownDevice:  # revoked a moment ago
                return "revoked"
        return None


def _utc(unix: float):
    from datetime import UTC, datetime
    return datetime.fromtimestamp(unix, UTC)
