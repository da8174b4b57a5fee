"""Validation before print (校检): pure checks of an order revision.

An order is printed only when every check passes; otherwise it goes to
`held` with the list of reasons, a seller revises it (a new revision) and it
comes back here. The checks: each line's total, adjustments, the order total,
one currency throughout, the revision being the current one, and the
signatures of the terminal events the order came from.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fingerpos import protocol

from .money import MoneyError, check_currency

MAX_QTY = 100_000
MAX_AMOUNT = 10**12  # minor units; far above any till, far below float trouble


@dataclass(frozen=True)
class Line:
    sku: str
    name: str
    qty: int
    unit_price: int  # minor units
    line_total: int  # as stored: must equal qty * unit_price
    currency: str


@dataclass(frozen=True)
class SourceEvent:
    """A terminal event the order came from, exactly as it was received."""

    topic: str
    payload: bytes
    key: bytes


@dataclass(frozen=True)
class Revision:
    order_id: int
    version: int
    current_version: int  # the order's latest revision; printing a stale one is refused
    currency: str
    lines: tuple[Line, ...]
    adjustments: tuple[tuple[str, int], ...] = ()  # (label, minor units; negative = discount)
    total: int = 0
    sources: tuple[SourceEvent, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Problem:
    code: str
    message: str


def _check_lines(rev: Revision) -> list[Problem]:
    out: list[Problem] = []
    if not rev.lines:
        out.append(Problem("no_lines", "the order has no lines"))
    for i, ln in enumerate(rev.lines, 1):
        where = f"line {i} ({ln.sku})"
        if type(ln.qty) is not int or not 0 < ln.qty <= MAX_QTY:
            out.append(Problem("bad_qty", f"{where}: quantity {ln.qty!r} is not 1..{MAX_QTY}"))
            continue
        if type(ln.unit_price) is not int or not 0 <= ln.unit_price <= MAX_AMOUNT:
            out.append(Problem("bad_price", f"{where}: unit price {ln.unit_price!r} is not a valid amount"))
            continue
        if ln.line_total != ln.qty * ln.unit_price:
            out.append(Problem("line_total", f"{where}: total {ln.line_total} is not "
                                              f"{ln.qty} x {ln.unit_price} = {ln.qty * ln.unit_price}"))
        if ln.currency != rev.currency:
            out.append(Problem("currency", f"{where}: currency {ln.currency} differs from the "
                                            f"order's {rev.currency}"))
    return out


def _check_total(rev: Revision) -> list[Problem]:
    for label, amount in rev.adjustments:
        if type(amount) is not int or abs(amount) > MAX_AMOUNT:
            return [Problem("adjustment", f"adjustment {label!r}: {amount!r} is not a valid amount")]
    want = sum(ln.line_total for ln in rev.lines if type(ln.line_total) is int)
    want += sum(a for _, a in rev.adjustments)
    out = []
    if rev.total != want:
        out.append(Problem("order_total", f"order total {rev.total} is not lines + adjustments = {want}"))
    if rev.total < 0:
        out.append(Problem("negative_total", f"order total {rev.total} is negative"))
    return out


def _check_sources(rev: Revision) -> list[Problem]:
    return validate_sources(rev.sources)


def validate_sources(sources: tuple[SourceEvent, ...]) -> list[Problem]:
    """Each source event must still verify with its device's key, byte for byte."""
    out = []
    for src in sources:
        try:
            protocol.verify(src.key, src.topic, src.payload)
        except (protocol.ProtocolError, ValueError) as e:
            code = getattr(e, "code", "bad_key")
            out.append(Problem("source_signature", f"source event on {src.topic}: {code}: {e}"))
    return out


def validate(rev: Revision) -> list[Problem]:
    """All problems with a revision, in a stable order; empty means printable."""
    problems: list[Problem] = []
    try:
        check_currency(rev.currency)
    except MoneyError as e:
        problems.append(Problem("currency", str(e)))
    if rev.version != rev.current_version:
        problems.append(Problem("stale_version", f"revision {rev.version} is not the current "
                                                 f"revision {rev.current_version}"))
    problems += _check_lines(rev)
    problems += _check_total(rev)
    problems += _check_sources(rev)
    return problems
