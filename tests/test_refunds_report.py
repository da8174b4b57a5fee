"""Refunds in the sales reports and the CSV export (issue #16 item 3): a succeeded refund
counts in the period it succeeded in, under its order's payment method and terminal; a
pending one does not count yet; net_after_refunds = net - refunds. The same figures on
SQLite and PostgreSQL (this file runs on both)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from fingerpos.cloud.commerce import card_refunds, checkout
from fingerpos.cloud.core.appkeys import CONFIG
from fingerpos.cloud.models.refunds import Refund
from fingerpos.cloud.models.users import User
from fingerpos.cloud.orders import refunds
from fingerpos.cloud.orders import reports as R
from tortoise import connections

from .conftest import in_app
from .test_refunds import _line, _shop_with_teapot, paid_order

pytestmark = pytest.mark.cloud


async def test_refunds_in_the_report_and_the_export(cloud):
    await _shop_with_teapot(cloud)
    oid = await paid_order(cloud, qty=3, total=30000)
    old = await paid_order(cloud, qty=1)
    manager = await cloud.user("manager", "shop1")
    with in_app(cloud.app):
        user = await User.get(id=int(manager["X-User-Id"]))
        line = await _line(oid)
        await refunds.create(user, oid, [{"line": line, "qty": 1}], "壶盖有裂纹",
                             restock=False, method="cash")        # 100.00, tax 11.50
        await card_refunds.refund(checkout.sandbox(cloud.app[CONFIG].key_secret), user, oid,
                                  [{"line": line, "qty": 1}], "pending", False,
                                  deliver=False)                # pending: not counted
        late = await refunds.create(user, old, [{"line": await _line(old), "qty": 1}], "x",
                                    restock=False, method="cash")
        # this one succeeded 8 days ago: in the previous 7-day period
        await Refund.filter(id=late.id).update(settled_at=datetime.now(UTC) - timedelta(days=8))
        tz = ZoneInfo("Asia/Shanghai")
        today = datetime.now(tz).date()
        period = R.parse_period(None, None, tz, today)
        conn = connections.get("default")
        now = await R.report(conn, "shop1", period)
        before = await R.report(conn, "shop1", period.previous())
    f = now.totals["CNY"]
    assert (f.sales, f.net) == (2, 30000 + 11300)
    assert (f.refunds, f.refund_tax, f.refund_count) == (10000, 1150, 1)
    assert f.as_dict()["net_after_refunds"] == 30000 + 11300 - 10000
    assert now.splits["method"][("CNY", "sandbox")].refunds == 10000
    assert sum(x.refunds for x in now.splits["day"].values()) == 10000
    b = before.totals["CNY"]
    assert (b.sales, b.refunds, b.refund_tax) == (0, 11300, 1300)
    # the CSV export: what succeeded refunds paid back, per order
    r = await cloud.client.get("/api/v1/orders/export.csv", headers=manager)
    rows = list(csv.DictReader(io.StringIO(await r.text())))
    back = {int(row["order"]): row["refunded"] for row in rows}
    assert back == {oid: "100.00", old: "113.00"}
