"""The sales reports' rollup: reports.py's facts pre-summed per shop and UTC day, never stale.

Why: at 1,000,000 orders a quarter's report summed from the orders took 1.8 s (SQLite) and
2.5 s (PostgreSQL), twice that with the previous period (issue #17 item 3: <= 1 s).

What is stored (models/orders.py): per (shop, currency, UTC day, payment method, terminal,
seller) the Figures (report_rollup: the totals and the method / terminal / seller splits);
per (shop, currency, 15-minute UTC slot) the Figures (report_slots: the hour / day / week /
month splits, any zone's local hour being whole slots); per (shop, currency, UTC day, sku)
the products (report_products). All in UTC, so a shop's time zone can change freely.

Exact, whatever writes the orders: every change a report depends on marks its (shop, UTC
day) in report_dirty IN THE SAME TRANSACTION, by database triggers (SQLite: row triggers;
PostgreSQL: statement triggers over transition tables, one mark per day per statement, so
a bulk INSERT of 10,000 sales writes a handful): orders (state, total, currency, created_at,
terminal, seller), their lines, payments (the method), revision snapshots (the tax path),
refunds (status, settled_at, amount, tax) and the shop's tax rounding. A change to an order
also marks the days its refunds settled on (they are split by the order's method, terminal,
seller). Code that bulk-inserts (orders/bulk.py), a late sale, a price change or a refund
need not know the rollup exists.

A report of [start, end) reads the rollup for the whole UTC days inside it, after
recomputing ("refreshing") the dirty ones among them from the orders with reports.py's own
queries, and sums the partial days at its edges (< 1 day each, local midnight not being UTC
midnight) straight from the orders: a report is the rollup plus the same aggregation, so
the two cannot disagree (tests/test_report_rollup.py checks it with random writes in
random order on both databases).

Refresh without losing a mark: under a per-shop lock (PostgreSQL: an advisory transaction
lock; SQLite: the database's write lock, taken first), read the dirty marks, recompute their
days, replace the rows, then delete exactly the marks read. A mark read was committed
before the recomputation read the orders, so its change is in the new rows; a mark
committed later is not deleted, so its day is recomputed next time. SQLite's triggers skip
a mark that exists already (one writer at a time, and the refresh holds the write lock, so
an existing mark cannot be deleted before the writer commits); PostgreSQL's never skip.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fingerpos.cloud.core.sql import dialect, q
from fingerpos.cloud.orders import reports as R
from fingerpos.cloud.orders.bulk import insert_rows
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

DAY = 86400
RUN_DAYS = 31        # days recomputed per pass (bounds the memory of a first build)
_FIG = ("sales", "gross", "net", "tax", "refunds", "refund_tax", "refund_count")


def _day(d: str, column: str) -> str:
    if d == "postgres":
        return f"CAST(FLOOR(EXTRACT(EPOCH FROM {column}) / {DAY}) AS INTEGER)"
    return f"(CAST(strftime('%s', {column}) AS INTEGER) / {DAY})"


# -- the triggers (migration 0025_report_rollup) -------------------------------------------
# table, the columns whose change matters, the columns of a changed row x the marks read,
# and the (shop s, timestamp t) selects of what x's change touches; {src} is x's relation.
_OF_ORDER = "SELECT o.shop_id AS s, o.created_at AS t FROM {src} x JOIN orders o ON o.id = x.order_id"
_WATCH: list[tuple[str, tuple[str, ...], tuple[str, ...], list[str]]] = [
    ("orders", ("shop_id", "state", "total", "currency", "created_at", "device_id", "source",
                "seller_id"), ("id", "shop_id", "created_at"),
     ["SELECT x.shop_id AS s, x.created_at AS t FROM {src} x",
      "SELECT r.shop_id AS s, r.settled_at AS t FROM {src} x JOIN refunds r ON r.order_id = x.id"]),
    ("order_lines", ("order_id", "sku", "name", "qty", "unit_price", "tax_rate"), ("order_id",),
     [_OF_ORDER]),
    ("payments", ("order_id", "method", "accepted"), ("order_id",),
     [_OF_ORDER, "SELECT r.shop_id AS s, r.settled_at AS t FROM {src} x"
                 " JOIN refunds r ON r.order_id = x.order_id"]),
    ("revision_snapshots", ("order_id",), ("order_id",), [_OF_ORDER]),
    ("refunds", ("shop_id", "order_id", "status", "amount", "tax", "settled_at"),
     ("shop_id", "settled_at"), ["SELECT x.shop_id AS s, x.settled_at AS t FROM {src} x"]),
    ("shops", ("tax_rounding",), ("id",),
     ["SELECT o.shop_id AS s, o.created_at AS t FROM {src} x JOIN orders o ON o.shop_id = x.id",
      "SELECT r.shop_id AS s, r.settled_at AS t FROM {src} x JOIN refunds r ON r.shop_id = x.id"]),
]
_OPS = {"INSERT": ("NEW",), "UPDATE": ("OLD", "NEW"), "DELETE": ("OLD",)}


def _triggers():
    for table, watched, used, selects in _WATCH:
        for op, rows in _OPS.items():
            if table != "shops" or op == "UPDATE":   # a new shop has no sales yet
                yield table, watched, used, selects, op, rows


def _sqlite_sql() -> tuple[list[str], list[str]]:
    up, down = [], []
    day = _day("sqlite", "m.t")
    for table, watched, used, selects, op, rows in _triggers():
        body = []
        for row in rows:
            src = "(SELECT " + ", ".join(f"{row}.{c} AS {c}" for c in used) + ")"
            for sel in selects:
                body.append(
                    f"INSERT INTO report_dirty (shop_id, day) SELECT DISTINCT m.s, {day}"
                    f" FROM ({sel.format(src=src)}) m WHERE m.t IS NOT NULL AND NOT EXISTS"
                    f" (SELECT 1 FROM report_dirty k WHERE k.shop_id = m.s AND k.day = {day});")
        name = f"report_{table}_{op.lower()}"
        event = f"UPDATE OF {', '.join(watched)}" if op == "UPDATE" else op
        up.append(f"CREATE TRIGGER {name} AFTER {event} ON {table} FOR EACH ROW BEGIN "
                  + " ".join(body) + " END")
        down.append(f"DROP TRIGGER IF EXISTS {name}")
    return up, down


def _pg_sql() -> tuple[list[str], list[str]]:
    up, down = [], []
    for table, watched, _used, selects, op, rows in _triggers():
        parts = []
        for row in rows:
            if op == "UPDATE":   # only the rows whose watched columns changed
                mine = "o0" if row == "OLD" else "n0"
                src = (f"(SELECT {mine}.* FROM old_rows o0 JOIN new_rows n0 ON n0.id = o0.id"
                       f" WHERE ({', '.join('o0.' + c for c in watched)}) IS DISTINCT FROM"
                       f" ({', '.join('n0.' + c for c in watched)}))")
            else:
                src = "new_rows" if row == "NEW" else "old_rows"
            parts += [sel.format(src=src) for sel in selects]
        fn = f"report_mark_{table}_{op.lower()}"
        refs = {"INSERT": "NEW TABLE AS new_rows", "DELETE": "OLD TABLE AS old_rows",
                "UPDATE": "OLD TABLE AS old_rows NEW TABLE AS new_rows"}[op]
        up.append(f"CREATE FUNCTION {fn}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
                  f" INSERT INTO report_dirty (shop_id, day) SELECT DISTINCT m.s,"
                  f" {_day('postgres', 'm.t')} FROM ({' UNION ALL '.join(parts)}) m"
                  " WHERE m.t IS NOT NULL; RETURN NULL; END $$")
        up.append(f"CREATE TRIGGER report_{table}_{op.lower()} AFTER {op} ON {table}"
                  f" REFERENCING {refs} FOR EACH STATEMENT EXECUTE FUNCTION {fn}()")
        down.append(f"DROP TRIGGER IF EXISTS report_{table}_{op.lower()} ON {table}")
        down.append(f"DROP FUNCTION IF EXISTS {fn}()")
    return up, down


def _mark_all(d: str) -> str:
    """Every (shop, day) with orders or refunds: the first refresh builds the rollup."""
    return ("INSERT INTO report_dirty (shop_id, day) SELECT DISTINCT s, d FROM ("
            f"SELECT shop_id AS s, {_day(d, 'created_at')} AS d FROM orders UNION"
            f" SELECT shop_id AS s, {_day(d, 'settled_at')} AS d FROM refunds"
            " WHERE settled_at IS NOT NULL) m")


async def create_triggers(apps: Any, schema_editor: Any) -> None:
    """Migration step (0025_report_rollup): the triggers, and every existing day marked."""
    client = schema_editor.client
    d = client.capabilities.dialect
    for sql in (_pg_sql() if d == "postgres" else _sqlite_sql())[0]:
        await client.execute_script(sql)
    await client.execute_script(_mark_all(d))


async def drop_triggers(apps: Any, schema_editor: Any) -> None:
    client = schema_editor.client
    d = client.capabilities.dialect
    for sql in (_pg_sql() if d == "postgres" else _sqlite_sql())[1]:
        await client.execute_script(sql)


# -- refresh ---------------------------------------------------------------------------------

async def refresh(conn: BaseDBAsyncClient, shop: str, first_day: int, end_day: int) -> int:
    """Recompute the dirty days of `shop` in [first_day, end_day) (UTC day numbers);
    returns how many. Safe against concurrent writers and refreshers (module header)."""
    d = dialect(conn)
    async with in_transaction(conn.connection_name) as tx:
        if d == "postgres":
            await tx.execute_query("SELECT pg_advisory_xact_lock(hashtext($1))",
                                   ["fingerpos report rollup " + shop])
        else:   # a write first: SQLite's write lock, held to the commit
            await tx.execute_query("DELETE FROM report_dirty WHERE id < 0")
        marks = await tx.execute_query_dict(q(d, (
            "SELECT id, day FROM report_dirty WHERE shop_id = ? AND day >= ? AND day < ?")),
            [shop, first_day, end_day])
        if not marks:
            return 0
        got = await tx.execute_query_dict(q(d, "SELECT tax_rounding FROM shops WHERE id = ?"),
                                          [shop])
        rounding = got[0]["tax_rounding"] if got else "line"
        days = sorted({int(m["day"]) for m in marks})
        run: list[int] = []
        for day in days:
            if run and (day != run[-1] + 1 or len(run) >= RUN_DAYS):
                await _rebuild(tx, shop, run[0], run[-1] + 1, rounding)
                run = []
            run.append(day)
        await _rebuild(tx, shop, run[0], run[-1] + 1, rounding)
        ids = [int(m["id"]) for m in marks]
        for i in range(0, len(ids), 500):
            part = ids[i:i + 500]
            await tx.execute_query(q(d, "DELETE FROM report_dirty WHERE id IN ("
                                        + ",".join("?" * len(part)) + ")"), part)
    return len(days)


def _utc(day: int) -> datetime:
    return datetime.fromtimestamp(day * DAY, UTC)


async def _rebuild(tx: BaseDBAsyncClient, shop: str, a: int, b: int, rounding: str) -> None:
    """Replace the rollup rows of days [a, b) with the orders' figures."""
    d = dialect(tx)
    start, end = _utc(a), _utc(b)
    dims = await R.seller_facts(tx, shop, start, end, rounding, DAY)
    slots = await R.seller_facts(tx, shop, start, end, rounding, R.SLOT, dims=False)
    prods = await R.product_days(tx, shop, start, end, DAY)
    per = DAY // R.SLOT
    for table, column, lo, hi in (("report_rollup", "day", a, b),
                                  ("report_slots", "slot", a * per, b * per),
                                  ("report_products", "day", a, b)):
        await tx.execute_query(q(d, f"DELETE FROM {table} WHERE shop_id = ? AND {column} >= ?"
                                    f" AND {column} < ?"), [shop, lo, hi])
    figs = ", ".join(_FIG)
    await insert_rows(tx, "report_rollup", f"shop_id, currency, day, method, terminal, seller,"
                                           f" {figs}",
                      [(shop, c, day, m, t, s, *_values(f))
                       for (c, day, m, t, s), f in dims.items()])
    await insert_rows(tx, "report_slots", f"shop_id, currency, slot, {figs}",
                      [(shop, c, slot, *_values(f)) for (c, slot, _m, _t, _s), f in slots.items()])
    await insert_rows(tx, "report_products",
                      "shop_id, currency, day, sku, name, last_line, qty, gross, tax",
                      [(shop, p["currency"], p["slot"], p["sku"], p["name"], p["last_line"],
                        p["qty"], p["gross"], p["tax"]) for p in prods])


