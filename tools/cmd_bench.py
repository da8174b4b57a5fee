"""`fingerpos bench ingest`: terminals -> Mosquitto -> cloud -> database -> WebSocket.

It starts a real Mosquitto (fingerpos.tools.mosquitto) and, first, measures the
rate a bare paho subscriber receives the heartbeat stream (the ceiling). Then
it runs the whole cloud in this process (create_app: ingestion, SQLite or the
--db database, the monitor feed) with a WebSocket client on the monitor feed,
and for each mode publishes from simulated terminals in another process:
  heartbeat  as fast as they can: events/s committed (seen on the feed)
  sale       as fast as acks allow (at most 200 unacknowledged per terminal, like
             an outbox): orders/s created (each sale -> a paid order)
  steady     --rate events/s in all: p50/p99 latency publish -> WebSocket
  soak       (only when asked for) --rate events/s for --duration seconds while
             the cloud's memory (RSS) is sampled every --sample seconds: start,
             end, max and the slope (tools/bench_soak.py)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import multiprocessing
import os
import secrets
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp
from fingerpos.tools import bench_load, bench_reports, bench_search, bench_web, scale_model
from fingerpos.tools.mosquitto import INSTALL_HINT, Mosquitto, free_port

MODES = ("heartbeat", "sale", "steady")  # what --mode all runs
SOAK = "soak"
# The bench's broker keeps every queued message: a backlog must not be dropped
# by the broker while the cloud catches up, or the counts would not add up.
# Sales run at the cloud's pace: each terminal keeps at most this many unacknowledged.
_SALE_WINDOW = 200
_BROKER_EXTRA = "max_queued_messages 0\nmax_queued_bytes 0\nset_tcp_nodelay true\n"
_QUIET_S = 10.0  # a stream is over when nothing more was stored for this long


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="measure the cloud: ingestion throughput and latency")
    ps = p.add_subparsers(dest="bench_command", metavar="WHAT", required=True)
    i = ps.add_parser("ingest", help="terminals -> Mosquitto -> cloud -> database -> WebSocket",
                      description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    i.add_argument("--mode", choices=("all",) + MODES + (SOAK,), default="all",
                   help="which stream to run (default: all but soak)")
    i.add_argument("--duration", type=float, default=8.0,
                   help="seconds each stream publishes (default 8)")
    i.add_argument("--terminals", type=int, default=50,
                   help="simulated terminals, one MQTT connection each (default 50)")
    i.add_argument("--rate", type=float, default=1000.0,
                   help="events/s in all for the steady latency run (default 1000)")
    i.add_argument("--publishers", type=int, default=2,
                   help="processes the terminals are split between (default 2)")
    i.add_argument("--sample", type=float, default=5.0,
                   help="soak: seconds between memory samples (default 5)")
    i.add_argument("--db", metavar="URL", action="append",
                   help="database: `sqlite` (a new SQLite file, the default) or "
                   "postgres://user@host/db (the bench creates and drops a database of its "
                   "own next to it per run: the user needs CREATEDB); give it twice "
                   "(--db sqlite --db postgres://...) to run both and print PG/SQLite")
    i.add_argument("--broker", choices=("unlimited", "generated"), default="unlimited",
                   help="unlimited: the bench's own Mosquitto config (anonymous, no queue "
                   "limits); generated: also run on Mosquitto with exactly the files "
                   "`fingerpos broker-config --db` writes (passwords, ACL, limits), terminals "
                   "logging in as themselves, and print generated/unlimited (default unlimited)")
    i.add_argument("--workers", type=int, default=0, metavar="N",
                   help="run the cloud as N `fingerpos serve --share-group` processes (N > 1 "
                   "needs PostgreSQL) instead of in the bench's process (default)")
    i.add_argument("--json", metavar="PATH", default="bench-ingest.json",
                   help="where to write the results (default bench-ingest.json)")
    i.set_defaults(func=_bench_ingest)
    bench_search.register(ps)  # commerce: `fingerpos bench search` (tools/bench_search.py)
    bench_reports.register(ps)  # `fingerpos bench reports` (tools/bench_reports.py)
    bench_web.register(ps)  # buyer pages: `fingerpos bench web` (tools/bench_web.py)
    scale_model.register(ps)  # `fingerpos bench scale-model` (tools/scale_model.py, docs/scale.md)


def _bench_ingest(args: argparse.Namespace) -> int:
    if not 0 < args.duration <= 600:
        return _fail("--duration must be more than 0 and at most 600 seconds")
    if not 1 <= args.terminals <= 5000:  # the soak: 2,000 terminals
        return _fail("--terminals must be 1 to 5000")
    if not 1 <= args.publishers <= 16:
        return _fail("--publishers must be 1 to 16")
    if not 0 < args.rate <= 100000:
        return _fail("--rate must be more than 0 and at most 100000")
    if not 0.1 <= args.sample <= 60:
        return _fail("--sample must be 0.1 to 60 seconds")
    args.db = args.db or ["sqlite"]
    for url in args.db:
        if url != "sqlite" and not url.startswith(("sqlite://", "postgres://", "postgresql://")):
            return _fail(f"--db {url!r}: give `sqlite` or postgres://user@host/db")
    if not 0 <= args.workers <= 8:
        return _fail("--workers must be 0 to 8")
    if args.workers > 1 and any(not _is_pg(url) for url in args.db):
        return _fail("--workers above 1 needs --db postgres://... (SQLite is one process)")
    if args.workers and args.mode == SOAK:
        return _fail("--mode soak samples the memory of the cloud in the bench's process: "
                     "run it without --workers")
    try:
        results = asyncio.run(run(args))
    except FileNotFoundError:
        return _fail(INSTALL_HINT)
    except (RuntimeError, OSError, TimeoutError) as e:
        return _fail(f"the bench failed: {e}")
    print_table(results)
    Path(args.json).write_text(json.dumps(results, indent=1) + "\n")
    print(f"results written to {args.json}")
    return 0


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _devices(prefix: str, n: int) -> list[tuple[str, str]]:
    return [(f"{prefix}{i}", secrets.token_hex(32)) for i in range(n)]


async def _publishers(n: int, url: str, devices: list[tuple[str, str]], typ: str,
                      duration: float, rate: float, window: int, timeout: float,
                      keep_times: bool = True, login: bool = False) -> dict:
    """Run bench_load.publish in `n` spawned processes, the terminals split between them."""
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    n = max(1, min(n, len(devices)))
    procs = [ctx.Process(target=bench_load.publish, daemon=True,
                         args=(url, devices[i::n], typ, duration, rate / n, window, out,
                               keep_times, login))
             for i in range(n)]
    for proc in procs:
        proc.start()
    try:
        parts = [await asyncio.wait_for(asyncio.to_thread(out.get), timeout) for _ in procs]
    finally:
        for proc in procs:
            await asyncio.to_thread(proc.join, 10)
            if proc.is_alive():
                proc.kill()
    return {"sent": sum(p["sent"] for p in parts), "start": min(p["start"] for p in parts),
            "times": [t for p in parts for t in p["times"]]}


async def ceiling(url: str, args: argparse.Namespace) -> dict:
    """The bare paho subscriber's receive rate for the heartbeat stream."""
    ctx = multiprocessing.get_context("spawn")
    ready, out = ctx.Queue(), ctx.Queue()
    sub = ctx.Process(target=bench_load.bare_subscriber,
                      args=(url, 10**9, args.duration + 60, ready, out), daemon=True)
    sub.start()
    await asyncio.wait_for(asyncio.to_thread(ready.get), 20)
    pub = await _publishers(args.publishers, url, _devices("c", args.terminals), "heartbeat",
                            args.duration, 0.0, 0, timeout=args.duration + 60)
    got = await asyncio.wait_for(asyncio.to_thread(out.get), args.duration + 90)
    sub.join(10)
    span = max(got["last"] - got["first"], 1e-6)
    return {"published": pub["sent"], "received": got["n"], "msgs_per_s": got["n"] / span}


