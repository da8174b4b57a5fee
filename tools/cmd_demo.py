"""`fingerpos demo`: cloud + embedded broker + simulated terminals + a scripted buyer, one command."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fingerpos.cloud.core.config import ConfigError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo", help="run the whole system on this machine: cloud, terminals, buyer",
        description="Start the cloud (embedded MQTT broker, SQLite in a fresh data dir), seed a "
        "shop with a catalogue and people, provision and bundle simulated terminals that run the "
        "real firmware under the MicroPython unix port with scripted sellers, and a scripted "
        "buyer placing and paying web orders. Prints the URLs and logins; Ctrl-C stops it all.")
    p.add_argument("--port", type=int, default=8080, help="HTTP port (default 8080)")
    p.add_argument("--terminals", type=int, default=3, help="simulated terminals (default 3)")
    p.add_argument("--data-dir", type=Path, metavar="DIR",
                   help="fresh (empty or new) data directory (default: a new temporary one)")
    p.add_argument("--rate", type=float, default=4.0, metavar="SALES_PER_MIN",
                   help="in-person sales per minute per terminal (default 4)")
    p.add_argument("--buyer-every", type=float, default=12.0, metavar="S",
                   help="the buyer places and pays a web order about this often (default 12 s)")
    p.add_argument("--duration", type=float, metavar="S", help="stop after S seconds "
                   "(default: run until Ctrl-C)")
    p.set_defaults(func=_demo)


def _demo(args: argparse.Namespace) -> int:
    from fingerpos.cloud.core.db import DatabaseError
    from fingerpos.tools.fleet.demo import DemoError, DemoOptions, run

    if not 1 <= args.terminals <= 20:
        return _fail("--terminals must be 1..20")
    if not 0 < args.rate <= 120:
        return _fail("--rate must be above 0 and at most 120 sales per minute")
    if not 0 < args.port < 65536:
        return _fail("--port must be 1..65535")
    opts = DemoOptions(port=args.port, terminals=args.terminals, data_dir=args.data_dir,
                       rate=args.rate, buyer_every_s=max(args.buyer_every, 1.0),
                       duration=args.duration)
    try:
        return run(opts, say=lambda line: print(line, flush=True))
    except (DemoError, ConfigError, DatabaseError) as e:
        return _fail(str(e))


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 1
