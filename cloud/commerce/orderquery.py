"""Order query and CSV export: one filter for both, keyset pages (id descending).

The export never holds more than one chunk of rows: each chunk is fetched with
`id < last id` (keyset, so the cost per chunk stays flat however deep the export
goes), written as CSV and handed to the response before the next one is read.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fingerpos.cloud.commerce.money import MoneyError, format_amount
from fingerpos.cloud.models.orders import OrderLine, Payment
from fingerpos.cloud.models.refunds import Refund
from fingerpos.cloud.models.shops import Product, Shop
from fingerpos.cloud.models.users import Role, User
from fingerpos.cloud.orders.queries import _visible, order_json
from tortoise.expressions import Q, Subquery

CHUNK = 2000
COLUMNS = ("id", "created_at", "state", "shop_id", "device_id", "source", "ref",
           "version", "total", "currency")
# What a spreadsheet user reads (issue #17 item 4): local time with its offset, the shop's
# name, the items, how it was paid, money as a decimal with its currency. No buyer ids.
HEADER = ("order", "created", "state", "shop", "shop_name", "source", "terminal", "ref",
          "version", "items", "quantity", "payment", "total", "currency", "refunded")
BOM = "\ufeff".encode()  # Excel opens UTF-8 CSV as such only after a byte-order mark
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def filtered(user: User, f: Any) -> Any:
    """The orders `user` may see that match the OrderQuery `f`."""
    query = _visible(user)
    for cond, value in (("state", f.state), ("shop_id", f.shop), ("device_id", f.terminal),
                        ("created_at__gte", f.since), ("created_at__lt", f.until),
                        ("total__gte", f.min_total), ("total__lte", f.max_total)):
        if value is not None:
            query = query.filter(**{cond: value})
    if f.buyer is not None and user.role != Role.BUYER:
        query = query.filter(buyer_id=f.buyer)
    if f.text:
        lines = OrderLine.filter(Q(sku__icontains=f.text) | Q(name__icontains=f.text))
        cond = Q(ref__icontains=f.text) | Q(id__in=Subquery(lines.values("order_id")))
        if f.text.isascii() and f.text.isdigit() and int(f.text) < 2**31:
            cond |= Q(id=int(f.text))
        query = query.filter(cond)
    return query


async def page(user: User, f: Any) -> dict[str, Any]:
    query = filtered(user, f)
    if f.before is not None:
        query = query.filter(id__lt=f.before)
    rows = await query.order_by("-id").offset(f.offset).limit(f.limit + 1)
    more = len(rows) > f.limit
    rows = rows[:f.limit]
    return {"orders": [order_json(o) for o in rows],
            "next": rows[-1].id if more and rows else None}


def safe_cell(value: Any) -> str:
    """A CSV cell a spreadsheet will not run: text starting with = + - @ gets a leading '."""
    if value is None:
        return ""
    text = value.isoformat() if isinstance(value, datetime) else str(value)
    return "'" + text if text.startswith(_FORMULA) else text


async def _raw_rows(values_query: Any) -> list[tuple[Any, ...]]:
    """The rows of a tortoise values_list query as the driver returns them: tortoise's
    per-value conversion costs more than the database here, and the CSV needs only text
    (dates come as ISO text from SQLite, datetime from asyncpg; safe_cell handles both)."""
    values_query._choose_db_if_not_chosen()
    values_query._make_query()
    sql, params = values_query.query.get_parameterized_sql()
    _, rows = await values_query._db.execute_query(sql, params)
    return [tuple(r) for r in rows]


def _when(value: Any, zone: ZoneInfo) -> str:
    """A stored time (datetime from asyncpg, ISO text from SQLite; both UTC) as local ISO
    8601 with its offset, to the second: 2026-12-07T14:05:09+08:00."""
    if value is None:
        return ""
    at = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(zone).isoformat(timespec="seconds")


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):   # a zone this system no longer has
        return ZoneInfo("UTC")


