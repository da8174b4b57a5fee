"""Alarms: raise (deduplicated per device and kind while open), acknowledge, clear.

An alarm belongs to the shop of its terminal, or to the shop it names when no terminal
raised it (a product's low stock: `shop_id`); an alarm of neither, such as failed web
logins, belongs to no shop: admins only. Its JSON and feed messages carry that `shop`, so the
monitor feed can send each alarm only to the staff of its shop.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fingerpos.cloud.core import audit, monitor
from fingerpos.cloud.core.errors import Conflict, NotFound
from fingerpos.cloud.fleet.alarm_text import describe
from fingerpos.cloud.models.alarms import Alarm
from fingerpos.cloud.models.devices import Device
from tortoise.exceptions import IntegrityError
from tortoise.expressions import F, Q, Subquery
from tortoise.transactions import in_transaction

SEVERITIES = ("info", "warning", "critical")


def of_shop(query: Any, shop: str | None) -> Any:
    """The alarms of `query` raised by terminals of `shop` (None: every alarm, for admins)."""
    if shop is None:
        return query
    return query.filter(Q(device_id__in=Subquery(Device.filter(shop=shop).values("id")))
                        | Q(shop_id=shop))


async def shop_of(device_id: str | None, shop_id: str | None = None) -> str | None:
    if not device_id:
        return shop_id
    row = await Device.filter(id=device_id).first().values("shop")
    return row["shop"] if row else None


async def as_json(rows: list[Alarm]) -> list[dict]:
    """Alarms as JSON with their shops (one query for all of them)."""
    ids = {a.device_id for a in rows if a.device_id}
    shops = dict(await Device.filter(id__in=ids).values_list("id", "shop")) if ids else {}
    return [alarm_json(a, shops.get(a.device_id) or a.shop_id) for a in rows]


async def _publish(alarm: Alarm) -> None:
    await monitor.publish(None, "alarm", alarm_json(alarm, await shop_of(alarm.device_id,
                                                                         alarm.shop_id)))


def alarm_json(a: Alarm, shop: str | None = None) -> dict:
    """An alarm for the API, the pages and the feed; `title`/`title_zh` name it for people
    and `link` is the page of its order, product or terminal (cloud/fleet/alarm_text.py)."""
    title, title_zh, link = describe(a.kind, a.device_id, a.message)
    return {"id": a.id, "device": a.device_id, "shop": shop, "kind": a.kind,
            "title": title, "title_zh": title_zh, "link": link, "severity": a.severity,
            "message": a.message, "count": a.count, "first_at": a.first_at.isoformat(),
            "last_at": a.last_at.isoformat(),
            "acked_at": a.acked_at.isoformat() if a.acked_at else None,
            "cleared_at": a.cleared_at.isoformat() if a.cleared_at else None}


def _open_key(device_id: str | None, kind: str, shop: str | None, subject: str) -> str:
    if device_id is None and shop is not None:   # a shop's own alarm, one per subject
        return f"shop:{shop}:{kind}:{subject}"[:80]
    return f"{device_id or '-'}:{kind}"[:80]


async def raise_alarm(device_id: str | None, kind: str, severity: str, message: str, *,
                      shop: str | None = None, subject: str = "") -> Alarm:
    """Open an alarm, or bump the count of the open one for the same device and kind
    (without a device: the same shop, kind and `subject`, such as a product id)."""
    if severity not in SEVERITIES:
        raise ValueError(f"severity must be one of {SEVERITIES}")
    key = _open_key(device_id, kind, shop, subject)
    now = datetime.now(UTC)
    for _ in range(3):  # a racing worker may open or clear it between our two statements
        bumped = await Alarm.filter(open_key=key).update(count=F("count") + 1, last_at=now,
                                                         message=message[:300])
        if bumped:
            alarm = await Alarm.get(open_key=key)
            break
        try:  # a savepoint inside a caller's transaction: PostgreSQL aborts it otherwise
            async with in_transaction():
                alarm = await Alarm.create(device_id=device_id, kind=kind[:32],
                                           severity=severity, message=message[:300],
                                           open_key=key, shop_id=shop if device_id is None
                                           else None)
            break
        except IntegrityError:
            continue
    else:
        raise Conflict(f"could not record alarm {key}")
    await _publish(alarm)
    return alarm


async def acknowledge(alarm_id: int, user_id: int) -> Alarm:
    alarm = await Alarm.get_or_none(id=alarm_id)
    if alarm is None:
        raise NotFound(f"no alarm {alarm_id}")
    if alarm.acked_at is None:
        alarm.acked_at, alarm.acked_by = datetime.now(UTC), user_id
        await alarm.save(update_fields=["acked_at", "acked_by"])
        await audit.record(f"user:{user_id}", "alarm.ack", f"alarm:{alarm_id}", user_id=user_id)
    await _publish(alarm)
    return alarm


async def clear(alarm_id: int, user_id: int) -> Alarm:
    """Close the alarm; the next one of its device and kind opens a new alarm."""
    alarm = await Alarm.get_or_none(id=alarm_id)
    if alarm is None:
        raise NotFound(f"no alarm {alarm_id}")
    if alarm.cleared_at is None:
        alarm.cleared_at, alarm.cleared_by, alarm.open_key = datetime.now(UTC), user_id, None
        await alarm.save(update_fields=["cleared_at", "cleared_by", "open_key"])
        await audit.record(f"user:{user_id}", "alarm.clear", f"alarm:{alarm_id}", user_id=user_id)
    await _publish(alarm)
    return alarm


async def clear_kind(device_id: str | None, kind: str, *, shop: str | None = None,
                     subject: str = "") -> Alarm | None:
    """Clear the open alarm of this device and kind (the source says the condition is over)."""
    key = _open_key(device_id, kind, shop, subject)
    alarm = await Alarm.get_or_none(open_key=key)
    if alarm is None:
        return None
    alarm.cleared_at, alarm.open_key = datetime.now(UTC), None
    await alarm.save(update_fields=["cleared_at", "open_key"])
    await audit.record(f"device:{device_id}" if device_id else "system", "alarm.clear",
                       f"alarm:{alarm.id}")
    await _publish(alarm)
    return alarm
