"""Terminal sales through the event store, as the ingestion commits them: the batched
sale path gives exactly what the per-event path gives, and a failed batch leaves nothing."""

from __future__ import annotations

import itertools
import time

import pytest
from fingerpos.cloud.core.errors import DomainError
from fingerpos.cloud.ingest.stats import IngestStats
from fingerpos.cloud.ingest.store import EventStore, Incoming, figures_of
from fingerpos.cloud.ingest.wiring import BATCH_HANDLERS, HANDLERS
from fingerpos.cloud.models.alarms import Alarm
from fingerpos.cloud.models.devices import DeviceEvent
from fingerpos.cloud.models.orders import Order, OrderEvent, OrderLine, OrderRevision, Payment

from .conftest import in_app

pytestmark = pytest.mark.cloud
REFUSALS = (DomainError, ValueError, LookupError, TypeError)
_seqs = itertools.count(1)


def sale(ref: str, prices: list[int], amount: int | None = None, **payment: object) -> dict:
    items = [{"sku": f"sku{n}", "name": f"Item {n}", "qty": 1 + n % 3, "price": p}
             for n, p in enumerate(prices)]
    total = sum(it["qty"] * it["price"] for it in items)
    pay = {"method": "cash", "amount": total if amount is None else amount, "currency": "EUR"}
    return {"ref": ref, "items": items, "payment": {**pay, **payment}}


# A batch of every kind of sale: good ones with 1-5 lines, held ones (paid amount differs),
# refused ones (bad data, a total out of range), a re-sent ref, a NUL in a name.
MIXED = [
    sale("r1", [250, 400]),
    sale("r2", [100, 200, 300, 400, 500]),
    sale("r3", [999], amount=5),
    {**sale("r4", [100]), "payment": {"method": "cash", "amount": 100, "currency": "eur"}},
    {"ref": "r5", "items": [], "payment": {"method": "cash", "amount": 0, "currency": "EUR"}},
    sale("r1", [250, 400]),                     # the same sale sent again (a new seq)
    sale("r6", [120], tendered=500),
    {**sale("r7", [1]), "items": [{"sku": "a", "qty": 1, "price": 5, "name": "T\u0000ea"}],
     "payment": {"method": "card", "amount": 5, "currency": "EUR"}},
    sale("r8", [10, 20], amount=31),
    sale("r9", [10**12, 10**12], amount=10**12),  # each price fine, the total too large
    "not an object",
    sale("r10", [0]),
    {**sale("r12", [3]), "ref": "r\ud800"},     # a lone surrogate: no driver can send it
    {**sale("r13", [1]), "items": [{"sku": "b", "qty": 2, "price": 4, "name": "x\udc00y"}],
     "payment": {"method": "cash", "amount": 8, "currency": "EUR"}},
    sale("r14", [100], tendered=99),             # less cash handed over than charged
]


def incoming(device: str, seq: int, data: object, typ: str = "sale") -> Incoming:
    return Incoming(device, seq, typ, 1_700_000_000 + seq, data, f'{{"seq":{seq}}}',
                    f"h{device}{seq}", "", time.time(), seq, 1, 0)


async def _noop(conn: object) -> None:
    return None


async def commit(store: EventStore, batch: list[Incoming]) -> None:
    batch.sort(key=lambda ev: (ev.device, ev.seq))
    await store.commit(batch, figures_of(batch), _noop)


def store(batched: bool) -> EventStore:
    return EventStore(HANDLERS, IngestStats(), REFUSALS,
                      batch_handlers=BATCH_HANDLERS if batched else None)


async def snapshot(device: str) -> dict:
    """Everything the device's sales made, with ids replaced by refs and seqs."""
    seq_of = {e.id: e.seq for e in await DeviceEvent.filter(device_id=device)}
    out: dict = {}
    for o in await Order.filter(device_id=device).order_by("id"):
        out[o.ref] = {
            "order": (o.shop_id, o.buyer_id, o.source, o.state, o.version, o.total, o.currency,
                      o.pickup_hash, o.alerted, o.created_at is not None,
                      o.state_changed_at is not None),
            "lines": [(ln.sku, ln.name, ln.qty, ln.unit_price)
                      for ln in await OrderLine.filter(order_id=o.id).order_by("id")],
            "revisions": [(r.version, r.total, r.reason, r.user_id, r.device_id is not None)
                          for r in await OrderRevision.filter(order_id=o.id).order_by("id")],
            "events": [(e.from_state, e.to_state, e.user_id, e.device_id is not None,
                        seq_of[e.device_event_id], e.note)
                       for e in await OrderEvent.filter(order_id=o.id).order_by("id")],
            "payments": [(p.amount, p.currency, p.version, p.method, p.accepted, p.reason)
                         for p in await Payment.filter(order_id=o.id).order_by("id")],
        }
    ref_of = {str(o.id): o.ref for o in await Order.filter(device_id=device)}
    alarms = []
    for a in await Alarm.filter(device_id=device).order_by("id"):
        words = [ref_of.get(w, w) for w in a.message.split(" ")]  # "order 17 held" -> by ref
        alarms.append((a.kind, a.severity, a.count, " ".join(words), a.open_key is not None))
    out["alarms"] = alarms
    return out


