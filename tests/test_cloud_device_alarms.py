"""Terminal alarm and login events, and terminals going offline, become operator alarms."""

from __future__ import annotations

import pytest
from fingerpos.cloud.core.errors import Invalid
from fingerpos.cloud.ingest import device_alarms
from fingerpos.cloud.models.alarms import Alarm
from fingerpos.cloud.models.devices import Device

from .conftest import in_app

pytestmark = pytest.mark.cloud


async def test_terminal_alarm_on_off(cloud):
    await cloud.device("t1", "shop1")
    with in_app(cloud.app):
        a = await device_alarms.from_alarm_event("t1", 4, {"reason": "lockout", "level": 2,
                                                           "on": True})
        assert (a.kind, a.severity, a.device_id) == ("terminal:lockout", "critical", "t1")
        await device_alarms.from_alarm_event("t1", 5, {"reason": "lockout", "level": 2, "on": True})
        assert (await Alarm.get(id=a.id)).count == 2
        await device_alarms.from_alarm_event("t1", 6, {"reason": "lockout", "on": False})
        assert (await Alarm.get(id=a.id)).cleared_at is not None
        for bad in (None, {}, {"reason": ""}, {"reason": "x" * 30}, {"reason": "a", "on": "yes"}):
            with pytest.raises(Invalid):
                await device_alarms.from_alarm_event("t1", 7, bad)


async def test_repeated_failed_logins_raise_an_alarm(cloud):
    with in_app(cloud.app):
        assert await device_alarms.from_login_event("t1", 1, {"method": "pin", "seller": "3",
                                                              "ok": False, "failures": 2}) is None
        a = await device_alarms.from_login_event("t1", 2, {"method": "pin", "seller": "3",
                                                           "ok": False, "failures": 3})
        assert a.kind == "login_failures" and "3 failed pin logins" in a.message
        assert await device_alarms.from_login_event("t1", 3, {"ok": True, "failures": 0}) is None
        for bad in ({"ok": "no"}, {"ok": False, "failures": -1}, [], {"ok": False, "failures": 1.5}):
            with pytest.raises(Invalid):
                await device_alarms.from_login_event("t1", 4, bad)


async def test_offline_terminal_with_waiting_orders(cloud):
    await cloud.device("t1", "shop1")
    await cloud.device("t2", "shop1")
    with in_app(cloud.app):
        assert await device_alarms.device_offline("t1") is None      # nothing waiting
    buyer = await cloud.user()
    await cloud.product("shop1", "tea", 250)
    oid = (await (await cloud.client.post("/api/v1/orders", headers=buyer, json={
        "shop": "shop1", "items": [{"sku": "tea", "qty": 1}]})).json())["id"]
    assert (await cloud.pay(buyer, oid)).status == 200
    with in_app(cloud.app):
        await Device.filter(id="t2").update(online=True)
        assert await device_alarms.device_offline("t1") is None      # t2 can take it
        await Device.filter(id="t2").update(online=False)
        a = await device_alarms.device_offline("t1")
        assert a.kind == "offline_open_orders" and a.severity == "critical"
        assert await device_alarms.device_offline("ghost") is None
