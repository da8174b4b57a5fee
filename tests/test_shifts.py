"""Shifts and cash refunds at the terminal, event by event through the ingestion's event
store and its real handlers (issue #16 items 3-4): hostile and out-of-order input is kept
as an anomaly, never a crash and never lost; refunds are refused with the contract's
reasons (amount, approval, a non-manager, the per-shift cap); the log is append-only.

Outside references: protocol/README.md "Shifts and cash refunds", a second shop's
manager, a hand-worked cap, Chinese reasons, and the SQL of someone trying to rewrite
the log."""

from __future__ import annotations

import itertools

import pytest
from fingerpos.cloud.core.errors import DomainError
from fingerpos.cloud.ingest.stats import IngestStats
from fingerpos.cloud.ingest.store import EventStore
from fingerpos.cloud.ingest.wiring import BATCH_HANDLERS, HANDLERS
from fingerpos.cloud.models.devices import DeviceEvent
from fingerpos.cloud.models.orders import Order
from fingerpos.cloud.models.refunds import Refund
from fingerpos.cloud.models.shifts import LogIsAppendOnly, Shift, ShiftEntry
from fingerpos.cloud.models.shops import Shop
from fingerpos.cloud.orders import shiftreport
from tortoise import connections

from .conftest import in_app
from .test_ingest_sales import commit, incoming

pytestmark = pytest.mark.cloud
REFUSALS = (DomainError, ValueError, LookupError, TypeError)


class Terminal:
    """Events of one device, committed one batch each as the ingestion does."""

    def __init__(self, cloud, dev: str) -> None:
        self.cloud, self.dev = cloud, dev
        self.store = EventStore(HANDLERS, IngestStats(), REFUSALS, batch_handlers=BATCH_HANDLERS)
        self.seq = itertools.count(1)

    async def send(self, typ: str, data: object) -> int:
        seq = next(self.seq)
        with in_app(self.cloud.app):
            await commit(self.store, [incoming(self.dev, seq, data, typ)])
        return seq

    async def shift(self, action: str, n: int = 1, seller: str = "7", **data: object) -> int:
        return await self.send("shift", {"shift": n, "action": action, "seller": seller, **data})


def cash_sale(ref: str, amount: int, method: str = "cash") -> dict:
    return {"ref": ref, "items": [{"sku": "茶", "qty": 1, "price": amount}],
            "payment": {"method": method, "amount": amount, "currency": "CNY"}}


async def _setup(cloud, dev: str = "t1", shop: str = "shop1") -> Terminal:
    await cloud.device(dev, shop)
    return Terminal(cloud, dev)


async def _entries(dev: str) -> list[tuple[str, int, str]]:
    return [(e.kind, e.amount, e.note) for e in
            await ShiftEntry.filter(device_id=dev).order_by("seq", "id")]


async def test_hostile_shift_events_are_kept_as_anomalies(cloud):
    t = await _setup(cloud)
    await t.shift("cash_in", amount=500, reason="change")       # nothing open yet
    await t.shift("open", amount=10000)
    bad = [{"shift": 1, "action": "cash_out", "seller": "7", "amount": -5, "reason": "x"},
           {"shift": 1, "action": "cash_in", "seller": "7", "amount": 5, "reason": ""},
           {"shift": 1, "action": "cash_in", "seller": "7", "amount": 5, "reason": "x" * 65},
           {"shift": 1, "action": "steal", "seller": "7"},
           {"shift": 1.0, "action": "x", "seller": "7"},
           {"shift": 1, "action": "close", "seller": "7", "amount": True},
           {"shift": 1, "action": "x", "seller": "\x00"},
           "not an object", [1, 2]]
    for data in bad:
        await t.send("shift", data)
    await t.shift("cash_in", n=2, amount=700, reason="bank")    # not the open one
    await t.shift("open", amount=1)                             # opened again
    await t.shift("cash_in", amount=300, reason="找零")
    with in_app(cloud.app):
        kinds = await _entries("t1")
        shift = await Shift.get(device_id="t1", number=1)
        r = await shiftreport.report(shift)
        stored = await DeviceEvent.filter(device_id="t1").count()
    assert stored == 14 and t.store.stats.handler_errors == 0    # none lost, none raised
    assert [k for k, _, _ in kinds] == ["anomaly", "open"] + ["anomaly"] * 11 + ["cash_in"]
    assert "no shift is open" in kinds[0][2] and "shift 1 is open" in kinds[-3][2]
    assert "opened a second time" in kinds[-2][2]
    # only the good events count: float 100.00 + cash in 3.00
    assert (r.float, r.cash_in.amount, r.expected) == (10000, 300, 10300)
    # the first came with no shift at all: kept, attached to none; the others are shift 1's
    assert len(r.anomalies) == 11 and r.flags == ["11 anomalies"]
    with in_app(cloud.app):
        assert await ShiftEntry.filter(shift_id=None, device_id="t1").count() == 1


