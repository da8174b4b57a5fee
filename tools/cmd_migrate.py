"""`fingerpos migrate`: bring the database schema up to date (tortoise's built-in migrations)."""

from __future__ import annotations

import argparse
import asyncio
import sys

from fingerpos.cloud.core import db
from fingerpos.cloud.core.config import Config, ConfigError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("migrate", help="apply pending database migrations")
    p.add_argument("--db", metavar="URL", help="database URL (default: the SQLite file in the "
                   "data dir); sqlite:///path or postgres://user:pass@host:5432/name")
    p.add_argument("--data-dir", metavar="DIR", help="data directory (default $FINGERPOS_DATA "
                   "or ~/.local/share/fingerpos)")
    p.set_defaults(func=_migrate)


def config_from(args: argparse.Namespace, **more: object) -> Config:
    """A validated Config from the common --db / --data-dir options (shared by serve, user)."""
    kwargs: dict[str, object] = {"db_url": args.db, **more}
    if getattr(args, "data_dir", None):
        from pathlib import Path
        kwargs["data_dir"] = Path(args.data_dir)
    return Config(**kwargs).validated()  # type: ignore[arg-type]


async def _run(url: str) -> list[str]:
    ctx = await db.open_context(url)
    try:
        with ctx:
            return await db.migrate(ctx, progress=_progress)
    finally:
        await ctx.close_connections()


def _progress(event: str, app: str, name: str) -> None:
    if event.endswith("start"):
        print(f"applying {app}.{name} ...", flush=True)


def _migrate(args: argparse.Namespace) -> int:
    try:
        config = config_from(args)
        applied = asyncio.run(_run(config.database_url))
    except (ConfigError, db.DatabaseError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"{len(applied)} migration(s) applied; the schema is up to date")
    return 0
