"""The database: tortoise configuration, the app's database resource, and migrations.

Each app owns a TortoiseContext (not tortoise's process-global state), so two
apps can run in one process (tests run two workers on one PostgreSQL); the
context is entered for the app's startup task, the tasks it starts, and, by
`context_middleware`, every request.

SQLite runs in WAL mode (tortoise's default) with `synchronous=NORMAL` (set
here unless the URL says otherwise, e.g. `sqlite://path?synchronous=FULL`):
a commit then writes the WAL without waiting for fsync; the WAL is synced at
each checkpoint. A crash of the process loses nothing committed (the OS has
the pages), which is what the ingestion's acks rely on and what the SIGKILL
test checks. A power cut or kernel crash can lose the last commits before the
next checkpoint (the database stays consistent, it rolls back to an earlier
state); a terminal may by then have dropped acknowledged events from its
outbox. A deployment that must survive power loss without that window sets
`?synchronous=FULL`, and pays an fsync per batch commit (several ms on
virtual disks, seen directly in the publish -> monitor latency).

SQLite's page cache is 64 MiB (`cache_size=-65536` unless the URL sets it; SQLite's
default is 2 MiB): ranking a common word at 100,000 products reads the full-text
index's doclists and docsize rows for every match, and with 2 MiB those pages were
copied in again from the OS on every search (`fingerpos bench search`: -15%).
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from fingerpos.cloud.core.appkeys import CONFIG
from tortoise import context as tortoise_context
from tortoise.context import TortoiseContext
from tortoise.migrations.executor import MigrationExecutor

# Every tortoise model module of the cloud ("models" app). devices is cloud-b's.
MODEL_MODULES: list[str] = [
    "fingerpos.cloud.models.users",
    "fingerpos.cloud.models.shops",
    "fingerpos.cloud.models.orders",
    "fingerpos.cloud.models.alarms",
    "fingerpos.cloud.models.devices",
    "fingerpos.cloud.models.commerce",
    "fingerpos.cloud.models.throttle",
    "fingerpos.cloud.models.refunds",
    "fingerpos.cloud.models.shifts",
]
MIGRATIONS = "fingerpos.cloud.migrations"

DB = web.AppKey("db", TortoiseContext)


class DatabaseError(RuntimeError):
    """The database cannot be used; the message is one line saying what to fix."""


def tortoise_config(url: str) -> dict[str, Any]:
    """The tortoise configuration dict for a database URL."""
    if url.startswith("postgresql://"):
        url = "postgres://" + url[len("postgresql://"):]
    if url.startswith("sqlite://") and "synchronous=" not in url:
        url += ("&" if "?" in url else "?") + "synchronous=NORMAL"
    if url.startswith("sqlite://") and "cache_size=" not in url:
        url += "&cache_size=-65536"
    return {
        "connections": {"default": url},
        "apps": {"models": {"models": MODEL_MODULES, "default_connection": "default",
                            "migrations": MIGRATIONS}},
        "use_tz": True,
        "timezone": "UTC",
    }


def _prepare_sqlite(url: str) -> None:
    """Create the SQLite file's directory, so a first `serve` works in a fresh data dir."""
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        path = (parts.netloc + parts.path) if parts.netloc else parts.path
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)


async def open_context(url: str) -> TortoiseContext:
    """Connect; raise DatabaseError with a one-line reason when the database is unreachable."""
    _prepare_sqlite(url)
    ctx = TortoiseContext()
    try:
        with ctx:
            await ctx.init(config=tortoise_config(url))
            await ctx.db().execute_query("SELECT 1")
    except (OSError, sqlite3.Error) as e:
        await ctx.close_connections()
        raise DatabaseError(f"cannot reach the database at {_safe(url)}: {e}") from e
    except Exception as e:  # asyncpg raises its own hierarchy (auth, missing database)
        await ctx.close_connections()
        raise DatabaseError(f"cannot use the database at {_safe(url)}: "
                            f"{type(e).__name__}: {e}") from e
    return ctx


def _safe(url: str) -> str:
    """The URL without its password, for messages."""
    parts = urlsplit(url)
    if parts.password:
        return url.replace(":" + parts.password + "@", ":***@")
    return url


async def pending_migrations(ctx: TortoiseContext) -> list[str]:
    """Names of the migrations not yet applied to this database."""
    config = tortoise_config("sqlite://:memory:")["apps"]
    executor = MigrationExecutor(ctx.db(), config)
    steps = await executor.plan(None)
    return [f"{s.migration.app_label}.{s.migration.name}" for s in steps if not s.backward]


async def require_current(ctx: TortoiseContext) -> None:
    """Raise DatabaseError, saying what to run, unless every migration is applied."""
    with ctx:
        pending = await pending_migrations(ctx)
    if pending:
        raise DatabaseError(f"the database schema is out of date ({len(pending)} migration(s) "
                            "pending): run `fingerpos migrate` first")


async def migrate(ctx: TortoiseContext, progress: Any = None) -> list[str]:
    """Apply every pending migration; return their names."""
    names = await pending_migrations(ctx)
    executor = MigrationExecutor(ctx.db(), tortoise_config("sqlite://:memory:")["apps"])
    await executor.migrate(None, progress=progress)
    return names


async def database(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: connect, refuse an out-of-date schema, enter the context, close at the end."""
    ctx = await open_context(app[CONFIG].database_url)
    try:
        await require_current(ctx)
    except BaseException:
        await ctx.close_connections()
        raise
    app[DB] = ctx
    ctx.__enter__()  # for the startup task and every task the later resources start
    try:
        yield
    finally:
        await ctx.close_connections()


@web.middleware
async def context_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    """Run each request inside its app's database context."""
    ctx = request.app.get(DB)
    if ctx is None:
        return await handler(request)
    # Not `with ctx:` - that keeps one token on the shared context object, which
    # concurrent requests overwrite (reset then fails: "created in a different Context").
    token = tortoise_context._current_context.set(ctx)
    try:
        return await handler(request)
    finally:
        tortoise_context._current_context.reset(token)


# For tortoise's own CLI when writing migrations after a model change:
#   .venv/bin/tortoise -c fingerpos.cloud.core.db.TORTOISE_ORM makemigrations
TORTOISE_ORM = tortoise_config("sqlite://:memory:")