async def test_a_second_open_ends_the_first_shift_so_nothing_counts_twice(cloud):
    t = await _setup(cloud)
    await t.shift("open", amount=5000)
    await t.send("sale", cash_sale("a", 1000))
    await t.shift("open", n=2, amount=8000)     # the first shift never closed
    await t.send("sale", cash_sale("b", 2000))
    await t.shift("close", n=2, amount=10000)
    with in_app(cloud.app):
        one = await Shift.get(device_id="t1", number=1)
        two = await Shift.get(device_id="t1", number=2)
        r1, r2 = await shiftreport.report(one), await shiftreport.report(two)
    assert (one.state, one.close_seq, two.state) == ("unclosed", 2, "closed")
    assert r1.sales["cash"].amount == 1000 and r2.sales["cash"].amount == 2000
    assert r1.kind == "X" and "never closed" in r1.flags[-1]
    assert (r2.kind, r2.expected, r2.difference, r2.flags) == ("Z", 10000, 0, [])


async def test_a_difference_over_the_limit_needs_a_manager_of_the_shop(cloud):
    t = await _setup(cloud)
    mine = (await cloud.user("manager", shop="shop1"))["X-User-Id"]
    other = (await cloud.user("manager", shop="shop2"))["X-User-Id"]
    seller = (await cloud.user("seller", shop="shop1"))["X-User-Id"]
    results = []
    for n, approver in enumerate([None, other, seller, mine], 1):
        await t.shift("open", n=n, amount=0)
        await t.send("sale", cash_sale(f"s{n}", 5000))
        extra = {"approved_by": approver} if approver else {}
        await t.shift("close", n=n, amount=3999, **extra)   # 10.01 short: over 10.00
        with in_app(cloud.app):
            results.append(await shiftreport.report(await Shift.get(device_id="t1", number=n)))
    assert [r.difference for r in results] == [-1001] * 4
    assert ["without a manager's approval" in " ".join(r.flags) for r in results] == [
        True, True, True, False]
    # within the limit nobody is needed
    await t.shift("open", n=5, amount=0)
    await t.shift("close", n=5, amount=1000)
    with in_app(cloud.app):
        r = await shiftreport.report(await Shift.get(device_id="t1", number=5))
    assert (r.difference, r.flags) == (1000, [])


async def _pending_refund(cloud, t: Terminal, amount: int, ref: str) -> tuple[Refund, str]:
    """A cash sale at `t`, refunded in the back office by the shop's manager."""
    await t.send("sale", cash_sale(ref, amount))
    manager = await cloud.user("manager", shop="shop1")
    with in_app(cloud.app):
        order = await Order.get(device_id=t.dev, ref=ref)
        line = (await order.lines.all())[0]
    r = await cloud.client.post(f"/api/v1/orders/{order.id}/refunds", headers=manager,
                                json={"lines": [{"line": line.id, "qty": 1}],
                                      "reason": "退货", "restock": True})
    assert r.status == 201, await r.text()
    with in_app(cloud.app):
        return await Refund.get(id=(await r.json())["id"]), manager["X-User-Id"]


