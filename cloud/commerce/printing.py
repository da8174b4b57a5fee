"""Receipts of stored orders: the PDF for the web, ESC/POS to the shop's terminal
(`print` command), reprints marked as such, and the terminal's `printed` event."""

from __future__ import annotations

import base64
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from fingerpos.cloud.commerce import receipts, staging
from fingerpos.cloud.core import audit
from fingerpos.cloud.core.errors import Conflict, Invalid, NotFound
from fingerpos.cloud.models.commerce import PrintJob
from fingerpos.cloud.models.devices import Device
from fingerpos.cloud.models.orders import Order, OrderEvent, OrderLine, Payment
from fingerpos.cloud.models.refunds import Refund
from fingerpos.cloud.models.shops import Product, Shop
from fingerpos.cloud.models.users import Role, User
from fingerpos.cloud.orders import notify, refunds, saledata, tax
from fingerpos.cloud.orders.lifecycle import move
from fingerpos.cloud.orders.states import State

PRINTABLE = frozenset({State.PAID, State.ACCEPTED, State.FULFILLED, State.COMPLETED})
# Raw ESC/POS bytes per `print` command. Base64 makes 1024 characters of it and the
# body stays under ~1300 bytes, so the command fits the terminal's 1.5 KB MQTT
# receive buffer (firmware/link.py _RX_BYTES) and is decoded without large blocks
# of a fragmented heap; a longer receipt goes in parts (protocol/README.md).
CHUNK = 768
# A receipt nobody's terminal printed for a day is not printed by surprise when the
# terminal comes back: staff print it again if it is still wanted.
RESEND_S = 24 * 3600.0


async def build(order: Order, reprint: bool = False) -> receipts.Receipt:
    shop = await Shop.get_or_none(id=order.shop_id)
    lines = await staging._lines(order)
    pay = await Payment.filter(order_id=order.id, accepted=True).order_by("-id").first()
    # A terminal sale's lines carry SKUs only: the receipt names them from the catalogue.
    unnamed = {ln["sku"] for ln in lines if not ln["name"]}
    if unnamed:
        names = dict(await Product.filter(shop_id=order.shop_id, sku__in=unnamed)
                     .values_list("sku", "name"))
        lines = [ln | {"name": names.get(ln["sku"], "")} if not ln["name"] else ln for ln in lines]
    adjustments = tuple(await staging._adjustments(order))
    rated = await OrderLine.filter(order_id=order.id).values_list("qty", "unit_price", "tax_rate")
    taxes = tax.summary(rated, [a for _, a in adjustments],
                        shop.tax_rounding if shop and shop.tax_rounding in tax.ROUNDINGS
                        else "line")
    return receipts.Receipt(
        shop=(shop.name if shop and shop.name else order.shop_id), order_id=order.id,
        address=shop.address if shop else "", tax_id=shop.tax_id if shop else "",
        taxes=tuple(taxes),
        revision=order.version, created_at=order.created_at, currency=order.currency,
        lines=tuple(receipts.ReceiptLine(ln["sku"], ln["name"], ln["qty"], ln["unit_price"],
                                         ln["qty"] * ln["unit_price"]) for ln in lines),
        total=order.total, adjustments=adjustments,
        payment_method=pay.method if pay else "", paid=pay.amount if pay else None,
        state=order.state, terminal=order.device_id or "", reprint=reprint)


async def build_refund(order: Order, refund: Refund) -> receipts.Receipt:
    """A refund's receipt: the order's header, the lines that went back, what was paid
    back by which method, and the tax in it (orders/refunds.py: the refunded lines' tax)."""
    sale = await build(order)
    value = sum(ln["qty"] * ln["unit_price"] for ln in refund.lines)
    shop = await Shop.get_or_none(id=order.shop_id)
    rounding = shop.tax_rounding if shop and shop.tax_rounding in tax.ROUNDINGS else "line"
    names = {ln.sku: ln.name for ln in sale.lines}
    return replace(
        sale, refund_id=refund.id, reason=refund.reason, created_at=refund.created_at,
        lines=tuple(receipts.ReceiptLine(ln["sku"], ln["name"] or names.get(ln["sku"], ""),
                                         ln["qty"], ln["unit_price"], ln["qty"] * ln["unit_price"])
                    for ln in refund.lines),
        adjustments=(("Share of price changes", refund.amount - value),)
        if refund.amount != value else (),
        total=refund.amount, paid=refund.amount,
        payment_method=f"{refund.method}, {refund.status}",
        taxes=tuple(refunds.tax_groups(refund.lines, refund.amount, rounding)))


async def pdf_for(order_id: int, user: User, refund_id: int | None = None) -> bytes:
    """The buyer of the order, or staff of its shop, get its PDF receipt (or that of one
    of its refunds)."""
    order = await Order.get_or_none(id=order_id)
    allowed = order is not None and (
        user.role == Role.ADMIN or (user.role == Role.BUYER and order.buyer_id == user.id)
        or (user.role in (Role.SELLER, Role.MANAGER) and order.shop_id == user.shop_id))
    if not allowed:
        raise NotFound(f"no order {order_id}")
    assert order is not None
    if refund_id is None:
        return receipts.render_pdf(await build(order))
    refund = await Refund.get_or_none(id=refund_id, order_id=order_id)
    if refund is None:
        raise NotFound(f"order {order_id} has no refund {refund_id}")
    return receipts.render_pdf(await build_refund(order, refund))


