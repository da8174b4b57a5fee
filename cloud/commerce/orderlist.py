"""The order list as a person asks for it (issue #17 item 5): search by order number or
pickup code, a date range in the shop's local time zone, a state, a sort, one page.

Scoped by `_visible` like every order read: staff see their shop's orders only, so a
second shop's order never shows, even searched by its number or its pickup code.

The sort comes from a fixed table (SORTS): a column name from the query string is a key
into it and never reaches the SQL; an unknown one sorts by the default instead.

A pickup code is kept only as its HMAC bound to the order id (cloud/orders/rules.py), so
it cannot be looked up by value: the search hashes the code against each visible order
that has one, newest first, within the other filters, up to PICKUP_SCAN orders (one
HMAC-SHA256 each, ~1 µs). A shop's codes are used within days of payment, far inside
that window.

Days are the shop's: "7 December" in Asia/Shanghai is 2026-12-06T16:00Z up to
2026-12-07T16:00Z; the database stays UTC (DESIGN.md). zoneinfo does the arithmetic, so
a day with a DST change is 23 or 25 hours long, as it is on the shop's clock.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fingerpos.cloud.models.users import User
from fingerpos.cloud.orders.queries import _visible, order_json
from fingerpos.cloud.orders.rules import pickup_matches
from tortoise.expressions import Q

SORTS = {"created": "created_at", "total": "total", "state": "state"}
DEFAULT_SORT = "created"
PICKUP_SCAN = 50_000
MAX_TEXT = 64
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")   # not ISO's week dates (2026-W49-1)


@dataclass(frozen=True)
class ListQuery:
    text: str = ""
    state: str | None = None
    shop: str | None = None            # an admin's choice; others see their own anyway
    since: datetime | None = None      # UTC, inclusive
    until: datetime | None = None      # UTC, exclusive
    sort: str = DEFAULT_SORT
    descending: bool = True
    limit: int = 50
    offset: int = 0


def sort_of(name: str | None, direction: str | None) -> tuple[str, bool]:
    """A sort column and direction from the query string: unknown ones give the default
    (newest first); only SORTS' keys come back."""
    key = name if name in SORTS else DEFAULT_SORT
    if direction in ("asc", "desc"):
        return key, direction == "desc"
    return key, key != "state"       # newest, biggest first; states A to Z


def day_range(first: str, last: str, zone: ZoneInfo) -> tuple[datetime | None, datetime | None,
                                                               dict[str, str]]:
    """The UTC instants from the start of local day `first` to the end of local day `last`
    (both YYYY-MM-DD, both optional), and the errors by field ("from", "to")."""
    errors: dict[str, str] = {}
    days: dict[str, date | None] = {}
    for field, text in (("from", first), ("to", last)):
        text = text.strip()
        days[field] = None
        if not text:
            continue
        try:
            days[field] = date.fromisoformat(text) if _DAY.fullmatch(text) else None
        except ValueError:
            pass
        if days[field] is None:
            errors[field] = f"“{text[:20]}” is not a date: write it as YYYY-MM-DD, e.g. 2026-12-07"
    start, end = days["from"], days["to"]
    if start and end and start > end:
        errors["to"] = "the end date is before the start date"
    if errors:
        return None, None, errors
    since = _midnight(start, zone) if start else None
    until = _midnight(end + timedelta(days=1), zone) if end and end < date.max else None
    return since, until, {}


def _midnight(day: date, zone: ZoneInfo) -> datetime | None:
    """Local midnight in UTC; None (no bound) at the calendar's ends (year 1, year 9999),
    where UTC would leave datetime's range."""
    try:
        return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)
    except OverflowError:
        return None


def _number(text: str) -> int | None:
    digits = text[1:] if text.startswith("#") else text
    if digits.isascii() and digits.isdigit() and len(digits) <= 10 and 0 < int(digits) < 2**31:
        return int(digits)
    return None


async def _pickup_ids(base: Any, code: str, key: bytes) -> list[int]:
    rows = await base.filter(pickup_hash__isnull=False).order_by("-id").limit(
        PICKUP_SCAN).values_list("id", "pickup_hash")
    return [oid for oid, digest in rows if pickup_matches(key, oid, code, digest)]


async def find(user: User, q: ListQuery, pickup_key: bytes) -> tuple[list[dict[str, Any]], bool]:
    """One page of the orders `user` may see that match `q`, and whether more follow."""
    base = _visible(user)
    if q.state:
        base = base.filter(state=q.state)
    if q.shop:
        base = base.filter(shop_id=q.shop)
    if q.since is not None:
        base = base.filter(created_at__gte=q.since)
    if q.until is not None:
        base = base.filter(created_at__lt=q.until)
    text = q.text.strip()[:MAX_TEXT]
    query = base
    if text:
        cond = Q(ref=text)
        number = _number(text)
        if number is not None:
            cond |= Q(id=number)
        if len(text) == 6 and text.isascii() and text.isdigit():
            found = await _pickup_ids(base, text, pickup_key)
            if found:
                cond |= Q(id__in=found)
        query = base.filter(cond)
    column = SORTS.get(q.sort, SORTS[DEFAULT_SORT])
    order = [f"-{column}", "-id"] if q.descending else [column, "id"]
    rows = await query.order_by(*order).offset(q.offset).limit(q.limit + 1)
    return [order_json(o) for o in rows[:q.limit]], len(rows) > q.limit