async def test_refunds_at_the_terminal_refused_with_the_contract_reasons(cloud):
    t = await _setup(cloud)
    with in_app(cloud.app):
        await Shop.filter(id="shop1").update(refund_approval_above=5000, shift_refund_cap=7000)
    seller = (await cloud.user("seller", shop="shop1"))["X-User-Id"]
    await t.shift("open", amount=20000)
    small, manager = await _pending_refund(cloud, t, 3000, "a")   # no approval needed
    big, _ = await _pending_refund(cloud, t, 6000, "b")           # above 50.00: approval
    third, _ = await _pending_refund(cloud, t, 4500, "c")
    assert small.status == big.status == "pending" and (small.needs_approval,
                                                        big.needs_approval) == (False, True)
    await t.send("refund", {"refund": small.id, "amount": 2999, "seller": seller})
    await t.send("refund", {"refund": big.id, "amount": 6000, "seller": seller})
    big2, _ = await _pending_refund(cloud, t, 6000, "d")
    await t.send("refund", {"refund": big2.id, "amount": 6000, "seller": seller,
                            "approved_by": seller})
    small2, _ = await _pending_refund(cloud, t, 3000, "e")
    await t.send("refund", {"refund": small2.id, "amount": 3000, "seller": seller})   # 30.00
    await t.send("refund", {"refund": third.id, "amount": 4500, "seller": seller})    # 75.00 > 70
    await t.send("refund", {"refund": small2.id, "amount": 3000, "seller": seller})   # again
    await t.send("refund", {"refund": 999_999, "amount": 1, "seller": seller})
    await t.send("refund", {"refund": "x", "amount": 1, "seller": seller})
    with in_app(cloud.app):
        got = {r.id: (r.status, r.failure) for r in await Refund.all()}
        orders = {o.ref: o.refunded for o in await Order.filter(device_id="t1")}
        shift = await Shift.get(device_id="t1", number=1)
        r = await shiftreport.report(shift)
    assert got[small.id] == ("failed", "amount 2999 is not the refund's 3000")
    assert got[big.id] == ("failed", "needs a manager's approval at the terminal")
    assert got[big2.id] == ("failed", f"{seller} is not a manager of shop1")
    assert got[small2.id] == ("succeeded", "")
    assert got[third.id][0] == "failed" and "refund cap" in got[third.id][1]
    # a failed refund gives its amount back to the order: it can be refunded again
    assert orders == {"a": 0, "b": 0, "c": 0, "d": 0, "e": 3000}
    assert (r.refunds.count, r.refunds.amount, r.refused.count) == (1, 3000, 4)
    assert r.expected == 20000 + 3000 + 6000 + 4500 + 6000 + 3000 - 3000
    assert len(r.anomalies) == 3   # paid twice, not this terminal's, bad data
    # a manager's approval makes the big one pass, within the cap (30.00 + 60.00 > 70.00)
    with in_app(cloud.app):
        await Shop.filter(id="shop1").update(shift_refund_cap=0)
    big3, _ = await _pending_refund(cloud, t, 6000, "f")
    await t.send("refund", {"refund": big3.id, "amount": 6000, "seller": seller,
                            "approved_by": manager})
    with in_app(cloud.app):
        assert (await Refund.get(id=big3.id)).status == "succeeded"


async def test_a_cash_refund_of_an_order_no_terminal_holds_succeeds_at_once(cloud):
    """A card sale at the terminal (no provider intent) is refunded at the back office."""
    t = await _setup(cloud)
    await t.send("sale", cash_sale("k", 1500, method="card"))
    manager = await cloud.user("manager", shop="shop1")
    with in_app(cloud.app):
        order = await Order.get(device_id="t1", ref="k")
        line = (await order.lines.all())[0]
    r = await cloud.client.post(f"/api/v1/orders/{order.id}/refunds", headers=manager,
                                json={"lines": [{"line": line.id, "qty": 1}], "reason": "x"})
    assert (await r.json())["status"] == "succeeded"


async def test_the_shift_log_is_append_only(cloud):
    t = await _setup(cloud)
    await t.shift("open", amount=100)
    with in_app(cloud.app):
        entry = await ShiftEntry.get(device_id="t1", kind="open")
        entry.amount = 999_999
        with pytest.raises(LogIsAppendOnly):
            await entry.save()
        with pytest.raises(LogIsAppendOnly):
            await entry.delete()
        conn = connections.get("default")
        for sql in ("UPDATE shift_entries SET amount = 999999",
                    "DELETE FROM shift_entries"):
            with pytest.raises(Exception, match="append-only"):
                await conn.execute_query(sql)
        with pytest.raises(Exception, match="append-only"):
            await ShiftEntry.filter(id=entry.id).update(amount=1)
        assert [(e.kind, e.amount) for e in await ShiftEntry.all()] == [("open", 100)]
