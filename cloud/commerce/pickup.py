"""Pickup codes that outlive the request that paid: one code per web order, made before
payment and kept sealed with the cloud's keyring, so its buyer sees it whichever way
the payment arrives (their own request, a provider's callback later, cash at the
counter).

The order row keeps only the code's HMAC (what a handover is checked against); the
sealed copy (AES-GCM, bound to the order id, key from FINGERPOS_SECRET) opens only
for the order's buyer. Staff learn only that a code exists.

    code = await pickup.code_for(order_id)      # made once, the same ever after
    code = await pickup.reveal(order, user)     # for the buyer's page, or None
    code = await pickup.sealed_code(order_id)   # the sealed one if any (prompts re-sent)

Both use the keyring of the app serving the request or event (monitor.current_app()).
"""

from __future__ import annotations

from fingerpos.cloud.core import monitor
from fingerpos.cloud.core.appkeys import KEYRING
from fingerpos.cloud.core.keyring import DeviceKeyring, KeyringError
from fingerpos.cloud.models.commerce import PaymentIntent, PickupCode
from fingerpos.cloud.models.orders import Order
from fingerpos.cloud.models.users import Role, User
from fingerpos.cloud.orders.rules import new_pickup_code, pickup_matches
from fingerpos.cloud.orders.states import State
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction


def _ring() -> DeviceKeyring:
    app = monitor.current_app()
    if app is None:
        raise RuntimeError("no fingerpos app is active in this task")
    return app[KEYRING]


def _label(order_id: int) -> str:
    # The keyring's associated data: a sealed code copied onto another order does not open.
    return f"order-pickup:{order_id}"


async def code_for(order_id: int) -> str:
    """The order's pickup code, made and sealed on first use (the primary key on the
    order decides between racing workers: the loser reads the winner's code)."""
    ring = _ring()
    row = await PickupCode.get_or_none(order_id=order_id)
    if row is None:
        code = new_pickup_code()
        try:  # its own savepoint: on PostgreSQL a failed INSERT would poison an outer one
            async with in_transaction():
                await PickupCode.create(order_id=order_id,
                                        sealed=ring.seal(_label(order_id), code.encode()))
            return code
        except IntegrityError:
            row = await PickupCode.get(order_id=order_id)
    return ring.open(row.sealed, _label(order_id)).decode()


async def pays_cash(order_id: int) -> bool:
    """Whether the buyer chose to pay this order in cash at the counter."""
    return await PaymentIntent.filter(order_id=order_id, provider="cash").exists()


async def reveal(order: Order, user: User) -> str | None:
    """The code for the order's own buyer once it is useful: after payment (only a code
    the order's stored HMAC accepts: the page never shows one the terminal would refuse),
    or before it when they pay cash at the counter (they show it to pay). None otherwise."""
    if user.role != Role.BUYER or order.buyer_id != user.id:
        return None
    code = await sealed_code(order.id)
    if code is None:
        return None
    if pickup_matches(_ring().pickup_key, order.id, code, order.pickup_hash):
        return code
    if order.state == State.PENDING_PAYMENT and await pays_cash(order.id):
        return code
    return None


async def sealed_code(order_id: int) -> str | None:
    """The order's sealed code if it has one that opens; never makes one (see code_for)."""
    row = await PickupCode.get_or_none(order_id=order_id)
    if row is None:
        return None
    try:
        return _ring().open(row.sealed, _label(order_id)).decode()
    except (KeyringError, UnicodeDecodeError):
        return None


async def issued(order_id: int) -> bool:
    """What staff may know: that the order has a pickup code, not the code."""
    return await PickupCode.filter(order_id=order_id).exists()
