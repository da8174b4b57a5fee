"""Order query and CSV export: one filter for both, keyset pages (id descending).

The export never holds more than one chunk of rows: each chunk is fetched with
`id < last id` (keyset, so the cost per chunk stays flat however deep the export
goes), written as CSV and handed to the response before the next one is read.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from fingerpos.cloud.models.orders import OrderLine
from fingerpos.cloud.models.users import Role, User
from fingerpos.cloud.orders.queries import _visible, order_json
from tortoise.expressions import Q, Subquery

CHUNK = 2000
COLUMNS = ("id", "created_at", "state", "shop_id", "device_id", "buyer_id", "source", "ref",
           "version", "total", "currency")
HEADER = ("id", "created_at", "state", "shop", "terminal", "buyer", "source", "ref", "version",
          "total", "currency")
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
        if f.text.isdigit() and len(f.text) <= 10:
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


async def csv_chunks(user: User, f: Any) -> AsyncIterator[bytes]:
    """The CSV export, one encoded chunk of rows at a time."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(HEADER)
    yield buf.getvalue().encode()
    base = filtered(user, f)
    before, left = f.before, f.limit
    while left > 0:
        query = base.filter(id__lt=before) if before is not None else base
        rows = await _raw_rows(query.order_by("-id").limit(min(CHUNK, left)).values_list(*COLUMNS))
        if not rows:
            return
        buf.seek(0)
        buf.truncate()
        writer.writerows([safe_cell(v) for v in row] for row in rows)
        yield buf.getvalue().encode()
        before, left = rows[-1][0], left - len(rows)
