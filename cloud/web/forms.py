"""Form input for the pages: validation errors mapped to their fields, money typed as text.

The pages validate with the same pydantic models the JSON API uses (cloud/api/schemas.py),
so a form and the API refuse the same input; only the messages are reworded for people.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import TypeVar

from fingerpos.cloud.commerce.money import MoneyError, exponent, format_amount
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)
_FRIENDLY = [
    (re.compile(r"at least (\d+) character"), "must be at least {0} characters"),
    (re.compile(r"at most (\d+) character"), "must be at most {0} characters"),
    (re.compile(r"match pattern"), "is not in the expected form"),
    (re.compile(r"valid integer"), "must be a whole number"),
    (re.compile(r"greater than or equal to (\d+)"), "must be at least {0}"),
    (re.compile(r"less than or equal to (\d+)"), "must be at most {0}"),
]


def _friendly(field: str, msg: str) -> str:
    if field == "email" and "pattern" in msg:
        return "enter an email address like name@example.com"
    for pattern, text in _FRIENDLY:
        m = pattern.search(msg)
        if m:
            return text.format(*m.groups())
    return msg[:1].lower() + msg[1:]


def validate(model: type[M], data: dict) -> tuple[M | None, dict[str, str]]:
    """(the model, {}) or (None, {field: message}); one message per field, the first."""
    try:
        return model.model_validate(data), {}
    except ValidationError as e:
        errors: dict[str, str] = {}
        for err in e.errors():
            loc = err.get("loc") or ("form",)
            field = str(loc[0])
            errors.setdefault(field, _friendly(field, err.get("msg", "is not valid")))
        return None, errors


def parse_money(text: str, currency: str) -> int:
    """"8", "8.5", "8.50" -> 850 (EUR); raises MoneyError for anything else."""
    text = text.strip().replace(",", ".")
    if not re.fullmatch(r"\d{1,10}(\.\d{0,3})?", text):
        raise MoneyError("enter an amount like 12.50")
    exp = exponent(currency)
    try:
        value = Decimal(text) * (10 ** exp)
    except InvalidOperation:
        raise MoneyError("enter an amount like 12.50") from None
    if value != value.to_integral_value():
        raise MoneyError(f"{currency} amounts have {exp} decimal places")
    return int(value)


def parse_signed_money(text: str, currency: str) -> int:
    """As parse_money, with a leading minus for a discount: "-2.50" -> -250 (EUR)."""
    text = text.strip()
    negative = text[:1] in ("-", "\u2212")  # ASCII minus or the minus sign
    value = parse_money(text[1:] if negative else text, currency)
    return -value if negative else value


def amount(minor: int | None, currency: str = "EUR") -> str:
    """Minor units as form text, no currency: 1250 -> "12.50", -250 -> "-2.50"."""
    return money(minor, currency).rsplit(" ", 1)[0] if minor is not None else ""


def parse_int(text: str | None, default: int = 0, low: int = 0, high: int = 2**31 - 1) -> int:
    """A whole number from a form or query field, clamped; `default` when it is not one."""
    if text is None or not (text.strip().isascii() and text.strip().isdigit()) or len(text.strip()) > 12:
        return default
    return max(low, min(high, int(text.strip())))


def money(minor: int | None, currency: str = "EUR") -> str:
    if minor is None:
        return ""
    try:
        return f"{format_amount(int(minor), currency)} {currency}"
    except MoneyError:
        return f"{minor} {currency}"


def when(value: datetime | str | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    return value.strftime("%Y-%m-%d %H:%M:%S")
