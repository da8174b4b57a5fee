"""Validation before print (校检), holding (暂存) and revision (修订) of stored orders.

`check` builds a validation.Revision from the stored order (lines, the revision's
adjustments, total, currency, version) and adds what only the database knows: the
terminal event the order came from must still exist for that device, name the
same items, and its signature must still verify with the device's key over the
exact body text the ingestion kept (events stored before that column existed
are checked by content only). An order
that fails goes to `held` with its reasons; `revise` writes a new revision and sends
it back through `check`.
"""

from __future__ import annotations

from typing import Any

from fingerpos import protocol
from fingerpos.cloud.commerce import validation as v
from fingerpos.cloud.core import audit, monitor
from fingerpos.cloud.core.appkeys import KEYRING
from fingerpos.cloud.core.errors import Conflict, Forbidden, NotFound
from fingerpos.cloud.fleet import alarms
from fingerpos.cloud.models.commerce import OrderCheck, RevisionSnapshot
from fingerpos.cloud.models.devices import Device, DeviceEvent
from fingerpos.cloud.models.orders import Order, OrderEvent, OrderLine, OrderRevision, Payment
from fingerpos.cloud.models.shops import Product
from fingerpos.cloud.models.users import Role, User
from fingerpos.cloud.orders import notify, revisions
from fingerpos.cloud.orders.lifecycle import move
from fingerpos.cloud.orders.states import TRANSITIONS, State
from tortoise.transactions import in_transaction


async def staff_order(order_id: int, user: User) -> Order:
    """The order, when `user` is staff of its shop (admins: any); 404 otherwise."""
    order = await Order.get_or_none(id=order_id)
    if order is None or not (user.role == Role.ADMIN or (
            user.role in (Role.SELLER, Role.MANAGER) and order.shop_id == user.shop_id)):
        raise NotFound(f"no order {order_id}")
    return order


async def _lines(order: Order) -> list[dict[str, Any]]:
    return await revisions.lines_of(order.id)


async def _adjustments(order: Order) -> list[tuple[str, int]]:
    return await revisions.adjustments_of(order.id, order.version)


async def _source_problems(order: Order) -> list[v.Problem]:
    if order.source != "terminal":
        return []
    first = await OrderEvent.filter(order_id=order.id, from_state=None).first()
    event = None
    if first is not None and first.device_event_id is not None:
        event = await DeviceEvent.get_or_none(id=first.device_event_id, device_id=order.device_id)
    if event is None:
        return [v.Problem("source_missing", "the terminal sale this order came from is not stored")]
    signature = await _signature_problems(event)
    if signature:
        return signature
    body = event.body if isinstance(event.body, dict) else {}
    data = body.get("data", body)
    items = data.get("items") if isinstance(data, dict) else None
    snap = await RevisionSnapshot.get_or_none(order_id=order.id, version=1)
    original = snap.lines if snap else await _lines(order)
    sold = [(i.get("sku"), i.get("qty"), i.get("price")) for i in items or [] if isinstance(i, dict)]
    stored = [(ln["sku"], ln["qty"], ln["unit_price"]) for ln in original]
    if event.typ != "sale" or sorted(map(repr, sold)) != sorted(map(repr, stored)):
        return [v.Problem("source_mismatch", f"the order's first revision differs from the "
                                             f"terminal's signed sale (event {event.seq})")]
    return []


async def _signature_problems(event: DeviceEvent) -> list[v.Problem]:
    """Verify the stored source event's MAC again (validation.validate does the check)."""
    app = monitor.current_app()
    device = await Device.get_or_none(id=event.device_id)
    if not (event.raw_body and event.sig) or app is None or device is None:
        return []
    key = app[KEYRING].open(device.key_enc, device.id)
    payload = event.raw_body.encode() + b"\n" + event.sig.encode()
    src = v.SourceEvent(protocol.evt_topic(device.id), payload, key)
    return v.validate_sources((src,))


async def problems_of(order: Order) -> list[v.Problem]:
    latest = await OrderRevision.filter(order_id=order.id).order_by("-version").first()
    rev = v.Revision(
        order_id=order.id, version=latest.version if latest else 0,
        current_version=order.version, currency=order.currency,
        lines=tuple(v.Line(ln["sku"], ln["name"], ln["qty"], ln["unit_price"],
                           ln["qty"] * ln["unit_price"], order.currency)
                    for ln in await _lines(order)),
        adjustments=tuple(await _adjustments(order)), total=order.total)
    return v.validate(rev) + await _source_problems(order)


