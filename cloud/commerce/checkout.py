"""Paying web orders through a provider: intents for one order version, the sandbox's
hosted page submission, and the signed callback that pays the order.

Every provider's callback ends in `settle`, which matches the intent, refuses replays
(payment_callbacks' primary key, shared by all workers), and calls the order engine's
`pay` with amount, currency and version, so a stale version is refused there (409).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from fingerpos.cloud import orders
from fingerpos.cloud.accounts.throttle import Throttle
from fingerpos.cloud.commerce import pickup
from fingerpos.cloud.commerce.payments import (
    SIGNATURE_HEADER,
    PaymentError,
    SandboxProvider,
    luhn_ok,
    sign_callback,
)
from fingerpos.cloud.core.errors import Conflict, Invalid, NotFound
from fingerpos.cloud.models.commerce import CallbackReceipt, PaymentIntent
from fingerpos.cloud.models.orders import Order
from fingerpos.cloud.models.users import User
from fingerpos.cloud.orders.states import State
from tortoise.exceptions import IntegrityError

MAX_FAILED_ATTEMPTS = 5      # declined or invalid cards per intent before 429
_ATTEMPT_WINDOW_S = 600.0
_providers: dict[str, SandboxProvider] = {}


def sandbox(secret: str) -> SandboxProvider:
    """The sandbox provider for the cloud's secret (one per secret: its replay cache)."""
    if secret not in _providers:
        import hashlib
        import hmac
        key = hmac.new(secret.encode(), b"fingerpos sandbox callbacks", hashlib.sha256).digest()
        _providers[secret] = SandboxProvider(key)
    return _providers[secret]


def intent_json(i: PaymentIntent) -> dict[str, Any]:
    pay_url = f"/orders/{i.order_id}" if i.provider == "cash" else f"/pay/sandbox/{i.id}"
    return {"id": i.id, "order": i.order_id, "version": i.version, "amount": i.amount,
            "currency": i.currency, "provider": i.provider, "status": i.status,
            "reason": i.reason, "card_last4": i.card_last4, "pay_url": pay_url}


async def payable_order(buyer: User, order_id: int, version: int) -> Order:
    """The buyer's own order, awaiting payment at `version`; NotFound or Conflict otherwise."""
    order = await Order.get_or_none(id=order_id, buyer_id=buyer.id)
    if order is None:
        raise NotFound(f"no order {order_id}")
    if order.state != State.PENDING_PAYMENT:
        raise Conflict(f"the order is {order.state}, not awaiting payment")
    if version != order.version:
        raise Conflict(f"stale version: the order is at version {order.version} (its total "
                       f"is now {order.total}); reload it and pay again")
    return order


async def create_intent(provider: SandboxProvider, buyer: User, order_id: int,
                        version: int) -> PaymentIntent:
    """An intent to pay `version` of the buyer's own pending order."""
    order = await payable_order(buyer, order_id, version)
    intent = provider.create_intent(order.id, order.version, order.total, order.currency)
    return await PaymentIntent.create(id=intent.intent_id, order_id=order.id, version=order.version,
                                      amount=order.total, currency=order.currency,
                                      provider=provider.name, buyer_id=buyer.id)


# Failed card attempts per intent, counted in the database: every worker shares one budget.
ATTEMPTS = Throttle("pay", MAX_FAILED_ATTEMPTS, _ATTEMPT_WINDOW_S,
                    "too many failed payment attempts for this payment; start a new one later")


async def public_intent(intent_id: str) -> PaymentIntent:
    intent = await PaymentIntent.get_or_none(id=intent_id)
    if intent is None:
        raise NotFound("no such payment")
    return intent


