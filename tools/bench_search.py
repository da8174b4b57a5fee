"""`fingerpos bench search`: catalogue search latency with many products.

Seeds --products products (bulk SQL; the full-text index follows through its
triggers on SQLite, its GIN index on PostgreSQL) into a new SQLite file or the
--db database, then runs a fixed mix of buyer searches (prefix words, two words,
CJK, price/category/stock filters, pages) through the same code the API uses
(cloud/commerce/fulltext.py) and reports p50/p99 latency.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from fingerpos.cloud.commerce import fulltext, search
from fingerpos.cloud.core import db
from fingerpos.cloud.core.sql import dialect, q, rows_marks
from tortoise import connections

_WORDS = ("apple banana cherry coffee tea green black oolong jasmine honey lemon ginger mint "
          "rice noodle soup bread cake cookie chocolate vanilla milk cream butter cheese salt "
          "pepper sugar flour oil vinegar sauce spice herb bean corn wheat oat nut almond walnut "
          "peanut sesame cocoa mango peach plum grape melon berry orange lime kiwi fig date").split()
_CJK = ("茶", "咖啡", "绿茶", "红茶", "面包", "蛋糕", "牛奶", "米饭")
_QUERIES = (({"text": "app"}), ({"text": "green tea"}), ({"text": "choc cake"}),
            ({"text": "绿茶"}), ({"text": "honey", "in_stock": True}),
            ({"text": "coffee", "min_price": 500, "max_price": 1500}),
            ({"text": "", "category": 3}), ({"text": "mango", "category": 5, "in_stock": True}),
            ({"text": "nut", "offset": 40}), ({"text": "zzzz"}))


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("search", help="catalogue search latency with many products",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--products", type=int, default=100_000,
                   help="products to seed (default 100000)")
    p.add_argument("--rounds", type=int, default=30,
                   help="times the query mix runs (default 30)")
    p.add_argument("--db", metavar="URL", help="database URL (default: a new SQLite file)")
    p.add_argument("--json", metavar="PATH", default="bench-search.json",
                   help="where to write the results (default bench-search.json)")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    if not 1 <= args.products <= 5_000_000:
        return _fail("--products must be 1 to 5000000")
    if not 1 <= args.rounds <= 10_000:
        return _fail("--rounds must be 1 to 10000")
    try:
        with tempfile.TemporaryDirectory(prefix="fp-bench-search-") as tmp:
            url = args.db or f"sqlite://{Path(tmp) / 'bench.sqlite3'}"
            results = asyncio.run(run(url, args.products, args.rounds))
    except db.DatabaseError as e:
        return _fail(str(e))
    print(f"search over {results['products']} products ({results['database']}): "
          f"{results['queries']} queries, p50 {results['p50_ms']:.2f} ms, "
          f"p99 {results['p99_ms']:.2f} ms, max {results['max_ms']:.2f} ms "
          f"(seeded in {results['seed_s']:.1f} s)")
    Path(args.json).write_text(json.dumps(results, indent=1) + "\n")
    print(f"results written to {args.json}")
    return 0


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


async def seed(n: int, shop: str = "bench") -> None:
    conn = connections.get("default")
    d = dialect(conn)
    created = datetime(2026, 1, 1, tzinfo=UTC)
    await conn.execute_query(q(d, "INSERT INTO shops (id, name, created_at) VALUES (?, ?, ?)"),
                             [shop, "Bench shop", created if d == "postgres" else str(created)])
    cats = []
    for i in range(1, 21):
        await conn.execute_query(q(d, "INSERT INTO categories (shop_id, name) VALUES (?, ?)"),
                                 [shop, f"cat{i}"])
        cats.append(i)
    rng = random.Random(7)
    chunk = 500
    for start in range(0, n, chunk):
        values: list[object] = []
        rows = min(chunk, n - start)
        for i in range(start, start + rows):
            words = rng.sample(_WORDS, 3)
            name = " ".join(words).title() + (" " + rng.choice(_CJK) if i % 7 == 0 else "")
            desc = " ".join(rng.sample(_WORDS, 6))
            sku = f"sku{i:07d}"
            values += [shop, sku, name, rng.randrange(50, 5000), "EUR", rng.randrange(0, 5), desc,
                       "", rng.choice(cats), search.index_text(name, sku, desc)]
        await conn.execute_query(q(d, (
            "INSERT INTO products (shop_id, sku, name, price, currency, stock, description,"
            " image_url, category_id, search_text) VALUES " + rows_marks(d, rows, 10))), values)
        if start and start % 20_000 == 0:
            print(f"  seeded {start} products", file=sys.stderr, flush=True)
    if d == "postgres":
        await conn.execute_script("ANALYZE products")


async def run(url: str, products: int, rounds: int) -> dict:
    ctx = await db.open_context(url)
    try:
        with ctx:
            await db.migrate(ctx)
            t0 = time.monotonic()
            await seed(products)
            seed_s = time.monotonic() - t0
            print(f"  seeded {products} products in {seed_s:.1f} s; searching", file=sys.stderr,
                  flush=True)
            times = []
            by_query: dict[str, list[float]] = {}
            for _ in range(rounds):
                for spec in _QUERIES:
                    f = fulltext.Filters(shop=None, category=spec.get("category"),
                                         min_price=spec.get("min_price"),
                                         max_price=spec.get("max_price"),
                                         in_stock=spec.get("in_stock", False))
                    t = time.perf_counter()
                    await fulltext.find(spec["text"], f, 21, spec.get("offset", 0))
                    times.append((time.perf_counter() - t) * 1000)
                    by_query.setdefault(json.dumps(spec, ensure_ascii=False), []).append(times[-1])
            kind = dialect(connections.get("default"))
    finally:
        await ctx.close_connections()
    times.sort()
    return {"database": kind, "products": products, "queries": len(times), "seed_s": seed_s,
            "p50_ms": statistics.median(times), "p99_ms": times[int(len(times) * 0.99) - 1],
            "max_ms": times[-1],
            "max_ms_by_query": {k: round(max(v), 2) for k, v in by_query.items()}}