async def _two_ways(cloud, batches: list[list[object]]) -> tuple[dict, dict, list[int]]:
    """Commit the same sales from terminal `old` per event and from `new` batched."""
    await cloud.device("old", "shop1")
    await cloud.device("new", "shop1")
    errors = []
    with in_app(cloud.app):
        for dev, batched in (("old", False), ("new", True)):
            st = store(batched)
            seq = itertools.count(1)
            for data_list in batches:
                await commit(st, [incoming(dev, next(seq), d) for d in data_list])
            errors.append(st.stats.handler_errors)
        return await snapshot("old"), await snapshot("new"), errors


async def test_batched_sales_give_what_the_per_event_path_gives(cloud, caplog):
    old, new, errors = await _two_ways(cloud, [MIXED, [sale("r2", [1, 2]), sale("r11", [7])]])
    assert new == old
    assert "one by one" not in caplog.text   # the batch path ran, not its fallback
    assert errors[0] == errors[1] == 6   # r4, r5, r9, the string, r\ud800 and r14
    assert sorted(k for k in old if k != "alarms") == ["r1", "r10", "r11", "r13", "r2", "r3",
                                                      "r6", "r7", "r8"]
    assert old["r13"]["lines"] == [("b", "x?y", 2, 4)]
    assert old["r3"]["order"][3] == "held" and old["r8"]["order"][3] == "held"
    assert old["r3"]["payments"] == [(5, "EUR", 1, "cash", False,
                                      "amount differs from the items' total")]
    assert old["r2"]["lines"][4] == ("sku4", "Item 4", 2, 500)       # the first r2 stays
    assert old["r7"]["lines"] == [("a", "Tea", 1, 5)]
    assert old["r1"]["events"] == [(None, "paid", None, True, 1, "terminal sale"),
                                   ("paid", "completed", None, True, 1,
                                    "paid in person, nothing to print")]
    assert old["r1"]["revisions"] == [(1, 1050, "created", None, True)]
    (alarm,) = old["alarms"]
    assert alarm[:3] == ("sale_mismatch", "warning", 2) and "r8" in alarm[3]


async def _counts() -> tuple[int, ...]:
    return (await DeviceEvent.all().count(), await Order.all().count(),
            await OrderLine.all().count(), await OrderEvent.all().count(),
            await Payment.all().count(), await OrderRevision.all().count())


async def test_a_database_failure_mid_batch_leaves_neither_events_nor_orders(cloud):
    await cloud.device("t1", "shop1")
    batch = [incoming("t1", n, sale(f"r{n}", [100 * n] * (1 + n % 5))) for n in range(1, 60)]
    st = store(True)

    async def dies(conn: object) -> None:  # after the sales are written, before commit
        assert await Order.all().using_db(conn).count() == 59
        raise ConnectionResetError("the database went away")

    with in_app(cloud.app):
        with pytest.raises(ConnectionResetError):
            await st.commit(batch, figures_of(batch), dies)
        assert await _counts() == (0, 0, 0, 0, 0, 0)
        await commit(st, batch)                 # the pipeline's retry of the same batch
        await commit(st, batch)                 # and a redelivery after that
        # two order events per sale: paid, completed
        assert await _counts() == (59, 59, sum(1 + n % 5 for n in range(1, 60)), 118, 59, 59)


async def test_a_statement_failing_every_time_fails_the_whole_batch(cloud, monkeypatch):
    """Batched, then one by one: when the database refuses every time, the batch fails
    (the pipeline retries it later) and leaves nothing, events included."""
    from fingerpos.cloud.orders import sales
    from tortoise.exceptions import OperationalError
    real = sales.insert_rows

    async def broken(conn, table, columns, rows, tail=""):
        if table == "order_events":
            raise OperationalError("disk I/O error")
        return await real(conn, table, columns, rows, tail)

    await cloud.device("t1", "shop1")
    batch = [incoming("t1", n, sale(f"r{n}", [10 * n])) for n in range(1, 6)]
    batch.append(incoming("t1", 6, {"hb": 1}, typ="heartbeat"))
    monkeypatch.setattr(sales, "insert_rows", broken)
    with in_app(cloud.app):
        with pytest.raises(OperationalError):
            await commit(store(True), batch)
        assert await _counts() == (0, 0, 0, 0, 0, 0)
        monkeypatch.setattr(sales, "insert_rows", real)
        await commit(store(True), batch)
        assert await _counts() == (6, 5, 5, 10, 5, 5)


