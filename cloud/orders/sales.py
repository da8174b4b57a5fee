"""Terminal sales -> paid (or held) orders, many at a time.

`plan_sale` decides in Python what one sale becomes (saledata's and rules'
checks, pure); `write_sales` writes a list of them with multi-row INSERTs:
the orders, their lines, first revisions, order events and payments. A sale
paid in full is `completed` at once (issue #16: nothing waits for anyone; the
cloud prints a terminal sale's receipt only when staff ask), with two order
events: paid, then completed. Its goods leave the stock (stock.sell) in the
same transaction, whatever the count says: they are in the buyer's hands. The
ingestion hands every new `sale` event of a batch to `from_sales` inside the
batch's transaction; `service.from_sale` runs the same path for one sale.

Hand-written SQL (cloud/orders/bulk.py) rather than tortoise's bulk_create: bulk_create neither
returns ids on SQLite nor skips rows that hit a unique index, and the unique
(device_id, ref) index is what makes a re-sent sale create nothing. RETURNING
after ON CONFLICT DO NOTHING works the same on SQLite (3.35+) and PostgreSQL.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from fingerpos.cloud.core.errors import DomainError, NotFound
from fingerpos.cloud.core.sql import dialect, q
from fingerpos.cloud.fleet import alarms
from fingerpos.cloud.models.devices import Device
from fingerpos.cloud.models.orders import Order
from fingerpos.cloud.models.shops import Product, Shop
from fingerpos.cloud.models.users import User
from fingerpos.cloud.orders import notify, saledata, stock
from fingerpos.cloud.orders.bulk import insert_rows
from fingerpos.cloud.orders.rules import total_of
from fingerpos.cloud.orders.states import State
from tortoise.backends.base.client import BaseDBAsyncClient

HELD_REASON = "amount differs from the items' total"
NOTE = "terminal sale"
DONE_NOTE = "paid in person, nothing to print"


@dataclass(frozen=True, slots=True)
class SaleOrder:
    """What one terminal sale becomes, decided before anything is written."""

    device_id: str
    event_id: int | None
    shop: str
    sale: saledata.Sale
    total: int
    paid_ok: bool      # the payment is the items' total
    state: str         # completed; or held when the payment does not cover the items
    seller: int | None = None   # the seller logged in at the terminal (sale_sellers)

    def wants(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for ln in self.sale.lines:
            out[ln.sku] = out.get(ln.sku, 0) + ln.qty
        return out


def plan_sale(device: Device | None, device_id: str, event_id: int | None,
              data: Any) -> SaleOrder:
    """Check one sale (raises Invalid / NotFound); pure once the device row is read."""
    sale = saledata.parse_sale(data)
    if device is None or device.revoked:
        raise NotFound(f"no active device {device_id}")
    total = total_of(sale.lines)
    paid_ok = sale.amount == total
    # A payment that does not cover the items is kept as a held order, not dropped.
    return SaleOrder(device_id, event_id, device.shop, sale, total, paid_ok,
                     State.COMPLETED.value if paid_ok else State.HELD.value)


@dataclass
class SaleBatch:
    """The outcome of `from_sales`: what was refused (by position), planned and created."""

    refused: list[tuple[int, Exception]] = field(default_factory=list)
    plans: list[SaleOrder] = field(default_factory=list)
    created: list[tuple[int, SaleOrder]] = field(default_factory=list)  # (order id, plan)
    at: datetime = field(default_factory=lambda: datetime.now(UTC))
    levels: list[stock.Level] = field(default_factory=list)   # stock the sales moved

    async def after_commit(self) -> None:
        """Tell the monitor feed (one message per order, a summary for a big batch), and
        raise the stock alarms of what the sales took."""
        await stock.raise_alarms(self.levels)
        if len(self.created) > notify.FEED_ORDERS:
            by_shop: dict[str, list[tuple[int, SaleOrder]]] = {}
            for oid, p in self.created:
                by_shop.setdefault(p.shop, []).append((oid, p))
            for shop, made in by_shop.items():   # each shop's staff hear of their own only
                await notify.orders_summary([p.state for _, p in made], made[0][0],
                                            made[-1][0], shop)
            return
        for oid, p in self.created:
            await notify.order_changed(Order(
                id=oid, shop_id=p.shop, buyer_id=None, source="terminal", device_id=p.device_id,
                ref=p.sale.ref, state=p.state, version=1, total=p.total,
                currency=p.sale.currency, created_at=self.at, state_changed_at=self.at))


async def from_sales(conn: BaseDBAsyncClient,
                     events: list[tuple[str, int | None, dict]]) -> SaleBatch:
    """Every sale of a batch -> orders, inside the caller's transaction `conn`.

    A sale whose data is refused is reported in `refused` and costs the others
    nothing; a sale already stored (same device and ref) creates nothing.
    """
    out = SaleBatch()
    ids = list({dev for dev, _, _ in events})
    devices = {d.id: d for d in await Device.filter(id__in=ids).using_db(conn)}
    for n, (dev, event_id, data) in enumerate(events):
        try:
            out.plans.append(plan_sale(devices.get(dev), dev, event_id, data))
        except DomainError as e:
            out.refused.append((n, e))
    if out.plans:
        await ensure_shops(conn, {p.shop for p in out.plans})
        sellers = await sale_sellers(conn, [(p.event_id, p.shop) for p in out.plans
                                            if p.event_id is not None])
        out.plans = [replace(p, seller=sellers.get(p.event_id)) if p.event_id in sellers else p
                     for p in out.plans]
        out.created = await write_sales(conn, out.plans, out.at)
        out.levels = await stock.sell(conn, [(oid, p.shop, p.device_id, p.wants())
                                             for oid, p in out.created])
        for oid, p in out.created:
            if not p.paid_ok:
                await alarms.raise_alarm(p.device_id, "sale_mismatch", "warning",
                                         f"sale {p.sale.ref}: paid {p.sale.amount}, items total "
                                         f"{p.total}; order {oid} held")
    return out


async def sale_sellers(conn: BaseDBAsyncClient, sales: list[tuple[int, str]]) -> dict[int, int]:
    """Sale event id -> its seller: the seller named by the device's last successful
    `login` event before the sale (by seq: the terminal's own order, so a sale sent late
    from an offline terminal still finds the seller who was logged in when it was made;
    a failed login does not log the seller out, protocol/README.md "login"). Only a user
    of the sale's shop counts; no login, or a seller of another shop: no seller."""
    if not sales:
        return {}
    d = dialect(conn)
    if d == "postgres":
        ok, who = "(l.body->>'ok') = 'true'", "l.body->>'seller'"
    else:
        ok, who = "json_extract(l.body, '$.ok') = 1", "CAST(json_extract(l.body, '$.seller') AS TEXT)"
    shop_of = dict(sales)
    found: dict[int, int] = {}
    ids = list(shop_of)
    for i in range(0, len(ids), 500):
        part = ids[i:i + 500]
        rows = await conn.execute_query_dict(q(d, (
            f"SELECT s.id AS event, (SELECT {who} FROM device_event l WHERE l.device_id ="
            " s.device_id AND l.typ = 'login' AND l.seq < s.seq AND " + ok +
            " ORDER BY l.seq DESC LIMIT 1) AS seller FROM device_event s WHERE s.id IN ("
            + ",".join("?" * len(part)) + ")")), part)
        for r in rows:
            text = r["seller"]
            if isinstance(text, str) and text.isdigit() and len(text) <= 10:
                found[int(r["event"])] = int(text)
    if not found:
        return {}
    staff = set(await User.filter(id__in=list(set(found.values()))).using_db(conn)
                .values_list("id", "shop_id"))
    return {ev: uid for ev, uid in found.items() if (uid, shop_of[ev]) in staff}