class Feed:
    """The monitor feed as a WebSocket client sees it, with arrival times.

    With `track` off (the soak) it only counts, so the bench process (which
    is also the cloud's) keeps nothing per event.
    """

    def __init__(self, track: bool = True) -> None:
        self.track = track
        self.total = 0  # events stored, as the feed said
        self.last_at = 0.0  # arrival of the last `stored` message
        self.orders = 0
        self.last_order_at = 0.0
        self.seen: dict[tuple[str, int], float] = {}  # (device, seq) -> arrival
        self.lag_ms: list[float] = []  # the cloud's own receive -> feed lag per batch

    async def read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for msg in ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                break
            now = time.time()
            m = json.loads(msg.data)
            if m["kind"] == "ingest" and "stored" in m["data"]:
                self.total += m["data"]["stored"]
                self.last_at = now
                if self.track:
                    self.lag_ms.append(m["data"].get("lag_ms", 0.0))
                    for dev, seq, *_ in m["data"].get("items", ()):  # [dev, seq, typ, shop]
                        self.seen[(dev, seq)] = now
            elif m["kind"] == "order":
                self.orders += 1
                self.last_order_at = now
            elif m["kind"] == "orders":  # a big batch's new orders in one summary
                self.orders += m["data"]["created"]
                self.last_order_at = now

    async def wait_stored(self, since: int, want: int, timeout: float,
                          quiet: float | None = None) -> None:
        """Until `want` more are stored; with `quiet`, also stop when nothing was stored for
        that long (what a broker dropped never comes: the bench's terminals do not resend)."""
        async with asyncio.timeout(timeout):
            last, since_change = self.total, time.monotonic()
            while self.total - since < want:
                await asyncio.sleep(0.05)
                if self.total != last:
                    last, since_change = self.total, time.monotonic()
                elif quiet is not None and time.monotonic() - since_change > quiet:
                    return


