"""The committed migrations describe exactly the models (so `fingerpos migrate` builds the
schema the code expects), and `serve`'s schema check sees pending ones."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
from fingerpos.cloud.core import db
from tortoise.context import TortoiseContext
from tortoise.migrations.autodetector import MigrationAutodetector

pytestmark = pytest.mark.cloud


async def test_models_have_no_changes_without_a_migration():
    config = db.tortoise_config("sqlite://:memory:")
    ctx = TortoiseContext()
    with ctx:
        await ctx.init(config=config, init_connections=False)
        writers = await MigrationAutodetector(ctx.apps, config["apps"]).changes()
    assert not writers, ("models changed without a migration: run "
                         "`.venv/bin/tortoise -c fingerpos.cloud.core.db.TORTOISE_ORM makemigrations`")


MIGRATIONS = Path(__file__).resolve().parent.parent / "cloud" / "migrations"


def _chain() -> list[str]:
    """Every migration file, each after the one its `dependencies` name (one chain: a
    branch's migration depends on main's leaf until the lead renumbers it at merge)."""
    deps: dict[str, str | None] = {}
    for f in MIGRATIONS.glob("[0-9]*.py"):
        module = importlib.import_module(f"fingerpos.cloud.migrations.{f.stem}")
        named = [f"{app}.{name}" for app, name in module.Migration.dependencies]
        assert len(named) <= 1, f"{f.name} depends on {named}"
        deps["models." + f.stem] = named[0] if named else None
    order = [m for m, dep in deps.items() if dep is None]
    assert len(order) == 1, f"more than one first migration: {order}"
    while len(order) < len(deps):
        after = [m for m, dep in deps.items() if dep == order[-1]]
        assert len(after) == 1, f"{order[-1]} is followed by {after or 'nothing'}: not one chain"
        order.append(after[0])
    return order


async def test_pending_then_applied(tmp_path):
    ctx = await db.open_context(f"sqlite://{tmp_path}/m.sqlite3")
    try:
        with ctx:
            every = _chain()
            assert every[:2] == ["models.0001_initial", "models.0002_commerce"]
            assert await db.pending_migrations(ctx) == every
            assert await db.migrate(ctx) == every
            assert await db.pending_migrations(ctx) == []
            assert await db.migrate(ctx) == []
    finally:
        await ctx.close_connections()