def _values(f: R.Figures) -> tuple[int, ...]:
    return tuple(getattr(f, k) for k in _FIG)


def _figures(row: dict[str, Any]) -> R.Figures:
    return R.Figures(**{k: int(row[k]) for k in _FIG})


# -- reading ---------------------------------------------------------------------------------

async def report(conn: BaseDBAsyncClient, shop: str, period: R.Period,
                 rounding: str = "line") -> R.Report:
    """reports.report(): the rollup's whole UTC days plus the edges from the orders."""
    d = dialect(conn)
    start, end = int(period.start.timestamp()), int(period.end.timestamp())
    a, b = -(-start // DAY), end // DAY
    got = await conn.execute_query_dict(q(d, "SELECT tax_rounding FROM shops WHERE id = ?"),
                                        [shop])
    if a >= b or (got and got[0]["tax_rounding"] != rounding):
        # no whole UTC day inside, or a rounding other than the one the rollup keeps
        return await R.direct_report(conn, shop, period, rounding)
    await refresh(conn, shop, a, b)
    grain = period.slot // R.SLOT
    times: dict[tuple[str, int], R.Figures] = {}
    dims: dict[R.Dims, R.Figures] = {}
    sums = ", ".join(f"SUM({k}) AS {k}" for k in _FIG)
    per = DAY // R.SLOT
    for row in await conn.execute_query_dict(q(d, (
            f"SELECT currency, slot / {grain} AS slot, {sums} FROM report_slots"
            f" WHERE shop_id = ? AND slot >= ? AND slot < ? GROUP BY 1, 2")),
            [shop, a * per, b * per]):
        times[(row["currency"], int(row["slot"]))] = _figures(row)
    for row in await conn.execute_query_dict(q(d, (
            f"SELECT currency, method, terminal, seller, {sums} FROM report_rollup"
            f" WHERE shop_id = ? AND day >= ? AND day < ? GROUP BY 1, 2, 3, 4")), [shop, a, b]):
        dims[(row["currency"], row["method"], row["terminal"], row["seller"])] = _figures(row)
    prods = await conn.execute_query_dict(q(d, (
        "SELECT currency, sku, 0 AS slot, SUM(qty) AS qty, SUM(gross) AS gross, SUM(tax) AS tax,"
        " MAX(last_line) AS last_line FROM report_products WHERE shop_id = ? AND day >= ?"
        " AND day < ? GROUP BY 1, 2")), [shop, a, b])
    names: dict[int, str] = {}
    last = [int(r["last_line"]) for r in prods]
    for i in range(0, len(last), 500):
        part = last[i:i + 500]
        for r in await conn.execute_query_dict(q(d, (
                "SELECT last_line, name FROM report_products WHERE shop_id = ? AND day >= ?"
                " AND day < ? AND last_line IN (" + ",".join("?" * len(part)) + ")")),
                [shop, a, b, *part]):
            names[int(r["last_line"])] = r["name"]
    product_rows = [{**r, "qty": int(r["qty"]), "gross": int(r["gross"]), "tax": int(r["tax"]),
                     "last_line": int(r["last_line"]), "name": names[int(r["last_line"])]}
                    for r in prods]
    for lo, hi in ((start, a * DAY), (b * DAY, end)):
        if lo >= hi:
            continue
        for (c, slot, m, t, s), f in (await R.seller_facts(
                conn, shop, _at(lo), _at(hi), rounding, period.slot)).items():
            times.setdefault((c, slot), R.Figures()).add(f)
            dims.setdefault((c, m, t, s), R.Figures()).add(f)
        product_rows += await R.product_days(conn, shop, _at(lo), _at(hi), None)
    return R.assemble(period, times, dims, R.sort_products(product_rows))


def _at(unix: int) -> datetime:
    return datetime.fromtimestamp(unix, UTC)
