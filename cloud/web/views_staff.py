"""Seller and operator pages: the live monitor, the fleet, alarms, and the order actions
(price change, hold, release) posted from the order page.

The pages render a full snapshot on the server; static/live.js then keeps them
current from the monitor WebSocket (/api/v1/monitor/ws) without reloading.
"""

from __future__ import annotations

from aiohttp import web
from fingerpos.cloud import orders
from fingerpos.cloud.api.policy import scope
from fingerpos.cloud.api.schemas import PriceChangeIn
from fingerpos.cloud.commerce import cash
from fingerpos.cloud.commerce.money import MoneyError
from fingerpos.cloud.core import monitor as live
from fingerpos.cloud.core.appkeys import CONFIG
from fingerpos.cloud.core.config import Config
from fingerpos.cloud.core.errors import DomainError
from fingerpos.cloud.fleet import alarms
from fingerpos.cloud.models.alarms import Alarm
from fingerpos.cloud.models.devices import Device
from fingerpos.cloud.models.shops import Shop
from fingerpos.cloud.models.users import Role, User
from fingerpos.cloud.orders.rules import PriceActor
from fingerpos.cloud.web import forms, units
from fingerpos.cloud.web.page import STAFF, checked_form, need, redirect, render
from fingerpos.cloud.web.views_orders import STATES, order_id, order_page

FEED_ROWS = 50


async def _devices(user: User) -> list[Device]:
    rows = Device.all() if user.role == Role.ADMIN else Device.filter(shop=user.shop_id or "")
    return await rows.order_by("id").limit(1000)


def device_json(d: Device) -> dict:
    return {"id": d.id, "shop": d.shop, "fw": d.fw, "online": d.online, "revoked": d.revoked,
            "last_seen": d.last_seen.isoformat() if d.last_seen else None, "uptime": d.uptime,
            "heap_free": d.heap_free, "rssi": d.rssi, "outbox": d.outbox, "name": d.name}


def limits(config: Config) -> dict[str, dict[str, int]]:
    """How long an order may stay in a state before the monitor flags it (seconds), by its
    source: only states in which it waits for the shop (issue #16). An unpaid web order
    waits for its buyer and expires by itself; a completed, cancelled or expired one waits
    for nobody; an in-person sale is completed at once, so only a revised one (paid,
    waiting for its receipt) or a held one is waiting for someone."""
    shop = {"paid": config.accept_alert_s, "accepted": 3600, "fulfilled": 3600, "held": 3600}
    return {"web": shop, "terminal": {"paid": config.accept_alert_s, "held": 3600}}


def _limits(request: web.Request) -> dict[str, dict[str, int]]:
    return limits(request.app[CONFIG])


def _alarm_shop(request: web.Request) -> str | None:
    """Whose alarms this page shows: the viewer's shop's (None: every shop's, for admins)."""
    s = scope(request)
    return None if s.admin else s.shop or ""


async def monitor(request: web.Request) -> web.Response:
    who = await need(request, *STAFF)
    recent = await orders.list_for(who.user, limit=FEED_ROWS)
    open_alarms = await alarms.of_shop(Alarm.filter(cleared_at__isnull=True),
                                       _alarm_shop(request)).order_by("-id").limit(100)
    counts = live.counts_for(scope(request), await live.counts_by_shop())
    return await render(request, "monitor.html", {
        "orders": recent, "counts": counts, "states": STATES,
        "alarms": await alarms.as_json(open_alarms), "limits": _limits(request),
        "devices": [device_json(d) for d in await _devices(who.user)],
        "can_ack": who.user.role in (Role.MANAGER, Role.ADMIN)})


async def devices(request: web.Request) -> web.Response:
    who = await need(request, *STAFF)
    found = await _devices(who.user)
    zones = dict(await Shop.filter(id__in={d.shop for d in found}).values_list("id", "timezone"))
    now = units.server_now()
    rows = [{**device_json(d), "seen": units.ago(d.last_seen, now),
             "seen_at": units.local(d.last_seen, zones.get(d.shop) or "UTC"),
             "zone": zones.get(d.shop) or "UTC", "heap": units.kb(d.heap_free),
             "signal": units.dbm(d.rssi), "up": units.duration(d.uptime)} for d in found]
    return await render(request, "devices.html", {"devices": rows, "now": now.isoformat()})


async def alarm_list(request: web.Request) -> web.Response:
    who = await need(request, *STAFF)
    show = request.query.get("show", "open")
    rows = Alarm.all() if show == "all" else Alarm.filter(cleared_at__isnull=True)
    found = await alarms.of_shop(rows, _alarm_shop(request)).order_by("-id").limit(200)
    return await render(request, "alarms.html", {
        "alarms": await alarms.as_json(found), "show": show,
        "can_ack": who.user.role in (Role.MANAGER, Role.ADMIN)})


async def change_price(request: web.Request) -> web.Response:
    """改价 from the order page: the new total as money text, the version the page showed."""
    who = await need(request, *STAFF)
    form = await checked_form(request)
    oid = order_id(request)
    order = await orders.get_for(who.user, oid)
    errors: dict[str, str] = {}
    total = -1
    try:
        total = forms.parse_money(form.get("total", ""), order["currency"])
    except MoneyError as e:
        errors["total"] = str(e)
    data, more = forms.validate(PriceChangeIn, {
        "version": forms.parse_int(form.get("version"), 0), "total": max(total, 0),
        "reason": form.get("reason", "").strip()})
    errors = {**more, **errors}
    if data is None or errors:
        return await order_page(request, errors, status=400, form=form)
    actor = PriceActor(who.user.role.value, who.user.shop_id, who.user.can_change_price)
    try:
        await orders.change_price(oid, data.version, data.total, data.reason, actor,
                                  user_id=who.user.id)
    except DomainError as e:
        if e.status == 404:
            raise
        return await order_page(request, {"total": e.message}, status=e.status, form=form)
    raise redirect(f"/orders/{oid}")


async def _stage(request: web.Request, hold: bool) -> web.Response:
    who = await need(request, *STAFF)
    await checked_form(request)
    oid = order_id(request)
    try:
        await orders.stage(oid, who.user, hold=hold)
    except DomainError as e:
        if e.status == 404:
            raise
        return await order_page(request, {"stage": e.message}, status=e.status)
    raise redirect(f"/orders/{oid}")


async def take_cash(request: web.Request) -> web.Response:
    """*Cash received* on the staff order page: the cash for the version the page showed."""
    who = await need(request, *STAFF)
    form = await checked_form(request)
    oid = order_id(request)
    try:
        await cash.take_at_office(who.user, oid, forms.parse_int(form.get("version"), 0))
    except DomainError as e:
        if e.status == 404:
            raise
        return await order_page(request, {"cash": e.message}, status=e.status)
    raise redirect(f"/orders/{oid}")


async def hold(request: web.Request) -> web.Response:
    return await _stage(request, True)


async def release(request: web.Request) -> web.Response:
    return await _stage(request, False)
