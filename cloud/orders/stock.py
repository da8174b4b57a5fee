"""Stock that follows sales: reservations, consumption, terminal sales, adjustments.

A product with `track_stock` has `stock` on hand and `reserved` units held by unpaid
web orders; buyers can take `stock - reserved`. Every change is a StockMove row
(append-only) written in the same transaction as the order change that causes it:
placing a web order reserves, its expiry or cancellation releases, its payment
consumes (stock and reserved both go down), a terminal sale takes stock directly,
a count / damage / delivery adjusts it with a reason (audited), a refund with
restock puts it back (`restock`). Products without tracking are never limited.

Why conditional UPDATEs: a reservation is `UPDATE products SET reserved = reserved + n
WHERE id = ? AND track_stock AND stock - reserved >= n`. The database evaluates the
condition on the row it locks, so of 50 buyers racing for the last 10 units exactly
as many succeed as fit, on PostgreSQL (READ COMMITTED re-checks the WHERE on the
latest row version after waiting for the row lock, PostgreSQL manual 13.2.1) and on
SQLite (one writer at a time). SELECT ... FOR UPDATE would need a second round trip
and does not exist on SQLite. A terminal sale's goods are already in the buyer's
hands, so its UPDATE has no condition: stock may go below zero, which raises an alarm.

Alarms are raised after the commit (`raise_alarms`), so a rolled-back change never
alarms: a product whose available stock falls to its `low_stock` threshold raises
`low_stock` once per crossing (and clears it when a delivery lifts it above), one
that falls below zero raises `stock_negative`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fingerpos.cloud.core import audit
from fingerpos.cloud.core.errors import Conflict, Forbidden, Invalid, NotFound
from fingerpos.cloud.core.sql import dialect, q
from fingerpos.cloud.fleet import alarms
from fingerpos.cloud.models.shops import Product, StockMove
from fingerpos.cloud.models.users import Role, User
from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.functions import Sum
from tortoise.transactions import in_transaction

ADJUSTMENTS = ("count", "damage", "delivery")
MAX_QTY = 1_000_000_000   # stock fits a 32-bit column with room for any sale


class OutOfStock(Conflict):
    """A web order asks for more than is available (409); names what is short, so a
    page can say it in the buyer's language (cloud/web/i18n.py "stock.short")."""

    code = "out_of_stock"

    def __init__(self, sku: str, name: str, left: int, asked: int) -> None:
        super().__init__(f"only {left} of {sku} left; you asked for {asked}")
        self.sku, self.name, self.left, self.asked = sku, name, left, asked


@dataclass(frozen=True, slots=True)
class Level:
    """A product's level after a change, and how much its available stock moved."""

    shop: str
    product: int
    sku: str
    available: int      # stock - reserved, after
    moved: int          # change of available (negative: fewer to sell)
    low: int | None

    @property
    def before(self) -> int:
        return self.available - self.moved


def _conn() -> BaseDBAsyncClient:
    return connections.get("default")   # the current transaction when inside one


async def _update(sql: str, args: list[Any], conn: BaseDBAsyncClient | None = None
                  ) -> dict[str, Any] | None:
    conn = conn or _conn()
    rows = await conn.execute_query_dict(
        q(dialect(conn), sql + " RETURNING id, shop_id, sku, stock, reserved, low_stock"), args)
    return rows[0] if rows else None


def _level(row: dict[str, Any], moved: int) -> Level:
    return Level(row["shop_id"], row["id"], row["sku"], row["stock"] - row["reserved"], moved,
                 row["low_stock"])


async def _tracked(shop_id: str, skus: list[str], conn: BaseDBAsyncClient | None = None
                   ) -> dict[str, int]:
    """sku -> product id of the shop's products that track stock."""
    if not skus:
        return {}
    return dict(await Product.filter(shop_id=shop_id, sku__in=skus, track_stock=True)
                .using_db(conn or _conn()).values_list("sku", "id"))


