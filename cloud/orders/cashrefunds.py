"""Cash refunds paid out at the terminal (issue #16 item 3; protocol/README.md "Shifts and
cash refunds").

A back-office cash refund of an order whose cash is in a terminal's drawer (that
terminal's cash sale, or a web order whose cash it took) is written `pending` for that
terminal (orders/refunds.create: it already counts against what was paid, with the same
conditional UPDATEs, so concurrent refunds still never pass it), and the terminal gets
`refund_new`. Its `refund` event settles it through refunds.settle (conditional on it
still being pending: a second settlement is refused), or refuses it (`failed`, its
amount and quantities back on the order). Either way the terminal gets `refund_update`.
A cash refund of an order whose cash no terminal holds (taken at the back office) is
paid out there and succeeds at once, as before.
"""

from __future__ import annotations

from typing import Any

from fingerpos.cloud.models.devices import Device
from fingerpos.cloud.models.orders import Order, OrderEvent, Payment
from fingerpos.cloud.models.refunds import Refund
from fingerpos.cloud.models.users import User
from fingerpos.cloud.orders import notify, refunds

CASH = "cash"


async def drawer_of(order_id: int) -> str | None:
    """The active terminal whose drawer holds the order's cash, if one does."""
    order = await Order.get_or_none(id=order_id)
    pay = await Payment.filter(order_id=order_id, accepted=True).order_by("-id").first()
    if order is None or pay is None or pay.method != CASH:
        return None
    device = order.device_id if order.source == "terminal" else None
    if order.source == "web":
        took = await OrderEvent.filter(order_id=order_id, from_state="pending_payment",
                                       to_state="paid", device_id__isnull=False
                                       ).order_by("-id").first()
        device = took.device_id if took else None
    if device is None or not await Device.exists(id=device, shop=order.shop_id, revoked=False):
        return None
    return device


def prompt_data(r: Refund) -> dict[str, Any]:
    return {"refund": r.id, "order": r.order_id, "amount": r.amount, "currency": r.currency,
            "approval": bool(r.needs_approval)}


async def create(user: User, order_id: int, items: Any, reason: str, restock: bool) -> Refund:
    """A cash refund: pending at the terminal holding the cash, else paid out at once."""
    device = await drawer_of(order_id)
    made = await refunds.create(user, order_id, items, reason, restock=restock, method=CASH,
                                device_id=device, at_terminal=device is not None)
    if device is None:
        return made
    if made.amount == 0:   # goods only: nothing to pay out
        return await refunds.settle(made.id, True, actor=f"user:{user.id}")
    await notify.send_command(device, "refund_new", prompt_data(made))
    return made


async def resend(device_id: str) -> int:
    """The device's pending cash refunds, again (on every connect; the terminal ignores
    a prompt it shows already)."""
    sent = 0
    for r in await Refund.filter(device_id=device_id, method=CASH, status="pending"
                                 ).order_by("id"):
        sent += await notify.send_command(device_id, "refund_new", prompt_data(r))
    return sent


async def tell(device_id: str, refund_id: int, state: str, reason: str = "") -> None:
    data: dict[str, Any] = {"refund": refund_id, "state": state}
    if reason:
        data["reason"] = reason[:100]
    await notify.send_command(device_id, "refund_update", data)


async def settle(device_id: str, r: Refund, ok: bool, reason: str = "") -> Refund:
    """The terminal paid it out (ok) or its payment out was refused: settled, told."""
    done = await refunds.settle(r.id, ok, "" if ok else reason, actor=f"device:{device_id}",
                                device_id=device_id)
    await tell(device_id, r.id, done.status, reason)
    return done
