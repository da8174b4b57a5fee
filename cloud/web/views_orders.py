"""Orders as pages: the list (a buyer's own, a shop's for its staff) and one order with
its state, timeline, pickup code (number and QR) and the actions its viewer may take.

The pickup code exists in clear only at the moment of payment (the database keeps
its HMAC). The page that paid keeps it for the buyer in a cookie sealed with the
cloud's keyring (AES-GCM bound to the order and the buyer), scoped to that
order's path, so the order page can show it again without the server storing it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aiohttp import web
from fingerpos.cloud import orders
from fingerpos.cloud.commerce import card_refunds, cash, checkout, orderlist, pickup
from fingerpos.cloud.commerce.printing import PRINTABLE
from fingerpos.cloud.core.appkeys import CONFIG, KEYRING
from fingerpos.cloud.core.errors import DomainError, NotFound
from fingerpos.cloud.core.keyring import KeyringError
from fingerpos.cloud.models.commerce import OrderCheck
from fingerpos.cloud.models.orders import Order
from fingerpos.cloud.models.shops import Shop
from fingerpos.cloud.models.users import Role
from fingerpos.cloud.orders.refunds import REFUNDABLE
from fingerpos.cloud.orders.states import PRICE_CHANGEABLE, State
from fingerpos.cloud.web import forms, i18n, qr
from fingerpos.cloud.web.page import STAFF, Viewer, checked_form, need, redirect, render

STATES = [s.value for s in State]


def order_id(request: web.Request) -> int:
    text = request.match_info["order"]
    if not (text.isascii() and text.isdigit()) or len(text) > 10 or not 1 <= int(text) <= 2**31 - 1:
        raise NotFound("no such order")
    return int(text)


def _pickup_cookie(oid: int) -> str:
    return f"fp_pickup_{oid}"


def _pickup_label(oid: int, user_id: int) -> str:
    return f"pickup:{oid}:{user_id}"


def read_pickup(request: web.Request, oid: int, user_id: int) -> str | None:
    sealed = request.cookies.get(_pickup_cookie(oid))
    if not sealed:
        return None
    try:
        code = request.app[KEYRING].open(sealed, _pickup_label(oid, user_id)).decode()
    except (KeyringError, UnicodeDecodeError):
        return None
    return code if code.isdigit() and len(code) == 6 else None


def keep_pickup(request: web.Request, response: web.StreamResponse, oid: int, user_id: int,
                code: str) -> None:
    sealed = request.app[KEYRING].seal(_pickup_label(oid, user_id), code.encode())
    response.set_cookie(_pickup_cookie(oid), sealed, httponly=True, samesite="Strict",
                        secure=request.app[CONFIG].cookie_secure, path=f"/orders/{oid}",
                        max_age=90 * 24 * 3600)


async def order_list(request: web.Request) -> web.Response:
    """The list: a buyer's own orders, a shop's for its staff, filtered as typed (number or
    pickup code, days in the shop's time zone, state), sorted by a column, paged."""
    who = await need(request)
    query = request.query
    state = query.get("state", "")
    state = state if state in STATES else None
    page = forms.parse_int(query.get("page"), 1, 1, 10_000)
    sort, descending = orderlist.sort_of(query.get("sort"), query.get("dir"))
    shops = await Shop.all().order_by("id").limit(500) if who.user.role == Role.ADMIN else []
    shop = next((s for s in shops if s.id == query.get("shop")), None)
    zone_name = _known_zone(shop.timezone) if shop else await _zone_of(who)
    typed = {k: query.get(k, "")[:100] for k in ("q", "from", "to")}
    since, until, errors = orderlist.day_range(typed["from"], typed["to"], ZoneInfo(zone_name))
    rows: list[dict[str, Any]] = []
    more = False
    if not errors:
        rows, more = await orderlist.find(who.user, orderlist.ListQuery(
            text=typed["q"], state=state, shop=shop.id if shop else None, since=since, until=until, sort=sort,
            descending=descending, limit=50, offset=(page - 1) * 50),
            request.app[KEYRING].pickup_key)
    await _local_times(rows)
    kept = {k: v for k, v in {**typed, "state": state or "", "shop": shop.id if shop else "",
                              "sort": sort,
                              "dir": "desc" if descending else "asc"}.items() if v}
    return await render(request, "orders.html", {
        "orders": rows, "more": more, "page": page, "state": state or "", "states": STATES,
        "form": typed, "errors": errors, "sort": sort, "descending": descending,
        "zone": zone_name, "shops": shops, "shop": shop.id if shop else "",
        "filtered": bool(typed["q"] or typed["from"] or typed["to"] or state or shop),
        "link": lambda **changes: "?" + urlencode({**kept, **changes}),
        "export_url": export_url(request, {"state": state, "shop": shop.id if shop else None,
                                           "since": since, "until": until})
        if who.staff and not errors else None},
        status=400 if errors else 200)


async def _zone_of(who: Viewer) -> str:
    """The zone the list's days are in: the viewer's shop's (staff); UTC for buyers and
    for admins across shops (an admin who picks a shop gets that shop's)."""
    shop = await Shop.get_or_none(id=who.user.shop_id) if who.staff and who.user.shop_id else None
    return _known_zone(shop.timezone) if shop else "UTC"


def _known_zone(name: str) -> str:
    try:
        ZoneInfo(name)
        return name
    except (ZoneInfoNotFoundError, ValueError):   # a zone the system no longer has
        return "UTC"


async def _local_times(rows: list[dict[str, Any]]) -> None:
    """Each row's `placed`: its creation in its shop's local time, with the zone."""
    zones = dict(await Shop.filter(id__in={r["shop"] for r in rows}).values_list("id", "timezone"))
    for r in rows:
        zone = _known_zone(zones.get(r["shop"], "UTC"))
        at = datetime.fromisoformat(r["created_at"]) if r["created_at"] else None
        if at is not None and at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
        r["placed"] = f"{at.astimezone(ZoneInfo(zone)):%Y-%m-%d %H:%M} {zone}" if at else "-"


def export_url(request: web.Request, filters: dict[str, Any]) -> str | None:
    """The CSV export (the commerce API) of the list's state, shop and days (as UTC
    instants), when the app serves one. The search box is not passed: the export's `text`
    matches items and references, not pickup codes."""
    params = {k: v.isoformat() if isinstance(v, datetime) else v
              for k, v in filters.items() if v}
    for resource in request.app.router.resources():
        path = resource.canonical
        if path.startswith("/api/v1/") and "export" in path and "{" not in path:
            return path + ("?" + urlencode(params) if params else "")
    return None


async def order_page(request: web.Request, errors: dict[str, str] | None = None,
                     status: int = 200, form: Mapping[str, str] | None = None) -> web.Response:
    """The order; after a refused form, its `errors` by field and what was typed (`form`)."""
    who = await need(request)
    oid = order_id(request)
    order = await orders.get_for(who.user, oid)
    # commerce: the code sealed for the order's buyer (paid, or paying cash at the counter)
    row = await Order.get(id=oid)
    code = await pickup.reveal(row, who.user) or (
        read_pickup(request, oid, who.user.id) if who.user.role == Role.BUYER else None)
    state = order["state"]
    ctx: dict[str, Any] = {
        "o": order, "errors": errors or {}, "form": form or {}, "pickup": code,
        "pays_cash": state == State.PENDING_PAYMENT and await pickup.pays_cash(oid),
        "pickup_issued": who.staff and await pickup.issued(oid),
        "pickup_qr": qr.svg(f"fingerpos:order:{oid}:pickup:{code}") if code else "",
        "can_pay": who.user.role == Role.BUYER and state == State.PENDING_PAYMENT,
        "can_cancel": state == State.PENDING_PAYMENT,
        "can_price": who.user.role in STAFF and state in PRICE_CHANGEABLE,
        "can_hold": who.user.role in STAFF and state == State.PENDING_PAYMENT,
        "can_release": who.user.role in STAFF and state == State.HELD,
        "feed": "/api/v1/monitor/ws" if who.staff else "/api/v1/orders/ws",
        "can_print": who.staff and state in PRINTABLE,
        "can_revise": who.staff and state == State.HELD,
        "receipt_url": f"/api/v1/orders/{oid}/receipt.pdf" if state in PRINTABLE else "",
        "check": await last_check(oid) if who.staff else None,
        "can_take_cash": who.staff and state == State.PENDING_PAYMENT and row.source == "web",
        "deadline": await deadline_text(request, row),
        "can_refund": who.staff and state in REFUNDABLE
        and any(ln["qty"] > ln["refunded"] for ln in order["lines"]),
    }
    return await render(request, "order.html", ctx, status=status)


async def deadline_text(request: web.Request, order: Order) -> str:
    """When an unpaid order expires, in its shop's local time and the viewer's language
    (the database keeps UTC; a Chinese shop reads Asia/Shanghai)."""
    due = await orders.deadline(order, request.app[CONFIG].unpaid_expiry_s)
    if due is None:
        return ""
    shop = await Shop.get_or_none(id=order.shop_id)
    zone = shop.timezone if shop else "UTC"
    try:
        local = due.astimezone(ZoneInfo(zone))
    except (ZoneInfoNotFoundError, ValueError):   # a zone the system no longer has
        zone, local = "UTC", due.astimezone(UTC)
    t = i18n.translator(i18n.lang_of(request))
    cash_due = await pickup.pays_cash(order.id)
    return t("order.cash_by" if cash_due else "order.pay_by",
             at=local.strftime("%Y-%m-%d %H:%M"), zone=zone)


async def last_check(oid: int) -> dict[str, Any] | None:
    """The latest validation before print: which version, when, its problems."""
    row = await OrderCheck.filter(order_id=oid).order_by("-id").first()
    if row is None:
        return None
    return {"ok": row.ok, "version": row.version, "at": row.at,
            "problems": [p.get("message", "") for p in row.problems if isinstance(p, dict)]}


async def pay(request: web.Request) -> web.Response:
    """Start paying the version of the order the page showed: a payment intent for exactly
    that version, then the provider's hosted page. A stale version is refused here already."""
    who = await need(request, Role.BUYER)
    form = await checked_form(request)
    oid = order_id(request)
    version = forms.parse_int(form.get("version"), 0)
    try:
        if form.get("provider") == cash.NAME:   # commerce: pay cash at the counter
            await cash.choose(who.user, oid, version)
            raise redirect(f"/orders/{oid}")
        intent = await checkout.create_intent(checkout.sandbox(request.app[CONFIG].key_secret),
                                              who.user, oid, version)
    except DomainError as e:
        if e.status == 404:
            raise
        return await order_page(request, {"pay": await refusal_text(e.message, oid, who)},
                                status=e.status)
    raise redirect(f"/pay/sandbox/{intent.id}")


async def refusal_text(message: str, oid: int, who: Viewer) -> str:
    """A payment refusal as the buyer should read it; a stale version names the new total."""
    if "stale version" not in message:
        return message
    order = await orders.get_for(who.user, oid)
    return (f"Not paid: the shop changed this order's price after you opened it. The total "
            f"is now {forms.money(order['total'], order['currency'])} (version "
            f"{order['version']}). You were not charged: check the new total and pay again.")


async def cancel(request: web.Request) -> web.Response:
    who = await need(request)
    await checked_form(request)
    oid = order_id(request)
    try:
        await orders.cancel(oid, who.user)
    except DomainError as e:
        if e.status == 404:
            raise
        return await order_page(request, {"cancel": e.message}, status=e.status)
    raise redirect(f"/orders/{oid}")


async def refund(request: web.Request) -> web.Response:
    """退款 from the staff order page: units per line (refund-<line>-qty), a reason, an
    optional restock; a refused form comes back with what was typed and why."""
    who = await need(request, *STAFF)
    form = await checked_form(request)
    oid = order_id(request)
    order = await orders.get_for(who.user, oid)
    errors: dict[str, str] = {}
    lines = []
    for ln in order["lines"]:
        text = form.get(f"refund-{ln['id']}-qty", "").strip() or "0"
        qty = forms.parse_int(text, -1, -1)
        if qty < 0 or len(text) > 10:
            errors[f"refund-{ln['id']}-qty"] = "a whole number of units, 0 or more"
        elif qty > ln["qty"] - ln["refunded"]:
            errors[f"refund-{ln['id']}-qty"] = (f"only {ln['qty'] - ln['refunded']} left "
                                                "to refund")
        elif qty:
            lines.append({"line": ln["id"], "qty": qty})
    if not lines and not errors:
        errors["refund"] = "choose how many units of which line go back"
    reason = form.get("refund_reason", "").strip()
    if not reason:
        errors["refund_reason"] = "say why the money goes back"
    if errors:
        return await order_page(request, errors, status=400, form=form)
    try:
        await card_refunds.refund(checkout.sandbox(request.app[CONFIG].key_secret), who.user,
                                  oid, lines, reason[:200], form.get("restock") == "on")
    except DomainError as e:
        if e.status == 404:
            raise
        return await order_page(request, {"refund": e.message}, status=e.status, form=form)
    raise redirect(f"/orders/{oid}")
