"""What a manager may do to a terminal (issue #18 item 5), shared by the REST API and the
device page so both refuse the same input and write the same audit entries: rename,
revoke, rotate its key, move it to another shop (admins), push settings (`config`), start
an enrolment for a seller, and read its history.

The route policy has already checked that the caller is staff of the device's shop (the
`device` owner check in cloud/api/policy.py); these functions check the rest (a manager
for changes, an admin to move, a seller of the device's shop to enrol).

SETTINGS is the terminal's own rule for `config` (firmware/config.py DEFAULTS and the
least values in firmware/handlers.py config_): the terminal refuses a whole command with
one bad value, and counts it as bad data without telling anyone, so the cloud refuses it
first with a message a manager can act on. tests/test_device_actions.py reads the
firmware's source to keep the two in step. The upper bounds are the cloud's: the terminal
takes any integer, but a lockout of a year or a heartbeat once a day is a typo.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fingerpos.cloud.core import audit
from fingerpos.cloud.core.errors import Forbidden, Invalid, NotFound
from fingerpos.cloud.core.keyring import DeviceKeyring
from fingerpos.cloud.fleet import keychanges
from fingerpos.cloud.fleet.commands import CommandSender, UnknownDevice
from fingerpos.cloud.models.alarms import AuditEntry
from fingerpos.cloud.models.devices import Device, DeviceEvent
from fingerpos.cloud.models.shops import Shop
from fingerpos.cloud.models.users import Role, User
from tortoise.transactions import in_transaction


@dataclass(frozen=True)
class Setting:
    least: int
    most: int
    default: int
    meaning: str


SETTINGS: dict[str, Setting] = {
    "max_failures": Setting(1, 20, 3, "failed logins before the terminal locks out"),
    "lockout_s": Setting(0, 3600, 30, "first lockout, seconds (doubles each time)"),
    "lockout_cap_s": Setting(0, 86400, 960, "longest lockout, seconds"),
    "session_s": Setting(1, 86400, 120, "a seller stays logged in this long, seconds"),
    "match_threshold": Setting(0, 255, 50, "least fingerprint match confidence"),
    "outbox_bytes": Setting(4096, 1048576, 65536, "flash kept for unsent events, bytes"),
    "heartbeat_s": Setting(0, 3600, 60, "seconds between heartbeats"),
    "ack_wait_s": Setting(1, 3600, 20, "resend unacknowledged events after, seconds"),
    "ota_trial_s": Setting(0, 86400, 600, "a new firmware must be confirmed within, seconds"),
}
# Terminal settings the cloud sends from the shop's own settings (cloud/commerce/resync.py),
# the same for every terminal of the shop: set on the shop's settings, never per device.
SHOP_SETTINGS = {"shift_diff_limit": "the shop's settings (one limit for every terminal)"}
NAME_MAX = 64
HISTORY_ROWS = 100


def _manager(actor: User, device: Device) -> None:
    if actor.role == Role.ADMIN:
        return
    if actor.role != Role.MANAGER or actor.shop_id != device.shop:
        raise Forbidden("only a manager of the terminal's shop may change it")


async def get(device_id: str) -> Device:
    device = await Device.get_or_none(id=device_id[:32])
    if device is None:
        raise NotFound("no such device")
    return device


def clean_name(text: Any) -> str:
    """A display name: 1-64 characters of text (Chinese welcome), no control characters."""
    if not isinstance(text, str):
        raise Invalid("name: give the terminal's name as text")
    name = unicodedata.normalize("NFC", text).strip()
    if not name:
        raise Invalid("name: the name is empty")
    if len(name) > NAME_MAX:
        raise Invalid(f"name: at most {NAME_MAX} characters (this one has {len(name)})")
    if any(unicodedata.category(c).startswith("C") for c in name):
        raise Invalid("name: no control characters (tabs, line breaks)")
    return name


def check_settings(changes: Any) -> dict[str, int]:
    """The settings to push, each checked against SETTINGS; Invalid names every bad one."""
    if not isinstance(changes, dict) or not changes:
        raise Invalid("settings: give at least one setting to change")
    bad = []
    out: dict[str, int] = {}
    for key, value in changes.items():
        rule = SETTINGS.get(key) if isinstance(key, str) else None
        if rule is None and key in SHOP_SETTINGS:
            bad.append(f"{key}: set on {SHOP_SETTINGS[key]}")
            continue
        if rule is None:
            bad.append(f"{key!s:.40}: not a terminal setting (known: {', '.join(SETTINGS)})")
        elif type(value) is not int or not rule.least <= value <= rule.most:
            bad.append(f"{key}: a whole number from {rule.least} to {rule.most} ({rule.meaning})")
        else:
            out[key] = value
    if bad:
        raise Invalid("settings: " + "; ".join(bad))
    return out


async def _send(sender: CommandSender | None, device: Device, typ: str, data: dict) -> bool:
    """Send now if a broker link runs and the terminal is not revoked; False otherwise."""
    if sender is None or device.revoked:
        return False
    try:
        await sender.send(device.id, typ, data)
    except UnknownDevice:
        return False
    return True


async def _audit(actor: User, action: str, device: Device, detail: dict | None = None) -> None:
    await audit.record(f"user:{actor.id}", action, f"device:{device.id}", detail or {},
                       user_id=actor.id)


async def save_keys(device: Device, fields: list[str]) -> None:
    """Save a key, revocation or shop change; every worker's cache drops the old one
    within a second (cloud/fleet/keychanges.py)."""
    async with in_transaction() as conn:
        await device.save(update_fields=fields, using_db=conn)
        await keychanges.bump(conn, device.id)


async def rename(actor: User, device: Device, name: Any) -> Device:
    _manager(actor, device)
    new = clean_name(name)
    if new != device.name:
        old, device.name = device.name, new
        await device.save(update_fields=["name"])
        await _audit(actor, "device.rename", device, {"from": old, "to": new})
    return device


async def revoke(actor: User, device: Device) -> Device:
    _manager(actor, device)
    device.revoked = True
    await save_keys(device, ["revoked"])
    await _audit(actor, "device.revoke", device)
    return device


async def rotate(actor: User, device: Device, key_hex: Any, keyring: DeviceKeyring) -> Device:
    """Store a new key (made by `fingerpos device provision`); the old one stops working."""
    _manager(actor, device)
    if not isinstance(key_hex, str) or len(key_hex.strip()) != 64:
        raise Invalid("key: the new key is 64 hexadecimal characters, as `fingerpos device "
                      "provision` prints it")
    try:
        key = bytes.fromhex(key_hex.strip())
    except ValueError:
        raise Invalid("key: only 0-9 and a-f may appear in a key") from None
    device.key_enc = keyring.seal(device.id, key)
    device.revoked = False
    await save_keys(device, ["key_enc", "revoked"])
    await _audit(actor, "device.rotate", device)
    return device


async def move(actor: User, device: Device, shop_id: Any,
               sender: CommandSender | None, roster: Any = None) -> Device:
    """Give the terminal to another shop (admins only). From then on its sales are that
    shop's and it gets that shop's roster (`roster(device_id)` makes it)."""
    if actor.role != Role.ADMIN:
        raise Forbidden("only an admin may move a terminal to another shop")
    if not isinstance(shop_id, str) or not await Shop.exists(id=shop_id[:32]):
        raise Invalid(f"shop: there is no shop {str(shop_id)[:32]!r}")
    if shop_id != device.shop:
        old, device.shop = device.shop, shop_id
        await save_keys(device, ["shop"])
        await _audit(actor, "device.move", device, {"from": old, "to": shop_id})
        if roster is not None:
            await _send(sender, device, "roster", await roster(device.id))
    return device


async def push_config(actor: User, device: Device, changes: Any,
                      sender: CommandSender | None) -> bool:
    """Store the settings and send them; True if sent now (else on its next connect)."""
    _manager(actor, device)
    checked = check_settings(changes)
    device.settings = {**(device.settings or {}), **checked}
    await device.save(update_fields=["settings"])
    sent = await _send(sender, device, "config", checked)
    await _audit(actor, "device.config", device, {"settings": checked, "sent": sent})
    return sent


def stored_settings(device: Device) -> dict[str, int]:
    """The pushed settings still valid by today's rules (what a connect re-sends)."""
    return {k: v for k, v in (device.settings or {}).items()
            if k in SETTINGS and type(v) is int and SETTINGS[k].least <= v <= SETTINGS[k].most}