class _Shops:
    """Shop names and zones, read once per shop per export."""

    def __init__(self) -> None:
        self.known: dict[str, tuple[str, ZoneInfo]] = {}

    async def load(self, ids: set[str]) -> None:
        missing = ids - self.known.keys()
        if missing:
            for sid, name, tz in await Shop.filter(id__in=missing).values_list("id", "name",
                                                                                  "timezone"):
                self.known[sid] = (name, _zone(tz))

    def get(self, sid: str) -> tuple[str, ZoneInfo]:
        return self.known.get(sid, ("", ZoneInfo("UTC")))


async def _details(rows: list[tuple[Any, ...]]) -> tuple[dict[int, tuple[str, int]], dict[int, str]]:
    """For one chunk: each order's items text and quantity, and its payment method."""
    ids = [row[0] for row in rows]
    shop_of = {row[0]: row[3] for row in rows}
    lines = await OrderLine.filter(order_id__in=ids).order_by("order_id", "id").values_list(
        "order_id", "sku", "name", "qty")
    unnamed = {(shop_of[oid], sku) for oid, sku, name, _ in lines if not name}
    names: dict[tuple[str, str], str] = {}
    if unnamed:   # a terminal sale's lines carry SKUs only: name them from the catalogue
        for shop, sku, name in await Product.filter(
                shop_id__in={s for s, _ in unnamed}, sku__in={k for _, k in unnamed}
        ).values_list("shop_id", "sku", "name"):
            names[(shop, sku)] = name
    items: dict[int, list[str]] = {}
    qty: dict[int, int] = {}
    for oid, sku, name, n in lines:
        label = name or names.get((shop_of[oid], sku), "") or sku
        items.setdefault(oid, []).append(f"{label} x{n}")
        qty[oid] = qty.get(oid, 0) + n
    paid: dict[int, str] = {}
    for oid, method in await Payment.filter(order_id__in=ids, accepted=True).order_by(
            "id").values_list("order_id", "method"):
        paid[oid] = method            # the last accepted one
    return {oid: ("; ".join(texts), qty[oid]) for oid, texts in items.items()}, paid


async def _refunded(ids: list[int]) -> dict[int, int]:
    """For one chunk: what succeeded refunds paid back per order (orders/refunds.py)."""
    out: dict[int, int] = {}
    for oid, amount in await Refund.filter(order_id__in=ids, status="succeeded").values_list(
            "order_id", "amount"):
        out[oid] = out.get(oid, 0) + amount
    return out


def _money(minor: Any, currency: str) -> str:
    try:
        return format_amount(int(minor), str(currency))
    except (MoneyError, ValueError, TypeError):
        return str(minor)


async def csv_chunks(user: User, f: Any, excel: bool = False) -> AsyncIterator[bytes]:
    """The CSV export, one encoded chunk of rows at a time (`excel`: with a UTF-8 BOM)."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(HEADER)
    yield (BOM if excel else b"") + buf.getvalue().encode()
    base = filtered(user, f)
    shops = _Shops()
    before, left = f.before, f.limit
    while left > 0:
        query = base.filter(id__lt=before) if before is not None else base
        rows = await _raw_rows(query.order_by("-id").limit(min(CHUNK, left)).values_list(*COLUMNS))
        if not rows:
            return
        await shops.load({row[3] for row in rows})
        items, paid = await _details(rows)
        back = await _refunded([row[0] for row in rows])
        buf.seek(0)
        buf.truncate()
        for oid, created, state, shop, device, source, ref, version, total, currency in rows:
            name, zone = shops.get(shop)
            text, n = items.get(oid, ("", 0))
            writer.writerow([safe_cell(v) for v in (
                oid, _when(created, zone), state, shop, name, source, device, ref, version,
                text, n, paid.get(oid, ""), _money(total, currency), currency,
                _money(back.get(oid, 0), currency))])
        yield buf.getvalue().encode()
        before, left = rows[-1][0], left - len(rows)
