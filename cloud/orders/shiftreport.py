"""The X and Z report of a shift: ONE function, `report`, from the shift's log (issue #16
item 4).

An X report is `report` of an open shift (up to a given seq: the `x` event's), a Z report
is `report` of a closed one (up to its close): the same sums at a different moment, so an
X and a Z can never disagree on what they both cover.

What a shift covers is the device's events with open seq <= seq <= close seq (seq order,
never clocks: an offline terminal's events arrive late but in their place):
- sales: the terminal's sales created by an event in the range, and web orders whose
  cash that terminal took (`ack` action cash) in the range, by the accepted payment's
  method and amount; a terminal sale held because its amount did not match its lines
  (no accepted payment) is not a sale, and is flagged (its cash may be in the drawer);
- the log (cloud/models/shifts.py): the float (open), cash in, cash out, the cash
  refunds paid out (`refund` events), refusals, anomalies, the close's blind count.

expected cash = float + cash sales + cash in - cash out - cash refunds;
difference = counted - expected (a Z only). Flags: a difference over the shop's
`shift_diff_limit` without a manager's approval, anomalies, held sales, a shift the
terminal never closed.

Why not cloud/orders/reports.py's facts: those group a shop's sales by time slot, and a
shift is a seq range of one terminal's events; its sales are joined through the order
events those device events caused. The sums here are over the same order, payment and
refund rows the reports read, so a day's report and its shifts' Z reports add up.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fingerpos.cloud.core.sql import dialect, q
from fingerpos.cloud.models.shifts import CLOSED, Shift, ShiftEntry
from fingerpos.cloud.models.shops import Product, Shop
from fingerpos.cloud.models.users import Role, User
from tortoise import connections

# The order event that puts a payment in this terminal's drawer: a terminal sale's
# creation, or a web order's pending_payment -> paid by this terminal's cash ack.
_SALES = """
SELECT o.id AS id, o.source AS source, o.currency AS currency, o.state AS state,
       de.seq AS seq,
       (SELECT p.method FROM payments p WHERE p.order_id = o.id AND p.accepted
        ORDER BY p.id DESC LIMIT 1) AS method,
       (SELECT p.amount FROM payments p WHERE p.order_id = o.id AND p.accepted
        ORDER BY p.id DESC LIMIT 1) AS amount,
       (SELECT p.amount FROM payments p WHERE p.order_id = o.id
        ORDER BY p.id DESC LIMIT 1) AS offered
FROM order_events e
JOIN device_event de ON de.id = e.device_event_id
JOIN orders o ON o.id = e.order_id
WHERE de.device_id = ? AND de.seq >= ? AND de.seq <= ? AND o.shop_id = ?
  AND ((o.source = 'terminal' AND e.from_state IS NULL)
       OR (o.source = 'web' AND e.from_state = 'pending_payment' AND e.to_state = 'paid'))
