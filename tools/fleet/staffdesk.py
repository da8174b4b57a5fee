"""The demo's cloud-side helper: rosters with PIN hashes and finger slots, the catalogue, enrolment.

Why this exists: the cloud's own roster (cloud/ingest/wiring.py roster_of)
carries no PIN hashes and no finger slots yet (users have no PIN field, enrol
events are stored but not folded into the roster), and the cloud never sends
the `catalog` command the firmware takes its prices from. Every `online`
makes the cloud send that bare roster, which would wipe the terminal's logins.
So `fingerpos demo` and the end-to-end tests, which run the cloud in their own
process, put this desk in its place (StaffDesk.install): on `online` the
terminal gets the catalogue and a roster whose PINs (known to the demo, which
made them) are hashed with the terminal's key (protocol.pin_hash) and whose
slots come from the terminal's stored `enrol` events. Everything still goes
through the cloud's real signed command sender (per-device atomic seq).
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from aiohttp import web
from fingerpos import protocol
from fingerpos.cloud.appkeys import COMMANDS, KEYRING
from fingerpos.cloud.ingest.wiring import INGESTION
from fingerpos.cloud.models.devices import Device, DeviceEvent
from fingerpos.cloud.models.shops import Product
from fingerpos.cloud.models.users import Role, User

log = logging.getLogger(__name__)
# The firmware (fw-core, 0.1.0) runs out of its 128 KiB heap during a fingerprint
# enrolment when it holds a 12-item catalogue (heap peak 127 KB with 3 items), so
# the terminals get the first products only until the firmware's catalogue is lighter.
COUNTER_ITEMS = 6


def _event_data(body: Any) -> dict:
    """A stored event's `data`: the ingestion keeps the whole body (JSON text or object)."""
    if isinstance(body, str):
        try:
            body = json.loads(body)
        except ValueError:
            return {}
    if isinstance(body, dict) and isinstance(body.get("data"), dict):
        return body["data"]
    return body if isinstance(body, dict) else {}


class StaffDesk:
    """pins: cloud user id (str) -> PIN, for the sellers and managers the demo created.

    assigned: device id -> the user ids who work at that counter. The roster of a
    device in it lists only them: with the whole shop's staff (4+ PIN hashes) the
    firmware (fw-core 0.1.0) runs out of its 128 KiB heap during an enrolment.
    """

    def __init__(self, app: web.Application, pins: dict[str, str],
                 assigned: dict[str, set[str]] | None = None) -> None:
        self.app = app
        self.pins = dict(pins)
        self.assigned = assigned if assigned is not None else {}

    def install(self) -> StaffDesk:
        """Answer every terminal's `online` with catalogue + this roster (replaces the bare one)."""
        self.app[INGESTION].status.roster = self.on_online
        return self

    async def on_online(self, device_id: str) -> dict:
        # Called by the cloud's StatusDesk, which sends `roster` with what this returns;
        # the catalogue goes first so prices are there before anyone logs in.
        try:
            await self.send_catalogue(device_id)
        except Exception as e:  # a catalogue that cannot go out must not cost the roster
            log.warning("catalogue for %s not sent: %s", device_id, e)
        return await self.roster(device_id)

    async def _device_key(self, device: Device) -> bytes:
        return self.app[KEYRING].open(device.key_enc, device.id)

    async def roster(self, device_id: str) -> dict:
        device = await Device.get_or_none(id=device_id)
        if device is None:
            return {"sellers": []}
        key = await self._device_key(device)
        slots = await self.slots(device_id)
        staff = await User.filter(shop_id=device.shop, disabled=False,
                                  role__in=[Role.SELLER, Role.MANAGER]).order_by("id")
        sellers = []
        only = self.assigned.get(device_id)
        for u in staff:
            sid = str(u.id)
            if only is not None and sid not in only:
                continue
            pin = self.pins.get(sid)
            sellers.append({"id": sid, "name": u.name[:16], "slots": slots.get(sid, []),
                            "pin": protocol.pin_hash(key, sid, pin) if pin else "",
                            "manager": u.role == Role.MANAGER,
                            "price": bool(u.can_change_price)})
        return {"sellers": sellers}

    async def slots(self, device_id: str) -> dict[str, list[int]]:
        """seller id -> sensor slots, from the terminal's stored `enrol` events."""
        out: dict[str, list[int]] = {}
        for ev in await DeviceEvent.filter(device_id=device_id, typ="enrol").order_by("seq"):
            data = _event_data(ev.body)
            seller, slot = data.get("seller"), data.get("slot")
            if isinstance(seller, str) and type(slot) is int and slot not in out.get(seller, []):
                out.setdefault(seller, []).append(slot)
        return out

    async def catalogue(self, shop: str) -> list[dict[str, Any]]:
        # Only what the terminal prices a sale with: names stay in the cloud (terminal RAM),
        # and at most COUNTER_ITEMS products (see COUNTER_ITEMS).
        rows = await Product.filter(shop_id=shop).order_by("sku").limit(COUNTER_ITEMS)
        return [{"sku": p.sku, "price": p.price, "currency": p.currency} for p in rows]

    async def send_catalogue(self, device_id: str) -> None:
        device = await Device.get_or_none(id=device_id)
        if device is not None:
            await self.app[COMMANDS].send(device_id, "catalog",
                                          {"items": await self.catalogue(device.shop)})

    async def send_roster(self, device_id: str) -> None:
        await self.app[COMMANDS].send(device_id, "roster", await self.roster(device_id))

    async def start_enrolment(self, device_id: str, seller_id: str) -> None:
        await self.app[COMMANDS].send(device_id, "enrol_start", {"seller": seller_id})

    async def wait_enrolled(self, device_id: str, seller_id: str, timeout: float = 30.0) -> int:
        """The slot of the seller's enrolment once the cloud stored it; then the roster carries it."""
        async with asyncio.timeout(timeout):
            while True:
                slots = (await self.slots(device_id)).get(seller_id)
                if slots:
                    break
                await asyncio.sleep(0.2)
        await self.send_roster(device_id)
        return slots[-1]
