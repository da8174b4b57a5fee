"""The tax in an order: per-rate summary for receipts and reports, with written-down rounding.

Prices include tax (含税价: what Chinese and EU retail shops must show a consumer), so the
tax is extracted from what the buyer pays, never added to it: an order's total does not
depend on its tax. Rates are basis points (1300 = 13 %, 900 = 9 %, 600 = 6 %, China's VAT
rates; 1900 / 700, Germany's), taken from the product when the line is sold
(order_lines.tax_rate) so a later change of a rate never rewrites a receipt.

The rules, exactly (money in minor units: fen, cents):
1. Lines are grouped by rate. Adjustments (discounts, price changes: orders/revisions.py)
   change what is paid, so they change the taxable amount: their sum is shared out over
   the rate groups in proportion to each group's line amount, in whole minor units, the
   units left by rounding down going to the groups with the largest remainders (ties: the
   higher rate first). A group's gross is its lines plus its share.
2. The tax in a gross amount G at rate r is G * r / (10000 + r), rounded half up (四舍五入)
   to a whole minor unit; the net is G minus that tax.
3. `line` rounding (the default) applies rule 2 to each line and to each group's share of
   the adjustments, and sums the results per rate; `receipt` rounding applies it once per
   rate group to the group's gross. The two can differ by a minor unit or so per line;
   a shop picks the one its tax office expects.
4. Prices EXCLUDING tax (`mode="exclusive"`, issue #16 item 5; a shop's setting is not
   wired yet): a line's amount and the adjustments are nets, the tax is ADDED: the tax on
   a net N at rate r is N * r / 10000, rounded half up (the fapiao's 税额 = 金额 x 税率,
   to the fen); `line` rounding takes it per line (and per group share of adjustments),
   `receipt` rounding once per rate group on the group's net. gross = net + tax, and the
   buyer pays the sum of the groups' gross.
The hand-written arithmetic is on purpose: Decimal with ROUND_HALF_UP is the whole of it,
and a tax library would bring rules of countries we do not sell in.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

ROUNDINGS = ("line", "receipt")
MODES = ("inclusive", "exclusive")
MAX_RATE = 10_000  # 100 %


@dataclass(frozen=True)
class TaxGroup:
    rate: int    # basis points
    gross: int   # what the buyer pays at this rate, tax included
    tax: int
    net: int

    @property
    def percent(self) -> str:
        """1300 -> "13%", 550 -> "5.5%"."""
        return f"{Decimal(self.rate) / 100:f}".rstrip("0").rstrip(".") + "%"


def tax_in(gross: int, rate: int) -> int:
    """Rule 2: the tax contained in `gross` at `rate`, half up to a whole minor unit."""
    if rate <= 0 or gross == 0:
        return 0
    exact = Decimal(gross) * rate / (MAX_RATE + rate)
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def tax_on(net: int, rate: int) -> int:
    """Rule 4: the tax added to `net` at `rate`, half up to a whole minor unit."""
    if rate <= 0 or net == 0:
        return 0
    exact = Decimal(net) * rate / MAX_RATE
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _shares(amount: int, weights: list[int], rates: list[int]) -> list[int]:
    """Rule 1: `amount` shared out in proportion to `weights` (whole units, largest remainder)."""
    total = sum(weights)
    if not amount or not weights:
        return [0] * len(weights)
    if total == 0:   # nothing to weigh by: all of it to the first (highest-rate) group
        return [amount] + [0] * (len(weights) - 1)
    sign = -1 if amount < 0 else 1
    exact = [Decimal(abs(amount)) * w / total for w in weights]
    floors = [int(e) for e in exact]
    left = abs(amount) - sum(floors)
    order = sorted(range(len(weights)), key=lambda i: (exact[i] - floors[i], rates[i]),
                   reverse=True)
    for i in order[:left]:
        floors[i] += 1
    return [sign * f for f in floors]


def summary(lines: Iterable[tuple[int, int, int | None]], adjustments: Iterable[int] = (),
            rounding: str = "line", mode: str = "inclusive") -> list[TaxGroup]:
    """The tax of an order: `lines` as (qty, unit price, rate or None), `adjustments` as
    amounts; one TaxGroup per rate, highest rate first. Inclusive: sum of gross = lines +
    adjustments; exclusive (rule 4): sum of net = lines + adjustments, gross adds the tax."""
    if rounding not in ROUNDINGS:
        raise ValueError(f"tax rounding must be one of {', '.join(ROUNDINGS)}, not {rounding!r}")
    if mode not in MODES:
        raise ValueError(f"tax mode must be one of {', '.join(MODES)}, not {mode!r}")
    amounts: dict[int, list[int]] = {}
    for qty, unit_price, rate in lines:
        amounts.setdefault(rate or 0, []).append(qty * unit_price)
    rates = sorted(amounts, reverse=True)
    shares = _shares(sum(adjustments), [sum(amounts[r]) for r in rates], rates)
    out = []
    for rate, share in zip(rates, shares, strict=True):
        if mode == "exclusive":
            net = sum(amounts[rate]) + share
            tax = (sum(tax_on(a, rate) for a in amounts[rate]) + tax_on(share, rate)
                   if rounding == "line" else tax_on(net, rate))
            out.append(TaxGroup(rate, net + tax, tax, net))
            continue
        gross = sum(amounts[rate]) + share
        if rounding == "line":
            tax = sum(tax_in(a, rate) for a in amounts[rate]) + tax_in(share, rate)
        else:
            tax = tax_in(gross, rate)
        out.append(TaxGroup(rate, gross, tax, gross - tax))
    return out


def total_with_tax(lines: Iterable[tuple[int, int, int | None]], adjustments: Iterable[int] = (),
                   rounding: str = "line") -> int:
    """What the buyer pays for `lines` priced excluding tax (rule 4): nets plus their tax."""
    return sum(g.gross for g in summary(lines, adjustments, rounding, "exclusive"))
