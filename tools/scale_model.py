"""`fingerpos bench scale-model`: a load model for a large fleet (docs/scale.md).

Arithmetic, not a measurement: it takes what `fingerpos bench ingest` measured
(one worker's and one PostgreSQL's committed rates; give a bench JSON with
--bench, or the defaults below, measured on a 2-vCPU VM, docs/benchmarks.md)
and the fleet's shape, and says how many workers, broker nodes, how much disk,
and how long a broker node's terminals take to come back after it dies.

Two pieces are simulated rather than multiplied out:
- the reconnect storm: the terminals of a failed broker node reconnect with the
  firmware's own back-off (firmware/mqtt.py: 500 ms doubling to 30 s, a random
  wait between half and all of it) against the connections per second the
  surviving nodes accept (TLS handshakes); attempts beyond that fail and back off;
- a worker's crash: what it held un-acknowledged is lost with its clean session
  (docs/ingestion.md "Several workers") and comes back after the firmware's ack_wait_s.

The firmware's figures are copied here (the firmware is not part of the
installed package); tests/test_scale_model.py checks them against its source.
"""

from __future__ import annotations

import argparse
import heapq
import json
import math
import random
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

# firmware/config.py DEFAULTS and firmware/mqtt.py MqttClient.run's defaults
HEARTBEAT_S = 60
ACK_WAIT_S = 20
BACKOFF_BASE_MS = 500
BACKOFF_CAP_MS = 30000
# Measured on this 2-vCPU VM (docs/benchmarks.md, everything on the same two cores):
# one worker on PostgreSQL commits 4,269 sales/s (the heavier kind of event; heartbeats
# 16,096/s), `--workers 3` on one PostgreSQL 9,865 heartbeats/s in all: floors, since
# broker, publishers and database shared the cores. Unlimited broker config: the
# generated one is limited by its own settings (docs/technicians.md, broker configuration), not by the cloud.
WORKER_EVENTS_S = 4000.0  # one worker's sustained committed events/s (PostgreSQL)
PG_EVENTS_S = 9800.0  # one PostgreSQL's committed events/s with several workers
EVENT_BYTES = 860  # device_event row + indexes per event, measured on PostgreSQL 15
ORDER_BYTES = 790  # orders + lines + revisions + order events + payments, per sale order
TRACKER_ENTRY_BYTES = 120  # a dict entry + a 32-char str in a worker's chain tracker
TRACKER_KEPT = 34  # protocol/chain.py SeqTracker: committed + _SLACK dead ones + the next


@dataclass(frozen=True)
class Fleet:
    terminals: int = 100_000
    heartbeat_s: float = HEARTBEAT_S
    peak_sales_per_hour: float = 30.0  # per terminal, the busiest hour
    events_per_sale: float = 2.0  # sale + printed
    day_sales: float = 150.0  # per terminal per day
    retention_days: int = 400  # business events (sales, acks, prints, logins, alarms)
    heartbeat_days: int = 7  # heartbeats: their figures live on the device row anyway


@dataclass(frozen=True)
class Capacity:
    worker_events_s: float = WORKER_EVENTS_S
    pg_events_s: float = PG_EVENTS_S
    headroom: float = 0.5  # run at most this fraction of a measured capacity
    node_connections: int = 50_000  # terminals per broker node (planning figure)
    node_accepts_s: float = 1_000.0  # new TLS connections per second per node
    broker_nodes: int = 3


def load(f: Fleet) -> dict:
    """Events per second: the mean over a day and the busiest hour."""
    beats = f.terminals / f.heartbeat_s
    peak = beats + f.terminals * f.peak_sales_per_hour * f.events_per_sale / 3600
    day_beats = f.terminals * 86400 / f.heartbeat_s
    day_business = f.terminals * f.day_sales * f.events_per_sale
    return {"heartbeats_per_s": beats, "peak_events_per_s": peak,
            "mean_events_per_s": (day_beats + day_business) / 86400,
            "events_per_day": day_beats + day_business, "heartbeats_per_day": day_beats,
            "business_events_per_day": day_business, "orders_per_day": f.terminals * f.day_sales}


