"""Order generation, payment and price change: the database edge of the order rules.

Races are settled by the database, not by Python: payment and price change
are both a conditional UPDATE ... WHERE version = expected, so when they
race on the same version exactly one changes a row and the other sees 0 rows
and is refused.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fingerpos.cloud.core import audit
from fingerpos.cloud.core.errors import Conflict, DomainError, Invalid, NotFound
from fingerpos.cloud.models.devices import Device
from fingerpos.cloud.models.orders import Order, OrderEvent, OrderLine, OrderRevision, Payment
from fingerpos.cloud.models.shops import Product
from fingerpos.cloud.models.users import User
from fingerpos.cloud.orders import notify, revisions, saledata, sales, stock
from fingerpos.cloud.orders.queries import order_json
from fingerpos.cloud.orders.rules import (
    Line,
    PriceActor,
    check_price_change,
    new_pickup_code,
    payment_refusal,
    pickup_digest,
    total_of,
)
from fingerpos.cloud.orders.states import PRICE_CHANGEABLE, State
from tortoise.transactions import in_transaction


async def _create(shop_id: str, source: str, state: State, lines: list[Line], currency: str,
                  conn: Any, *, buyer: User | None = None, device_id: str | None = None,
                  ref: str | None = None, user_id: int | None = None,
                  event_id: int | None = None, note: str = "") -> Order:
    now = datetime.now(UTC)
    order = await Order.create(shop_id=shop_id, buyer=buyer, source=source, device_id=device_id,
                               ref=ref, state=state.value, version=1, total=total_of(lines),
                               currency=currency, state_changed_at=now, using_db=conn)
    await OrderLine.bulk_create([OrderLine(order_id=order.id, sku=ln.sku, name=ln.name, qty=ln.qty,
                                           unit_price=ln.unit_price, tax_rate=ln.tax_rate)
                                 for ln in lines],
                                using_db=conn)
    await OrderRevision.create(order_id=order.id, version=1, total=order.total, reason="created",
                               user_id=user_id, device_id=device_id, using_db=conn)
    await OrderEvent.create(order_id=order.id, from_state=None, to_state=state.value,
                            user_id=user_id, device_id=device_id, device_event_id=event_id,
                            note=note, using_db=conn)
    return order


async def create_from_cart(buyer: User, shop_id: str, items: list[dict[str, Any]]) -> Order:
    """A web cart -> a pending_payment order priced from the shop's catalogue.

    `items` is [{"sku": str, "qty": int}, ...], already checked for type and range.
    Products that track stock are reserved in the same transaction; a cart that asks
    for more than is available is refused (stock.OutOfStock, 409) and creates nothing.
    """
    skus = [item["sku"] for item in items]
    if len(set(skus)) != len(skus):
        raise Invalid("each sku may appear once in a cart")
    products = {p.sku: p for p in await Product.filter(shop_id=shop_id, sku__in=skus)}
    missing = [s for s in skus if s not in products]
    if missing:
        raise NotFound(f"shop {shop_id} does not sell {', '.join(missing[:5])}")
    currencies = {p.currency for p in products.values()}
    if len(currencies) != 1:
        raise Invalid("a cart must be in one currency")
    lines = [Line(sku=i["sku"], qty=i["qty"], unit_price=products[i["sku"]].price,
                  name=products[i["sku"]].name, tax_rate=products[i["sku"]].tax_rate)
             for i in items]
    async with in_transaction() as conn:
        order = await _create(shop_id, "web", State.PENDING_PAYMENT, lines, currencies.pop(), conn,
                              buyer=buyer, user_id=buyer.id)
        levels = await stock.reserve(order.id, shop_id, {i["sku"]: i["qty"] for i in items},
                                     buyer.id)
    await stock.raise_alarms(levels)
    await notify.order_changed(order)
    return order


async def from_sale(device_id: str, event_id: int | None, data: dict[str, Any]) -> Order:
    """A terminal `sale` event -> a paid order at once (idempotent per device and `ref`:
    the unique index decides, so the common first delivery costs no extra lookup).

    A sale whose payment does not cover its items is kept as a `held` order and
    raises an alarm, rather than being dropped. The same path as the ingestion's
    batches (sales.from_sales), for one sale.
    """
    async with in_transaction() as conn:
        batch = await sales.from_sales(conn, [(device_id, event_id, data)])
    if batch.refused:
        raise batch.refused[0][1]
    await batch.after_commit()
    return await Order.get(device_id=device_id, ref=batch.plans[0].sale.ref)


async def pay(order_id: int, amount: int, currency: str, version: int,
              method: str = "web", *, pickup_code: str | None = None,
              device_id: str | None = None, event_id: int | None = None,
              prompt: bool = True, note: str = "",
              user_id: int | None = None) -> tuple[Order, str]:
    """Pay a pending order; accepted only when amount, currency and version all match.

    Returns the paid order and its pickup code (the order keeps only its HMAC;
    commerce passes the code it made and sealed for the buyer as `pickup_code`,
    else a fresh one is drawn). A payment taken at a terminal names the device
    and its event (`device_id`, `event_id`) for the order event, and `prompt=False`
    skips `order_new`: those terminals already show the order; staff who took the cash
    at the back office name themselves (`user_id`). Raises Conflict
    (HTTP 409) with the reason otherwise; refused attempts are kept as Payment rows.
    """
    now = datetime.now(UTC)
    code = pickup_code or new_pickup_code()
    async with in_transaction() as conn:
        order = await Order.get_or_none(id=order_id).using_db(conn)
        if order is None:
            raise NotFound(f"no order {order_id}")
        refusal = payment_refusal(order.state, order.version, order.total, order.currency,
                                  amount, currency, version)
        if refusal is None:
            digest = pickup_digest(notify.pickup_key(), order.id, code)
            changed = await Order.filter(id=order_id, version=version,
                                         state=State.PENDING_PAYMENT.value).using_db(conn).update(
                state=State.PAID.value, state_changed_at=now, pickup_hash=digest)
            if not changed:
                refusal = "the order changed while it was being paid; reload it and pay again"
            else:   # what the order reserved leaves the shelf with this payment
                await stock.consume(order_id, device_id=device_id)
        await Payment.create(order_id=order_id, amount=amount, currency=currency[:3],
                             version=version, method=method[:20], accepted=refusal is None,
                             reason=(refusal or "")[:100], using_db=conn)
        if refusal is None:
            await OrderEvent.create(order_id=order_id, from_state=State.PENDING_PAYMENT.value,
                                    to_state=State.PAID.value,
                                    user_id=user_id if user_id is not None else
                                    None if device_id else order.buyer_id,
                                    device_id=device_id, device_event_id=event_id,
                                    note=(note or f"payment {method}")[:200], using_db=conn)
    if refusal is not None:
        raise Conflict(refusal)
    order = await Order.get(id=order_id)
    await notify.order_changed(order)
    if prompt:
        await notify.prompt_terminals(order, code)
    return order, code


async def change_price(order_id: int, expected_version: int, new_total: int, reason: str,
                       actor: PriceActor, *, user_id: int | None = None,
                       device_id: str | None = None, event_id: int | None = None) -> Order:
    """改价: a new revision (version + 1) with the new total, the difference as an adjustment
    line (orders/revisions.py); the old revision stays."""
    async with in_transaction() as conn:
        order = await Order.get_or_none(id=order_id).using_db(conn)
        if order is None:
            raise NotFound(f"no order {order_id}")
        check_price_change(actor, order.shop_id, order.state, order.version, expected_version,
                           new_total)
        changed = await Order.filter(
            id=order_id, version=expected_version,
            state__in=[s.value for s in PRICE_CHANGEABLE]).using_db(conn).update(
            version=expected_version + 1, total=new_total)
        if not changed:
            raise Conflict("the order changed meanwhile (paid or re-priced); reload it")
        await OrderRevision.create(order_id=order_id, version=expected_version + 1, total=new_total,
                                   reason=reason[:200], user_id=user_id, device_id=device_id,
                                   using_db=conn)
        # the difference is an adjustment line: lines + adjustments == the new total
        await revisions.snapshot_price_change(order_id, expected_version, new_total, reason,
                                              user_id, conn)
        actor_label = f"user:{user_id}" if user_id is not None else f"device:{device_id}"
        await audit.record(actor_label, "order.price_change", f"order:{order_id}",
                           {"from": order.total, "to": new_total, "version": expected_version + 1,
                            "reason": reason[:200], "event": event_id},
                           user_id=user_id, using_db=conn)
    order = await Order.get(id=order_id)
    await notify.order_changed(order)
    await notify.update_terminals(order)  # those showing it (a cash-at-the-counter order)
    return order


async def price_change_from_device(device_id: str, event_id: int | None,
                                   data: dict[str, Any]) -> dict[str, Any]:
    """A terminal's `price_change` event; answers the terminal with `price_result`.

    The terminal has authenticated its seller; the cloud checks the device
    belongs to the order's shop and, when the event names the seller, that
    this seller holds the price-change right.
    """
    req = saledata.parse_price_change(data)
    device = await Device.get_or_none(id=device_id)
    result: dict[str, Any] = {"order": req.order, "ok": False, "version": req.version, "reason": ""}
    try:
        if device is None or device.revoked:
            raise NotFound(f"no active device {device_id}")
        allowed = True
        if req.seller is not None:
            seller = await User.get_or_none(id=req.seller)
            allowed = bool(seller and seller.shop_id == device.shop and
                           (seller.can_change_price or seller.role == "manager"))
        actor = PriceActor("device", device.shop, allowed)
        order = await change_price(req.order, req.version, req.total, req.reason, actor,
                                   device_id=device_id, event_id=event_id,
                                   user_id=req.seller if allowed else None)
        result.update(ok=True, version=order.version)
    except DomainError as e:  # every refusal is answered, none is lost
        result["reason"] = e.message[:100]
    await notify.send_command(device_id, "price_result", result)
    return result


__all__ = ["change_price", "create_from_cart", "from_sale", "order_json", "pay",
           "price_change_from_device"]