async def _stream(feed: Feed, url: str, devices: list, typ: str, args: argparse.Namespace,
                  rate: float, window: int = 0) -> dict:
    mark = feed.total
    pub = await _publishers(args.publishers, url, devices, typ, args.duration, rate, window,
                            timeout=args.duration + 120, keep_times=feed.track,
                            login=args.login)
    await feed.wait_stored(mark, pub["sent"], timeout=120, quiet=_QUIET_S)
    pub["stored"] = feed.total - mark
    pub["lost"] = pub["sent"] - pub["stored"]  # the bench's terminals never resend
    if pub["lost"]:
        say(f"  {pub['lost']:,} of {pub['sent']:,} events never stored (dropped on the way)")
    return pub


def _pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(p / 100 * len(values)))] if values else float("nan")


def _is_pg(url: str) -> bool:
    return url.startswith(("postgres://", "postgresql://"))


@contextlib.asynccontextmanager
async def _database(spec: str, tmp: Path, tag: str) -> AsyncIterator[str]:
    """A fresh database per run: a SQLite file, or on PostgreSQL a database of the
    bench's own created next to the one named (dropped afterwards), so every run
    starts from empty tables whatever ran before."""
    if not _is_pg(spec):
        yield spec if spec.startswith("sqlite://") else f"sqlite://{tmp}/bench-{tag}.sqlite3"
        return
    import asyncpg
    parts = urlsplit(spec)
    admin = urlunsplit(("postgresql", parts.netloc, parts.path or "/postgres", "", ""))
    name = f"fp_bench_{os.getpid()}_{tag}"
    conn = await asyncpg.connect(admin)
    try:
        await conn.execute(f"CREATE DATABASE {name}")
    finally:
        await conn.close()
    try:
        yield urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, ""))
    finally:
        conn = await asyncpg.connect(admin)
        try:
            await conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        finally:
            await conn.close()


def _db_label(spec: str) -> str:
    return "PostgreSQL" if _is_pg(spec) else "SQLite"


