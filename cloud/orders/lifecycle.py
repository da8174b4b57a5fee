"""Moving orders along: terminal acknowledgements, cancellation, and the timers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fingerpos.cloud.core import audit
from fingerpos.cloud.core.errors import Conflict, Forbidden, NotFound
from fingerpos.cloud.fleet import alarms
from fingerpos.cloud.models.commerce import PaymentIntent
from fingerpos.cloud.models.devices import Device
from fingerpos.cloud.models.orders import Order, OrderEvent
from fingerpos.cloud.models.shops import Shop
from fingerpos.cloud.models.users import Role, User
from fingerpos.cloud.orders import notify, saledata, stock
from fingerpos.cloud.orders.rules import pickup_matches
from fingerpos.cloud.orders.states import State, ack_target, check_transition
from tortoise.expressions import Subquery
from tortoise.transactions import in_transaction


async def move(order: Order, target: State, *, user_id: int | None = None,
               device_id: str | None = None, event_id: int | None = None,
               note: str = "") -> Order:
    """One checked transition, recorded as an order event; conditional on the state not
    having changed since `order` was read (a racing move loses with a Conflict). An order
    that ends unpaid (cancelled, expired) gives back its stock reservations in the same
    transaction."""
    check_transition(order.state, target)
    levels: list[stock.Level] = []
    now = datetime.now(UTC)
    async with in_transaction() as conn:
        changed = await Order.filter(id=order.id, state=order.state).using_db(conn).update(
            state=target.value, state_changed_at=now)
        if not changed:
            raise Conflict(f"order {order.id} changed meanwhile; reload it")
        await OrderEvent.create(order_id=order.id, from_state=order.state, to_state=target.value,
                                user_id=user_id, device_id=device_id, device_event_id=event_id,
                                note=note[:200], using_db=conn)
        if target in (State.CANCELLED, State.EXPIRED):
            levels = await stock.release(order.id, note or target.value, device_id=device_id,
                                         user_id=user_id)
    await stock.raise_alarms(levels)
    before = order.state
    order = await Order.get(id=order.id)
    await notify.order_changed(order)
    if await _terminals_show(order, before, target):
        await notify.update_terminals(order)
    return order


# States in which the shop's terminals hold a web order's prompt (order_new went out).
_PROMPTED = {State.PAID.value, State.ACCEPTED.value, State.FULFILLED.value}


async def _terminals_show(order: Order, before: str, target: State) -> bool:
    """Does the shop's terminals' prompt for this order end with this move? A web order
    is on the terminals once paid, or while pending when the buyer chose cash at the
    counter; a prompt for an order that is cancelled or expired must go away."""
    if order.source != "web" or target not in (State.CANCELLED, State.EXPIRED):
        return False
    if before in _PROMPTED:
        return True
    return before == State.PENDING_PAYMENT.value and \
        await PaymentIntent.exists(order_id=order.id, provider="cash")


async def device_ack(device_id: str, event_id: int | None, data: dict[str, Any]) -> Order:
    """A terminal's `ack` (accept | ship | handover) for an order of its shop."""
    ack = saledata.parse_ack(data)
    device = await Device.get_or_none(id=device_id)
    if device is None or device.revoked:
        raise NotFound(f"no active device {device_id}")
    order = await Order.get_or_none(id=ack.order, shop_id=device.shop)
    if order is None:
        raise NotFound(f"no order {ack.order} in shop {device.shop}")
    target = ack_target(order.state, ack.action)
    if ack.action == "handover" and order.source == "web":
        if not pickup_matches(notify.pickup_key(), order.id, ack.pickup or "", order.pickup_hash):
            await alarms.raise_alarm(device_id, "pickup_mismatch", "warning",
                                     f"wrong pickup code for order {order.id}")
            raise Forbidden("the pickup code does not match this order")
    return await move(order, target, device_id=device_id, event_id=event_id,
                      note=f"terminal {ack.action}")


async def _visible_order(order_id: int, user: User) -> Order:
    order = await Order.get_or_none(id=order_id)
    visible = order is not None and (
        user.role == Role.ADMIN
        or (user.role == Role.BUYER and order.buyer_id == user.id)
        or (user.role in (Role.SELLER, Role.MANAGER) and order.shop_id == user.shop_id))
    if not visible:
        raise NotFound(f"no order {order_id}")
    return order  # type: ignore[return-value]


