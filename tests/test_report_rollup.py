"""The report rollup (cloud/orders/rollup.py) never drifts from the orders it sums.

The outside reference is the direct aggregation over the orders themselves
(reports.direct_report), and the writers are the ones production has: bulk INSERTs as
ingestion writes them (orders/bulk.py), late sales (created days earlier), state changes,
re-pricing with its revision snapshot, second payments that change the method, line edits
and deletions, refunds that settle later, sellers set afterwards, the shop's tax rounding
switched, and transactions that roll back. Hypothesis draws them in random order,
with the rollup refreshed after each (so every later write must dirty what it built) and
reports in between, in three zones: Europe/Berlin over its 2026 spring daylight
saving change, Asia/Kathmandu (+05:45: local midnight is not on a UTC hour) and
America/St_Johns (-03:30 / -02:30). Every report must equal the direct aggregation: its
totals, all its splits (hour, day, week, month, method, terminal, seller) and products.
Each example is a new shop in the same database, so shops must not leak into each other.
Runs on SQLite and (FINGERPOS_TEST_DB=postgres) PostgreSQL.
"""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, date, datetime, timedelta

import pytest
from fingerpos.cloud.core import db
from fingerpos.cloud.core.sql import dialect, q, when
from fingerpos.cloud.orders import reports as R
from fingerpos.cloud.orders import rollup
from fingerpos.cloud.orders.bulk import insert_rows
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tortoise import connections
from tortoise.transactions import in_transaction

from .conftest import cloud_on_postgres

pytestmark = pytest.mark.cloud

FIRST = date(2026, 3, 26)          # Berlin moves to summer time on 2026-03-29
DAYS = 7
T0 = datetime(2026, 3, 25, 12, tzinfo=UTC)
SPAN_MIN = (DAYS + 1) * 24 * 60    # order times: minutes after T0
ZONES = ("Europe/Berlin", "Asia/Kathmandu", "America/St_Johns")
STATES = ("paid", "completed", "accepted", "cancelled", "pending_payment", "held", "fulfilled")
SKUS = (("tea", "乌龙茶"), ("cake", "月饼"), ("bun", "包子"))
_shops = itertools.count(1)

minute = st.integers(0, SPAN_MIN)
line = st.tuples(st.sampled_from(range(len(SKUS))), st.integers(1, 5), st.integers(0, 5000),
                 st.sampled_from((None, 0, 600, 900, 1300)))
sale = st.tuples(st.just("sale"), minute, st.sampled_from(STATES),
                 st.lists(line, min_size=1, max_size=3),
                 st.sampled_from((None, "t1", "t2")), st.sampled_from((None, 1, 2)),
                 st.sampled_from((None, "card", "cash", "wechat")))
pick = st.integers(0, 1000)    # which existing order (modulo how many there are)
op = st.one_of(
    sale, sale, sale,     # weights: one_of picks its branches evenly
    st.tuples(st.just("move"), pick, minute),
    st.tuples(st.just("state"), pick, st.sampled_from(STATES)),
    st.tuples(st.just("reprice"), pick, st.integers(-300, 300)),
    *[st.tuples(st.just("pay"), pick, st.sampled_from(("card", "cash", "alipay")))] * 2,
    st.tuples(st.just("line"), pick, st.integers(0, 4)),
    *[st.tuples(st.just("refund"), pick, minute, st.integers(1, 2000), st.booleans())] * 2,
    st.tuples(st.just("settle"), pick, minute),
    st.tuples(st.just("seller"), pick, st.sampled_from((None, 1, 2))),
    st.tuples(st.just("rounding"), st.sampled_from(("line", "receipt"))),
    st.tuples(st.just("rollback"), sale),
    st.tuples(st.just("report"), st.integers(0, DAYS - 1), st.integers(1, DAYS)),
)


def _t(d: str, minutes: int):
    return when(d, (T0 + timedelta(minutes=minutes)).timestamp())


def _view(rep: R.Report) -> dict:
    return {"totals": {c: f.as_dict() for c, f in rep.totals.items()},
            "splits": {name: {k: f.as_dict() for k, f in rows.items()}
                       for name, rows in rep.splits.items()},
            "products": rep.products}


