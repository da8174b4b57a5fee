"""Order rules as pure functions: totals, who may change a price, whether a payment matches."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from fingerpos.cloud.core.errors import Conflict, Forbidden, Invalid
from fingerpos.cloud.orders.states import PRICE_CHANGEABLE, State

MAX_TOTAL = 10**12          # minor units; far above any real basket, far below int64


@dataclass(frozen=True)
class Line:
    sku: str
    qty: int
    unit_price: int
    name: str = ""
    tax_rate: int | None = None   # basis points, from the product (orders/tax.py)


@dataclass(frozen=True)
class PriceActor:
    """Who asks for a price change: a web user, or a terminal (with the seller it names)."""

    role: str                  # buyer | seller | manager | admin | device
    shop_id: str | None
    can_change_price: bool = False


def total_of(lines: Iterable[Line]) -> int:
    total = sum(line.qty * line.unit_price for line in lines)
    if total > MAX_TOTAL:
        raise Invalid("the order total is too large")
    return total


def check_price_change(actor: PriceActor, order_shop: str, state: str, order_version: int,
                       expected_version: int, new_total: int) -> None:
    """Raise unless `actor` may set this order's total to `new_total` now."""
    if actor.role in ("manager",) and actor.shop_id in (None, order_shop):
        pass
    elif actor.role == "admin":
        pass
    elif actor.role in ("seller", "device") and actor.shop_id == order_shop and actor.can_change_price:
        pass
    else:
        raise Forbidden("only a seller of this shop with the price-change right, or a manager, "
                        "may change this order's price")
    if state not in PRICE_CHANGEABLE:
        raise Conflict(f"the price can change only before payment (the order is {state})")
    if expected_version != order_version:
        raise Conflict(f"the order is at version {order_version}, not {expected_version}")
    if not 0 <= new_total <= MAX_TOTAL:
        raise Invalid("the new total is out of range")


def payment_refusal(state: str, order_version: int, total: int, currency: str,
                    amount: int, pay_currency: str, version: int) -> str | None:
    """Why a payment does not match the order (None: it does). The checks are all exact."""
    if state != State.PENDING_PAYMENT:
        return f"the order is {state}, not awaiting payment"
    if version != order_version:
        return f"stale version: the order is at version {order_version}, the payment is for {version}"
    if pay_currency != currency:
        return f"currency {pay_currency} does not match the order's {currency}"
    if amount != total:
        return f"amount {amount} does not match the order total {total}"
    return None


def new_pickup_code() -> str:
    """Six digits: typed on the terminal's keypad at handover."""
    return f"{secrets.randbelow(10**6):06d}"


def pickup_digest(secret: bytes, order_id: int, code: str) -> str:
    """What the database keeps instead of the pickup code (HMAC keyed by the cloud's secret)."""
    return hmac.new(secret, f"pickup:{order_id}:{code}".encode(), hashlib.sha256).hexdigest()


def pickup_matches(secret: bytes, order_id: int, code: str, stored: str | None) -> bool:
    if not stored:
        return False
    return hmac.compare_digest(pickup_digest(secret, order_id, code), stored)