async def start_enrol(actor: User, device: Device, seller_id: Any,
                      sender: CommandSender | None) -> User:
    """Ask the terminal to enrol a seller of its shop (`enrol_start`)."""
    _manager(actor, device)
    if device.revoked:
        raise Invalid("this terminal is revoked: rotate its key before enrolling on it")
    try:
        sid = int(seller_id)
    except (TypeError, ValueError):
        raise Invalid("seller: choose a seller") from None
    seller = await User.get_or_none(id=sid)
    if (seller is None or seller.shop_id != device.shop or seller.disabled
            or seller.role not in (Role.SELLER, Role.MANAGER)):
        raise Invalid("seller: choose an active seller or manager of the terminal's shop")
    if sender is None:
        raise Invalid("the cloud has no broker link right now: the terminal cannot be asked; "
                      "try again in a moment")
    if not await _send(sender, device, "enrol_start", {"seller": str(seller.id)}):
        raise Invalid("the terminal could not be reached")
    await _audit(actor, "device.enrol_start", device, {"seller": seller.id})
    return seller


async def history(device: Device) -> list[dict[str, Any]]:
    """What happened to the terminal, newest first: the people's actions (audit) and its
    boots, with the firmware version each reported (its update history)."""
    rows: list[dict[str, Any]] = []
    for a in await AuditEntry.filter(target=f"device:{device.id}").order_by("-id").limit(
            HISTORY_ROWS):
        rows.append({"at": a.at, "who": a.actor, "what": a.action, "detail": a.detail})
    boots = await DeviceEvent.filter(device_id=device.id, typ="boot").order_by("-seq").limit(
        HISTORY_ROWS).values("seq", "received_at", "body")
    for b in boots:
        body = b["body"] if isinstance(b["body"], dict) else {}
        rows.append({"at": datetime.fromtimestamp(b["received_at"], UTC),
                     "who": f"device:{device.id}", "what": "device.boot",
                     "detail": {"fw": str(body.get("fw", ""))[:32],
                                "reset": str(body.get("reset", ""))[:32], "seq": b["seq"]}})
    rows.sort(key=lambda r: r["at"], reverse=True)
    return rows[:HISTORY_ROWS]