async def run(args: argparse.Namespace) -> dict:
    """Every (database, broker) combination asked for; the first is the baseline whose
    figures stay at the top level of the results, as a single run's are."""
    modes = MODES if args.mode == "all" else (args.mode,)
    brokers = ["unlimited"] + (["generated"] if args.broker == "generated" else [])
    combos = [(db, broker) for db in (args.db or ["sqlite"]) for broker in brokers]
    results: dict = {"terminals": args.terminals, "duration_s": args.duration, "rate": args.rate,
                     "publisher_processes": args.publishers, "workers": args.workers,
                     "measured_at": "WebSocket monitor feed (/api/v1/monitor/ws)"}
    runs = []
    args.offered = args.rate  # events/s the terminals offer (the flat-out streams: measured)
    for n, (db, broker) in enumerate(combos):
        if len(combos) > 1:
            say(f"== run {n + 1} of {len(combos)}: {broker} broker config, {_db_label(db)}")
        # tortoise caches each table's statements by connection name, not by dialect: a
        # process that used SQLite would send SQLite's statements to PostgreSQL.
        from tortoise.backends.base.executor import EXECUTOR_CACHE
        EXECUTOR_CACHE.clear()
        one = await run_one(args, modes, db, broker, str(n))
        one.update(broker=broker, db=_db_label(db))
        if broker == "unlimited":
            args.offered = max(args.offered, _offered_rate(one, args.duration))
        runs.append(one)
    results.update(runs[0])
    if len(runs) > 1:
        results["runs"] = runs
        results["ratios"] = _ratios(runs)
    return results


_RATE_KEYS = (("heartbeat", "events_per_s"), ("sale", "orders_per_s"))


def _offered_rate(one: dict, duration: float) -> float:
    """The fastest stream's publish rate in an unlimited run (events/s, all terminals)."""
    return max([one[m]["published"] / duration for m in MODES if m in one] or [0.0])


def generated_fleet_size(offered: float, seeded: int) -> int:
    """`broker-config --fleet-size` for the bench: a fleet at the default 5 events/s each
    that offers what the bench's terminals do. Sized from the 150 seeded terminals alone
    (750 events/s) the flat-out stream (~100,000 events/s) overran the queue in 2 s and
    the broker then dropped 95 % of it; production sizes from its own fleet the same way."""
    from fingerpos.tools.broker_conf import DEFAULT_EVENTS_PER_S
    return max(seeded, math.ceil(offered / DEFAULT_EVENTS_PER_S))


def _ratios(runs: list[dict]) -> dict:
    """generated/unlimited per database, PostgreSQL/SQLite per broker config."""
    out: dict = {}

    def ratio(a: dict, b: dict) -> dict:
        return {mode: a[mode][key] / b[mode][key] for mode, key in _RATE_KEYS
                if mode in a and mode in b and b[mode][key]}

    by = {(r["db"], r["broker"]): r for r in runs}
    for db in {r["db"] for r in runs}:
        if (db, "generated") in by and (db, "unlimited") in by:
            out[f"generated/unlimited ({db})"] = ratio(by[(db, "generated")],
                                                       by[(db, "unlimited")])
    for broker in {r["broker"] for r in runs}:
        if ("PostgreSQL", broker) in by and ("SQLite", broker) in by:
            out[f"PostgreSQL/SQLite ({broker})"] = ratio(by[("PostgreSQL", broker)],
                                                         by[("SQLite", broker)])
    return out


@contextlib.asynccontextmanager
async def _broker(kind: str, tmp: Path, db_url: str, secret: str,
                  fleet_size: int | None = None) -> AsyncIterator[tuple]:
    """(URL the cloud uses, URL the terminals use, do they log in, the generated broker)."""
    if kind == "generated":
        from fingerpos.tools.generated_broker import GeneratedBroker
        broker = await asyncio.to_thread(GeneratedBroker(tmp, db_url, secret, fleet_size).start)
        try:
            yield broker.cloud_url, f"mqtt://127.0.0.1:{broker.port}", True, broker
        finally:
            await asyncio.to_thread(broker.stop)
        return
    with Mosquitto(extra_config=_BROKER_EXTRA) as plain:
        yield plain.url, plain.url, False, None


