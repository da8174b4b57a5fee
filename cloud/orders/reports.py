"""Sales reports: the one aggregation layer every report figure comes from (issue #17 item 3).

Which orders are sales: an order of the shop whose state is paid, accepted, fulfilled or
completed (SALE_STATES), counted at its creation time (`orders.created_at`). Unpaid, held,
cancelled and expired orders are not sales. Refunds (orders/refunds.py) count when they
succeed (`refunds.settled_at`), in the period they succeed in, split by their order's
payment method and terminal: a refund of last week's sale lowers this week's figures.

The figures, per currency, in minor units (never mixed across currencies):
- gross: the order lines at their prices (qty x unit price);
- adjustments: discounts and price changes (orders/revisions.py), i.e. what was paid minus
  the lines (an order's total always equals its lines plus its adjustments);
- net: what the buyers paid, tax included (gross + adjustments);
- tax: the tax contained in net by the shop's rounding rule (orders/tax.py, rules 1-3);
- sales: the number of orders; average ticket: net / sales, rounded half up;
- refunds: what succeeded refunds paid back (tax included), refund_tax the tax in it
  (the refunded lines' tax, as on the refund receipt), refund_count how many;
  net_after_refunds: net - refunds.

How: SQL (the same text on SQLite and PostgreSQL) sums the orders and their lines per
(currency, UTC slot, payment method, terminal): the "facts". Every split (hour, day,
week, month in the shop's time zone; method; terminal) and the totals are sums of those
facts, so they cannot disagree. A slot is a UTC hour where the zone's offset is whole hours
in the period, else 15 minutes, because every zone's offset is a multiple of 15 minutes
(Asia/Kathmandu +05:45), so a slot never straddles a local hour;
the database stays UTC and the slots are placed in local time here with zoneinfo (which
knows daylight saving). The tax of a line is rule 2 done in SQL integer arithmetic
(half up: (2ar + D) div 2D with D = 10000 + r); orders with adjustments, and every order of
a shop rounding per receipt, are recomputed with tax.summary() so the rule is exactly the
receipt's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fingerpos.cloud.core.errors import Invalid
from fingerpos.cloud.core.sql import dialect, q, when
from fingerpos.cloud.orders import tax
from tortoise.backends.base.client import BaseDBAsyncClient

SALE_STATES = ("paid", "accepted", "fulfilled", "completed")
SPLITS = ("hour", "day", "week", "month")
SLOT = 900          # seconds: the facts' finest time grain (any zone's offsets)
HOUR = 3600         # the grain when the zone's offsets in the period are whole hours
MAX_DAYS = 400      # a report covers at most this many days

# The accepted payment's method (the latest, should there be several); "none" if none.
_METHOD = ("COALESCE((SELECT p.method FROM payments p WHERE p.order_id = o.id AND p.accepted"
           " ORDER BY p.id DESC LIMIT 1), 'none')")
_TERMINAL = "COALESCE(o.device_id, o.source)"
# The seller split's key (seller_label): the terminal sale's seller, else web / none.
_SELLER = ("COALESCE(CAST(o.seller_id AS TEXT),"
           " CASE WHEN o.source = 'web' THEN 'web' ELSE 'none' END)")
_LINE_TAX = ("(2 * l.qty * l.unit_price * COALESCE(l.tax_rate, 0) + 10000 + COALESCE(l.tax_rate, 0))"
             " / (2 * (10000 + COALESCE(l.tax_rate, 0)))")
_SALE = f"o.shop_id = ? AND o.state IN ({','.join(repr(s) for s in SALE_STATES)})" \
        " AND o.created_at >= ? AND o.created_at < ?"


def _slot(d: str, slot: int, column: str = "o.created_at") -> str:
    if d == "postgres":
        return f"CAST(FLOOR(EXTRACT(EPOCH FROM {column}) / {slot}) AS BIGINT)"
    return f"CAST(strftime('%s', {column}) AS INTEGER) / {slot}"


@dataclass
class Figures:
    sales: int = 0
    gross: int = 0
    net: int = 0
    tax: int = 0
    refunds: int = 0
    refund_tax: int = 0
    refund_count: int = 0

    @property
    def adjustments(self) -> int:
        return self.net - self.gross

    @property
    def average(self) -> int:
        return (2 * self.net + self.sales) // (2 * self.sales) if self.sales else 0

    def add(self, other: Figures) -> None:
        self.sales += other.sales
        self.gross += other.gross
        self.net += other.net
        self.tax += other.tax
        self.refunds += other.refunds
        self.refund_tax += other.refund_tax
        self.refund_count += other.refund_count

    @property
    def net_after_refunds(self) -> int:
        return self.net - self.refunds

    def as_dict(self) -> dict[str, int]:
        return {"sales": self.sales, "gross": self.gross, "adjustments": self.adjustments,
                "net": self.net, "tax": self.tax, "average": self.average,
                "refunds": self.refunds, "refund_tax": self.refund_tax,
                "refund_count": self.refund_count, "net_after_refunds": self.net_after_refunds}


@dataclass(frozen=True)
class Period:
    """[start, end) in UTC, from local dates `first` to `last` inclusive in zone `tz`."""
    first: date
    last: date
    tz: ZoneInfo

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first, datetime.min.time(), self.tz).astimezone(UTC)

    @property
    def end(self) -> datetime:
        return datetime.combine(self.last + timedelta(days=1), datetime.min.time(),
                                self.tz).astimezone(UTC)

    @cached_property   # (asked once per slot while a report is assembled)
    def slot(self) -> int:
        """HOUR when the zone's offset is a whole number of hours on every day of the
        period (most zones, daylight saving included), else SLOT (Asia/Kolkata, Nepal):
        four times fewer facts to sum where a local hour is a UTC hour."""
        day = self.first
        while day <= self.last + timedelta(days=1):
            offset = datetime.combine(day, datetime.min.time(), self.tz).utcoffset()
            if offset is None or offset.total_seconds() % HOUR:
                return SLOT
            day += timedelta(days=1)
        return HOUR

    def previous(self) -> Period:
        """The period of the same number of days just before this one."""
        days = (self.last - self.first).days + 1
        return Period(self.first - timedelta(days=days), self.first - timedelta(days=1), self.tz)


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        raise Invalid(f"the shop's time zone {name!r} is not an IANA zone") from None


def parse_period(first: str | None, last: str | None, tz: ZoneInfo, today: date) -> Period:
    """Local dates YYYY-MM-DD (default: the last 7 days up to `today`), with clear errors."""
    def one(text: str | None, name: str, default: date) -> date:
        if text is None or text == "":
            return default
        try:
            return date.fromisoformat(text)
        except ValueError:
            raise Invalid(f"{name} must be a date as YYYY-MM-DD, not {text[:40]!r}") from None
    end = one(last, "to", today)
    start = one(first, "from", end - timedelta(days=6))
    if start > end:
        raise Invalid(f"from ({start}) must not be after to ({end})")
    if (end - start).days + 1 > MAX_DAYS:
        raise Invalid(f"a report covers at most {MAX_DAYS} days")
    return Period(start, end, tz)


def bucket(slot_start: datetime, split: str, tz: ZoneInfo) -> str:
    """The local label of the hour / day / ISO week / month a UTC instant falls in."""
    local = slot_start.astimezone(tz)
    if split == "hour":
        return local.strftime("%Y-%m-%d %H:00")
    if split == "day":
        return local.strftime("%Y-%m-%d")
    if split == "week":
        year, week, _ = local.isocalendar()
        return f"{year}-W{week:02d}"
    return local.strftime("%Y-%m")


Key = tuple[str, int, str, str]   # currency, slot, method, terminal
SellerKey = tuple[str, int, str, str, str]   # ... and seller
Dims = tuple[str, str, str, str]             # currency, method, terminal, seller


def seller_label(seller_id: int | None, source: str) -> str:
    """The seller split's key, as _SELLER writes it in SQL: the user id of a terminal
    sale's seller, "web" for a web order (no seller), "none" for a terminal sale whose
    seller is not known (no login before it)."""
    if seller_id is not None:
        return str(seller_id)
    return "web" if source == "web" else "none"


async def facts(conn: BaseDBAsyncClient, shop: str, start: datetime, end: datetime,
                rounding: str = "line", slot: int = SLOT) -> dict[Key, Figures]:
    """The sales of `shop` in [start, end) summed per (currency, slot, method, terminal):
    a slot is the UTC instant divided by `slot` seconds."""
    out: dict[Key, Figures] = {}
    for (currency, at, method, terminal, _seller), f in (
            await seller_facts(conn, shop, start, end, rounding, slot)).items():
        out.setdefault((currency, at, method, terminal), Figures()).add(f)
    return out


async def seller_facts(conn: BaseDBAsyncClient, shop: str, start: datetime, end: datetime,
                       rounding: str = "line", slot: int = SLOT, dims: bool = True
                       ) -> dict[SellerKey, Figures]:
    """facts() per (currency, slot, method, terminal, seller); with dims=False per
    (currency, slot) only (method, terminal and seller ""), which reads no payments."""
    d = dialect(conn)
    args = [shop, when(d, start.timestamp()), when(d, end.timestamp())]

    def keys(column: str) -> str:
        what = (f"{_METHOD} AS method, {_TERMINAL} AS terminal, {_SELLER} AS seller" if dims
                else "'' AS method, '' AS terminal, '' AS seller")
        return f"o.currency, {_slot(d, slot, column)} AS slot, {what}"
    group = " GROUP BY 1, 2, 3, 4, 5"
    out: dict[SellerKey, Figures] = {}

    def at(row: dict[str, Any]) -> Figures:
        k = (row["currency"], int(row["slot"]), row["method"], row["terminal"], row["seller"])
        return out.setdefault(k, Figures())

    # One pass over the period's orders; each order's lines summed through their index.
    lines = "FROM order_lines l WHERE l.order_id = o.id"
    rows = await conn.execute_query_dict(q(d, (
        f"SELECT {keys('o.created_at')}, COUNT(*) AS n, SUM(o.total) AS net,"
        f" SUM((SELECT COALESCE(SUM(l.qty * l.unit_price), 0) {lines})) AS gross,"
        f" SUM((SELECT COALESCE(SUM({_LINE_TAX}), 0) {lines})) AS tax"
        f" FROM orders o WHERE {_SALE}{group}")), args)
    for row in rows:
        f = at(row)
        f.sales, f.net, f.gross, f.tax = (int(row["n"]), int(row["net"]), int(row["gross"]),
                                          int(row["tax"]))
    for key, delta in (await _tax_corrections(conn, d, args, keys("o.created_at"),
                                              rounding)).items():
        out[key].tax += delta
    rows = await conn.execute_query_dict(q(d, (
        f"SELECT {keys('r.settled_at')}, COUNT(*) AS n, SUM(r.amount) AS amount, SUM(r.tax) AS tax"
        " FROM refunds r JOIN orders o ON o.id = r.order_id WHERE r.shop_id = ?"
        " AND r.status = 'succeeded' AND r.settled_at >= ? AND r.settled_at < ?"
        f"{group}")), args)
    for row in rows:
        f = at(row)
        f.refund_count, f.refunds, f.refund_tax = (int(row["n"]), int(row["amount"]),
                                                   int(row["tax"]))
    return out


async def _tax_corrections(conn: BaseDBAsyncClient, d: str, args: list[Any], keys: str,
                           rounding: str) -> dict[SellerKey, int]:
    """tax.summary() minus the per-line SQL tax, for the orders where the two can differ:
    those with adjustments (rule 1 shares them over the rates), or all with `receipt`."""
    # An order with adjustments has a revision snapshot (orders/revisions.py): a lookup in
    # its unique (order, version) index, cheaper than summing every order's lines.
    adjusted = ("" if rounding == "receipt" else
                " AND EXISTS (SELECT 1 FROM revision_snapshots rs WHERE rs.order_id = o.id)")
    rows = await conn.execute_query_dict(q(d, (
        f"SELECT o.id, o.total, {keys} FROM orders o WHERE {_SALE}{adjusted}")), args)
    if not rows:
        return {}
    by_order: dict[int, list[tuple[int, int, int | None]]] = {int(r["id"]): [] for r in rows}
    ids = list(by_order)
    for i in range(0, len(ids), 500):
        part = ids[i:i + 500]
        got = await conn.execute_query_dict(q(d, (
            "SELECT order_id, qty, unit_price, tax_rate FROM order_lines WHERE order_id IN ("
            + ",".join("?" * len(part)) + ")")), part)
        for ln in got:
            by_order[int(ln["order_id"])].append(
                (int(ln["qty"]), int(ln["unit_price"]), ln["tax_rate"]))
    out: dict[SellerKey, int] = {}
    for r in rows:
        lines = by_order[int(r["id"])]
        gross = sum(qn * up for qn, up, _ in lines)
        exact = sum(g.tax for g in tax.summary(lines, [int(r["total"]) - gross], rounding))
        by_line = sum(tax.tax_in(qn * up, rt or 0) for qn, up, rt in lines)
        if exact != by_line:
            k = (r["currency"], int(r["slot"]), r["method"], r["terminal"], r["seller"])
            out[k] = out.get(k, 0) + exact - by_line
    return out


async def products(conn: BaseDBAsyncClient, shop: str, start: datetime, end: datetime
                   ) -> list[dict[str, Any]]:
    """Per product (sku) and currency: quantity, gross at the lines' prices, their tax by
    line (adjustments are per order, not per product, so they are not shared out here);
    the name is the one on the product's latest line (the highest line id), so a renamed
    product shows its new name, whatever the database's collation."""
    rows = await product_days(conn, shop, start, end, day=None)
    return sort_products(rows)