async def sandbox_pay(provider: SandboxProvider, intent_id: str, card_number: str,
                      decline: bool) -> dict[str, Any]:
    """The hosted sandbox page's submission: check the card (never kept), then act as the
    provider: sign a callback and deliver it to `settle`, as a real provider's webhook."""
    await ATTEMPTS.check(intent_id)
    intent = await public_intent(intent_id)
    if intent.provider != provider.name:   # a cash intent is paid at the counter, not here
        raise NotFound("no such payment")
    if not luhn_ok(card_number):
        await ATTEMPTS.hit(intent_id)
        raise Invalid("card_number: the card number is not valid")
    claimed = await PaymentIntent.filter(id=intent_id, status="open").update(
        status="processing", claimed_at=datetime.now(UTC))
    if not claimed:
        raise Conflict(f"this payment is already {intent.status}")
    if decline:
        await ATTEMPTS.hit(intent_id)
    digits = card_number.replace(" ", "")
    body = provider.callback_body(
        _as_intent(intent), succeeded=not decline, card_last4=digits[-4:])
    header = sign_callback(provider.secret, body, int(time.time()))
    return await settle(provider, {SIGNATURE_HEADER: header}, body)


def _as_intent(i: PaymentIntent) -> Any:
    from fingerpos.cloud.commerce.payments import Intent
    return Intent(i.id, i.order_id, i.version, i.amount, i.currency, "")


async def settle(provider: SandboxProvider, headers: dict[str, str], body: bytes) -> dict[str, Any]:
    """A provider callback: verify, refuse replays, match the intent, pay the order."""
    try:
        result = provider.parse_callback(headers, body)
    except PaymentError as e:
        raise refusal(e) from None
    await remember_signature(headers, result.intent_id)
    intent = await PaymentIntent.get_or_none(id=result.intent_id[:40])
    if intent is None or intent.provider != provider.name or (
            intent.order_id, intent.version, intent.amount, intent.currency) != (
            result.order_id, result.version, result.amount, result.currency):
        raise Invalid("callback does not match any payment intent")
    if intent.status not in ("open", "processing"):
        raise Conflict(f"this payment is already {intent.status}")
    if not result.succeeded:
        await PaymentIntent.filter(id=intent.id).update(status="failed", reason="card declined",
                                                        card_last4=result.card_last4)
        intent = await PaymentIntent.get(id=intent.id)
        return {"intent": intent_json(intent), "paid": False}
    try:  # the code sealed for the buyer: their page shows it however late this runs
        order, code = await orders.pay(intent.order_id, result.amount, result.currency,
                                       result.version, method=provider.name,
                                       pickup_code=await pickup.code_for(intent.order_id))
    except Conflict as e:
        await PaymentIntent.filter(id=intent.id).update(status="refused", reason=e.message[:200],
                                                        card_last4=result.card_last4)
        raise
    await PaymentIntent.filter(id=intent.id).update(status="succeeded",
                                                    card_last4=result.card_last4)
    await close_others(intent.order_id, intent.id)
    intent = await PaymentIntent.get(id=intent.id)
    return {"intent": intent_json(intent), "paid": True, "order": orders.order_json(order),
            "pickup_code": code}


def refusal(e: PaymentError) -> Conflict | Invalid:
    """The HTTP answer to a callback the provider's check refused: 409 for a replay."""
    if e.code == "replayed":
        return Conflict(f"replayed callback: {e}")
    return Invalid(f"callback refused ({e.code}): {e}")


async def remember_signature(headers: dict[str, str], ref: str) -> None:
    """Keep a verified callback's signature (refused replays across workers): the first
    delivery wins the primary key, any copy of it is a Conflict (409)."""
    header = next(v for k, v in headers.items() if k.lower() == SIGNATURE_HEADER.lower())
    sig = dict(p.split("=", 1) for p in header.split(",") if "=" in p)["v1"]
    try:
        await CallbackReceipt.create(signature=sig, intent_id=ref[:40])
    except IntegrityError:  # another worker took this exact callback already
        raise Conflict("replayed callback: this callback was already received") from None


async def close_others(order_id: int, paid_by: str) -> None:
    """The order is paid by intent `paid_by`: its other open intents (a cash choice, an
    abandoned card page) can never pay it now, so they say so instead of staying open."""
    await PaymentIntent.filter(order_id=order_id, status="open").exclude(id=paid_by).update(
        status="failed", reason="the order was paid another way")
