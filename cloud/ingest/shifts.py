"""Ingestion of the terminal's `shift` and `refund` events (issue #16 items 3-4; the
contract is protocol/README.md "Shifts and cash refunds").

Nothing a terminal sends about its drawer is dropped: the event row is stored by the
ingestion before any handler runs, and here every event ends up as a line of a shift's
log (cloud/models/shifts.py) - the action itself, or an `anomaly` saying why it was not
counted (bad data, a shift number that is not the open one, a refund nobody asked this
terminal for). Nothing raises for bad data, so the anomaly is kept (a refusal would roll
the handler's savepoint back, log line and all).

Attribution is by seq: an `open` starts a shift at its seq, a `close` ends it at its seq;
the report sums whatever the device sent in between (orders/shiftreport.py). An `open`
while another shift is open ends that one just before (`unclosed`, flagged), so no event
counts twice. `x` prints an X report up to its seq, `close` the Z report, through the
ordinary `print` command (commerce/shiftprint.py).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from fingerpos.cloud.commerce import shiftprint
from fingerpos.cloud.core.errors import Invalid, NotFound
from fingerpos.cloud.core.sql import dialect, q
from fingerpos.cloud.models.devices import Device, DeviceEvent
from fingerpos.cloud.models.refunds import Refund
from fingerpos.cloud.models.shifts import CLOSED, UNCLOSED, Shift
from fingerpos.cloud.models.shops import Shop
from fingerpos.cloud.models.users import Role, User
from fingerpos.cloud.orders import cashrefunds, shiftlog, shiftreport
from fingerpos.cloud.orders.rules import MAX_TOTAL
from fingerpos.cloud.orders.saledata import MAX_ID, _int, _obj, _str, clean_text
from tortoise import connections

log = logging.getLogger(__name__)
ACTIONS = ("open", "cash_in", "cash_out", "x", "close")
SELLER_MAX = 32


class _Context:
    """The device, its shop and the event's seq and time."""

    def __init__(self, device: Device, event: DeviceEvent | None, event_id: int | None) -> None:
        self.device = device
        self.shop = device.shop
        self.event_id = event_id
        self.seq = event.seq if event else 0
        ts = event.ts if event else 0
        # the terminal's clock when it had one, else when the cloud got it
        self.at = datetime.fromtimestamp(ts if ts > 0 else (
            event.received_at if event else datetime.now(UTC).timestamp()), UTC)


async def _context(device_id: str, event_id: int | None) -> _Context:
    device = await Device.get_or_none(id=device_id)
    if device is None:
        raise NotFound(f"no device {device_id}")
    event = await DeviceEvent.get_or_none(id=event_id) if event_id is not None else None
    return _Context(device, event, event_id)


async def _anomaly(ctx: _Context, shift: Shift | None, note: str, **fields: Any) -> None:
    log.warning("shift anomaly %s/%s: %s", ctx.device.id, ctx.seq, note)
    await shiftlog.append(shift, ctx.shop, ctx.device.id, ctx.seq, ctx.event_id, "anomaly",
                          note=note[:200], **fields)


def _seller(data: dict, name: str) -> str:
    return _str(data, name, 1, SELLER_MAX)


def parse_shift(data: Any) -> dict[str, Any]:
    """The `shift` event's data, checked; raises Invalid naming what is wrong."""
    data = _obj(data, "shift data")
    out: dict[str, Any] = {"shift": _int(data, "shift", 1, MAX_ID), "seller": _seller(data, "seller")}
    action = data.get("action")
    if action not in ACTIONS:
        raise Invalid(f"action must be one of {', '.join(ACTIONS)}")
    out["action"] = action
    if action in ("open", "close"):
        out["amount"] = _int(data, "amount", 0, MAX_TOTAL)
    elif action in ("cash_in", "cash_out"):
        out["amount"] = _int(data, "amount", 1, MAX_TOTAL)
        out["reason"] = _str(data, "reason", 1, 64)
    if action == "close" and data.get("approved_by") is not None:
        out["approved_by"] = _seller(data, "approved_by")
    return out


async def _manager(shop: str, seller: str) -> bool:
    if not (seller.isdigit() and len(seller) < 10):
        return False
    return await User.exists(id=int(seller), shop_id=shop, role=Role.MANAGER, disabled=False)


async def _lock(shift: Shift) -> Shift:
    """Take the shift row's lock (PostgreSQL: concurrent workers wait; SQLite: one writer),
    then read it again: its state and refunds are then this transaction's to decide."""
    conn = connections.get("default")
    await conn.execute_query(q(dialect(conn), "UPDATE shifts SET state = state WHERE id = ?"),
                             [shift.id])
    return await Shift.get(id=shift.id)


