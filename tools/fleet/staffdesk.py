"""Finger enrolment driven from the cloud side, for the demo and the end-to-end tests.

The cloud starts an enrolment with the signed `enrol_start` command; the
terminal's `enrol` event makes the cloud record (terminal, slot) -> seller
(cloud/fleet/roster.py). The roster a terminal gets on its next `online` carries
the slot; wait_enrolled() also sends the roster once the slot is stored, so a
reconnect that raced the enrol event never leaves the terminal without it.
Everything goes through the cloud's own signed command sender.
"""

from __future__ import annotations

import asyncio

from aiohttp import web
from fingerpos.cloud.core.appkeys import COMMANDS, KEYRING
from fingerpos.cloud.fleet import roster
from fingerpos.cloud.models.users import FingerSlot


class StaffDesk:
    def __init__(self, app: web.Application) -> None:
        self.app = app

    async def send_roster(self, device_id: str) -> None:
        data = await roster.roster_of(device_id, self.app[KEYRING])
        await self.app[COMMANDS].send(device_id, "roster", data)

    async def start_enrolment(self, device_id: str, seller_id: str) -> None:
        await self.app[COMMANDS].send(device_id, "enrol_start", {"seller": seller_id})

    async def wait_enrolled(self, device_id: str, seller_id: str, timeout: float = 30.0) -> int:
        """The sensor slot of the seller's finger once the cloud stored it."""
        async with asyncio.timeout(timeout):
            while True:
                row = await FingerSlot.filter(device=device_id, user_id=int(seller_id)) \
                    .order_by("-slot").first()
                if row is not None:
                    break
                await asyncio.sleep(0.2)
        await self.send_roster(device_id)
        return row.slot
