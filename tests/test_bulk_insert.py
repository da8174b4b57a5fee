"""cloud/orders/bulk.py's insert_rows on both databases: its error paths refuse and write
nothing, never cut a value short, and a batch over SQLite's bound-parameter limit
(32766, sqlite.org/limits.html, SQLITE_MAX_VARIABLE_NUMBER) is split without losing
a returned row."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fingerpos.cloud.core.sql import dialect
from fingerpos.cloud.models.shops import Shop
from fingerpos.cloud.orders.bulk import insert_rows
from tortoise import connections
from tortoise.transactions import in_transaction

from .conftest import in_app

pytestmark = pytest.mark.cloud
AT = datetime(2026, 12, 7, 9, 30, tzinfo=UTC)
COLS = "id, name, created_at"


async def test_a_value_longer_than_its_column_is_refused_on_postgres_and_kept_whole_elsewhere(
        cloud):
    """shops.name is varchar(100). PostgreSQL refuses 101 characters ("value too long for
    type character varying(100)", manual 8.3) as a plain INSERT would: the array cast must
    not be to varchar(100), which cuts silently (an explicit cast truncates, manual 8.3).
    SQLite has no length types (sqlite.org/datatype3.html): it keeps all of it."""
    long_name = "北京路分店" * 20 + "X"   # 101 characters, Chinese as shops name themselves
    with in_app(cloud.app):
        conn = connections.get("default")
        if dialect(conn) == "postgres":
            with pytest.raises(Exception, match="too long"):
                async with in_transaction() as tx:
                    await insert_rows(tx, "shops", COLS, [("ok1", "fine", AT),
                                                          ("long1", long_name, AT)])
            assert await Shop.filter(id__in=["ok1", "long1"]).count() == 0   # none of it
        else:
            await insert_rows(conn, "shops", COLS, [("long1", long_name, AT)])
            assert (await Shop.get(id="long1")).name == long_name


async def test_rows_of_the_wrong_width_or_an_unknown_column_write_nothing(cloud):
    with in_app(cloud.app):
        conn = connections.get("default")
        with pytest.raises(ValueError):
            await insert_rows(conn, "shops", COLS, [("w1", "a", AT), ("w2", "b")])
        with pytest.raises(Exception, match="no column|nope"):
            await insert_rows(conn, "shops", "id, nope, created_at", [("w3", "c", AT)])
        assert await Shop.filter(id__in=["w1", "w2", "w3"]).count() == 0


async def test_a_batch_over_the_parameter_limit_returns_every_row(cloud):
    """12,000 rows of 3 values: 36,000 parameters, over SQLite's 32766, so two statements
    there (one array statement on PostgreSQL); RETURNING gives all 12,000, and ON CONFLICT
    skips the rows already there in either part."""
    rows = [(f"s{n:05d}", f"店{n}", AT) for n in range(12_000)]
    with in_app(cloud.app):
        conn = connections.get("default")
        await insert_rows(conn, "shops", COLS, [rows[5], rows[11_500]])
        got = await insert_rows(conn, "shops", COLS, rows,
                                " ON CONFLICT (id) DO NOTHING RETURNING id")
        assert sorted(r["id"] for r in got) == sorted(r[0] for r in rows
                                                      if r not in (rows[5], rows[11_500]))
        assert await Shop.filter(id__startswith="s").count() == 12_000
        assert (await Shop.get(id="s11999")).name == "店11999"
