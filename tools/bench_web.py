"""`fingerpos bench web`: the buyer pages under a concurrent load, next to a bare aiohttp app.

How it measures: the cloud (create_app on a throwaway SQLite file, or --db,
seeded like `fingerpos screenshots`) runs in its own spawned process, and so does
a bare aiohttp app with one trivial handler; this process is only the load
generator (one aiohttp ClientSession, --connections connections, --requests
requests per page after --warmup unmeasured ones). The two servers run one at a
time while the other idles, so each gets one core and the load generator the
other; the ratio to bare aiohttp is what the targets are about, because the
machine is shared. A buyer's order page is loaded with a session cookie made by
cloud.auth.start_session (logging in through the form would measure argon2).

Search at 100,000 products (--search-products) is `fingerpos bench search`'s
measurement (tools/bench_search.py), run afterwards on SQLite and on --db.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import queue
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

# (name, target ratio to bare aiohttp, target p99 ms or None)
PAGES = (("shop page", 0.2, 20.0), ("product page", 0.2, 20.0),
         ("product JSON API", 0.3, None), ("search API", 0.3, None),
         ("order page (buyer)", None, None))
SEARCH_P99_MS = 15.0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("web", help="buyer pages under concurrent load vs a bare aiohttp app",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--requests", type=int, default=4000, help="measured requests per page "
                   "(default 4000)")
    p.add_argument("--warmup", type=int, default=300, help="unmeasured requests first "
                   "(default 300)")
    p.add_argument("--connections", type=int, default=32, help="concurrent connections "
                   "(default 32)")
    p.add_argument("--search-products", type=int, default=100_000,
                   help="products for the search latency run; 0 skips it (default 100000)")
    p.add_argument("--db", metavar="URL", help="PostgreSQL (or other) URL: the cloud and the "
                   "search run use it too (default: SQLite files)")
    p.add_argument("--profile", metavar="PATH", help="run the cloud under cProfile and write "
                   "its stats here (pstats format; slows it down)")
    p.add_argument("--json", metavar="PATH", default="bench-web.json",
                   help="where to write the results (default bench-web.json)")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    if not 1 <= args.requests <= 1_000_000 or not 0 <= args.warmup <= 100_000:
        return _fail("--requests must be 1 to 1000000 and --warmup 0 to 100000")
    if not 1 <= args.connections <= 1000:
        return _fail("--connections must be 1 to 1000")
    if not 0 <= args.search_products <= 5_000_000:
        return _fail("--search-products must be 0 to 5000000")
    try:
        results = asyncio.run(run(args))
    except (RuntimeError, OSError, TimeoutError) as e:
        return _fail(f"the bench failed: {e}")
    print_table(results)
    Path(args.json).write_text(json.dumps(results, indent=1) + "\n")
    print(f"results written to {args.json}")
    return 0 if results["pass"] else 1


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# --- the servers (each in its own spawned process) ---------------------------------------

def _bare_server(ready: multiprocessing.Queue, stop: multiprocessing.Event) -> None:  # type: ignore[type-arg]
    from aiohttp import web

    async def hello(request: web.Request) -> web.Response:
        return web.Response(text="hello")

    async def serve() -> None:
        app = web.Application()
        app.router.add_get("/", hello)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        ready.put({"base": f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"})  # type: ignore[union-attr]
        await asyncio.to_thread(stop.wait)
        await runner.cleanup()

    asyncio.run(serve())


def _cloud_server(db_url: str | None, profile: str | None, ready: multiprocessing.Queue,  # type: ignore[type-arg]
                  stop: multiprocessing.Event) -> None:
    import logging

    logging.disable(logging.WARNING)  # no terminals: "no command sender" notices are expected
    if not profile:
        asyncio.run(_serve_cloud(db_url, ready, stop))
        return
    import cProfile

    with cProfile.Profile() as prof:
        asyncio.run(_serve_cloud(db_url, ready, stop))
    prof.dump_stats(profile)


async def _serve_cloud(db_url: str | None, ready: multiprocessing.Queue,  # type: ignore[type-arg]
                       stop: multiprocessing.Event) -> None:
    from aiohttp import web
    from fingerpos.cloud.accounts import auth
    from fingerpos.cloud.app import create_app
    from fingerpos.cloud.core import db
    from fingerpos.cloud.core.config import Config
    from fingerpos.cloud.models.orders import Order
    from fingerpos.cloud.models.users import User
    from fingerpos.tools.cmd_screenshots import _seed

    with tempfile.TemporaryDirectory(prefix="fp-bench-web-") as tmp:
        url = db_url or f"sqlite://{Path(tmp) / 'web.sqlite3'}"
        ctx = await db.open_context(url)
        try:
            with ctx:
                await db.migrate(ctx)
        finally:
            await ctx.close_connections()
        config = Config(db_url=url, data_dir=Path(tmp), key_secret="bench-web-" + "0" * 20,
                        ingest=False, timer_interval_s=3600.0)
        app = create_app(config)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        try:
            ids = await _seed(app)
            buyer = await User.get(email="mia@example.com")
            cookie, _csrf = await auth.start_session(buyer)
            order = await Order.get(id=ids["pending"])
            port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            ready.put({"base": f"http://127.0.0.1:{port}", "cookie": cookie, "order": order.id})
            await asyncio.to_thread(stop.wait)
        finally:
            await runner.cleanup()


class Server:
    """A server process started with `target(..., ready, stop)`; its ready message is `info`."""

    def __init__(self, target, *args) -> None:  # type: ignore[no-untyped-def]
        ctx = multiprocessing.get_context("spawn")
        self.ready, self.stop = ctx.Queue(), ctx.Event()
        self.proc = ctx.Process(target=target, args=(*args, self.ready, self.stop), daemon=True)
        self.info: dict = {}

    async def __aenter__(self) -> Server:
        self.proc.start()
        # Polled, not one blocking get: a server that died before it was ready (its traceback
        # is on stderr) left that get in a thread forever, and the bench hung on exit.
        deadline = time.monotonic() + 120
        while True:
            try:
                self.info = await asyncio.to_thread(self.ready.get, True, 1.0)
                return self
            except queue.Empty:
                if not self.proc.is_alive():
                    raise RuntimeError(f"the server process exited with code "
                                       f"{self.proc.exitcode} before it was ready") from None
                if time.monotonic() > deadline:
                    self.proc.kill()
                    raise RuntimeError("the server was not ready within 120 s") from None

    async def __aexit__(self, *exc: object) -> None:
        self.stop.set()
        await asyncio.to_thread(self.proc.join, 20)
        if self.proc.is_alive():
            self.proc.kill()


# --- the load ----------------------------------------------------------------------------

def _pct(sorted_ms: list[float], p: float) -> float:
    return sorted_ms[min(len(sorted_ms) - 1, int(p / 100 * len(sorted_ms)))]


async def load(url: str, n: int, warmup: int, connections: int,
               cookies: dict[str, str] | None = None) -> dict:
    """`warmup` then `n` GETs of `url` over `connections` concurrent keep-alive connections."""
    conn = aiohttp.TCPConnector(limit=connections, force_close=False)
    async with aiohttp.ClientSession(connector=conn, cookies=cookies) as http:
        async def worker(todo: list[int], times: list[float] | None, errors: list[int]) -> None:
            while todo:
                todo.pop()
                t = time.perf_counter()
                async with http.get(url, allow_redirects=False) as r:
                    await r.read()
                    if r.status != 200:
                        errors.append(r.status)
                if times is not None:
                    times.append((time.perf_counter() - t) * 1000)

        await asyncio.gather(*(worker(list(range(warmup // connections + 1)), None, [])
                               for _ in range(connections)))
        todo, times, errors = list(range(n)), [], []
        t0 = time.perf_counter()
        await asyncio.gather(*(worker(todo, times, errors) for _ in range(connections)))
        span = time.perf_counter() - t0
    times.sort()
    return {"requests": n, "rps": n / span, "p50_ms": _pct(times, 50), "p99_ms": _pct(times, 99),
            "errors": len(errors), "statuses": sorted(set(errors))}


async def run(args: argparse.Namespace) -> dict:
    lg = (args.requests, args.warmup, args.connections)
    results: dict = {"connections": args.connections, "requests": args.requests, "pages": {}}
    async with Server(_bare_server) as bare:
        say(f"bare aiohttp: {args.requests} requests, {args.connections} connections")
        results["bare"] = await load(bare.info["base"] + "/", *lg)
    async with Server(_cloud_server, args.db, args.profile) as cloud:
        base, info = cloud.info["base"], cloud.info
        urls = {"shop page": base + "/",
                "product page": base + "/product/shop1/tea-green",
                "product JSON API": base + "/api/v1/shops/shop1/products/tea-green",
                "search API": base + "/api/v1/products/search?q=tea",
                "order page (buyer)": base + f"/orders/{info['order']}"}
        for name, _ratio, _p99 in PAGES:
            say(f"{name}: {urls[name]}")
            cookies = {"fp_session": info["cookie"]} if "order" in name else None
            results["pages"][name] = await load(urls[name], *lg, cookies=cookies)
    ok = True
    for name, ratio, p99 in PAGES:
        r = results["pages"][name]
        r["ratio"] = r["rps"] / results["bare"]["rps"]
        r["pass"] = (r["errors"] == 0 and (ratio is None or r["ratio"] >= ratio)
                     and (p99 is None or r["p99_ms"] <= p99))
        ok = ok and r["pass"]
    if args.search_products:
        from fingerpos.tools import bench_search
        dbs = [None] + ([args.db] if args.db else [])
        results["search"] = []
        for url in dbs:
            with tempfile.TemporaryDirectory(prefix="fp-bench-web-search-") as tmp:
                say(f"search at {args.search_products} products on {url or 'SQLite'}")
                s = await bench_search.run(url or f"sqlite://{Path(tmp) / 's.sqlite3'}",
                                           args.search_products, 30)
            s["pass"] = s["p99_ms"] <= SEARCH_P99_MS
            ok = ok and s["pass"]
            results["search"].append(s)
    results["pass"] = ok
    return results


def print_table(r: dict) -> None:
    rows = [("page", "requests/s", "p50 ms", "p99 ms", "x bare", "target", "")]
    b = r["bare"]
    rows.append(("bare aiohttp (trivial handler)", f"{b['rps']:,.0f}", f"{b['p50_ms']:.1f}",
                 f"{b['p99_ms']:.1f}", "1.00", "", ""))
    for name, ratio, p99 in PAGES:
        p = r["pages"][name]
        target = " ".join(t for t in (f">= {ratio} x" if ratio else "",
                                      f"p99 <= {p99:g} ms" if p99 else "") if t) or "-"
        if p["errors"]:
            target += f" ({p['errors']} errors: {p['statuses']})"
        rows.append((name, f"{p['rps']:,.0f}", f"{p['p50_ms']:.1f}", f"{p['p99_ms']:.1f}",
                     f"{p['ratio']:.2f}", target, "pass" if p["pass"] else "FAIL"))
    for s in r.get("search", ()):
        rows.append((f"search, {s['products']:,} products, {s['database']}", "",
                     f"{s['p50_ms']:.1f}", f"{s['p99_ms']:.1f}", "", f"p99 <= {SEARCH_P99_MS:g} ms",
                     "pass" if s["pass"] else "FAIL"))
    width = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    print(f"fingerpos bench web: {r['requests']} requests per page, {r['connections']} connections")
    for n, row in enumerate(rows):
        print("  ".join(cell.ljust(width[i]) for i, cell in enumerate(row)).rstrip())
        if n == 0:
            print("  ".join("-" * w for w in width))
