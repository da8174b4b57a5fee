"""A day's Z reports (cloud/orders/shiftreport.py) add up to that day's sales report
(cloud/orders/reports.py, through the rollup): issue #17 item 3, "the Z reports' totals must
equal the reports' totals for the same period".

The outside reference: a shop in Asia/Shanghai (UTC+8) open 07:00-22:00 local, so its
business day 2026-03-10 runs from 2026-03-09 16:00 to 2026-03-10 16:00 UTC and every shift
crosses UTC midnight (08:00 local). Two terminals; card, cash and WeChat sales; cash
refunds paid out at the terminal (one of the day before's sale); a held sale (its payment
does not cover its items: neither a sale nor in the drawer); a second shop in
Europe/Berlin selling at the same instants, which must show in neither. Everything goes
through the ingestion's real handlers (test_shifts.Terminal) and the refund API.

What is compared is what both carry: sales (count, amount, per payment method) and the
refunds paid out of a drawer. Outside that on purpose: a refund paid back other than at a
terminal (a card refund in the back office) is in the report and in no Z, a web order
paid online is in no Z, and a web order whose cash a terminal took is in that terminal's
Z but in the report's "web" terminal row (the report splits by where a sale was made).

The cloud stamps a sale when it arrives and a refund when the terminal pays it out; the
test's events arrive at chosen Shanghai times, so those stamps are set to them (an
UPDATE of created_at / settled_at, which the rollup's triggers see like any other write).
Runs on SQLite and (FINGERPOS_TEST_DB=postgres) PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from fingerpos.cloud.models.orders import Order
from fingerpos.cloud.models.refunds import Refund
from fingerpos.cloud.models.shifts import Shift
from fingerpos.cloud.models.shops import Shop
from fingerpos.cloud.orders import reports as R
from fingerpos.cloud.orders import rollup, shiftreport
from tortoise import connections

from .conftest import in_app
from .test_shifts import Terminal, cash_sale

pytestmark = pytest.mark.cloud
SHANGHAI = R.zone("Asia/Shanghai")
DAY1, DAY2 = date(2026, 3, 10), date(2026, 3, 11)
CNY = "CNY"


def local(day: date, hhmm: str) -> datetime:
    """A Shanghai wall-clock time (as the shop's staff read it), in UTC as the cloud
    stores its stamps (tortoise writes an aware datetime's own offset into SQLite's text)."""
    h, m = map(int, hhmm.split(":"))
    return datetime(day.year, day.month, day.day, h, m, tzinfo=SHANGHAI).astimezone(UTC)


class Till(Terminal):
    """A terminal whose sales and refunds arrive at given Shanghai times."""

    def __init__(self, cloud, dev: str, shop: str) -> None:
        super().__init__(cloud, dev)
        self.shop = shop

    async def sale(self, ref: str, amount: int, method: str, at: datetime,
                   paid: int | None = None) -> None:
        data = cash_sale(ref, amount, method)
        if paid is not None:    # a payment that does not cover the items: held
            data["payment"]["amount"] = paid
        await self.send("sale", data)
        with in_app(self.cloud.app):
            # (the count SQLite answers includes the rows the rollup's triggers wrote)
            assert await Order.filter(device_id=self.dev, ref=ref).update(created_at=at)

    async def refund(self, ref: str, manager: dict, seller: str, at: datetime) -> None:
        """The manager refunds the sale `ref` in the back office; this terminal pays it out."""
        with in_app(self.cloud.app):
            order = await Order.get(device_id=self.dev, ref=ref)
            line = (await order.lines.all())[0]
        r = await self.cloud.client.post(
            f"/api/v1/orders/{order.id}/refunds", headers=manager,
            json={"lines": [{"line": line.id, "qty": 1}], "reason": "退货 returned"})
        assert r.status == 201, await r.text()
        made = await r.json()
        assert made["status"] == "pending"          # cash in this drawer: paid out here
        # (the sale is older than the shop's refund window by the real clock: the
        # manager's approval at the terminal is needed, and given)
        await self.send("refund", {"refund": made["id"], "amount": made["amount"],
                                   "seller": seller, "approved_by": seller})
        with in_app(self.cloud.app):
            assert await Refund.filter(id=made["id"], status="succeeded").update(settled_at=at)


async def _shops(cloud) -> tuple[Till, Till, Till]:
    t1, t2, t9 = Till(cloud, "t1", "shop1"), Till(cloud, "t2", "shop1"), Till(cloud, "t9", "shop2")
    for t in (t1, t2, t9):
        await cloud.device(t.dev, t.shop)
    with in_app(cloud.app):
        await Shop.filter(id="shop1").update(name="街角茶馆", timezone="Asia/Shanghai")
        await Shop.filter(id="shop2").update(timezone="Europe/Berlin")
    return t1, t2, t9


async def _day_one(t1: Till, t2: Till, t9: Till, manager: dict, seller: str) -> None:
    await t1.shift("open", seller=seller, amount=20000)
    await t2.shift("open", seller=seller, amount=5000)
    await t9.shift("open", seller=seller, amount=100)
    await t1.sale("a", 3000, "cash", local(DAY1, "07:30"))      # 23:30 UTC on the 9th
    await t2.sale("w", 2200, "wechat", local(DAY1, "07:45"))
    await t9.sale("x", 9900, "cash", local(DAY1, "07:45"))      # the other shop
    await t1.sale("b", 4500, "card", local(DAY1, "09:15"))      # 01:15 UTC on the 10th
    await t1.sale("h", 5000, "cash", local(DAY1, "10:00"), paid=4000)   # held
    await t1.refund("a", manager, seller, local(DAY1, "12:05"))
    await t2.sale("v", 1300, "card", local(DAY1, "15:00"))
    await t1.sale("c", 1800, "cash", local(DAY1, "21:50"))
    await t1.shift("close", seller=seller, amount=20000 + 1800)
    await t2.shift("close", seller=seller, amount=5000)
    await t9.shift("close", seller=seller, amount=100 + 9900)


async def _day_two(t1: Till, manager: dict, seller: str) -> None:
    await t1.shift("open", n=2, seller=seller, amount=20000)
    await t1.sale("e", 990, "card", local(DAY2, "07:10"))       # 23:10 UTC on the 10th
    await t1.refund("c", manager, seller, local(DAY2, "08:00"))   # yesterday's sale
    await t1.sale("f", 1200, "cash", local(DAY2, "10:00"))
    await t1.shift("close", n=2, seller=seller, amount=20000 - 1800 + 1200)


def _z_sum(zs: list[shiftreport.ShiftReport]) -> dict[str, object]:
    """The figures both sides have, summed over Z reports."""
    methods: dict[str, tuple[int, int]] = {}
    for z in zs:
        assert z.kind == "Z" and z.currency == CNY and z.difference == 0, z.flags
        for m, s in z.sales.items():
            n, amount = methods.get(m, (0, 0))
            methods[m] = (n + s.count, amount + s.amount)
    return {"sales": sum(z.sales_total.count for z in zs),
            "net": sum(z.sales_total.amount for z in zs),
            "refund_count": sum(z.refunds.count for z in zs),
            "refunds": sum(z.refunds.amount for z in zs),
            "methods": dict(sorted(methods.items()))}


def _report_view(f: R.Figures, methods: dict[tuple[str, str], R.Figures] | None) -> dict:
    out: dict[str, object] = {"sales": f.sales, "net": f.net, "refund_count": f.refund_count,
                              "refunds": f.refunds}
    if methods is not None:
        out["methods"] = {m: (g.sales, g.net) for (c, m), g in sorted(methods.items())
                          if c == CNY and g.sales}
    return out


async def test_a_shanghai_days_z_reports_add_up_to_its_report(cloud):
    t1, t2, t9 = await _shops(cloud)
    manager = await cloud.user("manager", shop="shop1")
    seller = manager["X-User-Id"]
    await _day_one(t1, t2, t9, manager, seller)
    conn = connections.get("default")
    with in_app(cloud.app):
        # the rollup built now, so day two's writes (and the late refund) must dirty it
        await rollup.refresh(conn, "shop1", 0, 1 << 30)
    await _day_two(t1, manager, seller)
    with in_app(cloud.app):
        z = {(s.device_id, s.number): await shiftreport.report(s)
             for s in await Shift.filter(shop_id__in=["shop1", "shop2"]).order_by("id")}
        reports = {}
        for first, last in ((DAY1, DAY1), (DAY2, DAY2), (DAY1, DAY2)):
            period = R.Period(first, last, SHANGHAI)
            reports[first, last] = await R.report(conn, "shop1", period)
    day1, day2 = [z["t1", 1], z["t2", 1]], [z["t1", 2]]
    # by hand first, so the two sides cannot agree on something wrong
    assert _z_sum(day1) == {"sales": 5, "net": 3000 + 2200 + 4500 + 1300 + 1800,
                            "refund_count": 1, "refunds": 3000,
                            "methods": {"card": (2, 5800), "cash": (2, 4800),
                                        "wechat": (1, 2200)}}
    assert z["t1", 1].held.count == 1 and z["t9", 1].sales_total.amount == 9900
    for (first, last), zs in (((DAY1, DAY1), day1), ((DAY2, DAY2), day2),
                              ((DAY1, DAY2), day1 + day2)):
        rep = reports[first, last]
        assert set(rep.totals) == {CNY}
        assert _report_view(rep.totals[CNY], rep.splits["method"]) == _z_sum(zs), first
        # per terminal: each terminal's Z reports are that terminal's row of the report
        for dev in ("t1", "t2"):
            mine = [x for x in zs if x.shift.device_id == dev]
            want = _z_sum(mine) if mine else {"sales": 0, "net": 0, "refund_count": 0,
                                              "refunds": 0, "methods": {}}
            want.pop("methods")
            got = rep.splits["terminal"].get((CNY, dev), R.Figures())
            assert _report_view(got, None) == want, (first, dev)
    # the week's report read from the rollup equals the orders summed directly
    week = R.Period(DAY1 - timedelta(days=3), DAY2 + timedelta(days=3), SHANGHAI)
    with in_app(cloud.app):
        rolled = await R.report(conn, "shop1", week)
        direct = await R.direct_report(conn, "shop1", week)
    assert rolled.totals == direct.totals and rolled.totals[CNY].net == 3000 + 2200 + 4500 \
        + 1300 + 1800 + 990 + 1200
    assert R.Period(DAY1, DAY2, SHANGHAI).start.hour == 16   # the 9th, 16:00 UTC