async def stage(order_id: int, user: User, hold: bool) -> Order:
    """Hold an unpaid order for revision (staff), or release it back to pending_payment;
    a release restarts the payment timer."""
    order = await _visible_order(order_id, user)
    if user.role == Role.BUYER:
        raise Forbidden("only the shop holds or releases orders")
    target = State.HELD if hold else State.PENDING_PAYMENT
    if not hold and order.state != State.HELD:
        raise Conflict(f"order {order_id} is {order.state}, not held")
    order = await move(order, target, user_id=user.id, note="held" if hold else "released")
    await audit.record(f"user:{user.id}", "order.hold" if hold else "order.release",
                       f"order:{order_id}", user_id=user.id)
    return order


async def cancel(order_id: int, user: User) -> Order:
    """A buyer cancels their unpaid order; staff cancel their shop's; admins any."""
    order = await _visible_order(order_id, user)
    if user.role == Role.BUYER and order.state != State.PENDING_PAYMENT:
        raise Conflict("a paid order can be cancelled only by the shop")
    order = await move(order, State.CANCELLED, user_id=user.id, note="cancelled")
    await audit.record(f"user:{user.id}", "order.cancel", f"order:{order_id}", user_id=user.id)
    return order


def _cash_orders() -> Subquery:
    return Subquery(PaymentIntent.filter(provider="cash").values("order_id"))


async def deadline(order: Order, unpaid_expiry_s: float) -> datetime | None:
    """When an unpaid order expires: `unpaid_expiry_s` after it last changed state, or its
    shop's cash_expiry_s when the buyer pays cash at the counter (they have to come in)."""
    if order.state != State.PENDING_PAYMENT.value:
        return None
    wait = unpaid_expiry_s
    if await PaymentIntent.exists(order_id=order.id, provider="cash"):
        shop = await Shop.get_or_none(id=order.shop_id)
        wait = shop.cash_expiry_s if shop else wait
    return order.state_changed_at + timedelta(seconds=wait)


async def _due(older_than_s: float) -> list[Order]:
    """Unpaid orders past their deadline (at most 500 a round): card orders after
    `older_than_s`, cash-at-the-counter ones after their shop's cash_expiry_s."""
    now = datetime.now(UTC)
    due = await Order.filter(state=State.PENDING_PAYMENT.value,
                             state_changed_at__lt=now - timedelta(seconds=older_than_s)
                             ).exclude(id__in=_cash_orders()).limit(500)
    waits = dict(await Shop.all().values_list("id", "cash_expiry_s"))
    if waits:
        oldest = now - timedelta(seconds=min(waits.values()))
        due += [o for o in await Order.filter(state=State.PENDING_PAYMENT.value,
                                              id__in=_cash_orders(), state_changed_at__lt=oldest
                                              ).limit(500)
                if o.state_changed_at < now - timedelta(seconds=waits.get(o.shop_id, 0))]
    return due


async def expire_unpaid(older_than_s: float) -> int:
    """Expire pending_payment orders past their deadline (`deadline`); return how many."""
    n = 0
    for order in await _due(older_than_s):
        try:
            await move(order, State.EXPIRED, note="not paid in time")
            n += 1
        except Conflict:
            pass  # paid or expired by someone else in the meantime: nothing to do
    return n


async def flag_unaccepted(older_than_s: float) -> int:
    """Raise one alarm per paid web order not accepted within `older_than_s`."""
    cutoff = datetime.now(UTC) - timedelta(seconds=older_than_s)
    n = 0
    for order in await Order.filter(state=State.PAID.value, source="web", alerted=False,
                                    state_changed_at__lt=cutoff).limit(500):
        if await Order.filter(id=order.id, alerted=False).update(alerted=True):
            await alarms.raise_alarm(None, f"unaccepted:{order.shop_id}", "warning",
                                     f"order {order.id} paid but not accepted for "
                                     f"{int(older_than_s // 60)} min",
                                     shop=order.shop_id, subject=str(order.id))
            n += 1
    return n
