"""`fingerpos bench reports`: sales report latency over many orders (target: <= 1 s each).

Seeds --orders sales of one shop in Asia/Shanghai spread over a year (bulk INSERT ...
SELECT: orders of 8 terminals and 5 sellers, one line each at 13 % or 9 % tax, an accepted
payment by card, cash or wechat; every 50th order re-priced, with its revision snapshot, so
its tax goes through tax.summary()) into a new SQLite file or the --db database. The
seeding's INSERTs fire the rollup's triggers (cloud/orders/rollup.py), which mark every day
dirty; the first refresh builds the rollup ("build"). Then, for a day, a month, a quarter
and a year, it times the /reports page's pair (this period and the previous one) two ways:
summed from the orders (reports.direct_report: the aggregation before the rollup, the
baseline measured in the same run) and through the rollup (reports.report), and the ratio
rollup / direct. "after a sale" is the rollup page just after one more sale in the period
(its day recomputed first). count(*) of both periods' orders is there for scale.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from fingerpos.cloud.core import db
from fingerpos.cloud.core.sql import dialect, q, when
from fingerpos.cloud.orders import reports, rollup
from tortoise import connections

SHOP, ZONE = "bench", "Asia/Shanghai"
YEAR_S = 365 * 86400
FIRST = date(2026, 1, 1)
SPANS = {"day": (date(2026, 6, 10), date(2026, 6, 10)),
         "month": (date(2026, 6, 1), date(2026, 6, 30)),
         "quarter": (date(2026, 4, 1), date(2026, 6, 30)),
         "year": (date(2026, 1, 1), date(2026, 12, 31))}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("reports", help="sales report latency with many orders",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--orders", type=int, default=1_000_000,
                   help="orders to seed (default 1000000)")
    p.add_argument("--rounds", type=int, default=3, help="times each report runs (default 3)")
    p.add_argument("--db", metavar="URL", help="database URL (default: a new SQLite file)")
    p.add_argument("--json", metavar="PATH", default="bench-reports.json",
                   help="where to write the results (default bench-reports.json)")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    if not 1 <= args.orders <= 10_000_000:
        return _fail("--orders must be 1 to 10000000")
    if not 1 <= args.rounds <= 100:
        return _fail("--rounds must be 1 to 100")
    try:
        with tempfile.TemporaryDirectory(prefix="fp-bench-reports-") as tmp:
            url = args.db or f"sqlite://{Path(tmp) / 'bench.sqlite3'}"
            results = asyncio.run(run(url, args.orders, args.rounds))
    except db.DatabaseError as e:
        return _fail(str(e))
    print(f"reports over {results['orders']} orders ({results['database']}, seeded in "
          f"{results['seed_s']:.1f} s, rollup built in {results['build_s']:.1f} s);"
          f" page = report + previous period, best of {args.rounds}:")
    print(f"  {'span':8} {'orders':>8}  {'direct':>8}  {'rollup':>8}  {'ratio':>6}"
          f"  {'after a sale':>12}  {'count(*)':>8}")
    for span, r in results["spans"].items():
        print(f"  {span:8} {r['orders']:>8}  {r['direct_page_s']:>6.3f} s  {r['page_s']:>6.3f} s"
              f"  {r['ratio']:>6.3f}  {r['after_sale_s']:>10.3f} s  {r['count_s']:>6.3f} s"
              f"  {'' if r['equal'] else 'TOTALS DIFFER '}"
              f"{'ok' if max(r['page_s'], r['after_sale_s']) <= 1.0 else 'OVER 1 s'}")
    Path(args.json).write_text(json.dumps(results, indent=1) + "\n")
    print(f"results written to {args.json}")
    return 0


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


async def seed(n: int) -> None:
    conn = connections.get("default")
    d = dialect(conn)
    pg = d == "postgres"
    start = when(d, 1767196800)   # 2026-01-01 00:00 in Shanghai (2025-12-31 16:00 UTC)
    await conn.execute_query(q(d, "INSERT INTO shops (id, name, timezone, created_at)"
                                  " VALUES (?, ?, ?, ?)"), [SHOP, "Bench shop", ZONE, start])
    series = ("SELECT generate_series(1, $1) AS i" if pg else
              "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)"
              " SELECT i FROM n")
    step = YEAR_S // n or 1
    at = (f"(TIMESTAMPTZ '2025-12-31 16:00:00+00' + make_interval(secs => i * {step}))" if pg
          else f"(datetime('2025-12-31 16:00:00', '+' || (i * {step}) || ' seconds') || '+00:00')")
    price = "(100 + (i * 37) % 900)"
    total = f"(CASE WHEN i % 50 = 0 THEN {price} - 7 ELSE {price} END)"
    await conn.execute_query(q(d, (
        "INSERT INTO orders (shop_id, source, device_id, ref, state, version, total, currency,"
        " alerted, created_at, state_changed_at, seller_id)"
        f" SELECT '{SHOP}', 'terminal', 't' || (i % 8), 'r' || i, 'completed', 1, {total},"
        f" 'CNY', false, {at}, {at}, 1 + i % 5 FROM ({series}) AS s")), [n])
    await conn.execute_query(
        "INSERT INTO order_lines (order_id, sku, name, qty, unit_price, tax_rate)"
        " SELECT id, 'sku' || (id % 40), '乌龙茶', 1, 100 + (id * 37) % 900,"
        " CASE WHEN id % 2 = 0 THEN 1300 ELSE 900 END FROM orders")
    await conn.execute_query(
        "INSERT INTO payments (order_id, amount, currency, version, method, accepted, reason,"
        " created_at) SELECT id, total, 'CNY', 1, CASE id % 3 WHEN 0 THEN 'card' WHEN 1 THEN"
        " 'cash' ELSE 'wechat' END, true, '', created_at FROM orders")
    await conn.execute_query(  # the re-priced ones' snapshots, as orders/revisions.py keeps
        "INSERT INTO revision_snapshots (order_id, version, lines, adjustments, created_at)"
        " SELECT id, 1, '[]', '[[\"price change\", -7]]', created_at FROM orders"
        " WHERE id % 50 = 0")
    await conn.execute_script("ANALYZE")


async def run(url: str, n: int, rounds: int) -> dict:
    ctx = await db.open_context(url)
    try:
        with ctx:
            await db.migrate(ctx)
            t0 = time.monotonic()
            await seed(n)
            seed_s = time.monotonic() - t0
            print(f"  seeded {n} orders in {seed_s:.1f} s; reporting", file=sys.stderr,
                  flush=True)
            conn = connections.get("default")
            d = dialect(conn)
            t0 = time.monotonic()
            await rollup.refresh(conn, SHOP, 0, 1 << 30)
            build_s = time.monotonic() - t0
            tz = reports.zone(ZONE)
            spans = {}
            for span, (first, last) in SPANS.items():
                period = reports.Period(first, last, tz)
                spans[span] = await _span(conn, d, period, rounds)
    finally:
        await ctx.close_connections()
    return {"database": d, "orders": n, "seed_s": seed_s, "build_s": build_s, "spans": spans}


async def _best(rounds: int, fn) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(rounds):
        t = time.perf_counter()
        out = await fn()
        best = min(best, time.perf_counter() - t)
    return best, out


async def _span(conn, d: str, period: reports.Period, rounds: int) -> dict:
    async def count():
        return await conn.execute_query_dict(q(d, (
            "SELECT COUNT(*) AS n FROM orders WHERE shop_id = ? AND created_at >= ?"
            " AND created_at < ?")), [SHOP, when(d, period.previous().start.timestamp()),
                                      when(d, period.end.timestamp())])

    def page(how):
        async def both():
            now = await how(conn, SHOP, period)
            await how(conn, SHOP, period.previous())
            return now
        return both

    count_s, _ = await _best(rounds, count)
    direct_s, direct = await _best(rounds, page(reports.direct_report))
    page_s, rolled = await _best(rounds, page(reports.report))
    report_s, _ = await _best(rounds, lambda: reports.report(conn, SHOP, period))
    same = {c: f.as_dict() for c, f in rolled.totals.items()} == {
        c: f.as_dict() for c, f in direct.totals.items()}
    after = float("inf")
    for i in range(rounds):   # one more sale in the middle of the period, then the page
        at = when(d, (period.start.timestamp() + period.end.timestamp()) / 2)
        await conn.execute_query(q(d, (
            "INSERT INTO orders (shop_id, source, device_id, ref, state, version, total,"
            " currency, alerted, created_at, state_changed_at, seller_id) VALUES"
            " (?, 'terminal', 't0', ?, 'completed', 1, 500, 'CNY', false, ?, ?, 1)")),
            [SHOP, f"late-{period.first}-{i}", at, at])
        t = time.perf_counter()
        await page(reports.report)()
        after = min(after, time.perf_counter() - t)
    return {"orders": sum(f.sales for f in direct.totals.values()), "direct_page_s": direct_s,
            "report_s": report_s, "page_s": page_s, "after_sale_s": after, "count_s": count_s,
            "ratio": page_s / direct_s if direct_s else 0.0, "equal": same}
