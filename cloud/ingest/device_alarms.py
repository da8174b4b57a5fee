"""Terminal events that become alarms: the terminal's own `alarm`, repeated failed logins,
and a terminal going offline while its shop has orders waiting.

Plain async functions with the ingestion's handler signature
`(device_id, event_id, data)`, so cloud/ingest/wiring.py can route
`alarm` and `login` events here by type, as it routes `sale` to the order engine.
"""

from __future__ import annotations

from typing import Any

from fingerpos.cloud.core.errors import Invalid
from fingerpos.cloud.fleet import alarms
from fingerpos.cloud.models.alarms import Alarm
from fingerpos.cloud.models.devices import Device
from fingerpos.cloud.models.orders import Order
from fingerpos.cloud.orders.saledata import clean_text
from fingerpos.cloud.orders.states import State

LOGIN_FAILURES_ALARM = 3          # the terminal's default max_failures (config.json settings)
_LEVELS = {"info": "info", "warning": "warning", "warn": "warning", "critical": "critical",
           "alarm": "critical", 0: "info", 1: "warning", 2: "critical"}
WAITING = (State.PAID.value, State.ACCEPTED.value, State.FULFILLED.value)


def _kind(reason: Any) -> str:
    if not isinstance(reason, str) or not 1 <= len(reason) <= 24 or "\x00" in reason:
        raise Invalid("alarm reason must be a string of 1..24 characters")
    return "terminal:" + reason


async def from_alarm_event(device_id: str, event_id: int | None, data: Any) -> Alarm | None:
    """`alarm` {reason, level, on}: on opens (or bumps) the alarm, off clears it."""
    if not isinstance(data, dict):
        raise Invalid("alarm data must be an object")
    kind = _kind(data.get("reason"))
    on = data.get("on", True)
    if not isinstance(on, bool):
        raise Invalid("alarm `on` must be true or false")
    if not on:
        await alarms.clear_kind(device_id, kind)
        return None
    severity = _LEVELS.get(data.get("level"), "warning")
    return await alarms.raise_alarm(device_id, kind, severity,
                                    f"terminal {device_id}: {data['reason']} (event {event_id})")


async def from_login_event(device_id: str, event_id: int | None, data: Any) -> Alarm | None:
    """`login` {method, seller|slot, ok, failures}: repeated failures raise an alarm."""
    if not isinstance(data, dict) or not isinstance(data.get("ok"), bool):
        raise Invalid("login data must be an object with a boolean `ok`")
    failures = data.get("failures", 0)
    if type(failures) is not int or not 0 <= failures <= 10**6:
        raise Invalid("login `failures` must be a non-negative integer")
    if data["ok"] or failures < LOGIN_FAILURES_ALARM:
        return None
    who = data.get("seller", data.get("slot", "?"))
    severity = "critical" if failures >= 2 * LOGIN_FAILURES_ALARM else "warning"
    return await alarms.raise_alarm(device_id, "login_failures", severity,
                                    f"{failures} failed {clean_text(data.get('method', ''), 8)} "
                                    f"logins on {device_id} (last: {clean_text(who, 32)})")


async def device_offline(device_id: str) -> Alarm | None:
    """Call when a terminal goes offline: an alarm if its shop has orders waiting to be
    handed over and no other terminal of the shop is online to take them."""
    device = await Device.get_or_none(id=device_id)
    if device is None:
        return None
    if await Device.filter(shop=device.shop, online=True, revoked=False).exclude(
            id=device_id).exists():
        return None
    waiting = await Order.filter(shop_id=device.shop, source="web", state__in=WAITING).count()
    if not waiting:
        return None
    return await alarms.raise_alarm(device_id, "offline_open_orders", "critical",
                                    f"terminal {device_id} is offline and shop {device.shop} has "
                                    f"{waiting} order(s) waiting")