async def product_days(conn: BaseDBAsyncClient, shop: str, start: datetime, end: datetime,
                       day: int | None) -> list[dict[str, Any]]:
    """products() per (currency, sku) and, with `day` seconds, per UTC slot of that size
    ("slot"), each with the id of its latest line ("last_line"); unsorted."""
    d = dialect(conn)
    grain = f"{_slot(d, day)}" if day else "0"
    rows = await conn.execute_query_dict(q(d, (
        f"SELECT o.currency, l.sku, {grain} AS slot, SUM(l.qty) AS qty,"
        f" SUM(l.qty * l.unit_price) AS gross, SUM({_LINE_TAX}) AS tax, MAX(l.id) AS last_line"
        f" FROM orders o JOIN order_lines l ON l.order_id = o.id WHERE {_SALE}"
        f" GROUP BY 1, 2, 3")),
        [shop, when(d, start.timestamp()), when(d, end.timestamp())])
    names: dict[int, str] = {}
    last = [int(r["last_line"]) for r in rows]
    for i in range(0, len(last), 500):
        part = last[i:i + 500]
        for r in await conn.execute_query_dict(q(d, (
                "SELECT id, name FROM order_lines WHERE id IN (" + ",".join("?" * len(part))
                + ")")), part):
            names[int(r["id"])] = r["name"] or ""
    return [{"currency": r["currency"], "sku": r["sku"], "slot": int(r["slot"]),
             "name": names.get(int(r["last_line"]), ""), "last_line": int(r["last_line"]),
             "qty": int(r["qty"]), "gross": int(r["gross"]), "tax": int(r["tax"])} for r in rows]


