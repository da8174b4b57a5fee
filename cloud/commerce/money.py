"""Money as integer minor units plus an ISO 4217 code; formatting for receipts.

Amounts never travel as floats: a price of 12.50 EUR is 1250.
"""

from __future__ import annotations

# ISO 4217 minor-unit exponents that differ from the usual 2.
_EXPONENT = {"JPY": 0, "KRW": 0, "VND": 0, "CLP": 0, "ISK": 0, "HUF": 2,
             "BHD": 3, "KWD": 3, "JOD": 3, "OMR": 3, "TND": 3}
_SYMBOL = {"EUR": "€", "USD": "$", "GBP": "£", "CNY": "¥", "JPY": "¥"}


class MoneyError(ValueError):
    """An amount or currency that cannot be money."""


def check_currency(code: object) -> str:
    if not (isinstance(code, str) and len(code) == 3 and code.isascii() and code.isalpha()
            and code.isupper()):
        raise MoneyError(f"currency must be a 3-letter ISO 4217 code like EUR, got {code!r}")
    return code


def exponent(currency: str) -> int:
    return _EXPONENT.get(check_currency(currency), 2)


def format_amount(minor: int, currency: str) -> str:
    """1250, "EUR" -> "12.50"; -5, "EUR" -> "-0.05"; 500, "JPY" -> "500"."""
    if type(minor) is not int:
        raise MoneyError(f"amount must be an integer number of minor units, got {minor!r}")
    exp = exponent(currency)
    sign = "-" if minor < 0 else ""
    whole, frac = divmod(abs(minor), 10**exp)
    return f"{sign}{whole}.{frac:0{exp}d}" if exp else f"{sign}{whole}"


def format_money(minor: int, currency: str) -> str:
    """With the currency: "12.50 EUR"."""
    return f"{format_amount(minor, currency)} {currency}"


def symbol(currency: str) -> str:
    return _SYMBOL.get(check_currency(currency), currency)
