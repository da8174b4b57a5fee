"""The roster a terminal works from: who may log in there, with which finger
slots on its sensor and which PIN (as a hash keyed with the terminal's own
key), who is a manager and who may change prices.

Enrolment is per terminal: an `enrol` event records (terminal, slot) ->
seller. PINs are set by an operator (`fingerpos user pin`) and kept sealed
with the cloud's keyring, because each terminal needs its own keyed hash.
"""

from __future__ import annotations

from typing import Any

from fingerpos import protocol
from fingerpos.cloud.core.errors import Invalid, NotFound
from fingerpos.cloud.core.keyring import DeviceKeyring
from fingerpos.cloud.models.devices import Device
from fingerpos.cloud.models.users import FingerSlot, Role, User

MAX_SLOT = 9999  # far above any R30x capacity (200 to 1000 templates)
STAFF = (Role.SELLER, Role.MANAGER)


def _pin_label(user_id: int) -> str:
    return f"pin:{user_id}"


def check_pin(pin: str) -> str:
    if not (isinstance(pin, str) and pin.isascii() and pin.isdigit() and 4 <= len(pin) <= 8):
        raise Invalid("a PIN is 4 to 8 digits")
    return pin


async def set_pin(user: User, pin: str, ring: DeviceKeyring) -> None:
    """Store a seller's or manager's terminal PIN (sealed; never in clear)."""
    if user.role not in STAFF:
        raise Invalid("only sellers and managers log in at a terminal")
    user.pin_sealed = ring.seal(_pin_label(user.id), check_pin(pin).encode())
    await user.save(update_fields=["pin_sealed"])


async def roster_of(device_id: str, ring: DeviceKeyring) -> dict[str, Any]:
    """The `roster` command's data for one terminal."""
    device = await Device.get_or_none(id=device_id)
    if device is None:
        return {"sellers": []}
    key = ring.open(device.key_enc, device_id)
    staff = await User.filter(shop_id=device.shop, disabled=False, role__in=list(STAFF)) \
        .order_by("id")
    slots: dict[int, list[int]] = {}
    for fs in await FingerSlot.filter(device=device_id).order_by("slot"):
        slots.setdefault(fs.user_id, []).append(fs.slot)
    sellers = []
    for u in staff:
        pin = ""
        if u.pin_sealed:
            clear = ring.open(u.pin_sealed, _pin_label(u.id)).decode()
            pin = protocol.pin_hash(key, str(u.id), clear)
        sellers.append({"id": str(u.id), "name": u.name[:32], "slots": slots.get(u.id, []),
                        "pin": pin, "manager": u.role == Role.MANAGER,
                        "price": u.role == Role.MANAGER or u.can_change_price})
    return {"sellers": sellers}


async def record_enrolment(device_id: str, event_id: int | None, data: Any) -> FingerSlot:
    """Handler for `enrol` events: {seller, slot}. A slot reused on the same
    terminal now belongs to the new seller (the sensor overwrote it)."""
    if not isinstance(data, dict):
        raise Invalid("enrol data must be an object")
    seller, slot = data.get("seller"), data.get("slot")
    if type(slot) is not int or not 0 <= slot <= MAX_SLOT:
        raise Invalid(f"enrol slot must be an integer 0..{MAX_SLOT}")
    if isinstance(seller, str) and seller.isascii() and seller.isdigit() and len(seller) <= 9:
        seller = int(seller)
    if type(seller) is not int:
        raise Invalid("enrol seller must be a user id")
    device = await Device.get_or_none(id=device_id)
    user = await User.get_or_none(id=seller, role__in=list(STAFF), disabled=False)
    if device is None or user is None or user.shop_id != device.shop:
        raise NotFound(f"seller {seller} does not work at the shop of terminal {device_id}")
    await FingerSlot.filter(device=device_id, slot=slot).delete()
    return await FingerSlot.create(device=device_id, slot=slot, user=user)
