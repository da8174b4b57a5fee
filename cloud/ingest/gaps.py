"""GapWatch: holes in a device's seq that stay open past a grace period raise an alarm.

A hole never blocks later events (they are stored); it only holds the ack
back. With several workers a hole in one worker's tracker is often an event
another worker stored, so the watch looks in the database for the missing
seqs before it calls anything missing, and queues an ack when that closes it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from fingerpos.cloud.fleet.registry import DeviceRegistry, DeviceState, stored_between

log = logging.getLogger(__name__)


class GapWatch:
    def __init__(self, registry: DeviceRegistry, grace: float, shared: bool,
                 alarm: Callable[[str, str, str], Awaitable[None]],
                 ack_later: Callable[[str], None]) -> None:
        self.registry = registry
        self.grace = grace
        self.shared = shared
        self.alarm = alarm
        self.ack_later = ack_later

    async def run(self) -> None:
        while True:
            await asyncio.sleep(min(1.0, self.grace / 2))
            await self.check()

    async def check(self) -> None:
        """One round: one alarm per hole open longer than the grace period."""
        now = time.monotonic()
        for st in self.registry.all():
            if st.gap_since is None:
                continue
            if st.gap_alarmed:
                # Alarmed once; a shared worker still looks: the hole may be filled since
                # (the terminal resent it, another worker stored it), and until this
                # tracker knows, it holds the device's acks back.
                if self.shared and not await self.fill_from_db(st):
                    st.gap_since, st.gap_alarmed = None, False
                continue
            if now - st.gap_since < self.grace:
                if self.shared:  # another worker may have stored the hole
                    await self.fill_from_db(st)
                continue
            missing = await self.fill_from_db(st)
            if not missing:
                st.gap_since = None
                continue
            st.gap_alarmed = True
            log.warning("device %s: events %s..%s missing for %.0fs", st.id, missing[0],
                        missing[-1], now - st.gap_since)
            await self.alarm(st.id, "seq_gap",
                             f"{len(missing)} event(s) missing: seq {missing[0]}..{missing[-1]}")

    async def fill_from_db(self, st: DeviceState) -> list[int]:
        """Feed the tracker the missing seqs stored meanwhile; returns those still missing."""
        missing = st.tracker.missing()
        if not missing:
            return missing
        try:
            for seq, prev, h in await stored_between(st.id, missing[0], missing[-1]):
                st.tracker.observe(seq, prev, h)
        except Exception as e:  # the database is away: try on the next round
            log.info("gap check for %s failed: %s", st.id, e)
            return missing
        if st.tracker.committed > st.acked_sent:
            self.ack_later(st.id)
        return st.tracker.missing()
