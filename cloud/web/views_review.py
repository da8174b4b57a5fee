"""Staff actions on one order beyond the price: validation before print (校检), printing at
the shop's terminal, and revising a held order (修订) line by line.

The work is the commerce side's (cloud/commerce/staging.py, printing.py); these handlers
turn forms into its calls and its refusals into messages next to the fields.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web
from fingerpos.cloud.api.schemas_commerce import RevisionLine
from fingerpos.cloud.commerce import printing, staging
from fingerpos.cloud.commerce.money import MoneyError
from fingerpos.cloud.core.errors import DomainError
from fingerpos.cloud.orders import revisions
from fingerpos.cloud.web import forms
from fingerpos.cloud.web.page import STAFF, checked_form, need, redirect
from fingerpos.cloud.web.views_orders import order_id, order_page

MAX_LINES = 200
MAX_ADJUSTMENTS = 20  # as the API's ReviseIn


async def validate(request: web.Request) -> web.Response:
    who = await need(request, *STAFF)
    await checked_form(request)
    oid = order_id(request)
    order = await staging.staff_order(oid, who.user)
    await staging.check(order, who.user)
    raise redirect(f"/orders/{oid}")


async def print_receipt(request: web.Request) -> web.Response:
    who = await need(request, *STAFF)
    await checked_form(request)
    oid = order_id(request)
    try:
        job = await printing.print_order(oid, who.user, None)
    except DomainError as e:
        if e.status == 404:
            raise
        return await order_page(request, {"print": e.message}, status=e.status)
    note = (f"{'Reprint' if job['reprint'] else 'Receipt'} sent to terminal {job['device']}"
            if job["sent"] else f"Receipt queued for terminal {job['device']} (no MQTT link now)")
    return await order_page(request, {"printed": note})


def _lines_of(form: dict[str, str], currency: str) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The revision's lines from fields line-N-sku/name/qty/price; errors keyed by field."""
    lines: list[dict[str, Any]] = []
    errors: dict[str, str] = {}
    for n in range(MAX_LINES):
        sku = form.get(f"line-{n}-sku")
        if sku is None:
            break
        qty_text = form.get(f"line-{n}-qty", "").strip()
        if qty_text == "0":
            continue  # a line set to 0 is dropped from the revision
        try:
            price = forms.parse_money(form.get(f"line-{n}-price", ""), currency)
        except MoneyError as e:
            errors[f"line-{n}-price"] = str(e)
            price = 0
        line, problems = forms.validate(RevisionLine, {
            "sku": sku, "name": form.get(f"line-{n}-name", ""),
            "qty": forms.parse_int(qty_text, -1, -1, 10**9), "unit_price": price})
        for field, message in problems.items():
            key = {"unit_price": "price"}.get(field, field)
            errors.setdefault(f"line-{n}-{key}", message)
        if line is not None:
            lines.append(line.model_dump())
    if not lines and not errors:
        errors["lines"] = "a revision keeps at least one line"
    return lines, errors


def _adjustments_of(form: Mapping[str, str], currency: str,
                    errors: dict[str, str]) -> list[tuple[str, int]]:
    """The revision's adjustments from fields adj-N-label/amount (the current version's,
    price changes among them, as the form showed them); 0 drops one."""
    out: list[tuple[str, int]] = []
    for n in range(MAX_ADJUSTMENTS):
        label = form.get(f"adj-{n}-label")
        if label is None:
            break
        try:
            amount = forms.parse_signed_money(form.get(f"adj-{n}-amount", ""), currency)
        except MoneyError as e:
            errors[f"adj-{n}-amount"] = f"{e} (a minus for a discount)"
            continue
        if not label.strip() or len(label) > revisions.LABEL_MAX:
            errors[f"adj-{n}-amount"] = "this adjustment's label was changed; reload the order"
        elif amount:
            out.append((label, amount))
    return out


async def revise(request: web.Request) -> web.Response:
    who = await need(request, *STAFF)
    form = await checked_form(request)
    oid = order_id(request)
    order = await staging.staff_order(oid, who.user)
    lines, errors = _lines_of(form, order.currency)
    adjustments = _adjustments_of(form, order.currency, errors)
    reason = form.get("revise_reason", "").strip()
    if not reason:
        errors["revise_reason"] = "say why the order is revised"
    elif len(reason) > 200:
        errors["revise_reason"] = "must be at most 200 characters"
    if errors:
        return await order_page(request, errors, status=400, form=form)
    try:
        await staging.revise(oid, who.user, forms.parse_int(form.get("version"), 0), lines,
                             adjustments, reason)
    except DomainError as e:
        if e.status == 404:
            raise
        return await order_page(request, {"revise": e.message}, status=e.status, form=form)
    raise redirect(f"/orders/{oid}")
