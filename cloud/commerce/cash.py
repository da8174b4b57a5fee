"""The `cash` provider: a web order paid in cash at the shop's counter.

The buyer chooses it at checkout (an intent with provider `cash`, no card fields);
the order stays pending_payment and the shop's terminals get `order_new` with
`"pay": "cash"`, the order `version` and the pickup code's hash. At the counter a
logged-in seller takes the cash and the terminal sends `ack` with `"action": "cash"`,
the order `version` it shows and the `amount` (= that version's total). That event
pays the order through the same `orders.pay` as a card provider's callback, so the
version, amount and currency must match and a stale version loses exactly as a
stale card payment does (one conditional UPDATE decides a race with a price change).
The terminals then get `order_update`: `paid` for all of the shop's, or the refusal
(current state, version, total) for the one that asked.

Unlike a card provider there is no callback to verify: the device's signed event
is the credential, and ingestion has already checked its MAC, sequence and device.
Staff may also take the cash at the back office (`take_at_office`, the staff order
page's button): the same `orders.pay`, named after them and audited.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from fingerpos.cloud import orders
from fingerpos.cloud.commerce import checkout, pickup, staging
from fingerpos.cloud.commerce.payments import CallbackResult, Intent, PaymentError
from fingerpos.cloud.core import audit
from fingerpos.cloud.core.errors import Conflict, Invalid, NotFound
from fingerpos.cloud.models.commerce import PaymentIntent
from fingerpos.cloud.models.devices import Device
from fingerpos.cloud.models.orders import Order
from fingerpos.cloud.models.users import User
from fingerpos.cloud.orders import notify
from fingerpos.cloud.orders.rules import MAX_TOTAL
from fingerpos.cloud.orders.saledata import MAX_ID

NAME = "cash"


class CashProvider:
    """The PaymentProvider for cash: nothing to call, nothing to charge.

    Its intent only records the buyer's choice; its "pay page" is the buyer's order
    page (what to bring, the pickup code). It has no webhook: the terminal's signed
    `ack` event settles it (`settle` below).
    """

    name = NAME

    def create_intent(self, order_id: int, version: int, amount: int, currency: str) -> Intent:
        return Intent("pi_" + secrets.token_urlsafe(18), order_id, version, amount, currency,
                      f"/orders/{order_id}")

    def parse_callback(self, headers: dict[str, str], body: bytes,
                       now: float | None = None) -> CallbackResult:
        raise PaymentError("no_callback", "cash is confirmed by a terminal's ack event, "
                                          "never by a callback")


PROVIDER = CashProvider()


async def choose(buyer: User, order_id: int, version: int) -> PaymentIntent:
    """The buyer will pay `version` of their pending order in cash at the counter.

    Choosing twice returns the first choice (and does not prompt the terminals again).
    """
    order = await checkout.payable_order(buyer, order_id, version)
    existing = await PaymentIntent.get_or_none(order_id=order.id, provider=NAME, status="open")
    if existing is not None:
        return existing
    made = PROVIDER.create_intent(order.id, order.version, order.total, order.currency)
    intent = await PaymentIntent.create(id=made.intent_id, order_id=order.id, version=made.version,
                                        amount=made.amount, currency=made.currency, provider=NAME,
                                        buyer_id=buyer.id)
    code = await pickup.code_for(order.id)
    await notify.prompt_terminals(order, code, {"pay": NAME, "version": order.version})
    return intent


@dataclass(frozen=True)
class CashAck:
    order: int
    version: int
    amount: int
    tendered: int | None
    currency: str | None


def _int(data: dict, name: str, lo: int, hi: int) -> int:
    value = data.get(name)
    if type(value) is not int or not lo <= value <= hi:
        raise Invalid(f"{name} must be an integer {lo}..{hi}")
    return value


def parse_cash_ack(data: Any) -> CashAck:
    """`ack` with action cash: order, version, amount (minor units), optional tendered
    (the cash handed over, ≥ amount) and currency."""
    if not isinstance(data, dict):
        raise Invalid("ack data must be an object")
    amount = _int(data, "amount", 0, MAX_TOTAL)
    tendered = data.get("tendered")
    if tendered is not None and (type(tendered) is not int or not amount <= tendered <= MAX_TOTAL):
        raise Invalid("tendered must be an integer at least the amount")
    currency = data.get("currency")
    if currency is not None and not (isinstance(currency, str) and len(currency) == 3
                                     and currency.isascii() and currency.isupper()):
        raise Invalid("currency must be three capital letters")
    return CashAck(order=_int(data, "order", 1, MAX_ID), version=_int(data, "version", 1, MAX_ID),
                   amount=amount, tendered=tendered, currency=currency)


async def ack(device_id: str, event_id: int | None, data: Any) -> Any:
    """Ingestion's handler for `ack` events: `cash` here, the others to the order engine."""
    if isinstance(data, dict) and data.get("action") == NAME:
        return await settle(device_id, event_id, data)
    return await orders.device_ack(device_id, event_id, data)