async def reserve(order_id: int, shop_id: str, wants: dict[str, int],
                  user_id: int | None = None) -> list[Level]:
    """Hold `wants` (sku -> qty) for a new web order, inside its transaction; raises
    OutOfStock (409) naming what is short, and the caller's transaction rolls back."""
    levels, moves = [], []
    for sku, pid in sorted((await _tracked(shop_id, list(wants))).items()):
        n = wants[sku]
        row = await _update("UPDATE products SET reserved = reserved + ? WHERE id = ? AND"
                            " track_stock AND stock - reserved >= ?", [n, pid, n])
        if row is None:
            now = await Product.filter(id=pid).first().values("stock", "reserved", "name")
            left = max(0, now["stock"] - now["reserved"]) if now else 0
            raise OutOfStock(sku, now["name"] if now else sku, left, n)
        levels.append(_level(row, -n))
        moves.append(StockMove(shop_id=shop_id, product_id=pid, sku=sku, kind="reserve",
                               d_reserved=n, stock_after=row["stock"], order_id=order_id,
                               user_id=user_id))
    if moves:
        await StockMove.bulk_create(moves, using_db=_conn())
    return levels


async def _held(order_id: int) -> list[dict[str, Any]]:
    """What the order still holds, per product: the sum of its moves' d_reserved."""
    rows = await StockMove.filter(order_id=order_id).annotate(held=Sum("d_reserved")) \
        .group_by("product_id", "shop_id", "sku").values("product_id", "shop_id", "sku", "held")
    return [r for r in rows if r["held"]]


async def _settle(order_id: int, kind: str, reason: str, device_id: str | None,
                  user_id: int | None) -> list[Level]:
    """Release (kind "release") or consume ("consume") everything the order holds."""
    levels, moves = [], []
    for r in await _held(order_id):
        n = int(r["held"])
        take = n if kind == "consume" else 0
        row = await _update("UPDATE products SET reserved = reserved - ?, stock = stock - ?"
                            " WHERE id = ?", [n, take, r["product_id"]])
        if row is None:   # the product was deleted meanwhile: nothing left to hold
            continue
        levels.append(_level(row, n - take))
        moves.append(StockMove(shop_id=r["shop_id"], product_id=r["product_id"], sku=r["sku"],
                               kind=kind, d_stock=-take, d_reserved=-n, stock_after=row["stock"],
                               order_id=order_id, reason=reason[:200], device_id=device_id,
                               user_id=user_id))
    if moves:
        await StockMove.bulk_create(moves, using_db=_conn())
    return levels


async def release(order_id: int, reason: str, *, device_id: str | None = None,
                  user_id: int | None = None) -> list[Level]:
    """The order will not be paid (expired, cancelled): its reservations go back."""
    return await _settle(order_id, "release", reason, device_id, user_id)


async def consume(order_id: int, *, device_id: str | None = None,
                  user_id: int | None = None) -> list[Level]:
    """The order is paid: what it reserved leaves the shelf."""
    return await _settle(order_id, "consume", "paid", device_id, user_id)


async def sell(conn: BaseDBAsyncClient, sales: list[tuple[int, str, str, dict[str, int]]]
               ) -> list[Level]:
    """Terminal sales (order id, shop, device, sku -> qty), inside the ingestion's
    transaction `conn`: taken from stock without a condition (the goods are gone);
    one UPDATE per product of the batch, one ledger row per order line."""
    levels: list[Level] = []
    moves: list[StockMove] = []
    by_shop: dict[str, dict[str, int]] = {}
    for _, shop, _, wants in sales:
        mine = by_shop.setdefault(shop, {})
        for sku, n in wants.items():
            mine[sku] = mine.get(sku, 0) + n
    for shop, totals in sorted(by_shop.items()):
        for sku, pid in sorted((await _tracked(shop, list(totals), conn)).items()):
            row = await _update("UPDATE products SET stock = stock - ? WHERE id = ?",
                                [totals[sku], pid], conn)
            if row is None:
                continue
            levels.append(_level(row, -totals[sku]))
            after = row["stock"] + totals[sku]      # replay the batch's sales in order
            for oid, s, dev, wants in sales:
                if s == shop and sku in wants:
                    after -= wants[sku]
                    moves.append(StockMove(shop_id=shop, product_id=pid, sku=sku, kind="sale",
                                           d_stock=-wants[sku], stock_after=after, order_id=oid,
                                           device_id=dev))
    if moves:
        await StockMove.bulk_create(moves, using_db=conn)
    return levels


