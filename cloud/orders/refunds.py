"""Refunds, returns and voids (issue #16 item 3): full or partial, by line and quantity,
with a reason and an optional restock.

A refund takes back units of an order's lines. Its amount is what those units were paid:
their line amounts, scaled by what the order was paid over what its lines add up to when
a price change or discount made them differ (half up), and the rest of what was paid when
the refund takes back every unit left, so the refunds of an order add up to exactly what
was paid. Its tax is the refunded lines' tax by the shop's rule (orders/tax.py), the
difference between the amount and the lines' value being an adjustment of rule 1.

Why it can never pass what was paid, under concurrency: the refund is written by two
conditional UPDATEs in one transaction, `orders.refunded = refunded + a WHERE refunded + a
<= paid` and, per line, `refunded_qty = refunded_qty + n WHERE refunded_qty + n <= qty`.
The first statement also takes the order row's lock before anything is read, so two
refunds of one order run one after the other on PostgreSQL (READ COMMITTED re-reads the
row once the lock is granted, manual 13.2.1) and on SQLite (one writer at a time); the
conditions hold even if a caller skipped the checks. A pending refund (a card refund
waiting for the provider's callback, cash waiting for the terminal) already counts; a
failed one gives its amount and quantities back, and goods go back on the shelf only when
a refund succeeds (stock.restock), so a failed refund never restocks.

Who may: the shop's managers and admins always; its sellers within the shop's refund
window (days since the sale) and up to its approval amount, beyond either only with the
refund right (users.can_refund); every refund is audited and on the order's timeline.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from fingerpos.cloud.core import audit
from fingerpos.cloud.core.errors import Conflict, Forbidden, Invalid, NotFound
from fingerpos.cloud.core.sql import dialect, q
from fingerpos.cloud.models.orders import Order, OrderEvent, OrderLine, Payment
from fingerpos.cloud.models.refunds import Refund
from fingerpos.cloud.models.shops import Shop
from fingerpos.cloud.models.users import Role, User
from fingerpos.cloud.orders import notify, stock, tax
from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

REFUNDABLE = ("paid", "accepted", "fulfilled", "completed")
METHODS = ("card", "cash")
MAX_QTY = stock.MAX_QTY


@dataclass(frozen=True)
class Sold:
    """An order line as the refund rules see it."""

    id: int
    sku: str
    name: str
    qty: int
    unit_price: int
    tax_rate: int | None
    refunded: int

    @property
    def left(self) -> int:
        return self.qty - self.refunded


def parse_items(items: Any) -> dict[int, int]:
    """[{line, qty}, ...] -> line id -> qty; every malformed item is a 400."""
    if not isinstance(items, list) or not items:
        raise Invalid("lines: name at least one order line and a quantity to refund")
    out: dict[int, int] = {}
    for item in items:
        if not isinstance(item, dict):
            raise Invalid("lines: each item is {line, qty}")
        line, qty = item.get("line"), item.get("qty")
        if type(line) is not int or not 1 <= line <= 2**31 - 1:
            raise Invalid("lines: line must be an order line's id")
        if type(qty) is not int or not 1 <= qty <= MAX_QTY:
            raise Invalid(f"lines: the quantity to refund must be a whole number 1..{MAX_QTY}")
        if line in out:
            raise Invalid(f"lines: line {line} is named twice")
        out[line] = qty
    return out


def _half_up(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def amount_of(lines: list[Sold], asks: dict[int, int], paid: int, refunded: int) -> int:
    """What refunding `asks` (line id -> qty) pays back (pure; the module doc's rule)."""
    by_id = {ln.id: ln for ln in lines}
    value = sum(by_id[i].unit_price * n for i, n in asks.items())
    left = paid - refunded
    if all(ln.left == asks.get(ln.id, 0) for ln in lines):   # everything that is left
        return max(0, left)
    lines_sum = sum(ln.qty * ln.unit_price for ln in lines)
    amount = value if lines_sum in (0, paid) else _half_up(Decimal(value) * paid / lines_sum)
    return max(0, min(amount, left))


def tax_groups(refund_lines: list[dict[str, Any]], amount: int,
               rounding: str) -> list[tax.TaxGroup]:
    """The refund's tax by rate: its lines, with amount minus their value as rule 1's
    adjustment (the share of a price change the refunded units carried)."""
    parts = [(ln["qty"], ln["unit_price"], ln["tax_rate"]) for ln in refund_lines]
    value = sum(n * p for n, p, _ in parts)
    return tax.summary(parts, [amount - value] if amount != value else [], rounding)


def check_authority(user: User, shop: Shop, amount: int, sold_at: datetime,
                    now: datetime) -> int | None:
    """Who approves: None when a seller's own right suffices, else the approver's id;
    raises Forbidden (403) naming the limit a seller without the refund right passed."""
    if user.role == Role.ADMIN or (user.role == Role.MANAGER and user.shop_id == shop.id):
        return user.id
    if user.role != Role.SELLER or user.shop_id != shop.id:
        raise Forbidden("only the shop's staff may refund its orders")
    age = now - sold_at
    late = age > timedelta(days=shop.refund_window_days)
    big = amount > shop.refund_approval_above
    if not (late or big):
        return None
    if user.can_refund:
        return user.id
    if late:
        raise Forbidden(f"this sale is {age.days} days old; refunds after the shop's "
                        f"{shop.refund_window_days}-day window need a manager")
    raise Forbidden(f"a refund of {amount} (minor units) is above the shop's "
                    f"{shop.refund_approval_above}; it needs a manager")


def _conn() -> BaseDBAsyncClient:
    return connections.get("default")   # the current transaction when inside one


async def _execute(sql: str, args: list[Any]) -> int:
    """A conditional UPDATE ... RETURNING id: how many rows it changed."""
    conn = _conn()
    return len(await conn.execute_query_dict(q(dialect(conn), sql + " RETURNING id"), args))


async def paid_of(order_id: int, conn: BaseDBAsyncClient | None = None) -> tuple[int, str]:
    """What the order's accepted payment took, and by which method ("none" if unpaid)."""
    p = await Payment.filter(order_id=order_id, accepted=True).using_db(conn or _conn()) \
        .order_by("-id").first()
    return (p.amount, p.method) if p is not None else (0, "none")


async def create(user: User, order_id: int, items: Any, reason: str, *, restock: bool,
                 method: str, intent_id: str | None = None, pending: bool = False,
                 device_id: str | None = None, at_terminal: bool = False) -> Refund:
    """Refund `items` ([{line, qty}]) of an order: one transaction (module doc). A pending
    refund (card: the provider's callback settles it; cash `at_terminal`: the terminal
    `device_id` pays it out, orders/cashrefunds.py) restocks when it succeeds."""
    asks = parse_items(items)
    reason = reason.strip() if isinstance(reason, str) else ""
    if not reason:
        raise Invalid("reason: say why the money goes back")
    if method not in METHODS:
        raise Invalid(f"method must be one of {', '.join(METHODS)}")
    now = datetime.now(UTC)
    levels: list[stock.Level] = []
    async with in_transaction() as conn:
        # the order row's lock first: refunds of one order run one after the other
        if not await _execute("UPDATE orders SET refunded = refunded WHERE id = ?", [order_id]):
            raise NotFound(f"no order {order_id}")
        order = await Order.get(id=order_id).using_db(conn)
        if user.role != Role.ADMIN and user.shop_id != order.shop_id:
            raise NotFound(f"no order {order_id}")
        if order.state not in REFUNDABLE:
            raise Conflict(f"an order that is {order.state} cannot be refunded (nothing was paid)")
        paid, _ = await paid_of(order_id, conn)
        lines = [Sold(ln.id, ln.sku, ln.name, ln.qty, ln.unit_price, ln.tax_rate, ln.refunded_qty)
                 for ln in await OrderLine.filter(order_id=order_id).using_db(conn).order_by("id")]
        by_id = {ln.id: ln for ln in lines}
        for line_id, n in asks.items():
            ln = by_id.get(line_id)
            if ln is None:
                raise Invalid(f"order {order_id} has no line {line_id}")
            if n > ln.left:
                raise Conflict(f"line {line_id} ({ln.name or ln.sku}): only {ln.left} of "
                               f"{ln.qty} left to refund; you asked for {n}")
        amount = amount_of(lines, asks, paid, order.refunded)
        shop = await Shop.get(id=order.shop_id).using_db(conn)
        approved_by = check_authority(user, shop, amount, order.created_at, now)
        if not await _execute("UPDATE orders SET refunded = refunded + ? WHERE id = ?"
                              " AND refunded + ? <= ?", [amount, order_id, amount, paid]):
            raise Conflict(f"a refund of {amount} would pass what was paid ({paid})")
        for line_id, n in sorted(asks.items()):
            if not await _execute("UPDATE order_lines SET refunded_qty = refunded_qty + ?"
                                  " WHERE id = ? AND order_id = ? AND refunded_qty + ? <= qty",
                                  [n, line_id, order_id, n]):
                raise Conflict(f"line {line_id} was refunded meanwhile; reload the order")
        refund_lines = [{"line": i, "sku": by_id[i].sku, "name": by_id[i].name, "qty": n,
                         "unit_price": by_id[i].unit_price, "tax_rate": by_id[i].tax_rate}
                        for i, n in sorted(asks.items())]
        groups = tax_groups(refund_lines, amount, shop.tax_rounding)
        status = "pending" if pending or at_terminal else "succeeded"
        # At the terminal a manager's finger or PIN is needed on the same terms as here.
        needs_approval = at_terminal and (amount > shop.refund_approval_above or
                                          now - order.created_at
                                          > timedelta(days=shop.refund_window_days))
        refund = await Refund.create(
            order_id=order_id, shop_id=order.shop_id, amount=amount,
            tax=sum(g.tax for g in groups), currency=order.currency, lines=refund_lines,
            method=method, status=status, reason=reason[:200], restock=bool(restock),
            intent_id=intent_id, user_id=user.id, approved_by=approved_by, device_id=device_id,
            settled_at=None if status == "pending" else now, needs_approval=needs_approval,
            using_db=conn)
        if status == "succeeded" and restock:
            levels = await _restock(refund)
        await OrderEvent.create(order_id=order_id, from_state=order.state, to_state=order.state,
                                user_id=user.id, device_id=device_id,
                                note=_note(refund, status), using_db=conn)
        await audit.record(f"user:{user.id}", "order.refund", f"order:{order_id}",
                           {"refund": refund.id, "amount": amount, "currency": order.currency,
                            "method": method, "status": status, "restock": bool(restock),
                            "lines": {str(k): v for k, v in asks.items()},
                            "approved_by": approved_by, "reason": reason[:200]},
                           user_id=user.id, using_db=conn)
    await stock.raise_alarms(levels)
    await notify.order_changed(await Order.get(id=order_id))
    return refund


def _note(refund: Refund, status: str) -> str:
    units = sum(ln["qty"] for ln in refund.lines)
    return (f"refund #{refund.id} {status}: {refund.amount} {refund.currency} {refund.method}, "
            f"{units} unit(s){', restocked' if refund.restock and status == 'succeeded' else ''}"
            f" — {refund.reason}")[:200]


async def _restock(refund: Refund) -> list[stock.Level]:
    items: dict[str, int] = {}
    for ln in refund.lines:
        items[ln["sku"]] = items.get(ln["sku"], 0) + ln["qty"]
    return await stock.restock(refund.order_id, refund.shop_id, items,
                               f"refund #{refund.id}: {refund.reason}",
                               user_id=refund.user_id, device_id=refund.device_id)


async def settle(refund_id: int, ok: bool, failure: str = "", *, actor: str = "provider",
                 device_id: str | None = None) -> Refund:
    """A pending refund succeeded (goods restocked if asked) or failed (its amount and
    quantities go back to the order, to be refunded again). Conditional on it still being
    pending: a second settlement is a Conflict."""
    now = datetime.now(UTC)
    levels: list[stock.Level] = []
    status = "succeeded" if ok else "failed"
    async with in_transaction() as conn:
        changed = await Refund.filter(id=refund_id, status="pending").using_db(conn).update(
            status=status, settled_at=now, failure=failure[:200])
        refund = await Refund.get_or_none(id=refund_id).using_db(conn)
        if refund is None:
            raise NotFound(f"no refund {refund_id}")
        if not changed:
            raise Conflict(f"refund {refund_id} is already {refund.status}")
        if ok and refund.restock:
            levels = await _restock(refund)
        if not ok:
            await _execute("UPDATE orders SET refunded = refunded - ? WHERE id = ?",
                           [refund.amount, refund.order_id])
            for ln in refund.lines:
                await _execute("UPDATE order_lines SET refunded_qty = refunded_qty - ?"
                               " WHERE id = ?", [ln["qty"], ln["line"]])
        order = await Order.get(id=refund.order_id).using_db(conn)
        await OrderEvent.create(order_id=order.id, from_state=order.state, to_state=order.state,
                                device_id=device_id,
                                note=_note(refund, status) + (f" ({failure})" if failure else ""),
                                using_db=conn)
        await audit.record(actor, f"order.refund_{status}", f"order:{order.id}",
                           {"refund": refund.id, "amount": refund.amount, "failure": failure[:200]},
                           using_db=conn)
    await stock.raise_alarms(levels)
    await notify.order_changed(order)
    return refund


def refund_json(r: Refund) -> dict[str, Any]:
    return {"id": r.id, "order": r.order_id, "shop": r.shop_id, "amount": r.amount,
            "tax": r.tax, "currency": r.currency, "lines": r.lines, "method": r.method,
            "status": r.status, "reason": r.reason, "restock": r.restock,
            "provider_ref": r.provider_ref, "user": r.user_id, "approved_by": r.approved_by,
            "device": r.device_id, "failure": r.failure,
            "created_at": r.created_at.isoformat() if r.created_at else None,
            "settled_at": r.settled_at.isoformat() if r.settled_at else None}


async def of_order(order_id: int) -> list[Refund]:
    return await Refund.filter(order_id=order_id).order_by("id")