async def settle(device_id: str, event_id: int | None, data: Any) -> Order:
    """A terminal took the cash: pay the order, then tell the terminals how it went.

    A refusal is answered, not raised: raising would roll back the refused Payment
    row kept as evidence (the handler runs inside the ingestion's savepoint).
    """
    cash = parse_cash_ack(data)
    device = await Device.get_or_none(id=device_id)
    if device is None or device.revoked:
        raise NotFound(f"no active device {device_id}")
    order = await Order.get_or_none(id=cash.order, shop_id=device.shop)
    if order is None:   # another shop's order does not exist for this terminal
        raise NotFound(f"no order {cash.order} in shop {device.shop}")
    if order.source != "web" or not await pickup.pays_cash(order.id):
        await notify.update_terminals(order, [device_id])
        return order
    note = f"payment cash at terminal {device_id}"
    if cash.tendered is not None:
        note += f" (tendered {cash.tendered})"
    try:
        paid, _ = await orders.pay(order.id, cash.amount, cash.currency or order.currency,
                                   cash.version, NAME, pickup_code=await pickup.code_for(order.id),
                                   device_id=device_id, event_id=event_id, prompt=False,
                                   note=note)
    except Conflict:
        current = await Order.get(id=order.id)
        await notify.update_terminals(current, [device_id])
        return current
    mine = await PaymentIntent.filter(order_id=order.id, provider=NAME).order_by("created_at").first()
    if mine is not None:   # pays_cash() found it; the order is paid at this version and amount
        await PaymentIntent.filter(id=mine.id).update(status="succeeded", version=cash.version,
                                                      amount=cash.amount)
        await checkout.close_others(order.id, mine.id)
    await notify.update_terminals(paid)
    return paid


async def take_at_office(user: User, order_id: int, version: int) -> Order:
    """Staff of the order's shop took the cash for `version` of an unpaid web order (not
    at a terminal): paid exactly as a terminal's cash ack pays it, the order event names
    them, and the audit trail keeps who took how much. A stale version is refused (409)."""
    order = await staging.staff_order(order_id, user)
    if order.source != "web":
        raise Conflict("an in-person sale is paid at the terminal")
    chose_cash = await pickup.pays_cash(order.id)
    paid, _ = await orders.pay(order.id, order.total, order.currency, version, NAME,
                               pickup_code=await pickup.code_for(order.id), prompt=not chose_cash,
                               user_id=user.id, note=f"payment cash taken by user {user.id}")
    mine = await PaymentIntent.filter(order_id=order.id, provider=NAME).order_by("created_at").first()
    if mine is not None:
        await PaymentIntent.filter(id=mine.id).update(status="succeeded", version=version,
                                                      amount=paid.total)
    await checkout.close_others(order.id, mine.id if mine else "")
    await audit.record(f"user:{user.id}", "order.cash", f"order:{order.id}",
                       {"amount": paid.total, "currency": paid.currency, "version": version},
                       user_id=user.id)
    if chose_cash:   # the shop's terminals show it as cash due: now it is paid
        await notify.update_terminals(paid)
    return paid