async def run_one(args: argparse.Namespace, modes: tuple, db_spec: str, broker_kind: str,
                  tag: str) -> dict:
    from fingerpos.tools.bench_cloud import BenchCloud, WorkersCloud
    from fingerpos.tools.serve_workers import migrate_db, seed_fleet

    results: dict = {}
    with tempfile.TemporaryDirectory(prefix="fp-bench-") as tmp_name:
        tmp = Path(tmp_name)
        secret = secrets.token_hex(16)
        fleets = {m: _devices({"heartbeat": "h", "sale": "s", "steady": "l", SOAK: "m"}[m],
                              args.terminals) for m in modes}
        every = [d for fleet in fleets.values() for d in fleet]
        async with _database(db_spec, tmp, tag) as db_url:
            token = ""
            seeded = broker_kind == "generated" or args.workers > 0
            if seeded:  # the broker's passwd and the workers need the devices up front
                await migrate_db(db_url)
                token = await seed_fleet(db_url, secret, "bench",
                                         [(d, bytes.fromhex(k)) for d, k in every])
            fleet_size = generated_fleet_size(getattr(args, "offered", 0.0), len(every))
            if broker_kind == "generated":
                results["broker_fleet_size"] = fleet_size
                say(f"  broker-config --fleet-size {fleet_size} (the load the bench offers)")
            async with _broker(broker_kind, tmp, db_url, secret, fleet_size) as (
                    cloud_mqtt, url, login, generated):
                args.login = login
                if "heartbeat" in modes and broker_kind == "unlimited":
                    say(f"ceiling: bare paho subscriber, {args.terminals} terminals, "
                        f"{args.duration:g} s")
                    results["bare_subscriber"] = await ceiling(url, args)
                cloud = (WorkersCloud(args.workers, db_url, cloud_mqtt, tmp, secret, token)
                         if args.workers else
                         BenchCloud(db_url, cloud_mqtt, tmp, free_port(), secret))
                async with cloud:
                    if not seeded:
                        await cloud.register(every)
                    await cloud.warm(every)
                    await _streams(args, modes, cloud, url, fleets, results)
                    results["ingest"] = await cloud.stats()
                if generated is not None:
                    results["broker_dropped_lines"] = generated.log_text().count("dropped")
    if "heartbeat" in results and "bare_subscriber" in results:
        results["heartbeat"]["ratio_to_bare"] = (results["heartbeat"]["events_per_s"]
                                                 / results["bare_subscriber"]["msgs_per_s"])
    return results


async def _streams(args: argparse.Namespace, modes: tuple, cloud: Any, url: str,
                   fleets: dict, results: dict) -> None:
    from fingerpos.tools.bench_soak import soak

    feed = Feed(track=SOAK not in modes)
    async with aiohttp.ClientSession() as http, \
            http.ws_connect(cloud.feed_url, headers=cloud.auth) as ws:
        reader = asyncio.create_task(feed.read(ws))
        if "heartbeat" in modes:
            say("heartbeat stream: as fast as the terminals can send")
            pub = await _stream(feed, url, fleets["heartbeat"], "heartbeat", args, 0.0)
            span = feed.last_at - pub["start"]
            results["heartbeat"] = {"published": pub["sent"], "stored": pub["stored"],
                                    "lost": pub["lost"], "events_per_s": pub["stored"] / span}
        if "sale" in modes:
            say("sale stream: every sale becomes a paid order")
            n_orders = feed.orders
            pub = await _stream(feed, url, fleets["sale"], "sale", args, 0.0, _SALE_WINDOW)
            async with asyncio.timeout(60):
                while feed.orders - n_orders < pub["stored"]:
                    await asyncio.sleep(0.05)
            span = feed.last_order_at - pub["start"]
            results["sale"] = {"published": pub["sent"], "stored": pub["stored"],
                               "lost": pub["lost"], "orders_per_s": pub["stored"] / span,
                               "events_per_s": pub["stored"] / (feed.last_at - pub["start"])}
        if "steady" in modes:
            say(f"steady stream: {args.rate:g} events/s, latency publish -> WebSocket")
            lag_mark = len(feed.lag_ms)
            pub = await _stream(feed, url, fleets["steady"], "heartbeat", args, args.rate)
            lag = feed.lag_ms[lag_mark:]
            lat = [(feed.seen[(d, s)] - t) * 1000 for d, s, t in pub["times"]
                   if (d, s) in feed.seen]
            results["steady"] = {"rate": args.rate, "published": pub["sent"],
                                 "lost": pub["lost"],
                                 "measured": len(lat), "p50_ms": _pct(lat, 50),
                                 "p99_ms": _pct(lat, 99), "max_ms": max(lat or [0]),
                                 "cloud_lag_p50_ms": _pct(lag, 50),
                                 "cloud_lag_p99_ms": _pct(lag, 99)}
        if SOAK in modes:
            say(f"soak: {args.rate:g} events/s for {args.duration:g} s, memory every "
                f"{args.sample:g} s")
            results[SOAK] = await soak(
                lambda: _stream(feed, url, fleets[SOAK], "heartbeat", args, args.rate),
                args.sample, say)
            results[SOAK]["stored"] = feed.total
        reader.cancel()


