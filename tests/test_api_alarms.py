"""Alarms: deduplicated per device and kind while open; acknowledge; clear; roles."""

from __future__ import annotations

import asyncio

import pytest
from fingerpos.cloud.fleet import alarms
from fingerpos.cloud.models.alarms import Alarm

from .conftest import in_app

pytestmark = pytest.mark.cloud


async def test_dedup_ack_clear_and_reopen(cloud):
    await cloud.device("t1", "shop1")
    await cloud.device("t2", "shop1")
    with in_app(cloud.app):
        first = await alarms.raise_alarm("t1", "seq_gap", "warning", "gap 5..7")
        await asyncio.gather(*[alarms.raise_alarm("t1", "seq_gap", "warning", f"gap {i}")
                               for i in range(5)])
        await alarms.raise_alarm("t2", "seq_gap", "warning", "other device")
        assert await Alarm.all().count() == 2
        assert (await Alarm.get(id=first.id)).count == 6
    manager = await cloud.user("manager", shop="shop1")
    listed = (await (await cloud.client.get("/api/v1/alarms?open=true", headers=manager)).json())
    assert len(listed["alarms"]) == 2
    seller = await cloud.user("seller", shop="shop1")
    assert (await cloud.client.post(f"/api/v1/alarms/{first.id}/ack", headers=seller)).status == 403
    r = await cloud.client.post(f"/api/v1/alarms/{first.id}/ack", headers=manager)
    assert r.status == 200 and (await r.json())["acked_at"]
    r = await cloud.client.post(f"/api/v1/alarms/{first.id}/clear", headers=manager)
    assert (await r.json())["cleared_at"]
    with in_app(cloud.app):
        again = await alarms.raise_alarm("t1", "seq_gap", "warning", "new gap")
        assert again.id != first.id and again.count == 1
    closed = await (await cloud.client.get("/api/v1/alarms?open=false", headers=manager)).json()
    assert [a["id"] for a in closed["alarms"]] == [first.id]
    assert (await cloud.client.post("/api/v1/alarms/999/ack", headers=manager)).status == 404
    assert (await cloud.client.get("/api/v1/alarms?open=maybe", headers=manager)).status == 400
    assert (await cloud.client.get("/api/v1/alarms", headers=await cloud.user())).status == 403