async def test_a_failing_batch_write_falls_back_to_one_by_one(cloud, monkeypatch, caplog):
    from fingerpos.cloud.orders import sales
    real, calls = sales.write_sales, []

    async def fails_once(conn, plans, at):
        calls.append(len(plans))
        if len(calls) == 1:
            raise OSError("disk I/O error")
        return await real(conn, plans, at)

    await cloud.device("old", "shop1")
    await cloud.device("new", "shop1")
    with in_app(cloud.app):
        await commit(store(False), [incoming("old", n, d) for n, d in enumerate(MIXED, 1)])
        monkeypatch.setattr(sales, "write_sales", fails_once)
        batched = store(True)
        await commit(batched, [incoming("new", n, d) for n, d in enumerate(MIXED, 1)])
        assert "one by one" in caplog.text and calls[0] == 9 and set(calls[1:]) == {1}
        assert batched.stats.handler_errors == 6
        assert await snapshot("new") == await snapshot("old")


async def test_a_revoked_terminals_sales_are_refused_and_the_others_stored(cloud):
    await cloud.device("t1", "shop1")
    await cloud.device("t2", "shop2")
    r = await cloud.client.post("/api/v1/devices/t2/revoke", headers=await cloud.admin())
    assert r.status == 200
    st = store(True)
    with in_app(cloud.app):
        # (the pipeline drops a revoked terminal's events; one revoked after its events
        # were verified still has its sales refused here)
        await commit(st, [incoming("t1", 1, sale("a", [5])), incoming("t2", 1, sale("b", [5])),
                          incoming("t1", 2, sale("d", [5]))])
        assert [o.ref for o in await Order.all().order_by("id")] == ["a", "d"]
        assert st.stats.handler_errors == 1


async def test_the_feed_hears_of_new_orders_after_commit_and_in_sum_when_many(cloud,
                                                                             monkeypatch):
    import asyncio
    import json

    from fingerpos.cloud.core.appkeys import MONITOR
    from fingerpos.cloud.orders.notify import FEED_ORDERS
    await cloud.device("t1", "shop1")
    hub = cloud.app[MONITOR]
    class _Admin:  # an admin's feed: every shop (cloud/api/policy.py Scope)
        admin, shop, buyer = True, None, None

        def sees_feed(self, kind: str, data: object) -> bool:
            return True

    queue, sent = hub.subscribe(_Admin()), []
    real_send = hub.send

    async def send(text: str) -> None:
        sent.append(json.loads(text)["kind"])
        await real_send(text)

    monkeypatch.setattr(hub, "send", send)

    async def heard(n: int) -> list[dict]:  # on PostgreSQL the feed goes round through NOTIFY
        out = []
        async with asyncio.timeout(20):
            while len(out) < n:
                m = json.loads(await queue.get())
                if m["kind"] in ("order", "orders"):
                    out.append(m)
        return out

    async def before_commit(conn: object) -> None:
        assert "order" not in sent and "orders" not in sent

    st = store(True)
    with in_app(cloud.app):
        small = [incoming("t1", n, sale(f"s{n}", [10])) for n in (1, 2)] + \
                [incoming("t1", 3, sale("s3", [10], amount=1))]
        await st.commit(small, figures_of(small), before_commit)
        got = await heard(3)
        assert [(m["kind"], m["data"]["ref"], m["data"]["state"]) for m in got] == \
            [("order", "s1", "completed"), ("order", "s2", "completed"), ("order", "s3", "held")]
        assert got[0]["data"]["id"] == (await Order.get(ref="s1")).id
        sent.clear()
        big = [incoming("t1", n, sale(f"b{n}", [10], amount=10 + (n == 9)))
               for n in range(4, 5 + FEED_ORDERS)]
        await st.commit(big, figures_of(big), before_commit)
        (summary,) = await heard(1)
        assert sent.count("orders") == 1 and "order" not in sent
        ids = sorted([o.id for o in await Order.filter(ref__startswith="b")])
        assert summary == {"kind": "orders", "data": {
            "created": FEED_ORDERS + 1, "states": {"completed": FEED_ORDERS, "held": 1},
            "first": ids[0], "last": ids[-1], "shop": "shop1"}}


@pytest.mark.parametrize(("tendered", "ok"), [
    (None, True), (900, True), (2000, True), (899, False), ("2000", False), (950.0, False),
    (True, False), (-1, False)])
async def test_tendered_cash_is_optional_and_never_below_the_amount(cloud, tendered, ok):
    from fingerpos.cloud import orders
    from fingerpos.cloud.core.errors import Invalid
    await cloud.device("t1", "shop1")
    data = sale("r1", [300, 300])                     # 300 + 2 * 300 = 900
    if tendered is not None:
        data["payment"]["tendered"] = tendered
    with in_app(cloud.app):
        if ok:
            order = await orders.from_sale("t1", 1, data)
            assert (order.state, order.total) == ("completed", 900)
            assert (await Payment.get(order_id=order.id)).amount == 900
        else:
            with pytest.raises(Invalid, match="tendered"):
                await orders.from_sale("t1", 1, data)
            assert await Order.all().count() == 0