def plan(f: Fleet, c: Capacity) -> dict:
    lo = load(f)
    peak = lo["peak_events_per_s"]
    workers = math.ceil(peak / (c.worker_events_s * c.headroom)) + 1  # N+1: one may die
    pg_use = peak / c.pg_events_s
    day_bytes = lo["events_per_day"] * EVENT_BYTES + lo["orders_per_day"] * ORDER_BYTES
    retained = (lo["heartbeats_per_day"] * EVENT_BYTES * f.heartbeat_days
                + (lo["business_events_per_day"] * EVENT_BYTES
                   + lo["orders_per_day"] * ORDER_BYTES) * f.retention_days)
    nodes = max(c.broker_nodes, math.ceil(f.terminals / c.node_connections) + 1)
    tracker = f.terminals * TRACKER_KEPT * TRACKER_ENTRY_BYTES  # no holes open
    return {
        **lo,
        "workers": workers,
        "pg_utilisation_at_peak": pg_use,
        "pg_ok": pg_use <= c.headroom,
        "event_gib_per_day": lo["events_per_day"] * EVENT_BYTES / 2**30,
        "gib_per_day": day_bytes / 2**30,
        "gib_retained": retained / 2**30,
        "heartbeat_day_partition_gib": lo["heartbeats_per_day"] * EVENT_BYTES / 2**30,
        "business_month_partition_gib":
            lo["business_events_per_day"] * EVENT_BYTES * 30 / 2**30,
        "broker_nodes": nodes,
        "tracker_gib_per_worker_worst": tracker / 2**30,
    }


def backoff_ms(fails: int, rng: random.Random) -> int:
    """firmware/mqtt.py's wait after the `fails`-th failed connect in a row."""
    delay = min(BACKOFF_CAP_MS, BACKOFF_BASE_MS << min(fails - 1, 10))
    return delay // 2 + rng.randrange(delay // 2 + 1)


def reconnect_storm(terminals: int, accepts_s: float, seed: int = 1,
                    tick_s: float = 0.1, limit_s: float = 3600.0) -> dict:
    """`terminals` lose their node at t=0 and reconnect elsewhere; the survivors accept
    `accepts_s` connections per second in all (each tick, in random order, as many as
    the budget allows; the rest fail and back off). Returns the seconds until 50 %,
    99 % and all are back and the most attempts in one second."""
    rng = random.Random(seed)
    due = [(backoff_ms(1, rng) / 1000, i, 1) for i in range(terminals)]  # (when, who, fails)
    heapq.heapify(due)
    back, t, carry = 0, 0.0, 0.0
    marks: dict[str, float] = {}
    per_second: dict[int, int] = {}
    while due and t < limit_s:
        t += tick_s
        trying = []
        while due and due[0][0] <= t:
            trying.append(heapq.heappop(due))
        rng.shuffle(trying)
        carry += accepts_s * tick_s
        admit = min(len(trying), int(carry))
        carry -= admit
        per_second[int(t)] = per_second.get(int(t), 0) + len(trying)
        back += admit
        for _, i, fails in trying[admit:]:
            heapq.heappush(due, (t + backoff_ms(fails + 1, rng) / 1000, i, fails + 1))
        for name, share in (("p50_s", 0.5), ("p99_s", 0.99), ("all_s", 1.0)):
            if name not in marks and back >= math.ceil(share * terminals):
                marks[name] = round(t, 1)
    return {"terminals": terminals, "accepts_s": accepts_s, **marks,
            "peak_attempts_per_s": max(per_second.values(), default=0), "left": len(due)}


