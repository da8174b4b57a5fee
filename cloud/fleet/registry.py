"""DeviceRegistry: the ingestion's cache of device keys and sequence trackers.

A key is decrypted once and kept until the database says it changed: `refresh()`,
called before each ingestion batch and before commands are signed, drops what a
rotation, revocation or registration on any worker made stale, within
keychanges.CHECK_S (see keychanges.py for why a version and not NOTIFY). `ttl`
(30 s) stays as the backstop for a row changed behind the cloud's back. The
SeqTracker of a device is
seeded from the database the first time the device is seen, and reseeded
after a failed commit, because the tracker may then hold events that never
reached the database.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from fingerpos.cloud.core.sql import dialect, q
from fingerpos.cloud.fleet import keychanges
from fingerpos.cloud.models.devices import Device
from fingerpos.protocol.chain import SeqTracker
from tortoise import connections

log = logging.getLogger(__name__)

# The boundary to the app's key cipher: (sealed text, device id) -> the 32-byte
# key; cloud-a's DeviceKeyring.open. Raises ValueError when it does not open.
OpenKey = Callable[[str, str], bytes]


@dataclass
class DeviceState:
    id: str
    shop: str
    key: bytes
    revoked: bool
    tracker: SeqTracker
    loaded: float = field(default_factory=time.monotonic)
    acked_sent: int = 0  # the last `upto` sent in an ack command
    acked_at: float = 0.0  # when (monotonic) that ack went out
    gap_since: float | None = None  # when the current hole was first seen
    gap_alarmed: bool = False


class DeviceRegistry:
    """Look up devices by id. `open_key` decrypts Device.key_enc."""

    def __init__(self, open_key: OpenKey, ttl: float = 30.0, unknown_ttl: float = 5.0) -> None:
        self.open_key = open_key
        self.ttl = ttl
        self.unknown_ttl = unknown_ttl
        self._devices: dict[str, DeviceState] = {}
        self._unknown: dict[str, float] = {}
        self.keys_version: int | None = None  # keychanges' counter when last read
        self._checked = -1e9  # monotonic time of that read

    async def refresh(self) -> None:
        """Forget the keys and revocations the database changed since the last call
        (at most one read every keychanges.CHECK_S). Trackers are kept: a forgotten
        device is re-read by `load` on its next event."""
        now = time.monotonic()
        if now - self._checked < keychanges.CHECK_S:
            return
        conn = connections.get("default")
        version = await keychanges.current(conn)
        seen = self.keys_version
        if seen is None or version < seen:  # first read, or another database: all of it
            stale = list(self._devices) + list(self._unknown)
        elif version > seen:
            stale = await keychanges.changed_since(conn, seen)
        else:
            stale = []
        for dev in stale:
            self._unknown.pop(dev, None)
            st = self._devices.get(dev)
            if st is not None:
                st.loaded = -1e9  # cached() says no: the next use loads it again
        self.keys_version, self._checked = version, now

    def cached(self, device_id: str) -> DeviceState | None:
        """The cached state if fresh, else None (call `load`)."""
        st = self._devices.get(device_id)
        if st is not None and time.monotonic() - st.loaded < self.ttl:
            return st
        return None

    def known_unknown(self, device_id: str) -> bool:
        """True when the device was looked up recently and does not exist."""
        t = self._unknown.get(device_id)
        return t is not None and time.monotonic() - t < self.unknown_ttl

    async def load(self, device_id: str) -> DeviceState | None:
        """Fetch the device (key, revoked) and, the first time, seed its tracker."""
        row = await Device.get_or_none(id=device_id)
        if row is None:
            self._unknown[device_id] = time.monotonic()
            self._devices.pop(device_id, None)
            return None
        self._unknown.pop(device_id, None)
        try:
            key = self.open_key(row.key_enc, row.id)
        except ValueError as e:
            log.error("device %s: its stored key cannot be opened (%s); treating it as revoked",
                      device_id, e)
            key, row.revoked = b"", True
        old = self._devices.get(device_id)
        if old is not None:  # refresh key and revocation, keep the tracker
            old.key, old.revoked, old.shop, old.loaded = key, row.revoked, row.shop, time.monotonic()
            return old
        st = DeviceState(device_id, row.shop, key, row.revoked, await seed_tracker(row.id, row.acked))
        st.acked_sent = row.acked
        self._devices[device_id] = st
        return st

    async def reseed(self, device_ids: list[str]) -> None:
        for dev in device_ids:
            st = self._devices.get(dev)
            row = await Device.get_or_none(id=dev)
            if st is not None and row is not None:
                st.tracker = await seed_tracker(dev, row.acked)

    def forget(self, device_id: str) -> None:
        """Drop a device from the cache (after revoke/rotate on this worker)."""
        self._devices.pop(device_id, None)

    def all(self) -> list[DeviceState]:
        return list(self._devices.values())


async def seed_tracker(device_id: str, acked: int) -> SeqTracker:
    """A tracker that knows every stored event of the device from `acked` on.

    Events below `acked` are all stored (the ack said so); above it, the stored
    ones are replayed into the tracker so duplicates stay duplicates.
    """
    conn = connections.get("default")
    d = dialect(conn)
    _, rows = await conn.execute_query(
        q(d, "SELECT seq, prev, hash FROM device_event WHERE device_id = ? AND seq >= ?"
             " ORDER BY seq"), [device_id, acked])
    rows = [tuple(r) for r in rows]
    last_hash = ""
    if rows and rows[0][0] == acked:
        last_hash = rows[0][2]
        rows = rows[1:]
    tracker = SeqTracker(committed=acked, last_hash=last_hash)
    for seq, prev, h in rows:
        tracker.observe(seq, prev, h)
    return tracker


async def stored_between(device_id: str, low: int, high: int) -> list[tuple[int, str, str]]:
    """(seq, prev, hash) of the stored events of a device with low <= seq <= high."""
    conn = connections.get("default")
    _, rows = await conn.execute_query(
        q(dialect(conn), "SELECT seq, prev, hash FROM device_event WHERE device_id = ?"
                         " AND seq >= ? AND seq <= ? ORDER BY seq"), [device_id, low, high])
    return [tuple(r) for r in rows]
