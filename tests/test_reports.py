"""Sales reports (/reports, cloud/orders/reports.py) against figures worked out by hand.

The outside reference: a shop in Asia/Shanghai (UTC+8, no daylight saving), whose local
day 2026-03-10 runs from 2026-03-09 16:00 to 2026-03-10 16:00 UTC, so an order at 17:30 UTC
counts on the next local day; taxes by China's VAT rates (13 %, 9 %) extracted from
tax-inclusive prices as orders/tax.py writes down; a second shop whose manager must see
none of it.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest
from fingerpos.cloud.accounts.users import create_user
from fingerpos.cloud.models.commerce import RevisionSnapshot
from fingerpos.cloud.models.orders import Order, OrderLine, Payment
from fingerpos.cloud.models.shops import Shop
from fingerpos.cloud.models.users import Role
from fingerpos.cloud.orders.reports import Period, zone

from .conftest import in_app
from .support.pages import post

pytestmark = pytest.mark.cloud
TEA, CAKE = ("tea", "乌龙茶", 1000, 1300), ("cake", "月饼", 500, 900)


async def _order(shop: str, at: str, state: str, lines, total: int | None = None,
                 device: str | None = None, method: str | None = None,
                 seller: int | None = None) -> None:
    gross = sum(q * p[2] for p, q in lines)
    o = await Order.create(shop_id=shop, source="terminal" if device else "web", device_id=device,
                           state=state, total=gross if total is None else total, currency="CNY",
                           state_changed_at=datetime.now(UTC), seller_id=seller)
    await Order.filter(id=o.id).update(created_at=datetime.fromisoformat(at))
    for (sku, name, price, rate), qty in lines:
        await OrderLine.create(order_id=o.id, sku=sku, name=name, qty=qty, unit_price=price,
                               tax_rate=rate)
    if total is not None:   # a price change: the adjustment the snapshot records
        await RevisionSnapshot.create(order_id=o.id, version=1, lines=[],
                                      adjustments=[["改价 price change", total - gross]])
    if method:
        await Payment.create(order_id=o.id, amount=o.total, currency="CNY", version=1,
                             method=method, accepted=True)


async def _seed(cloud) -> None:
    with in_app(cloud.app):
        await Shop.create(id="sh", name="街角茶馆", timezone="Asia/Shanghai")
        await Shop.create(id="s2", name="Other", timezone="Europe/Berlin")
        # 01:30 local on the 10th (17:30 UTC on the 9th): 2 tea + 1 cake, cash at tA.
        await _order("sh", "2026-03-09T17:30:00+00:00", "completed", [(TEA, 2), (CAKE, 1)],
                     device="tA", method="cash")
        # 11:00 local: a web order of one tea re-priced from 10.00 to 9.00, paid by card.
        await _order("sh", "2026-03-10T03:00:00+00:00", "paid", [(TEA, 1)], total=900,
                     method="card")
        # 23:59 local: a cake, cash at tB.
        await _order("sh", "2026-03-10T15:59:00+00:00", "accepted", [(CAKE, 1)], device="tB",
                     method="cash")
        # Not sales of the 10th: the next local day, cancelled, unpaid.
        await _order("sh", "2026-03-10T16:00:00+00:00", "completed", [(TEA, 5)], device="tA",
                     method="cash")
        await _order("sh", "2026-03-10T05:00:00+00:00", "cancelled", [(TEA, 7)])
        await _order("sh", "2026-03-10T06:00:00+00:00", "pending_payment", [(TEA, 8)])
        # The day before (the previous period): one tea by card.
        await _order("sh", "2026-03-09T02:00:00+00:00", "completed", [(TEA, 1)], method="card")
        # Another shop, the same day.
        await _order("s2", "2026-03-10T03:00:00+00:00", "completed", [(TEA, 9)], method="card")


async def _login(cloud, role: str, shop: str | None) -> None:
    with in_app(cloud.app):
        await create_user(f"{role}-{shop}@example.com", "password123", Role(role), shop_id=shop)
    r = await post(cloud.client, "/login", {"email": f"{role}-{shop}@example.com",
                                            "password": "password123", "next": "/"})
    assert r.status == 303, await r.text()


DAY = {"shop": "sh", "from": "2026-03-10", "to": "2026-03-10"}


async def _csv(cloud, table: str, **over) -> list[list[str]]:
    r = await cloud.client.get("/reports.csv", params={**DAY, "table": table, **over})
    assert r.status == 200, await r.text()
    assert r.content_type == "text/csv"
    return list(csv.reader(io.StringIO(await r.text())))


async def test_a_shanghai_day_adds_up_by_hand(cloud):
    await _seed(cloud)
    await _login(cloud, "manager", "sh")
    # gross 2x10.00 + 5.00 + 10.00 + 5.00 = 40.00; the re-price -1.00; net 39.00;
    # tax by line, half up: 2000*13/113 = 230.09 -> 230, 500*9/109 = 41.28 -> 41 (twice),
    # 1000*13/113 = 115.04 -> 115 and the -100 share -11.50(4) -> -12: 230+41+103+41 = 415.
    day = await _csv(cloud, "day")
    assert day[0] == ["period", "currency", "day", "sales", "gross", "adjustments", "net",
                      "tax", "average", "refunds", "refund_tax", "net_after_refunds"]
    assert day[1:] == [["current", "CNY", "2026-03-10", "3", "40.00", "-1.00", "39.00", "4.15",
                        "13.00", "0.00", "0.00", "39.00"],
                       ["previous", "CNY", "2026-03-09", "1", "10.00", "0.00", "10.00", "1.15",
                        "10.00", "0.00", "0.00", "10.00"]]
    hours = [(r[2], r[6]) for r in (await _csv(cloud, "hour"))[1:] if r[0] == "current"]
    assert hours == [("2026-03-10 01:00", "25.00"), ("2026-03-10 11:00", "9.00"),
                     ("2026-03-10 23:00", "5.00")]
    methods = {r[2]: (r[3], r[6]) for r in (await _csv(cloud, "method"))[1:] if r[0] == "current"}
    assert methods == {"cash": ("2", "30.00"), "card": ("1", "9.00")}
    terminals = {r[2]: r[6] for r in (await _csv(cloud, "terminal"))[1:] if r[0] == "current"}
    assert terminals == {"tA": "25.00", "tB": "5.00", "web": "9.00"}
    products = [r[2:] for r in (await _csv(cloud, "product"))[1:] if r[0] == "current"]
    assert products == [["tea 乌龙茶", "3", "30.00", "3.45"], ["cake 月饼", "2", "10.00", "0.82"]]
    # The week (ISO, Monday first) and month hold the same day.
    assert (await _csv(cloud, "week"))[1][2:4] == ["2026-W11", "3"]
    page = await cloud.client.get("/reports", params={**DAY, "table": "hour"})
    text = await page.text()
    assert page.status == 200 and "街角茶馆" in text and "Asia/Shanghai" in text
    assert "data:image/svg+xml;base64," in text and "/reports.csv?shop=sh" in text
    assert "http://" not in text.replace("http://www.w3.org", "")


async def test_another_shops_manager_sees_nothing_of_it(cloud):
    await _seed(cloud)
    await _login(cloud, "manager", "s2")
    r = await cloud.client.get("/reports", params=DAY)
    assert r.status == 403
    r = await cloud.client.get("/reports.csv", params={**DAY, "table": "day"})
    assert r.status == 403
    own = await _csv(cloud, "day", shop="s2")
    assert [row[3] for row in own[1:]] == ["1"]          # their one order, not shop sh's three
    assert "sh" not in {row[2] for row in (await _csv(cloud, "terminal", shop="s2"))[1:]}


@pytest.mark.parametrize("params, message", [
    ({"from": "yesterday"}, "from must be a date as YYYY-MM-DD"),
    ({"from": "2026-03-11", "to": "2026-03-10"}, "must not be after"),
    ({"from": "2020-01-01", "to": "2026-03-10"}, "at most 400 days"),
    ({"table": "year"}, "table must be one of"),
    ({"colour": "red"}, "unknown filter"),
    ({"shop": "nowhere"}, "no shop nowhere"),
])
async def test_bad_filters_are_refused_clearly(cloud, params, message):
    await _seed(cloud)
    await _login(cloud, "admin", None)
    for path in ("/reports", "/reports.csv"):
        r = await cloud.client.get(path, params={**DAY, **params})
        assert r.status in (400, 404), (path, params)
        assert message in await r.text(), (path, params)


async def test_admin_picks_any_shop(cloud):
    await _seed(cloud)
    await _login(cloud, "admin", None)
    text = await (await cloud.client.get("/reports", params={**DAY, "shop": "s2"})).text()
    assert '<option value="sh"' in text and '<option value="s2" selected' in text


def test_a_period_is_the_shops_local_days_in_utc():
    p = Period(datetime(2026, 3, 10).date(), datetime(2026, 3, 10).date(), zone("Asia/Shanghai"))
    assert (p.start.isoformat(), p.end.isoformat()) == ("2026-03-09T16:00:00+00:00",
                                                       "2026-03-10T16:00:00+00:00")
    # Berlin's spring-forward day has 23 hours.
    b = Period(datetime(2026, 3, 29).date(), datetime(2026, 3, 29).date(), zone("Europe/Berlin"))
    assert (b.end - b.start).total_seconds() == 23 * 3600


async def test_a_kathmandu_hour_is_not_a_utc_hour(cloud):
    # +05:45: 00:10 UTC is 05:55 local, 00:20 UTC is 06:05 local: two local hours.
    with in_app(cloud.app):
        await Shop.create(id="np", name="Kathmandu", timezone="Asia/Kathmandu")
        await _order("np", "2026-03-10T00:10:00+00:00", "completed", [(TEA, 1)], method="cash")
        await _order("np", "2026-03-10T00:20:00+00:00", "completed", [(CAKE, 1)], method="cash")
    await _login(cloud, "manager", "np")
    rows = await _csv(cloud, "hour", shop="np")
    assert [(r[2], r[6]) for r in rows[1:] if r[0] == "current"] == [
        ("2026-03-10 05:00", "10.00"), ("2026-03-10 06:00", "5.00")]


async def test_the_seller_split_names_the_shops_own_people(cloud):
    """By seller: each terminal sale under the seller logged in when it was made
    (orders.seller_id), web orders and sales nobody was logged in for apart; a name that
    looks like a spreadsheet formula is not one in the CSV; a seller id of another shop's
    person (a device moved between shops) shows as an id, never their name."""
    with in_app(cloud.app):
        await Shop.create(id="sh", name="街角茶馆", timezone="Asia/Shanghai")
        await Shop.create(id="s2", name="Other", timezone="Europe/Berlin")
        wang = await create_user("wang@example.com", "password123", Role.SELLER,
                                 name="王芳", shop_id="sh")
        odd = await create_user("odd@example.com", "password123", Role.SELLER,
                                name="=HYPERLINK(\"http://x\")", shop_id="sh")
        spy = await create_user("spy@example.com", "password123", Role.SELLER,
                                name="Spy", shop_id="s2")
        # 00:30 local on the 10th (16:30 UTC on the 9th): 2 tea by 王芳 at tA, cash.
        await _order("sh", "2026-03-09T16:30:00+00:00", "completed", [(TEA, 2)], device="tA",
                     method="cash", seller=wang.id)
        await _order("sh", "2026-03-10T04:00:00+00:00", "completed", [(CAKE, 1)], device="tA",
                     method="card", seller=wang.id)
        await _order("sh", "2026-03-10T05:00:00+00:00", "completed", [(CAKE, 3)], device="tB",
                     method="cash", seller=odd.id)
        await _order("sh", "2026-03-10T06:00:00+00:00", "completed", [(TEA, 1)], device="tB",
                     method="cash", seller=spy.id)
        await _order("sh", "2026-03-10T07:00:00+00:00", "completed", [(CAKE, 1)], device="tB",
                     method="cash")                                   # nobody logged in
        await _order("sh", "2026-03-10T08:00:00+00:00", "paid", [(TEA, 1)], method="card")
        await _order("sh", "2026-03-10T09:00:00+00:00", "held", [(TEA, 9)], device="tA",
                     seller=wang.id)                                  # not a sale
        # the day before, local (15:59 UTC on the 9th is 23:59 on the 9th in Shanghai)
        await _order("sh", "2026-03-09T15:59:00+00:00", "completed", [(TEA, 1)], device="tA",
                     method="cash", seller=wang.id)
    await _login(cloud, "manager", "sh")
    rows = await _csv(cloud, "seller")
    assert rows[0][:4] == ["period", "currency", "seller", "sales"]
    got = {(r[0], r[2]): (r[3], r[6]) for r in rows[1:]}
    assert got == {
        ("current", f"王芳 (#{wang.id})"): ("2", "25.00"),
        ("current", f"'=HYPERLINK(\"http://x\") (#{odd.id})"): ("1", "15.00"),
        ("current", f"#{spy.id}"): ("1", "10.00"),
        ("current", "not known (no login before the sale)"): ("1", "5.00"),
        ("current", "web (no seller)"): ("1", "10.00"),
        ("previous", f"王芳 (#{wang.id})"): ("1", "10.00")}
    # the sellers add up to the day's total
    day = await _csv(cloud, "day")
    assert day[1][3] == "6" and day[1][6] == "65.00"
    page = await cloud.client.get("/reports", params=DAY)
    text = await page.text()
    assert page.status == 200 and 'id="by-seller"' in text and "table=seller" in text
    assert f"王芳 (#{wang.id})" in text and "Spy" not in text
