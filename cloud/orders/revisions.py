"""What one version of an order is made of: its lines and its adjustments, always adding up.

An order's total is the sum of its lines plus the adjustments of its current version
(RevisionSnapshot). A price change (改价) is one more adjustment, labelled with its reason,
for exactly the difference, so the lines and adjustments shown on the order page and
printed on the receipt add up to the new total, and the validation before print (校检,
commerce/validation.py: total == lines + adjustments) passes. A later revision (修订)
starts from the version it replaces, its adjustments included, so no price change is lost
on the way. Orders without any snapshot (never re-priced) have no adjustments.
"""

from __future__ import annotations

from typing import Any

from fingerpos.cloud.models.commerce import RevisionSnapshot
from fingerpos.cloud.models.orders import OrderLine
from tortoise.backends.base.client import BaseDBAsyncClient

LABEL_MAX = 60  # as the API's Adjustment.label
PRICE_CHANGE = "改价 price change"

Adjustments = list[tuple[str, int]]


async def lines_of(order_id: int, conn: BaseDBAsyncClient | None = None) -> list[dict[str, Any]]:
    rows = OrderLine.filter(order_id=order_id).order_by("id")
    return [{"sku": ln.sku, "name": ln.name, "qty": ln.qty, "unit_price": ln.unit_price}
            for ln in await (rows.using_db(conn) if conn else rows)]


async def adjustments_of(order_id: int, version: int,
                         conn: BaseDBAsyncClient | None = None) -> Adjustments:
    """The adjustments of that version, [(label, minor units)], oldest first."""
    query = RevisionSnapshot.filter(order_id=order_id, version=version)
    snap = await (query.using_db(conn) if conn else query).first()
    return [(str(a[0]), int(a[1])) for a in snap.adjustments] if snap else []


def price_change_label(reason: str) -> str:
    text = f"{PRICE_CHANGE}: {reason.strip()}" if reason.strip() else PRICE_CHANGE
    return text[:LABEL_MAX]


def repriced(lines: list[dict[str, Any]], adjustments: Adjustments, new_total: int,
             reason: str) -> Adjustments:
    """The adjustments after a price change to `new_total`: one more line for exactly the
    difference between the new total and what the lines and adjustments add up to."""
    now = sum(ln["qty"] * ln["unit_price"] for ln in lines) + sum(a for _, a in adjustments)
    delta = new_total - now
    return [*adjustments, (price_change_label(reason), delta)] if delta else list(adjustments)


async def snapshot_price_change(order_id: int, old_version: int, new_total: int, reason: str,
                                user_id: int | None, conn: BaseDBAsyncClient) -> None:
    """Record version old_version+1 of a price change: the same lines, one adjustment more
    (and the version it replaces, when it had no snapshot yet: the first change)."""
    lines = await lines_of(order_id, conn)
    before = await adjustments_of(order_id, old_version, conn)
    if not await RevisionSnapshot.filter(order_id=order_id, version=old_version
                                         ).using_db(conn).exists():
        await RevisionSnapshot.create(order_id=order_id, version=old_version, lines=lines,
                                      adjustments=[], using_db=conn)
    after = repriced(lines, before, new_total, reason)
    await RevisionSnapshot.create(order_id=order_id, version=old_version + 1, lines=lines,
                                  adjustments=[list(a) for a in after], user_id=user_id,
                                  using_db=conn)