ORDER BY de.seq, o.id
"""
CASH = "cash"
END = 2**63 - 1


@dataclass
class Sum:
    count: int = 0
    amount: int = 0

    def add(self, amount: int) -> None:
        self.count += 1
        self.amount += amount


@dataclass
class ShiftReport:
    kind: str                      # "X" | "Z"
    shift: Shift
    shop: Shop
    currency: str
    upto: int | None               # the last seq covered (None: everything so far)
    opened_by: str = ""
    closed_by: str = ""
    float: int = 0
    sales: dict[str, Sum] = field(default_factory=dict)    # payment method -> Sum
    refunds: Sum = field(default_factory=Sum)              # cash paid out at the terminal
    refused: Sum = field(default_factory=Sum)
    cash_in: Sum = field(default_factory=Sum)
    cash_out: Sum = field(default_factory=Sum)
    held: Sum = field(default_factory=Sum)                 # held terminal sales (not sales)
    expected: int = 0
    counted: int | None = None
    difference: int | None = None
    approved_by: str = ""
    approver_name: str = ""
    names: dict[str, str] = field(default_factory=dict)    # seller id -> name
    flags: list[str] = field(default_factory=list)
    anomalies: list[ShiftEntry] = field(default_factory=list)
    entries: list[ShiftEntry] = field(default_factory=list)
    order_ids: list[int] = field(default_factory=list)
    closed_at: datetime | None = None

    @property
    def sales_total(self) -> Sum:
        return Sum(sum(s.count for s in self.sales.values()),
                   sum(s.amount for s in self.sales.values()))


async def _sales(shift: Shift, last: int) -> list[dict[str, Any]]:
    conn = connections.get("default")
    return await conn.execute_query_dict(
        q(dialect(conn), _SALES), [shift.device_id, shift.open_seq, last, shift.shop_id])


async def _names(shop: str, ids: set[str]) -> dict[str, tuple[str, bool]]:
    """seller id -> (name, is a manager of the shop)."""
    nums = [int(i) for i in ids if i.isdigit() and len(i) < 10]
    rows = await User.filter(id__in=nums, shop_id=shop) if nums else []
    return {str(u.id): (u.name or f"#{u.id}", u.role == Role.MANAGER) for u in rows}


async def _currency(shop: Shop, rows: list[dict[str, Any]]) -> str:
    for r in rows:
        return r["currency"]
    p = await Product.filter(shop_id=shop.id).order_by("id").first()
    return p.currency if p else ""


async def report(shift: Shift, upto: int | None = None) -> ShiftReport:
    """The shift's X (open, or `upto` before its close) or Z report (module doc)."""
    closed = shift.state == CLOSED and shift.close_seq is not None
    last = shift.close_seq if shift.close_seq is not None else END
    if upto is not None:
        last = min(last, upto)
    kind = "Z" if closed and last == shift.close_seq else "X"
    shop = await Shop.get(id=shift.shop_id)
    rows = await _sales(shift, last)
    entries = await ShiftEntry.filter(shift_id=shift.id, seq__lte=last).order_by("seq", "id")
    r = ShiftReport(kind, shift, shop, await _currency(shop, rows), None if last == END else last,
                    entries=entries, closed_at=shift.closed_at if kind == "Z" else None)
    seen: set[int] = set()
    for row in rows:
        if row["id"] in seen:
            continue
        seen.add(row["id"])
        if row["method"] is None:
            r.held.add(int(row["offered"] or 0))
            continue
        r.sales.setdefault(row["method"], Sum()).add(int(row["amount"]))
        r.order_ids.append(row["id"])
    people: set[str] = set()
    for e in entries:
        people.update(x for x in (e.seller, e.approved_by) if x)
        if e.kind == "open" and not r.opened_by:
            r.float, r.opened_by = e.amount, e.seller
        elif e.kind == "cash_in":
            r.cash_in.add(e.amount)
        elif e.kind == "cash_out":
            r.cash_out.add(e.amount)
        elif e.kind == "refund":
            r.refunds.add(e.amount)
        elif e.kind == "refund_refused":
            r.refused.add(e.amount)
        elif e.kind == "close" and kind == "Z":
            r.counted, r.closed_by, r.approved_by = e.amount, e.seller, e.approved_by
        elif e.kind == "anomaly":
            r.anomalies.append(e)
    cash = r.sales.get(CASH, Sum()).amount
    r.expected = r.float + cash + r.cash_in.amount - r.cash_out.amount - r.refunds.amount
    known = await _names(shop.id, people)
    r.names = {k: v[0] for k, v in known.items()}
    if r.counted is not None:
        r.difference = r.counted - r.expected
        if abs(r.difference) > shop.shift_diff_limit:
            approver = known.get(r.approved_by)
            if approver is None or not approver[1]:
                r.flags.append(f"difference {r.difference} over the limit "
                               f"{shop.shift_diff_limit} without a manager's approval")
            else:
                r.approver_name = approver[0]
    if r.anomalies:
        r.flags.append(f"{len(r.anomalies)} anomal{'y' if len(r.anomalies) == 1 else 'ies'}")
    if r.held.count:
        r.flags.append(f"{r.held.count} held sale(s) of {r.held.amount} not counted")
    if shift.state not in ("open", CLOSED):
        r.flags.append("never closed: the terminal opened another shift")
    return r


def report_json(r: ShiftReport) -> dict[str, Any]:
    """The figures as data (the staff page and the tests)."""
    return {"kind": r.kind, "shift": r.shift.id, "number": r.shift.number,
            "device": r.shift.device_id, "shop": r.shop.id, "currency": r.currency,
            "upto": r.upto, "float": r.float,
            "sales": {m: {"count": s.count, "amount": s.amount} for m, s in sorted(r.sales.items())},
            "refunds": {"count": r.refunds.count, "amount": r.refunds.amount},
            "cash_in": r.cash_in.amount, "cash_out": r.cash_out.amount,
            "expected": r.expected, "counted": r.counted, "difference": r.difference,
            "approved_by": r.approved_by, "flags": list(r.flags)}
