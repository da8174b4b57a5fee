"""What the order engine tells the outside: the monitor feed and the shop's terminals.

The app comes from monitor.CURRENT_APP (set for the app's startup task, the tasks
it starts, and each request), so the service functions keep the plain
signatures the ingestion calls.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

from fingerpos import protocol
from fingerpos.cloud.core import monitor
from fingerpos.cloud.core.appkeys import COMMANDS, KEYRING, METRICS
from fingerpos.cloud.core.keyring import KeyringError
from fingerpos.cloud.models.devices import Device
from fingerpos.cloud.models.orders import Order
from fingerpos.cloud.orders.queries import order_json

log = logging.getLogger(__name__)
# New orders of one batch above this many go to the feed as one summary message
# (kind "orders"), like the ingestion's own batch items: a busy feed says how many.
FEED_ORDERS = 200


def _app() -> Any:
    app = monitor.current_app()
    if app is None:
        raise RuntimeError("no fingerpos app is active in this task")
    return app


def pickup_key() -> bytes:
    return _app()[KEYRING].pickup_key


async def order_changed(order: Order) -> None:
    app = monitor.current_app()
    if app is not None:
        app[METRICS].counter("fingerpos_order_changes_total", "Order state changes and revisions",
                             state=order.state).inc()
    await monitor.publish(app, "order", order_json(order))


async def orders_summary(states: list[str], first: int, last: int, shop: str) -> None:
    """Many new orders of one shop at once: counted like `order_changed`, told in one feed
    message {"created": n, "states": {state: n}, "first": id, "last": id, "shop": shop}
    (the shop decides whose monitor feeds it reaches)."""
    counts = Counter(states)
    app = monitor.current_app()
    if app is not None:
        for state, n in counts.items():
            app[METRICS].counter("fingerpos_order_changes_total",
                                 "Order state changes and revisions", state=state).inc(n)
    await monitor.publish(app, "orders", {"created": len(states), "states": dict(counts),
                                          "first": first, "last": last, "shop": shop})


async def send_command(device_id: str, typ: str, data: dict[str, Any]) -> bool:
    """Send a signed command through cloud-b's sender; False when none is running."""
    app = _app()
    sender = app.get(COMMANDS)
    if sender is None:
        app[METRICS].counter("fingerpos_commands_unsent_total",
                             "Commands not sent because no MQTT link runs", typ=typ).inc()
        log.warning("no command sender: %s for %s not sent", typ, device_id)
        return False
    await sender.send(device_id, typ, data)
    return True


async def prompt_terminals(order: Order, code: str, extra: dict[str, Any] | None = None,
                           devices: list[str] | None = None) -> int:
    """`order_new` to every active terminal of the order's shop, or to those of `devices`
    (web orders only).

    Each prompt carries the pickup code's hash keyed with that terminal's own
    key, so the terminal can check a code typed at handover. `extra` adds fields
    (an unpaid order to take cash for: `pay` and `version`). No order lines: the
    terminal shows order and total, the receipt (`print`) lists the items, and a
    prompt stays a few hundred bytes however long the order is. `version` always: a
    terminal that shows the order at that version takes a repeat as shown already
    (the prompts re-sent on connect, cloud/commerce/resync.py).
    """
    if order.source != "web":
        return 0
    app = _app()
    sent = 0
    rows = Device.filter(shop=order.shop_id, revoked=False)
    if devices is not None:
        rows = rows.filter(id__in=devices)
    for device in await rows:
        try:
            key = app[KEYRING].open(device.key_enc, device.id)
        except KeyringError as e:
            log.error("%s", e)
            continue
        data = {"order": order.id, "total": order.total, "currency": order.currency,
                "version": order.version, "pickup_hash": protocol.pickup_hash(key, order.id, code)}
        sent += await send_command(device.id, "order_new", data | (extra or {}))
    return sent


async def update_terminals(order: Order, devices: list[str] | None = None) -> int:
    """`order_update` (state, version, total) to the shop's active terminals, or to
    `devices`; for web orders, the only ones terminals are prompted with. A terminal
    that does not show the order ignores it."""
    if order.source != "web":
        return 0
    if devices is None:
        devices = [d.id for d in await Device.filter(shop=order.shop_id, revoked=False).only("id")]
    data = {"order": order.id, "state": order.state, "version": order.version,
            "total": order.total}
    sent = 0
    for device_id in devices:
        sent += await send_command(device_id, "order_update", data)
    return sent