async def _terminal(order: Order, device_id: str | None) -> Device:
    active = Device.filter(shop=order.shop_id, revoked=False)
    if device_id is not None:
        device = await active.get_or_none(id=device_id)
        if device is None:
            raise NotFound(f"shop {order.shop_id} has no active terminal {device_id}")
        return device
    device = await active.order_by("-online", "id").first()
    if device is None:
        raise Conflict(f"shop {order.shop_id} has no active terminal to print on")
    return device


async def print_order(order_id: int, user: User, device_id: str | None) -> dict[str, Any]:
    """Validate first (a failing order is held, 409 with the reasons), then send the receipt."""
    order = await staging.staff_order(order_id, user)
    if order.state not in PRINTABLE:
        raise Conflict(f"only a paid order is printed (the order is {order.state})")
    problems = await staging.check(order, user)
    if problems:
        raise Conflict("held for revision: " + "; ".join(p.message for p in problems))
    device = await _terminal(order, device_id)
    reprint = await PrintJob.exists(order_id=order.id)
    job = await PrintJob.create(order_id=order.id, version=order.version, device_id=device.id,
                                reprint=reprint, user_id=user.id)
    size, sent = await _send_job(order, job, device)
    await audit.record(f"user:{user.id}", "order.reprint" if reprint else "order.print",
                       f"order:{order.id}", {"device": device.id, "version": order.version},
                       user_id=user.id)
    return {"job": job.id, "order": order.id, "version": order.version, "device": device.id,
            "reprint": reprint, "bytes": size, "sent": sent}


async def _send_job(order: Order, job: PrintJob, device: Device) -> tuple[int, bool]:
    """The job's receipt as `print` commands, in parts; (ESC/POS bytes, all sent)."""
    data = receipts.render_escpos(await build(order, job.reprint), charset=device.printer_charset)
    parts = [data[i:i + CHUNK] for i in range(0, len(data), CHUNK)]
    sent = True
    for n, part in enumerate(parts, 1):
        sent &= await notify.send_command(device.id, "print", {
            "order": order.id, "version": order.version, "job": job.id, "part": n,
            "parts": len(parts), "escpos": base64.b64encode(part).decode()})
    return len(data), sent


async def resend_pending(device_id: str, max_age_s: float = RESEND_S) -> int:
    """Send again, in full, the device's print jobs of the last `max_age_s` that no
    `printed` event answered (a broker that lost them while the terminal was away).
    The terminal skips the parts it printed already (firmware/handlers.py), so a job
    whose `printed` event is still in its outbox is not printed twice. A job whose
    order has since left the printable states or changed version is not sent."""
    device = await Device.get_or_none(id=device_id, revoked=False)
    if device is None:
        return 0
    since = datetime.now(UTC) - timedelta(seconds=max_age_s)
    jobs = await PrintJob.filter(device_id=device_id, printed_ok=None, created_at__gte=since
                                 ).order_by("id").prefetch_related("order")
    sent = 0
    for job in jobs:
        order = job.order
        if order.state in PRINTABLE and order.version == job.version:
            await _send_job(order, job, device)
            sent += 1
    return sent


async def printed(device_id: str, event_id: int | None, data: dict[str, Any]) -> None:
    """A terminal's `printed` event: recorded on its print job and the order's timeline."""
    data = saledata._obj(data, "printed data")
    if data.get("order") == 0 and type(data.get("order")) is int:
        # An X or Z report (commerce/shiftprint.py) has no order: nothing to record, but a
        # malformed answer is still refused like any other.
        if type(data.get("ok")) is not bool:
            raise Invalid("ok must be true or false")
        return
    order_id = saledata._int(data, "order", 1, saledata.MAX_ID)
    ok = data.get("ok")
    if type(ok) is not bool:
        raise Invalid("ok must be true or false")
    device = await Device.get_or_none(id=device_id)
    order = await Order.get_or_none(id=order_id, shop_id=device.shop) if device else None
    if order is None:
        raise NotFound(f"no order {order_id} for terminal {device_id}")
    job = await PrintJob.filter(order_id=order.id, device_id=device_id,
                                printed_ok=None).order_by("-id").first()
    if job is not None:
        await PrintJob.filter(id=job.id).update(printed_ok=ok, printed_event_id=event_id)
    await OrderEvent.create(order_id=order.id, from_state=order.state, to_state=order.state,
                            device_id=device_id, device_event_id=event_id,
                            note=("printed" if ok else "print failed")
                            + (f" (job {job.id}, rev {job.version})" if job else ""))
    if ok and order.source == "terminal" and order.state == State.PAID:
        # An in-person sale waits only for its receipt (a revised one, issue #16): done.
        await move(order, State.COMPLETED, device_id=device_id, event_id=event_id,
                   note="receipt printed")