def sort_products(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows of the same (currency, sku) summed, the latest line's name kept; the best
    sellers (by gross) first, then by currency and sku (code point order)."""
    merged: dict[tuple[str, str], dict[str, Any]] = {}
    for r in rows:
        m = merged.get((r["currency"], r["sku"]))
        if m is None:
            merged[(r["currency"], r["sku"])] = m = {
                "currency": r["currency"], "sku": r["sku"], "name": r["name"],
                "last_line": r["last_line"], "qty": 0, "gross": 0, "tax": 0}
        elif r["last_line"] > m["last_line"]:
            m["name"], m["last_line"] = r["name"], r["last_line"]
        m["qty"] += r["qty"]
        m["gross"] += r["gross"]
        m["tax"] += r["tax"]
    out = sorted(merged.values(), key=lambda m: (-m["gross"], m["currency"], m["sku"]))
    return [{k: m[k] for k in ("currency", "sku", "name", "qty", "gross", "tax")} for m in out]


@dataclass
class Report:
    """One period's figures per currency: totals and every split, all from `facts`."""
    period: Period
    totals: dict[str, Figures] = field(default_factory=dict)
    splits: dict[str, dict[tuple[str, str], Figures]] = field(default_factory=dict)
    products: list[dict[str, Any]] = field(default_factory=list)


def summarise(period: Period, rows: dict[Key, Figures] | dict[SellerKey, Figures],
              product_rows: list[dict[str, Any]]) -> Report:
    """A Report from facts() (no seller split) or seller_facts() rows."""
    times: dict[tuple[str, int], Figures] = {}
    dims: dict[Dims, Figures] = {}
    for key, f in rows.items():
        currency, slot, method, terminal = key[:4]
        seller = key[4] if len(key) > 4 else None
        times.setdefault((currency, slot), Figures()).add(f)
        dims.setdefault((currency, method, terminal, seller), Figures()).add(f)  # type: ignore[arg-type]
    return assemble(period, times, dims, product_rows)


def assemble(period: Period, times: dict[tuple[str, int], Figures], dims: dict[Dims, Figures],
             product_rows: list[dict[str, Any]]) -> Report:
    """A Report from per (currency, slot of period.slot seconds) and per (currency,
    method, terminal, seller) figures of the same sales (a seller None: no seller split)."""
    rep = Report(period, products=product_rows)
    for name in (*SPLITS, "method", "terminal", "seller"):
        rep.splits[name] = {}
    for (currency, method, terminal, seller), f in dims.items():
        rep.totals.setdefault(currency, Figures()).add(f)
        rep.splits["method"].setdefault((currency, method), Figures()).add(f)
        rep.splits["terminal"].setdefault((currency, terminal), Figures()).add(f)
        if seller is not None:
            rep.splits["seller"].setdefault((currency, seller), Figures()).add(f)
    for (currency, slot), f in sorted(times.items()):   # each slot placed in local time once
        at = datetime.fromtimestamp(slot * period.slot, UTC)
        for split in SPLITS:
            rep.splits[split].setdefault((currency, bucket(at, split, period.tz)), Figures()).add(f)
    return rep


async def report(conn: BaseDBAsyncClient, shop: str, period: Period,
                 rounding: str = "line") -> Report:
    """The report of `shop` over `period`, read from the rollup (cloud/orders/rollup.py)
    where it can be: always equal to direct_report()."""
    from fingerpos.cloud.orders import rollup  # the rollup is built from this module's facts
    return await rollup.report(conn, shop, period, rounding)


async def direct_report(conn: BaseDBAsyncClient, shop: str, period: Period,
                        rounding: str = "line") -> Report:
    """The report aggregated from the orders themselves (the rollup's reference)."""
    rows = await seller_facts(conn, shop, period.start, period.end, rounding, period.slot)
    return summarise(period, rows, await products(conn, shop, period.start, period.end))