async def from_shift(device_id: str, event_id: int | None, data: Any) -> Shift | None:
    """Ingestion's handler for `shift` events (module doc)."""
    ctx = await _context(device_id, event_id)
    current = await shiftlog.open_shift(device_id)
    try:
        ev = parse_shift(data)
    except Invalid as e:
        number = data.get("shift") if isinstance(data, dict) else None
        await _anomaly(ctx, current, f"bad shift event: {e}",
                       number=number if type(number) is int and 0 <= number <= MAX_ID else None)
        return current
    n, action = ev["shift"], ev["action"]
    fields = {"number": n, "seller": ev["seller"], "amount": ev.get("amount", 0),
              "reason": clean_text(ev.get("reason", ""), 64)}
    if action == "open":
        return await _open(ctx, current, n, fields)
    if current is None or current.number != n:
        known = await Shift.get_or_none(device_id=device_id, number=n)
        where = current or known
        why = (f"{action} of shift {n}, but " +
               (f"shift {current.number} is open" if current else "no shift is open"))
        await _anomaly(ctx, where, why, **fields)
        return where
    shift = await _lock(current)
    if action == "close":
        approved = ev.get("approved_by", "")
        if approved and not await _manager(ctx.shop, approved):
            await _anomaly(ctx, shift, f"close approved by {approved}, who is not a manager "
                                       f"of {ctx.shop}", **fields)
        await shiftlog.append(shift, ctx.shop, device_id, ctx.seq, event_id, "close",
                              approved_by=approved, **fields)
        await Shift.filter(id=shift.id).update(state=CLOSED, close_seq=ctx.seq,
                                               closed_at=ctx.at)
        shift = await Shift.get(id=shift.id)
        await shiftprint.send(await shiftreport.report(shift))
        return shift
    await shiftlog.append(shift, ctx.shop, device_id, ctx.seq, event_id, action, **fields)
    if action == "x":
        await shiftprint.send(await shiftreport.report(shift, upto=ctx.seq))
    return shift


async def _open(ctx: _Context, current: Shift | None, n: int, fields: dict) -> Shift:
    again = await Shift.get_or_none(device_id=ctx.device.id, number=n)
    if again is not None:
        await _anomaly(ctx, again, f"shift {n} opened a second time", **fields)
        return again
    if current is not None:
        await _anomaly(ctx, current, f"shift {n} opened while shift {current.number} was "
                                     "still open: it ends here, unclosed", **fields)
        await Shift.filter(id=current.id, state="open").update(state=UNCLOSED,
                                                               close_seq=ctx.seq - 1)
    shift = await Shift.create(shop_id=ctx.shop, device_id=ctx.device.id, number=n,
                               open_seq=ctx.seq, opened_at=ctx.at)
    await shiftlog.append(shift, ctx.shop, ctx.device.id, ctx.seq, ctx.event_id, "open",
                          **fields)
    return shift


def parse_refund(data: Any) -> dict[str, Any]:
    data = _obj(data, "refund data")
    out = {"refund": _int(data, "refund", 1, MAX_ID), "amount": _int(data, "amount", 1, MAX_TOTAL),
           "seller": _seller(data, "seller"), "approved_by": ""}
    if data.get("approved_by") is not None:
        out["approved_by"] = _seller(data, "approved_by")
    return out


async def from_refund(device_id: str, event_id: int | None, data: Any) -> Refund | None:
    """Ingestion's handler for `refund` events: pay out, or refuse with the reason."""
    ctx = await _context(device_id, event_id)
    shift = await shiftlog.open_shift(device_id)
    if shift is not None:
        shift = await _lock(shift)   # one refund of a shift at a time: the cap holds
    try:
        ev = parse_refund(data)
    except Invalid as e:
        await _anomaly(ctx, shift, f"bad refund event: {e}")
        return None
    fields = {"seller": ev["seller"], "approved_by": ev["approved_by"], "refund_id": ev["refund"],
              "amount": ev["amount"]}
    refund = await Refund.get_or_none(id=ev["refund"], method="cash", device_id=device_id)
    if refund is None or refund.status != "pending":
        why = (f"refund {ev['refund']} is not this terminal's" if refund is None
               else f"refund {ev['refund']} is already {refund.status}")
        await _anomaly(ctx, shift, why, **fields)
        if refund is None:
            await cashrefunds.tell(device_id, ev["refund"], "failed", why)
        else:
            await cashrefunds.tell(device_id, refund.id, refund.status, why)
        return refund
    reason = await _refusal(ctx, shift, refund, ev)
    if shift is None and not reason:
        await _anomaly(ctx, None, f"refund {refund.id} paid out with no shift open", **fields)
    await shiftlog.append(shift, ctx.shop, device_id, ctx.seq, event_id,
                          "refund_refused" if reason else "refund", note=reason[:200], **fields)
    return await cashrefunds.settle(device_id, refund, not reason, reason)


async def _refusal(ctx: _Context, shift: Shift | None, refund: Refund, ev: dict) -> str:
    """Why the terminal's payment out is refused ("" when it is not)."""
    if ev["amount"] != refund.amount:
        return f"amount {ev['amount']} is not the refund's {refund.amount}"
    if refund.needs_approval:
        if not ev["approved_by"]:
            return "needs a manager's approval at the terminal"
        if not await _manager(ctx.shop, ev["approved_by"]):
            return f"{ev['approved_by']} is not a manager of {ctx.shop}"
    shop = await Shop.get(id=ctx.shop)
    if shift is not None and shop.shift_refund_cap > 0:
        paid = sum(e.amount for e in await shift.entries.filter(kind="refund"))
        if paid + refund.amount > shop.shift_refund_cap:
            return (f"past the shift's refund cap: {paid} paid out, "
                    f"{refund.amount} more passes {shop.shift_refund_cap}")
    return ""
