"""Terminal sales through the event store, as the ingestion commits them: the batched
sale path gives exactly what the per-event path gives, and a failed batch leaves nothing."""

from __future__ import annotations

import itertools
import time

import pytest
from fingerpos.cloud.errors import DomainError
from fingerpos.cloud.ingest.stats import IngestStats
from fingerpos.cloud.ingest.store import EventStore, Incoming, figures_of
from fingerpos.cloud.ingest.wiring import HANDLERS
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
    return EventStore(HANDLERS, IngestStats(), REFUSALS)


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


async def test_batched_sales_give_what_the_per_event_path_gives(cloud):
    old, new, errors = await _two_ways(cloud, [MIXED, [sale("r2", [1, 2]), sale("r11", [7])]])
    assert new == old
    assert errors[0] == errors[1] == 4   # r4, r5, r9 and the string
    assert sorted(k for k in old if k != "alarms") == ["r1", "r10", "r11", "r2", "r3", "r6",
                                                      "r7", "r8"]
    assert old["r3"]["order"][3] == "held" and old["r8"]["order"][3] == "held"
    assert old["r3"]["payments"] == [(5, "EUR", 1, "cash", False,
                                      "amount differs from the items' total")]
    assert old["r2"]["lines"][4] == ("sku4", "Item 4", 2, 500)       # the first r2 stays
    assert old["r7"]["lines"] == [("a", "Tea", 1, 5)]
    assert old["r1"]["events"] == [(None, "paid", None, True, 1, "terminal sale")]
    assert old["r1"]["revisions"] == [(1, 1050, "created", None, True)]
    (alarm,) = old["alarms"]
    assert alarm[:3] == ("sale_mismatch", "warning", 2) and "r8" in alarm[3]
