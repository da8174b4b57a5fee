"""`fingerpos bench reports`: sales report latency over many orders (target: <= 1 s each).

Seeds --orders sales of one shop in Asia/Shanghai spread over a year (bulk INSERT ...
SELECT: orders, one line each at 13 % or 9 % tax, an accepted payment by card, cash or
wechat; every 50th order re-priced, with its revision snapshot, so its tax goes through
tax.summary()) into a new SQLite file or the --db database, then times one report
(cloud/orders/reports.py) and the /reports page's pair (this period and the previous one)
for a day, a month and a quarter. The baseline measured in the same run is the bare
COUNT(*) of both periods' orders, so the ratio (page / count) says what the aggregation
costs over reading the rows at all.
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
from fingerpos.cloud.orders import reports
from tortoise import connections

SHOP, ZONE = "bench", "Asia/Shanghai"
YEAR_S = 365 * 86400
FIRST = date(2026, 1, 1)
SPANS = {"day": (date(2026, 6, 10), date(2026, 6, 10)),
         "month": (date(2026, 6, 1), date(2026, 6, 30)),
         "quarter": (date(2026, 4, 1), date(2026, 6, 30))}


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
          f"{results['seed_s']:.1f} s); best of {args.rounds}:")
    for span, r in results["spans"].items():
        print(f"  {span:8} {r['orders']:>8} orders  report {r['report_s']:.3f} s"
              f"  page (+ previous period) {r['page_s']:.3f} s"
              f"  (count(*) {r['count_s']:.3f} s, ratio {r['ratio']:.0f})"
              f"  {'ok' if r['report_s'] <= 1.0 else 'OVER 1 s'}")
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
        " alerted, created_at, state_changed_at)"
        f" SELECT '{SHOP}', 'terminal', 't' || (i % 8), 'r' || i, 'completed', 1, {total},"
        f" 'CNY', false, {at}, {at} FROM ({series}) AS s")), [n])
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
            tz = reports.zone(ZONE)
            spans = {}
            for span, (first, last) in SPANS.items():
                period = reports.Period(first, last, tz)
                best, page, count_best, orders = float("inf"), float("inf"), float("inf"), 0
                for _ in range(rounds):
                    t = time.perf_counter()
                    rows = await conn.execute_query_dict(q(d, (
                        "SELECT COUNT(*) AS n FROM orders WHERE shop_id = ? AND created_at >= ?"
                        " AND created_at < ?")), [SHOP, when(d, period.previous().start
                                                             .timestamp()),
                                                    when(d, period.end.timestamp())])
                    count_best = min(count_best, time.perf_counter() - t)
                    t = time.perf_counter()
                    now = await reports.report(conn, SHOP, period)
                    mid = time.perf_counter()
                    await reports.report(conn, SHOP, period.previous())
                    best = min(best, mid - t)
                    page = min(page, time.perf_counter() - t)
                    orders = sum(f.sales for f in now.totals.values())
                del rows
                spans[span] = {"orders": orders, "report_s": best, "page_s": page,
                               "count_s": count_best,
                               "ratio": page / count_best if count_best else 0.0}
    finally:
        await ctx.close_connections()
    return {"database": d, "orders": n, "seed_s": seed_s, "spans": spans}