def print_table(r: dict) -> None:
    runs = r.get("runs") or [r]
    workers = f", {r['workers']} serve worker(s)" if r.get("workers") else ""
    single = f", {r['db']}, {r['broker']} broker config" if len(runs) == 1 and "db" in r else ""
    print(f"fingerpos bench ingest: {r['terminals']} terminals, {r['duration_s']:g} s per "
          f"stream{workers}{single}")
    for one in runs:
        if len(runs) > 1:
            print(f"\n{one['broker']} broker config, {one['db']}:")
        _table(one, r.get("rate", 0))
    if r.get("ratios"):
        print()
        rows = [("ratio", "heartbeats", "sales", "target")]
        for name, v in r["ratios"].items():
            target = ">= 0.9" if name.startswith("generated") else ">= 0.6"
            rows.append((name, *(f"{v[m]:.2f}" if m in v else "-" for m in ("heartbeat", "sale")),
                         target))
        _print_rows(rows)


def _table(r: dict, rate: float) -> None:
    pg = r.get("db") == "PostgreSQL"
    rows = [("what", "measured", "target")]
    if "bare_subscriber" in r:
        rows.append(("bare paho subscriber (ceiling)",
                     f"{r['bare_subscriber']['msgs_per_s']:,.0f} msgs/s", ""))
    if "heartbeat" in r:
        h = r["heartbeat"]
        rows.append(("heartbeats committed", f"{h['events_per_s']:,.0f} events/s", ""))
        if "ratio_to_bare" in h:
            rows.append(("  ratio to the ceiling", f"{h['ratio_to_bare']:.2f}", ">= 0.5"))
    if "sale" in r:
        rows.append(("sales -> orders created", f"{r['sale']['orders_per_s']:,.0f} orders/s",
                     ">= 5,000" if pg else ">= 10,000"))
    if "steady" in r:
        s = r["steady"]
        rows.append((f"latency at {s['rate']:,.0f} events/s, p50",
                     f"{s['p50_ms']:.1f} ms", ""))
        rows.append(("  p99 (publish -> WebSocket)", f"{s['p99_ms']:.1f} ms", "<= 10 ms"))
    lost = {m: r[m]["lost"] for m in MODES if m in r and r[m].get("lost")}
    if lost:
        rows.append(("events never stored (lost)",
                     ", ".join(f"{m} {n:,}" for m, n in lost.items()), "0"))
    if "broker_fleet_size" in r:
        rows.append(("broker-config --fleet-size", f"{r['broker_fleet_size']:,}", ""))
    if "broker_dropped_lines" in r:
        rows.append(("broker log lines saying dropped", f"{r['broker_dropped_lines']:,}", "0"))
    if SOAK in r:
        m = r[SOAK]
        rows.append((f"memory at {rate:,.0f} events/s, start",
                     f"{m['rss_start_mb']:.1f} MiB", ""))
        rows.append(("  half-way / end / max", f"{m['rss_half_mb']:.1f} / {m['rss_end_mb']:.1f}"
                     f" / {m['rss_max_mb']:.1f} MiB", ""))
        rows.append(("  slope (second half)", f"{m['slope_mb_per_min']:+.2f} MiB/min", "flat"))
    _print_rows(rows)


def _print_rows(rows: list[tuple[str, ...]]) -> None:
    width = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for n, row in enumerate(rows):
        print("  ".join(cell.ljust(width[i]) for i, cell in enumerate(row)).rstrip())
        if n == 0:
            print("  ".join("-" * w for w in width))
