"""Refunds paid back through the payment provider, and their signed callbacks.

An order paid by card (a succeeded intent of the provider) is refunded through the
provider: the refund is written `pending` (orders/refunds.py: its amount already counts
against what was paid), the provider is asked to pay it back (`PaymentProvider.refund`),
and only its signed callback settles it: `succeeded` (goods restocked if asked) or
`failed` (the amount can be refunded again). A callback is verified like a payment's
(HMAC-SHA256, timestamp tolerance, replays refused across workers by its signature),
then must name a refund we asked for with its amount and currency. Orders paid in cash
are refunded in cash: at the terminal whose drawer holds it (pending until its `refund`
event, orders/cashrefunds.py), else at the back office, where it succeeds at once.

The sandbox acts as its own provider, as its hosted pay page does: it signs a succeeded
callback and delivers it to `settle_callback` right away (`deliver=True`).
"""

from __future__ import annotations

import time
from typing import Any

from fingerpos.cloud.commerce.checkout import refusal, remember_signature
from fingerpos.cloud.commerce.payments import (
    SIGNATURE_HEADER,
    PaymentError,
    ProviderRefund,
    SandboxProvider,
    sign_callback,
)
from fingerpos.cloud.core.errors import Conflict, Invalid
from fingerpos.cloud.models.commerce import PaymentIntent
from fingerpos.cloud.models.refunds import Refund
from fingerpos.cloud.models.users import User
from fingerpos.cloud.orders import cashrefunds, refunds


async def card_intent(order_id: int, provider: str) -> PaymentIntent | None:
    """The provider's succeeded intent that paid the order, if a card paid it."""
    return await PaymentIntent.filter(order_id=order_id, status="succeeded",
                                      provider=provider).first()


async def refund(provider: SandboxProvider, user: User, order_id: int, items: Any,
                 reason: str, restock: bool, *, deliver: bool = True) -> Refund:
    """Refund `items` of an order the way it was paid (module doc)."""
    intent = await card_intent(order_id, provider.name)
    if intent is None:
        return await cashrefunds.create(user, order_id, items, reason, restock)
    made = await refunds.create(user, order_id, items, reason, restock=restock, method="card",
                                intent_id=intent.id, pending=True)
    if made.amount == 0:   # nothing to pay back (a fully discounted line): goods only
        return await refunds.settle(made.id, True, actor=f"user:{user.id}")
    try:
        asked = provider.refund(intent.id, made.amount, made.currency)
    except PaymentError as e:
        return await refunds.settle(made.id, False, f"the provider refused: {e}")
    await Refund.filter(id=made.id).update(provider_ref=asked.refund_id)
    if deliver:
        body = provider.refund_callback_body(asked, succeeded=True)
        header = sign_callback(provider.secret, body, int(time.time()))
        await settle_callback(provider, {SIGNATURE_HEADER: header}, body)
    return await Refund.get(id=made.id)


def provider_refund_of(r: Refund) -> ProviderRefund:
    """What the provider was asked for this refund (the sandbox signs its callback)."""
    return ProviderRefund(r.provider_ref or "", r.intent_id or "", r.amount, r.currency)


async def settle_callback(provider: SandboxProvider, headers: dict[str, str],
                          body: bytes) -> dict[str, Any]:
    """The provider's refund webhook: verified, never replayed, matched, then settled."""
    try:
        result = provider.parse_refund_callback(headers, body)
    except PaymentError as e:
        raise refusal(e) from None
    await remember_signature(headers, result.refund_id)
    made = await Refund.get_or_none(provider_ref=result.refund_id[:40])
    if made is None or (made.intent_id, made.amount, made.currency) != (
            result.intent_id, result.amount, result.currency):
        raise Invalid("callback does not match any refund")
    if made.status != "pending":
        raise Conflict(f"this refund is already {made.status}")
    settled = await refunds.settle(made.id, result.succeeded,
                                   "" if result.succeeded else result.failure or "declined")
    return {"refund": refunds.refund_json(settled)}
