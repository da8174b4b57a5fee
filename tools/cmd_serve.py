"""`fingerpos serve`: run the cloud (HTTP API, monitor feed, MQTT ingestion)."""

from __future__ import annotations

import argparse
import asyncio
import io
import signal
import sys

from aiohttp import web
from fingerpos.cloud.app import create_app
from fingerpos.cloud.core import db
from fingerpos.cloud.core.config import ConfigError
from fingerpos.tools.cmd_migrate import config_from


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="run the cloud: API, live monitor, MQTT ingestion")
    p.add_argument("--db", metavar="URL", help="database URL (default: a SQLite file in the data dir)")
    p.add_argument("--mqtt", metavar="URL", help="broker URL, mqtt://host:1883, or with TLS "
                   "mqtts://host:8883?ca=/path/ca.pem (without ca: the system's trusted CAs); "
                   "default: start the embedded broker in this process")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8080, help="HTTP port (default 8080)")
    p.add_argument("--data-dir", metavar="DIR", help="data directory (default $FINGERPOS_DATA "
                   "or ~/.local/share/fingerpos)")
    p.add_argument("--share-group", action="store_const", const="fingerpos", default=None,
                   help="split the event stream with other workers (MQTT shared subscription)")
    p.add_argument("--secure-cookies", action="store_true",
                   help="mark the session cookie Secure (when served over HTTPS)")
    p.set_defaults(func=_serve)


async def _run(app: web.Application, host: str, port: int) -> int:
    """Serve until SIGINT or SIGTERM; returns the signal's number. The handlers are set
    here, not left to Python's: a process started with SIGINT ignored (a job started in
    the background by a non-interactive shell, nohup) never got KeyboardInterrupt and
    so never stopped on Ctrl-C's signal, and SIGTERM (systemd, docker stop) skipped
    the cleanup."""
    stop = asyncio.Event()
    got: list[int] = []
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, lambda s=sig: (got.append(s), stop.set()))
    runner = web.AppRunner(app)
    await runner.setup()  # runs the cleanup contexts' startup: database, broker, ingestion
    try:
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except OSError as e:  # the port is taken, or the address is not ours
            raise ListenError(f"cannot listen on {host}:{port}: {e.strerror or e}") from e
        print(f"fingerpos cloud on http://{host}:{port}/ (Ctrl-C stops)", flush=True)
        await stop.wait()
        return got[0]
    finally:
        # Ctrl-C (or a service manager's SIGTERM) stops the server within a bound: a part
        # that does not let go is named, with where it waits, and left behind.
        try:
            await asyncio.wait_for(runner.cleanup(), STOP_TIMEOUT_S)
        except TimeoutError:
            print(f"warning: shutdown not finished after {STOP_TIMEOUT_S:.0f} s; still "
                  f"waiting:\n{_pending_tasks()}", file=sys.stderr, flush=True)


STOP_TIMEOUT_S = 10.0


def _pending_tasks() -> str:
    out = io.StringIO()
    for task in asyncio.all_tasks():
        if task is not asyncio.current_task():
            task.print_stack(limit=8, file=out)
    return out.getvalue()


def _serve(args: argparse.Namespace) -> int:
    try:
        config = config_from(args, mqtt_url=args.mqtt, host=args.host, port=args.port,
                             share_group=args.share_group, cookie_secure=args.secure_cookies)
        app = create_app(config)
        signum = asyncio.run(_run(app, config.host, config.port))
    except (ConfigError, db.DatabaseError, ListenError, ConnectionError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except RuntimeError as e:  # a resource that could not start (the embedded broker) says why
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 128 + signum  # the shell's convention for "stopped by signal N" (130: Ctrl-C)


class ListenError(RuntimeError):
    """The HTTP port cannot be bound."""