class Shop:
    """One example's shop and what was written to it so far."""

    def __init__(self, conn, name: str, zone: str) -> None:
        self.conn, self.name, self.zone = conn, name, zone
        self.d = dialect(conn)
        self.orders: list[int] = []
        self.refunds: list[int] = []
        self.rounding = "line"

    async def run(self, step: tuple) -> None:
        kind, *a = step
        if kind == "rollback":
            try:
                async with in_transaction() as tx:
                    await self.sale(*a[0][1:], conn=tx)
                    raise LookupError("undone")
            except LookupError:
                self.orders.pop()
            return
        if kind == "report":
            return await self.check(FIRST + timedelta(days=a[0]), a[1])
        if kind == "rounding":
            self.rounding = a[0]
            return await self.exe("UPDATE shops SET tax_rounding = ? WHERE id = ?", a[0], self.name)
        if kind == "sale":
            return await self.sale(*a)
        if not self.orders:
            return
        oid = self.orders[a[0] % len(self.orders)]
        if kind == "move":     # a late sale: its time moves days back (or on)
            await self.exe("UPDATE orders SET created_at = ? WHERE id = ?", _t(self.d, a[1]), oid)
        elif kind == "state":
            await self.exe("UPDATE orders SET state = ? WHERE id = ?", a[1], oid)
        elif kind == "reprice":   # orders/revisions.py: a new total and its snapshot
            await self.exe("UPDATE orders SET total = total + ?, version = version + 1"
                           " WHERE id = ? AND total + ? >= 0", a[1], oid, a[1])
            got = await self.conn.execute_query_dict(q(self.d, (
                "SELECT COUNT(*) AS n FROM revision_snapshots WHERE order_id = ?")), [oid])
            if not int(got[0]["n"]):
                await insert_rows(self.conn, "revision_snapshots",
                                  "order_id, version, lines, adjustments, created_at",
                                  [(oid, 1, "[]", '[["price change", 1]]', _t(self.d, 0))])
        elif kind == "pay":
            await self.payment(self.conn, oid, a[1])
        elif kind == "line":
            lines = await self.conn.execute_query_dict(q(self.d, (
                "SELECT id FROM order_lines WHERE order_id = ? ORDER BY id")), [oid])
            if a[1] == 0 and len(lines) > 1:
                await self.exe("DELETE FROM order_lines WHERE id = ?", lines[0]["id"])
            elif a[1] == 1:
                await self.lines(self.conn, oid, [(2, 1, 250, 900)])
            elif lines:
                await self.exe("UPDATE order_lines SET qty = ?, sku = ? WHERE id = ?", a[1],
                               SKUS[a[1] % 3][0], lines[-1]["id"])
        elif kind == "refund":
            row = await insert_rows(
                self.conn, "refunds", "order_id, shop_id, amount, tax, currency, lines, method,"
                " status, reason, restock, failure, created_at, settled_at",
                [(oid, self.name, a[2], a[2] // 10, "CNY", "[]", "cash",
                  "succeeded" if a[3] else "pending", "", False, "", _t(self.d, a[1]),
                  _t(self.d, a[1]) if a[3] else None)], " RETURNING id")
            self.refunds.append(int(row[0]["id"]))
        elif kind == "settle" and self.refunds:
            rid = self.refunds[a[0] % len(self.refunds)]
            await self.exe("UPDATE refunds SET status = 'succeeded', settled_at = ? WHERE id = ?",
                           _t(self.d, a[1]), rid)
        elif kind == "seller":
            await self.exe("UPDATE orders SET seller_id = ? WHERE id = ?", a[1], oid)

    async def exe(self, sql: str, *args) -> None:
        await self.conn.execute_query(q(self.d, sql), list(args))

    async def sale(self, at: int, state: str, lines, device, seller, method, conn=None) -> None:
        conn = conn or self.conn
        total = sum(qty * price for _sku, qty, price, _rate in lines)
        row = await insert_rows(
            conn, "orders", "shop_id, source, device_id, ref, state, version, total, currency,"
            " alerted, created_at, state_changed_at, seller_id",
            [(self.name, "terminal" if device else "web", device, None, state, 1, total, "CNY",
              False, _t(self.d, at), _t(self.d, at), seller if device else None)], " RETURNING id")
        oid = int(row[0]["id"])
        self.orders.append(oid)
        await self.lines(conn, oid, lines)
        if method:
            await self.payment(conn, oid, method)

    async def lines(self, conn, oid: int, lines) -> None:
        await insert_rows(conn, "order_lines", "order_id, sku, name, qty, unit_price, tax_rate",
                          [(oid, SKUS[s][0], SKUS[s][1], qty, price, rate)
                           for s, qty, price, rate in lines])

    async def payment(self, conn, oid: int, method: str) -> None:
        await insert_rows(conn, "payments", "order_id, amount, currency, version, method,"
                          " accepted, reason, created_at",
                          [(oid, 0, "CNY", 1, method, True, "", _t(self.d, 0))])

    async def check(self, first: date, days: int, previous: bool = True) -> None:
        period = R.Period(first, first + timedelta(days=days - 1), R.zone(self.zone))
        for p in (period, period.previous()) if previous else (period,):
            rolled = await R.report(self.conn, self.name, p, self.rounding)
            direct = await R.direct_report(self.conn, self.name, p, self.rounding)
            assert _view(rolled) == _view(direct), (self.name, p)


async def _scenario(url: str, zone: str, steps: list[tuple]) -> None:
    ctx = await db.open_context(url)
    try:
        with ctx:
            conn = connections.get("default")
            name = f"p{next(_shops)}"
            await conn.execute_query(q(dialect(conn), (
                "INSERT INTO shops (id, name, timezone, created_at) VALUES (?, ?, ?, ?)")),
                [name, "街角茶馆 " + name, zone, _t(dialect(conn), 0)])
            shop = Shop(conn, name, zone)
            for step in steps:
                await shop.run(step)
                # the rollup rebuilt after every write, so the next write must dirty it,
                # and checked over the whole week
                await rollup.refresh(conn, name, 0, 1 << 30)
                await shop.check(FIRST, DAYS, previous=False)
            await shop.check(FIRST, DAYS)       # everything, once more at the end
            await shop.check(FIRST + timedelta(days=2), 3)
    finally:
        await ctx.close_connections()


@settings(max_examples=70 if cloud_on_postgres() else 150, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(zone=st.sampled_from(ZONES), steps=st.lists(op, min_size=12, max_size=40))
def test_rolled_up_reports_equal_the_direct_aggregation(cloud_db_url, zone, steps):
    asyncio.run(_scenario(cloud_db_url, zone, steps))