async def ensure_shops(conn: BaseDBAsyncClient, shop_ids: set[str]) -> None:
    """Create the shop rows orders refer to (terminals may be registered before their
    shop has a name). Asked every time, not cached: a cache filled inside a
    transaction that then rolls back would name a shop that does not exist."""
    have = set(await Shop.filter(id__in=list(shop_ids)).using_db(conn).values_list("id", flat=True))
    for shop_id in sorted(shop_ids - have):
        await Shop.get_or_create(id=shop_id, using_db=conn)


async def tax_rates(conn: BaseDBAsyncClient, items: list[tuple[str, str]]
                    ) -> dict[tuple[str, str], int]:
    """The tax rates of the sold (shop, sku)s that have one: one query per batch (only
    products with a rate come back, so a shop without tax costs a near-empty read)."""
    if not items:
        return {}
    wanted = set(items)
    rows = await Product.filter(shop_id__in={s for s, _ in wanted}, sku__in={k for _, k in wanted},
                                tax_rate__gt=0).using_db(conn).values_list("shop_id", "sku",
                                                                             "tax_rate")
    return {(shop, sku): rate for shop, sku, rate in rows if (shop, sku) in wanted}


async def write_sales(conn: BaseDBAsyncClient, plans: list[SaleOrder],
                      at: datetime) -> list[tuple[int, SaleOrder]]:
    """Insert the orders of `plans` and all that belongs to them; returns (order id, plan)
    for those created. Of two plans with the same device and ref the first wins, as
    when they arrive one by one."""
    returned = await insert_rows(
        conn, "orders", "shop_id, source, device_id, ref, state, version, total, currency,"
                        " alerted, created_at, state_changed_at, seller_id",
        [(p.shop, "terminal", p.device_id, p.sale.ref, p.state, 1, p.total, p.sale.currency,
          False, at, at, p.seller) for p in plans],
        " ON CONFLICT (device_id, ref) DO NOTHING RETURNING id, device_id, ref")
    ids = {(r["device_id"], r["ref"]): r["id"] for r in returned}
    created = []
    for p in plans:
        oid = ids.pop((p.device_id, p.sale.ref), None)
        if oid is not None:
            created.append((oid, p))
    if not created:
        return created
    rates = await tax_rates(conn, [(p.shop, ln.sku) for _, p in created for ln in p.sale.lines])
    lines: list[tuple] = []
    revisions: list[tuple] = []
    events: list[tuple] = []
    payments: list[tuple] = []
    completed = State.COMPLETED.value
    for oid, p in created:
        for ln in p.sale.lines:
            lines.append((oid, ln.sku, ln.name, ln.qty, ln.unit_price,
                          rates.get((p.shop, ln.sku), 0)))
        revisions.append((oid, 1, p.total, "created", None, p.device_id, at))
        if p.state == completed:
            events.append((oid, None, State.PAID.value, None, p.device_id, p.event_id, NOTE, at))
            events.append((oid, State.PAID.value, p.state, None, p.device_id, p.event_id,
                           DONE_NOTE, at))
        else:
            events.append((oid, None, p.state, None, p.device_id, p.event_id, NOTE, at))
        payments.append((oid, p.sale.amount, p.sale.currency, 1, p.sale.method, p.paid_ok,
                         "" if p.paid_ok else HELD_REASON, at))
    await insert_rows(conn, "order_lines", "order_id, sku, name, qty, unit_price, tax_rate", lines)
    await insert_rows(conn, "order_revisions",
                      "order_id, version, total, reason, user_id, device_id, created_at",
                      revisions)
    await insert_rows(conn, "order_events", 'order_id, from_state, to_state, user_id, device_id,'
                                            ' device_event_id, note, "at"', events)
    await insert_rows(conn, "payments",
                      "order_id, amount, currency, version, method, accepted, reason, created_at",
                      payments)
    return created
