"""Payment intents left in `processing` by a crash, finished safely by the timers.

The sandbox page claims an intent (open -> processing), then settles it: the order
engine's `pay` commits the payment, then the intent is marked succeeded. A worker
that dies between those steps leaves the intent `processing` for ever, and the
buyer cannot use it again. Once an intent has been processing for longer than any
settle takes, the order tells which crash it was:

- the engine holds an accepted payment for this intent's order, version, amount,
  currency and provider, and no other intent of the order succeeded: the crash came
  after the payment committed -> the intent is `succeeded`;
- otherwise nothing was paid -> the intent is `failed` (the buyer starts a new one).

Every update is conditional on the intent still being `processing`, so running
recovery twice, on two workers, or next to a settle that finally finishes, changes
nothing twice. For the sandbox "nothing paid" also means "nothing charged": its
charge *is* the callback. A real provider's recovery would first ask the provider's
API for the intent's outcome and deliver a succeeded one through `checkout.settle`
(see docs/payments.md).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fingerpos.cloud.models.commerce import PaymentIntent
from fingerpos.cloud.models.orders import Payment
from tortoise.expressions import Q

STUCK_AFTER_S = 120.0   # far above a settle's few database round trips
_BATCH = 200


async def _outcome(intent: PaymentIntent) -> tuple[str, str]:
    paid = await Payment.filter(order_id=intent.order_id, version=intent.version,
                                amount=intent.amount, currency=intent.currency,
                                method=intent.provider, accepted=True).exists()
    other = await PaymentIntent.filter(order_id=intent.order_id, status="succeeded").exclude(
        id=intent.id).exists()
    if paid and not other:
        return "succeeded", "recovered: the payment had completed before an interruption"
    return "failed", "interrupted before the payment completed; nothing was charged, pay again"


async def recover_stuck(older_than_s: float = STUCK_AFTER_S) -> tuple[int, int]:
    """Finish intents processing for longer than `older_than_s`; return (succeeded, failed)."""
    cutoff = datetime.now(UTC) - timedelta(seconds=older_than_s)
    stuck = await PaymentIntent.filter(
        Q(claimed_at__lt=cutoff) | Q(claimed_at__isnull=True, created_at__lt=cutoff),
        status="processing").limit(_BATCH)
    done = {"succeeded": 0, "failed": 0}
    for intent in stuck:
        status, reason = await _outcome(intent)
        done[status] += await PaymentIntent.filter(id=intent.id, status="processing").update(
            status=status, reason=reason)
    return done["succeeded"], done["failed"]