async def check(order: Order, user: User | None) -> list[v.Problem]:
    """Validate; record the outcome; hold a failing order with its reasons."""
    problems = await problems_of(order)
    await OrderCheck.create(order_id=order.id, version=order.version, ok=not problems,
                            problems=[{"code": p.code, "message": p.message} for p in problems],
                            user_id=user.id if user else None)
    if problems and State.HELD not in TRANSITIONS.get(State(order.state), frozenset()):
        # A completed order (an in-person sale is completed at once) stays completed, is
        # not printed, and someone is told: its timeline and an alarm of its shop.
        reasons = "; ".join(p.code for p in problems)
        await OrderEvent.create(order_id=order.id, from_state=order.state, to_state=order.state,
                                user_id=user.id if user else None,
                                note=f"validation failed: {reasons}"[:200])
        await alarms.raise_alarm(None, "order_invalid", "warning",
                                 f"order {order.id} fails validation: {reasons}",
                                 shop=order.shop_id, subject=str(order.id))
    elif problems:
        reasons = "; ".join(p.code for p in problems)
        await move(order, State.HELD, user_id=user.id if user else None,
                   note=f"validation failed: {reasons}")
        await audit.record(f"user:{user.id}" if user else "system", "order.hold",
                           f"order:{order.id}", {"problems": [p.message for p in problems]},
                           user_id=user.id if user else None)
    return problems


async def _covered(order: Order) -> bool:
    """Does money already taken pay the revised total? An accepted payment of that amount,
    or a terminal sale's payment refused only for not matching (the cash was taken at the
    counter), which the revision now makes right."""
    pays = Payment.filter(order_id=order.id, amount=order.total, currency=order.currency)
    if await pays.filter(accepted=True).exists():
        return True
    if order.source != "terminal":
        return False
    return bool(await pays.filter(accepted=False).update(
        accepted=True, reason=f"matches revision {order.version}"))


async def revise(order_id: int, user: User, version: int, lines: list[dict[str, Any]],
                 adjustments: list[tuple[str, int]] | None,
                 reason: str) -> tuple[Order, list[v.Problem]]:
    """修订: a held order gets new lines/adjustments as revision version+1, then is checked
    again; valid, it returns to paid (its accepted payment covers the new total) or to
    pending_payment. `adjustments=None` keeps those of the version it replaces (its price
    changes among them): a revision starts from the current version."""
    order = await staff_order(order_id, user)
    if user.role == Role.SELLER and not user.can_change_price:
        raise Forbidden("revising an order needs the price-change right or a manager")
    if order.state != State.HELD:
        raise Conflict(f"only a held order can be revised (the order is {order.state})")
    if version != order.version:
        raise Conflict(f"stale version: the order is at version {order.version}, not {version}")
    if adjustments is None:
        adjustments = await _adjustments(order)
    total = sum(ln["qty"] * ln["unit_price"] for ln in lines) + sum(a for _, a in adjustments)
    if total < 0:
        raise Conflict("the revised total would be negative")
    old_lines = await _lines(order)
    async with in_transaction() as conn:
        changed = await Order.filter(id=order.id, version=version, state=State.HELD.value
                                     ).using_db(conn).update(version=version + 1, total=total)
        if not changed:
            raise Conflict("the order changed meanwhile; reload it")
        if not await RevisionSnapshot.filter(order_id=order.id, version=version).using_db(conn).exists():
            await RevisionSnapshot.create(order_id=order.id, version=version, lines=old_lines,
                                          adjustments=[], using_db=conn)
        await RevisionSnapshot.create(order_id=order.id, version=version + 1, lines=lines,
                                      adjustments=[list(a) for a in adjustments], user_id=user.id,
                                      using_db=conn)
        # a line keeps the tax rate it was sold at; a line new to the order takes its product's
        rates = dict(await OrderLine.filter(order_id=order.id).using_db(conn)
                     .values_list("sku", "tax_rate"))
        fresh = {ln["sku"] for ln in lines} - rates.keys()
        if fresh:
            rates.update(await Product.filter(shop_id=order.shop_id, sku__in=fresh)
                         .using_db(conn).values_list("sku", "tax_rate"))
        await OrderLine.filter(order_id=order.id).using_db(conn).delete()
        await OrderLine.bulk_create([OrderLine(order_id=order.id, sku=ln["sku"], name=ln["name"],
                                               qty=ln["qty"], unit_price=ln["unit_price"],
                                               tax_rate=rates.get(ln["sku"]))
                                     for ln in lines], using_db=conn)
        await OrderRevision.create(order_id=order.id, version=version + 1, total=total,
                                   reason=reason[:200], user_id=user.id, using_db=conn)
        await audit.record(f"user:{user.id}", "order.revise", f"order:{order.id}",
                           {"version": version + 1, "total": total, "reason": reason[:200]},
                           user_id=user.id, using_db=conn)
    order = await Order.get(id=order.id)
    await notify.order_changed(order)
    problems = await check(order, user)
    if not problems:
        target = State.PAID if await _covered(order) else State.PENDING_PAYMENT
        order = await move(order, target, user_id=user.id,
                           note=f"revision {order.version} valid")
    return order, problems
