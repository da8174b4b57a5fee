"""Checking the `data` of terminal events the order engine consumes (pure).

The framing layer only guarantees `data` is an object; everything inside is
checked here, so a malformed event raises Invalid instead of reaching the DB.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from fingerpos.cloud.core.errors import Invalid
from fingerpos.cloud.orders.rules import MAX_TOTAL, Line

_CURRENCY = re.compile(r"[A-Z]{3}")
MAX_ITEMS = 100
MAX_ID = 2**31 - 1          # order ids and versions are 32-bit columns


def _int(data: dict, name: str, lo: int, hi: int) -> int:
    value = data.get(name)
    if type(value) is not int or not lo <= value <= hi:
        raise Invalid(f"{name} must be an integer {lo}..{hi}")
    return value


def _storable(value: str) -> bool:
    """No NUL (PostgreSQL text cannot hold it) and no lone surrogate (a JSON "\\ud800"
    escape: not UTF-8, so no database driver can send it)."""
    if "\x00" in value:
        return False
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return True


def _str(data: dict, name: str, lo: int, hi: int) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not lo <= len(value) <= hi or not _storable(value):
        raise Invalid(f"{name} must be a string of {lo}..{hi} characters (no NUL)")
    return value


def clean_text(value: object, limit: int) -> str:
    """Free text from a terminal, made storable: no U+0000, lone surrogates become '?'."""
    text = str(value).replace("\x00", "")[:limit]
    return text if _storable(text) else text.encode(errors="replace").decode()


def _obj(value: Any, what: str) -> dict:
    if not isinstance(value, dict):
        raise Invalid(f"{what} must be an object")
    return value


@dataclass(frozen=True)
class Sale:
    ref: str
    lines: list[Line]
    method: str
    amount: int
    currency: str


def parse_sale(data: Any) -> Sale:
    data = _obj(data, "sale data")
    ref = _str(data, "ref", 1, 64)
    items = data.get("items")
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_ITEMS:
        raise Invalid(f"items must be a list of 1..{MAX_ITEMS} items")
    lines = []
    for item in items:
        item = _obj(item, "an item")
        lines.append(Line(sku=_str(item, "sku", 1, 64), qty=_int(item, "qty", 1, 10_000),
                          unit_price=_int(item, "price", 0, MAX_TOTAL),
                          name=clean_text(item.get("name", ""), 200)))
    payment = _obj(data.get("payment"), "payment")
    currency = _str(payment, "currency", 3, 3)
    if not _CURRENCY.fullmatch(currency):
        raise Invalid("currency must be three capital letters")
    amount = _int(payment, "amount", 0, MAX_TOTAL)
    # The cash handed over, for the receipt's change line: optional, never below the
    # amount charged; checked, not stored (a payment row records what was charged).
    if "tendered" in payment:
        _int(payment, "tendered", amount, MAX_TOTAL)
    return Sale(ref=ref, lines=lines, method=_str(payment, "method", 1, 20), amount=amount,
                currency=currency)


@dataclass(frozen=True)
class PriceChange:
    order: int
    version: int
    total: int
    reason: str
    seller: int | None


def parse_price_change(data: Any) -> PriceChange:
    data = _obj(data, "price_change data")
    seller = data.get("seller")
    if isinstance(seller, str) and seller.isdigit() and len(seller) <= 10:
        seller = int(seller)  # rosters carry seller ids as strings
    if seller is not None and (type(seller) is not int or not 1 <= seller <= MAX_ID):
        raise Invalid("seller must be a user id")
    reason = data.get("reason", "")
    return PriceChange(order=_int(data, "order", 1, MAX_ID), version=_int(data, "version", 1, MAX_ID),
                       total=_int(data, "total", 0, MAX_TOTAL),
                       reason=clean_text(reason, 200) if isinstance(reason, str) else "",
                       seller=seller)


@dataclass(frozen=True)
class Ack:
    order: int
    action: str
    pickup: str | None


def parse_ack(data: Any) -> Ack:
    data = _obj(data, "ack data")
    action = _str(data, "action", 1, 10)
    if action not in ("accept", "ship", "handover"):
        raise Invalid("action must be accept, ship or handover")
    pickup = data.get("pickup")
    if pickup is not None and (not isinstance(pickup, str) or not 1 <= len(pickup) <= 16):
        raise Invalid("pickup must be the code the buyer shows")
    if action == "handover" and pickup is None:
        raise Invalid("a handover needs the buyer's pickup code")
    return Ack(order=_int(data, "order", 1, MAX_ID), action=action, pickup=pickup)
