"""What a terminal should be showing, sent again each time it comes online (issue #14 item 2).

Nothing may depend on the broker keeping the commands queued for an offline terminal:
a Mosquitto that was SIGKILLed between autosaves, or restarted with an empty
persistence directory, has lost them (order_new for an order paid meanwhile, print
jobs). So on every `online` (StatusDesk's welcome, after time and roster) the cloud
re-sends, from the database:

- the open trade prompts of the terminal's shop, oldest first, at most the newest
  PROMPTS (the terminal keeps 8: firmware/prompts.py _MAX_ORDERS):
  web orders paid, accepted or fulfilled get `order_new` as when they were paid; the
  ones the buyer paid in cash at the counter also get `order_update` with their state,
  so a terminal that still shows CASH DUE learns they are paid; pending web orders
  with the buyer's open cash intent get `order_new` with `pay` "cash" and `version`;
- this terminal's print jobs that no `printed` event answered
  (printing.resend_pending);
- the catalogue (catalog.send_catalog; unchanged, it costs the terminal nothing);
- the settings its managers pushed (`config`, cloud/fleet/actions.py), if any.
- its pending cash refunds (`refund_new`, orders/cashrefunds.py) and a `config` with the
  shop's `shift_diff_limit`, so an offline close knows whether it needs a manager.

Every one is idempotent on the terminal: an `order_new` for an order it shows at that
version changes nothing, a repeated `paid` update does not announce PAID again
(firmware/prompts.py), and a print part at or below the last one printed is skipped
(firmware/handlers.py). A terminal re-connects often (each fingerprint session ends
its MQTT session for RAM), so these repeats are the common case, not the exception.
"""

from __future__ import annotations

import logging

from fingerpos.cloud.commerce import catalog, pickup, printing
from fingerpos.cloud.fleet import actions
from fingerpos.cloud.models.commerce import PaymentIntent
from fingerpos.cloud.models.devices import Device
from fingerpos.cloud.models.orders import Order
from fingerpos.cloud.models.shops import Shop
from fingerpos.cloud.orders import cashrefunds, notify
from fingerpos.cloud.orders.rules import pickup_matches
from fingerpos.cloud.orders.states import State

log = logging.getLogger(__name__)
PROMPTS = 8
# The states in which the shop's terminals show a web order's prompt (lifecycle._PROMPTED).
SHOWN = (State.PAID.value, State.ACCEPTED.value, State.FULFILLED.value)


async def open_prompts(shop: str, limit: int = PROMPTS) -> list[tuple[Order, bool]]:
    """(order, buyer pays cash) of the shop's open web prompts: the newest `limit`,
    oldest first."""
    shown = await Order.filter(shop_id=shop, source="web", state__in=SHOWN
                               ).order_by("-id").limit(limit)
    due = await Order.filter(shop_id=shop, source="web", state=State.PENDING_PAYMENT.value,
                             intents__provider="cash", intents__status="open"
                             ).distinct().order_by("-id").limit(limit)
    orders = sorted({o.id: o for o in [*shown, *due]}.values(), key=lambda o: o.id)[-limit:]
    cash = set(await PaymentIntent.filter(order_id__in=[o.id for o in orders], provider="cash")
               .values_list("order_id", flat=True))
    return [(o, o.id in cash) for o in orders]


async def send_prompts(device_id: str) -> int:
    """The open prompts of the device's shop to this device; how many orders."""
    device = await Device.get_or_none(id=device_id, revoked=False)
    if device is None:
        return 0
    sent = 0
    for order, cash in await open_prompts(device.shop):
        code = await pickup.sealed_code(order.id)
        if code is None or (order.pickup_hash and not pickup_matches(
                notify.pickup_key(), order.id, code, order.pickup_hash)):
            # paid with a code nobody sealed: no prompt could check it at handover
            log.warning("order %s: no sealed pickup code, its prompt is not re-sent", order.id)
            continue
        if order.state == State.PENDING_PAYMENT.value:
            sent += await notify.prompt_terminals(order, code, {"pay": "cash"}, [device_id])
            continue
        sent += await notify.prompt_terminals(order, code, None, [device_id])
        if cash:
            await notify.update_terminals(order, [device_id])
    return sent


async def welcome(device_id: str) -> None:
    """Everything after time and roster for a terminal that came online."""
    await send_prompts(device_id)
    await printing.resend_pending(device_id)
    await catalog.send_catalog(device_id)
    await cashrefunds.resend(device_id)
    device = await Device.get_or_none(id=device_id, revoked=False)
    settings = actions.stored_settings(device) if device is not None else {}
    if settings:
        await notify.send_command(device_id, "config", settings)
    # Its own command: a terminal whose firmware predates shifts refuses the whole
    # `config` for the unknown key, and the managers' settings must still arrive.
    shop = await Shop.get_or_none(id=device.shop) if device else None
    if shop is not None:
        await notify.send_command(device_id, "config", {"shift_diff_limit": shop.shift_diff_limit})