def from_bench(path: Path) -> Capacity:
    """Capacities from a `fingerpos bench ingest --workers N --db postgres://...` JSON: the
    unlimited-config PostgreSQL heartbeat rate is what N workers and one PostgreSQL
    committed; per worker, that divided by N (a floor: the machine was shared)."""
    r = json.loads(Path(path).read_text())
    runs = r.get("runs") or [r]
    pg = [x for x in runs if x.get("db") == "PostgreSQL" and x.get("broker") == "unlimited"
          and "heartbeat" in x] or [x for x in runs if "heartbeat" in x]
    if not pg:
        raise ValueError(f"{path}: no heartbeat figures (run the bench with --mode all)")
    rate = pg[0]["heartbeat"]["events_per_s"]
    workers = max(1, int(r.get("workers") or 1))
    return Capacity(worker_events_s=rate / workers, pg_events_s=rate)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("scale-model", help="load model for a large fleet (docs/scale.md)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--terminals", type=int, default=Fleet.terminals)
    p.add_argument("--peak-sales-per-hour", type=float, default=Fleet.peak_sales_per_hour,
                   help="sales per terminal in the busiest hour (default 30)")
    p.add_argument("--retention-days", type=int, default=Fleet.retention_days)
    p.add_argument("--bench", type=Path, metavar="JSON",
                   help="take the capacities from a `fingerpos bench ingest` JSON")
    p.add_argument("--broker-nodes", type=int, default=Capacity.broker_nodes)
    p.add_argument("--node-accepts", type=float, default=Capacity.node_accepts_s,
                   help="new TLS connections per second one broker node accepts (default 1000)")
    p.add_argument("--json", metavar="PATH", help="also write the figures here")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    if not 1 <= args.terminals <= 10_000_000 or args.broker_nodes < 2 \
            or args.node_accepts <= 0 or args.peak_sales_per_hour < 0 \
            or args.retention_days < 1:
        print("error: --terminals 1 to 10000000, --broker-nodes at least 2, --node-accepts "
              "above 0, --peak-sales-per-hour 0 or more, --retention-days at least 1",
              file=sys.stderr)
        return 2
    fleet = Fleet(terminals=args.terminals, peak_sales_per_hour=args.peak_sales_per_hour,
                  retention_days=args.retention_days)
    try:
        cap = from_bench(args.bench) if args.bench else Capacity()
    except (OSError, ValueError, KeyError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    cap = Capacity(**{**asdict(cap), "broker_nodes": args.broker_nodes,
                      "node_accepts_s": args.node_accepts})
    p = plan(fleet, cap)
    nodes = max(p["broker_nodes"], args.broker_nodes)
    survivors = nodes - 1
    storm = reconnect_storm(math.ceil(fleet.terminals / nodes), cap.node_accepts_s * survivors)
    rows = [
        ("terminals", f"{fleet.terminals:,}"),
        ("events/s: mean / busiest hour", f"{p['mean_events_per_s']:,.0f} / "
         f"{p['peak_events_per_s']:,.0f}"),
        ("one worker / one PostgreSQL commit", f"{cap.worker_events_s:,.0f} / "
         f"{cap.pg_events_s:,.0f} events/s"),
        (f"workers (<= {cap.headroom:.0%} busy, N+1)", f"{p['workers']}"),
        ("PostgreSQL busy at the peak", f"{p['pg_utilisation_at_peak']:.0%}"
         + ("" if p["pg_ok"] else "  (over the headroom: see docs/scale.md)")),
        ("disk written per day", f"{p['gib_per_day']:,.1f} GiB"),
        (f"kept (heartbeats {fleet.heartbeat_days} d, the rest {fleet.retention_days} d)",
         f"{p['gib_retained']:,.0f} GiB"),
        ("partitions: heartbeat day / business month",
         f"{p['heartbeat_day_partition_gib']:,.0f} / {p['business_month_partition_gib']:,.0f} GiB"),
        ("broker nodes", f"{nodes}"),
        ("chain trackers per worker, no holes", f"{p['tracker_gib_per_worker_worst']:,.1f} GiB"),
        (f"node lost: {storm['terminals']:,} terminals back in",
         f"50% {storm.get('p50_s', '-')} s, 99% {storm.get('p99_s', '-')} s, "
         f"all {storm.get('all_s', '-')} s"),
        ("  their attempts, most in one second", f"{storm['peak_attempts_per_s']:,}"),
        ("worker lost: its events come back after", f"{ACK_WAIT_S} s (ack_wait_s)"),
    ]
    width = max(len(a) for a, _ in rows)
    for a, b in rows:
        print(f"{a.ljust(width)}  {b}")
    if args.json:
        Path(args.json).write_text(json.dumps({"fleet": asdict(fleet), "capacity": asdict(cap),
                                               "plan": p, "storm": storm}, indent=1) + "\n")
    return 0
