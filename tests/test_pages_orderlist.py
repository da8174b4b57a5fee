"""The staff order list (issue #17 item 5): source and terminal columns, search by order
number or pickup code, a date range in the shop's own time zone, sorting, pages that keep
their filters; scoped to the viewer's shop.

Outside references: the tz database (a day in Asia/Shanghai is 16:00-16:00 UTC; Berlin's
29 March 2026 has 23 hours), a second shop whose orders must never show, a pickup code
made by the real payment flow, and hostile query strings.
"""

from __future__ import annotations

import html as htmlmod
import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from .conftest import in_app
from .support.pages import staff_session

pytestmark = pytest.mark.cloud

ROW = re.compile(r'<tr data-order="(\d+)">(.*?)</tr>', re.S)


def _rows(page: str) -> list[int]:
    return [int(m.group(1)) for m in ROW.finditer(page)]


def _cells(page: str, oid: int) -> list[str]:
    body = next(m.group(2) for m in ROW.finditer(page) if int(m.group(1)) == oid)
    return [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", body, re.S)]


async def _shops(cloud) -> None:
    from fingerpos.cloud.models.shops import Shop
    with in_app(cloud.app):
        await Shop.create(id="shop1", name="街角茶馆", timezone="Asia/Shanghai", currency="CNY")
        await Shop.create(id="shop2", name="Other shop", timezone="Europe/Berlin")


async def _order(cloud, at: datetime, shop: str = "shop1", total: int = 1000,
                 state: str = "completed", source: str = "terminal", device: str | None = "t7",
                 ref: str | None = None) -> int:
    from fingerpos.cloud.models.orders import Order
    with in_app(cloud.app):
        o = await Order.create(shop_id=shop, source=source, device_id=device if source ==
                               "terminal" else None, ref=ref, state=state, total=total,
                               currency="CNY", state_changed_at=at)
        await Order.filter(id=o.id).update(created_at=at.astimezone(UTC))
    return o.id


async def _list(cloud, status: int = 200, **params) -> str:
    r = await cloud.client.get("/orders", params=params)
    text = await r.text()
    assert r.status == status, text[:2000]
    return text


SHANGHAI = ZoneInfo("Asia/Shanghai")


async def test_source_and_terminal_columns_and_local_time(cloud):
    await _shops(cloud)
    await staff_session(cloud)
    sale = await _order(cloud, datetime(2026, 12, 7, 23, 30, tzinfo=SHANGHAI), ref="s-0001")
    web = await _order(cloud, datetime(2026, 12, 7, 9, 0, tzinfo=SHANGHAI), source="web",
                       state="paid")
    page = await _list(cloud)
    assert _cells(page, sale)[3:5] == ["terminal", "t7"]
    assert _cells(page, web)[3:5] == ["web", "-"]
    # Placed: the shop's local time with its zone, not the stored UTC (15:30).
    assert _cells(page, sale)[6] == "2026-12-07 23:30 Asia/Shanghai"
    assert "From (Asia/Shanghai)" in page


async def test_a_day_is_the_shops_day_in_asia_shanghai(cloud):
    await _shops(cloud)
    await staff_session(cloud)
    late = await _order(cloud, datetime(2026, 12, 7, 23, 30, tzinfo=SHANGHAI))   # 15:30 UTC
    await _order(cloud, datetime(2026, 12, 8, 0, 10, tzinfo=SHANGHAI))           # 7th 16:10 UTC
    await _order(cloud, datetime(2026, 12, 6, 23, 59, tzinfo=SHANGHAI))          # 6th 15:59 UTC
    early = await _order(cloud, datetime(2026, 12, 7, 0, 0, tzinfo=SHANGHAI))    # 6th 16:00 UTC
    page = await _list(cloud, **{"from": "2026-12-07", "to": "2026-12-07"})
    assert sorted(_rows(page)) == sorted([late, early])
    # A UTC day would have held the 08 00:10 order and dropped the 07 00:00 one.
    page = await _list(cloud, **{"from": "2026-12-08"})
    assert len(_rows(page)) == 1 and late not in _rows(page)
    page = await _list(cloud, to="2026-12-06")
    assert len(_rows(page)) == 1 and early not in _rows(page)


def test_day_range_follows_the_tz_database():
    from fingerpos.cloud.commerce.orderlist import day_range
    since, until, errors = day_range("2026-12-07", "2026-12-07", SHANGHAI)
    assert errors == {}
    assert (since, until) == (datetime(2026, 12, 6, 16, tzinfo=UTC),
                              datetime(2026, 12, 7, 16, tzinfo=UTC))
    # Berlin's clocks go forward on 29 March 2026: that day has 23 hours.
    since, until, _ = day_range("2026-03-29", "2026-03-29", ZoneInfo("Europe/Berlin"))
    assert until - since == timedelta(hours=23)
    # The calendar's ends are open bounds, not a crash.
    assert day_range("0001-01-01", "9999-12-31", SHANGHAI) == (None, None, {})


async def test_search_by_order_number_stays_in_the_shop(cloud):
    await _shops(cloud)
    await staff_session(cloud)
    mine = await _order(cloud, datetime(2026, 12, 7, 10, tzinfo=SHANGHAI))
    await _order(cloud, datetime(2026, 12, 7, 11, tzinfo=SHANGHAI))
    theirs = await _order(cloud, datetime(2026, 12, 7, 12, tzinfo=SHANGHAI), shop="shop2",
                          device="b1")
    assert _rows(await _list(cloud, q=str(mine))) == [mine]
    assert _rows(await _list(cloud, q=f"#{mine}")) == [mine]
    page = await _list(cloud, q=str(theirs))
    assert _rows(page) == [] and "No orders match these filters." in page
    assert theirs not in _rows(await _list(cloud))


async def test_search_by_pickup_code_from_the_payment_flow(cloud):
    """The code the buyer was given (made by the real payment) finds its order for the
    shop's staff; the same search by another shop's staff finds nothing."""
    from fingerpos.cloud.commerce import pickup
    await _shops(cloud)
    buyer = await cloud.user()
    await cloud.product("shop1", "tea", 1890, currency="CNY")
    r = await cloud.client.post("/api/v1/orders", headers=buyer,
                                json={"shop": "shop1", "items": [{"sku": "tea", "qty": 1}]})
    oid = (await r.json())["id"]
    assert (await cloud.pay(buyer, oid)).status == 200
    await _order(cloud, datetime(2026, 12, 7, 10, tzinfo=SHANGHAI))
    with in_app(cloud.app):
        code = await pickup.sealed_code(oid)
    assert code and len(code) == 6
    await staff_session(cloud)
    assert _rows(await _list(cloud, q=code)) == [oid]
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    assert oid not in _rows(await _list(cloud, q=wrong))
    # The other shop's manager, same code: nothing.
    from fingerpos.cloud.accounts.users import create_user
    from fingerpos.cloud.models.users import Role

    from .support.pages import post
    with in_app(cloud.app):
        await create_user("north@example.com", "password123", Role.MANAGER, shop_id="shop2")
    cloud.client.session.cookie_jar.clear()
    await post(cloud.client, "/login", {"email": "north@example.com", "password": "password123",
                                        "next": "/"})
    assert _rows(await _list(cloud, q=code)) == []


async def test_sorting_and_hostile_sort_params(cloud):
    from fingerpos.cloud.models.orders import Order
    await _shops(cloud)
    await staff_session(cloud)
    base = datetime(2026, 12, 7, 10, tzinfo=SHANGHAI)
    a = await _order(cloud, base, total=500, state="completed")
    b = await _order(cloud, base + timedelta(hours=1), total=3000, state="cancelled")
    c = await _order(cloud, base + timedelta(hours=2), total=1200, state="paid")
    assert _rows(await _list(cloud)) == [c, b, a]                       # newest first
    assert _rows(await _list(cloud, sort="created", dir="asc")) == [a, b, c]
    assert _rows(await _list(cloud, sort="total")) == [b, c, a]
    assert _rows(await _list(cloud, sort="total", dir="asc")) == [a, c, b]
    assert _rows(await _list(cloud, sort="state")) == [b, a, c]         # cancelled, completed, paid
    page = await _list(cloud, sort="total", dir="asc")
    assert 'aria-sort="ascending"' in page
    # An unknown column sorts by the default (created); an unknown direction is the
    # column's default: what was asked never reaches the SQL.
    newest, oldest, biggest = [c, b, a], [a, b, c], [b, c, a]
    for sort, direction, expected in (("total; DROP TABLE orders; --", "asc", oldest),
                                      ("id", "desc", newest), ("created_at desc", "x", newest),
                                      ("buyer_id", "", newest), ("total", "asc;--", biggest),
                                      ("__class__", "desc", newest), ("ｔｏｔａｌ", "desc", newest),
                                      ("total", "desc NULLS FIRST", biggest)):
        assert _rows(await _list(cloud, sort=sort, dir=direction)) == expected, (sort, direction)
    assert _rows(await _list(cloud, sort="id; DROP TABLE orders")) == [c, b, a]
    with in_app(cloud.app):
        assert await Order.all().count() == 3


async def test_pages_keep_the_filters(cloud):
    await _shops(cloud)
    await staff_session(cloud)
    base = datetime(2026, 12, 7, 8, tzinfo=SHANGHAI)
    made = [await _order(cloud, base + timedelta(minutes=n), total=100 + n) for n in range(53)]
    await _order(cloud, base + timedelta(minutes=1), state="paid")              # another state
    await _order(cloud, base - timedelta(days=1), total=1)                      # another day
    page = await _list(cloud, state="completed", **{"from": "2026-12-07"}, sort="total",
                       dir="asc")
    assert _rows(page) == made[:50]
    nxt = htmlmod.unescape(re.search(r'id="next-page" href="([^"]+)"', page).group(1))
    for kept in ("state=completed", "from=2026-12-07", "sort=total", "dir=asc", "page=2"):
        assert kept in nxt
    r = await cloud.client.get("/orders" + nxt)
    second = await r.text()
    assert _rows(second) == made[50:]
    assert 'id="next-page"' not in second and 'id="prev-page"' in second
    assert 'value="2026-12-07"' in second and '<option value="completed" selected>' in second


async def test_bad_dates_get_a_clear_message_and_keep_what_was_typed(cloud):
    await _shops(cloud)
    await staff_session(cloud)
    await _order(cloud, datetime(2026, 12, 7, 10, tzinfo=SHANGHAI))
    for typed in ("2026-13-01", "07/12/2026", "2026-W49-1", "２０２６-１２-０７", "2026-02-30",
                  "'; DROP TABLE orders; --", "x" * 300):
        page = await _list(cloud, 400, q="12", **{"from": typed})
        assert "is not a date: write it as YYYY-MM-DD" in page
        shown = re.search(r'id="f-from" name="from" type="date" value="([^"]*)"', page).group(1)
        assert htmlmod.unescape(shown) == typed[:100] and 'value="12"' in page
        assert 'aria-invalid="true" aria-describedby="e-from"' in page
        assert _rows(page) == []
    page = await _list(cloud, 400, **{"from": "2026-12-08", "to": "2026-12-07"})
    assert "the end date is before the start date" in page
    # The extremes of the calendar are accepted (no overflow into a 500).
    page = await _list(cloud, **{"from": "0001-01-01", "to": "9999-12-31"})
    assert len(_rows(page)) == 1


async def test_an_admin_picks_a_shop_and_gets_its_days(cloud):
    """Admins see every shop's orders; picking one filters to it and its days are that
    shop's (Berlin's 7 December is 23:00 UTC on the 6th to 23:00 UTC on the 7th)."""
    from fingerpos.cloud.accounts.users import create_user
    from fingerpos.cloud.models.users import Role

    from .support.pages import post
    await _shops(cloud)
    berlin = ZoneInfo("Europe/Berlin")
    north = await _order(cloud, datetime(2026, 12, 7, 23, 30, tzinfo=berlin), shop="shop2",
                         device="b1")                                   # 22:30 UTC on the 7th
    late = await _order(cloud, datetime(2026, 12, 7, 23, 59, tzinfo=SHANGHAI))
    with in_app(cloud.app):
        await create_user("root@example.com", "password123", Role.ADMIN)
    await post(cloud.client, "/login", {"email": "root@example.com", "password": "password123",
                                        "next": "/"})
    assert sorted(_rows(await _list(cloud))) == sorted([north, late])
    page = await _list(cloud, shop="shop2", **{"from": "2026-12-07", "to": "2026-12-07"})
    assert _rows(page) == [north] and "From (Europe/Berlin)" in page
    assert '<option value="shop2" selected>' in page
    assert _rows(await _list(cloud, shop="shop1", **{"from": "2026-12-07"})) == [late]
    # A shop that does not exist is no filter, not an error (and no other shop's days).
    page = await _list(cloud, shop="'; DROP TABLE shops; --")
    assert sorted(_rows(page)) == sorted([north, late]) and "From (UTC)" in page


async def test_the_export_link_carries_the_lists_days_and_state(cloud):
    """The CSV button exports what the list shows: following it gives the Shanghai day's
    orders only (the export reads the UTC instants the page computed)."""
    await _shops(cloud)
    await staff_session(cloud)
    late = await _order(cloud, datetime(2026, 12, 7, 23, 30, tzinfo=SHANGHAI))
    await _order(cloud, datetime(2026, 12, 8, 0, 10, tzinfo=SHANGHAI))
    await _order(cloud, datetime(2026, 12, 7, 12, tzinfo=SHANGHAI), state="paid")
    page = await _list(cloud, state="completed", **{"from": "2026-12-07", "to": "2026-12-07"})
    href = htmlmod.unescape(re.search(r'id="export" href="([^"]+)"', page).group(1))
    r = await cloud.client.get(href)
    assert r.status == 200, await r.text()
    lines = (await r.text()).splitlines()
    assert [int(line.split(",")[0]) for line in lines[1:]] == [late]
    # A refused date offers no export of some other range.
    page = await _list(cloud, 400, **{"from": "2026-13-07"})
    assert 'id="export"' not in page