async def restock(order_id: int, shop_id: str, items: dict[str, int], reason: str, *,
                  user_id: int | None = None, device_id: str | None = None) -> list[Level]:
    """A refund with restock (issue #16 item 3) puts goods back on the shelf: call it in
    the refund's transaction with the refunded sku -> qty. Untracked products are
    skipped; returns the new levels for `raise_alarms` after the commit."""
    if any(type(n) is not int or not 0 < n <= MAX_QTY for n in items.values()):
        raise Invalid(f"a restocked quantity must be 1..{MAX_QTY}")
    levels, moves = [], []
    for sku, pid in sorted((await _tracked(shop_id, list(items))).items()):
        row = await _update("UPDATE products SET stock = stock + ? WHERE id = ?",
                            [items[sku], pid])
        if row is None:
            continue
        levels.append(_level(row, items[sku]))
        moves.append(StockMove(shop_id=shop_id, product_id=pid, sku=sku, kind="restock",
                               d_stock=items[sku], stock_after=row["stock"], order_id=order_id,
                               reason=reason[:200], user_id=user_id, device_id=device_id))
    if moves:
        await StockMove.bulk_create(moves, using_db=_conn())
    return levels


def check_adjuster(user: User, shop_id: str) -> None:
    if user.role == Role.ADMIN or (user.role == Role.MANAGER and user.shop_id == shop_id):
        return
    raise Forbidden("only the shop's managers may adjust its stock")


async def adjust(user: User, shop_id: str, sku: str, kind: str, qty: int,
                 reason: str) -> tuple[Product, StockMove]:
    """A manager's stock adjustment with a reason, audited: `count` sets what is on hand
    to `qty`, `damage` takes `qty` away, `delivery` adds `qty`. Turns tracking on."""
    check_adjuster(user, shop_id)
    if kind not in ADJUSTMENTS:
        raise Invalid(f"kind must be one of {', '.join(ADJUSTMENTS)}")
    if type(qty) is not int or not (0 if kind == "count" else 1) <= qty <= MAX_QTY:
        raise Invalid(f"qty must be an integer up to {MAX_QTY}"
                      + (" (0 or more)" if kind == "count" else " (1 or more)"))
    reason = reason.strip()
    if not reason:
        raise Invalid("reason: say why the stock changes")
    async with in_transaction():
        product = await Product.get_or_none(shop_id=shop_id, sku=sku)
        if product is None:
            raise NotFound(f"shop {shop_id} does not sell {sku}")
        if kind == "count":
            row = await _update("UPDATE products SET stock = ?, track_stock = ? WHERE id = ?",
                                [qty, True, product.id])
        else:
            delta = qty if kind == "delivery" else -qty
            row = await _update("UPDATE products SET stock = stock + ?, track_stock = ?"
                                " WHERE id = ?", [delta, True, product.id])
        assert row is not None   # the row was read in this transaction
        d_stock = row["stock"] - product.stock
        move = await StockMove.create(shop_id=shop_id, product_id=product.id, sku=sku, kind=kind,
                                      d_stock=d_stock, stock_after=row["stock"],
                                      reason=reason[:200], user_id=user.id)
        await audit.record(f"user:{user.id}", f"stock.{kind}", f"{shop_id}/{sku}",
                           {"qty": qty, "change": d_stock, "stock": row["stock"],
                            "reason": reason[:200]}, user_id=user.id)
    await raise_alarms([_level(row, d_stock)])
    return await Product.get(id=product.id), move


async def moves_of(shop_id: str, sku: str, limit: int = 50) -> list[StockMove]:
    return await StockMove.filter(shop_id=shop_id, sku=sku).order_by("-id").limit(limit)


def move_json(m: StockMove) -> dict[str, Any]:
    return {"id": m.id, "sku": m.sku, "kind": m.kind, "change": m.d_stock,
            "reserved_change": m.d_reserved, "stock": m.stock_after, "order": m.order_id,
            "reason": m.reason, "user": m.user_id, "device": m.device_id,
            "at": m.at.isoformat()}


async def raise_alarms(levels: list[Level]) -> None:
    """After the commit: alarms for the levels that crossed a line (once per crossing)."""
    for lv in levels:
        subject = str(lv.product)
        if lv.available < 0 and lv.moved < 0:
            await alarms.raise_alarm(None, "stock_negative", "warning",
                                     f"{lv.sku}: {lv.available} available (sold more than the "
                                     "count shows); count it", shop=lv.shop, subject=subject)
        if lv.low is None:
            continue
        if lv.before > lv.low >= lv.available:
            await alarms.raise_alarm(None, "low_stock", "warning",
                                     f"{lv.sku}: {lv.available} left (threshold {lv.low})",
                                     shop=lv.shop, subject=subject)
        elif lv.before <= lv.low < lv.available:
            await alarms.clear_kind(None, "low_stock", shop=lv.shop, subject=subject)
