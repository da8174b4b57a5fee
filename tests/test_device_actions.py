"""Device actions (issue #18 item 5): rename, push settings, start an enrolment, rotate,
revoke, move between shops, and the history, through the REST API and the device page.

Outside references: the firmware's own rules for `config` (firmware/config.py DEFAULTS and
the least values in firmware/handlers.py, read from their source); terminals on real
Mosquitto that check every command's signature (tools/fleet SimTerminal); a second shop
whose manager must be refused everything; Chinese names; the shop's time zone.
"""

from __future__ import annotations

import ast
import asyncio
import re
from pathlib import Path

import pytest
from fingerpos.cloud.fleet.actions import SETTINGS, SHOP_SETTINGS
from fingerpos.cloud.models.alarms import AuditEntry

from .conftest import in_app
from .support.pages import CSRF
from .support.shop_terminals import commands

pytestmark = pytest.mark.cloud
V1 = "/api/v1/devices"
REPO = Path(__file__).resolve().parent.parent


def _firmware_dict(path: str, name: str) -> dict:
    """A dict literal assigned to `name` anywhere in a firmware module's source."""
    tree = ast.parse((REPO / path).read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == name for t in node.targets):
            return ast.literal_eval(node.value)
    raise AssertionError(f"{name} not found in {path}")


def test_the_clouds_setting_rules_are_the_terminals():
    defaults = _firmware_dict("firmware/config.py", "DEFAULTS")
    least = _firmware_dict("firmware/handlers.py", "least")
    assert set(SETTINGS) | set(SHOP_SETTINGS) == set(defaults), \
        "a setting the terminal knows is missing, or v.v."
    assert not set(SETTINGS) & set(SHOP_SETTINGS)
    for key, rule in SETTINGS.items():
        assert rule.default == defaults[key], key
        assert rule.least == least.get(key, 0), key   # the terminal refuses below this
        assert rule.most >= defaults[key], key


async def pushed(t, n: int = 1) -> list[dict]:
    """The `config` commands carrying managers' settings (each connect also sends the
    shop's shift_diff_limit in a config of its own: cloud/commerce/resync.py)."""
    async with asyncio.timeout(20):
        while True:
            found = [c["data"] for c in t.commands
                     if c["typ"] == "config" and "shift_diff_limit" not in c["data"]]
            if len(found) >= n:
                return found
            await asyncio.sleep(0.02)


async def test_config_is_checked_sent_signed_and_sent_again_on_reconnect(terminal_shop):
    cloud, (k1, k2, k3) = terminal_shop
    manager = await cloud.user("manager", shop="shop1")
    url = f"{V1}/{k1.dev}/config"
    # Refused, each with a message naming the setting and what it may be; nothing is sent.
    for settings, says in (
            ({"max_failures": 0}, "max_failures: a whole number from 1 to 20"),
            ({"outbox_bytes": 1024}, "outbox_bytes: a whole number from 4096"),
            ({"lockout_s": -1}, "lockout_s"),
            ({"wifi_password": 1}, "not a terminal setting"),
            ({"shift_diff_limit": 500}, "shift_diff_limit: set on the shop's settings"),
            ({"heartbeat_s": 10**9}, "heartbeat_s: a whole number from 0 to 3600")):
        r = await cloud.client.post(url, headers=manager, json={"settings": settings})
        assert r.status == 400 and says in (await r.json())["message"], (
            settings, await r.text())
    for bad in ({"settings": {"session_s": "60"}}, {"settings": {"session_s": True}},
                {"settings": {}}, {"settings": [1]}, {"session_s": 60}):
        r = await cloud.client.post(url, headers=manager, json=bad)
        assert r.status == 400, (bad, await r.text())
    r = await cloud.client.post(url, headers=manager, json={"settings": {
        "session_s": 300, "heartbeat_s": 30}})
    assert r.status == 200 and (await r.json())["sent"] is True, await r.text()
    assert (await pushed(k1))[0] == {"session_s": 300, "heartbeat_s": 30}
    assert not [c for c in k2.commands if c["typ"] == "config"
                and "shift_diff_limit" not in c["data"]]  # only the one terminal
    # Offline, then back: the settings come again (the broker may have lost them).
    await k1.stop()
    await k1.start()
    sent = await pushed(k1, n=2)
    assert sent[1] == {"session_s": 300, "heartbeat_s": 30}
    # Shop 2's manager, and shop 1's seller, get nothing done.
    other = await cloud.user("manager", shop="shop2")
    seller = await cloud.user("seller", shop="shop1")
    r = await cloud.client.post(url, headers=other, json={"settings": {"session_s": 1}})
    assert r.status == 404
    r = await cloud.client.post(url, headers=seller, json={"settings": {"session_s": 1}})
    assert r.status == 403
    with in_app(cloud.app):
        audit = await AuditEntry.filter(target=f"device:{k1.dev}", action="device.config")
    assert [a.detail["settings"] for a in audit] == [{"session_s": 300, "heartbeat_s": 30}]


async def test_an_enrolment_is_started_only_for_a_seller_of_the_terminals_shop(terminal_shop):
    cloud, (k1, _k2, k3) = terminal_shop
    manager = await cloud.user("manager", shop="shop1")
    mine = await cloud.user("seller", shop="shop1")
    theirs = await cloud.user("seller", shop="shop2")
    for seller, status in ((theirs, 400), ({"X-User-Id": "999999"}, 400)):
        r = await cloud.client.post(f"{V1}/{k1.dev}/enrol", headers=manager,
                                    json={"seller": int(seller["X-User-Id"])})
        assert r.status == status, await r.text()
    r = await cloud.client.post(f"{V1}/{k1.dev}/enrol", headers=manager,
                                json={"seller": int(mine["X-User-Id"])})
    assert r.status == 200, await r.text()
    assert await commands(k1, "enrol_start") == [{"seller": mine["X-User-Id"]}]
    r = await cloud.client.post(f"{V1}/{k3.dev}/enrol", headers=manager,
                                json={"seller": int(mine["X-User-Id"])})
    assert r.status == 404   # shop 2's terminal


async def test_rename_move_and_history(cloud):
    await cloud.product("shopa", "tea", 250)
    await cloud.product("shopb", "tea", 250)
    await cloud.device("t1", "shopa")
    manager = await cloud.user("manager", shop="shopa")
    admin = await cloud.admin()
    for name in ("", "   ", "a" * 65, "收银台\n1", 7):
        r = await cloud.client.patch(f"{V1}/t1", headers=manager, json={"name": name})
        assert r.status == 400, (name, await r.text())
    r = await cloud.client.patch(f"{V1}/t1", headers=manager, json={"name": "  收银台 1 "})
    assert r.status == 200 and (await r.json())["name"] == "收银台 1"
    # Moving is an admin's: a manager may not give their terminal away.
    r = await cloud.client.post(f"{V1}/t1/move", headers=manager, json={"shop": "shopb"})
    assert r.status == 403
    r = await cloud.client.post(f"{V1}/t1/move", headers=admin, json={"shop": "nowhere"})
    assert r.status == 400 and "no shop" in await r.text()
    r = await cloud.client.post(f"{V1}/t1/move", headers=admin, json={"shop": "shopb"})
    assert r.status == 200 and (await r.json())["shop"] == "shopb"
    # Now shop A's manager does not see it at all; shop B's does, with its history.
    assert (await cloud.client.get(f"{V1}/t1/history", headers=manager)).status == 404
    manager_b = await cloud.user("manager", shop="shopb")
    r = await cloud.client.get(f"{V1}/t1/history", headers=manager_b)
    rows = (await r.json())["history"]
    assert [h["what"] for h in rows][:2] == ["device.move", "device.rename"]
    assert rows[0]["detail"] == {"from": "shopa", "to": "shopb"}


async def _login(cloud, role: str, shop: str, email: str) -> None:
    from fingerpos.cloud.accounts.users import create_user
    from fingerpos.cloud.models.users import Role
    with in_app(cloud.app):
        await create_user(email, "password123", Role(role), shop_id=shop, name="王芳")
    token = CSRF.search(await (await cloud.client.get("/login")).text()).group(1)
    r = await cloud.client.post("/login", data={"csrf": token, "email": email,
                                                "password": "password123", "next": "/"},
                                allow_redirects=False)
    assert r.status == 303, await r.text()


async def test_the_device_page_acts_and_keeps_what_was_typed(cloud):
    from fingerpos.cloud.models.shops import Shop
    await cloud.product("shopa", "tea", 250)
    await cloud.device("t1", "shopa")
    with in_app(cloud.app):
        await Shop.filter(id="shopa").update(timezone="Asia/Shanghai", name="茶铺")
    await _login(cloud, "manager", "shopa", "boss@example.com")
    page = await (await cloud.client.get("/devices/t1")).text()
    token = CSRF.search(page).group(1)
    assert "(Asia/Shanghai)" in page and "茶铺" in page
    # A bad value: the page again, 400, the error by the form, the typed value kept.
    r = await cloud.client.post("/devices/t1/config", data={
        "csrf": token, "session_s": "0", "heartbeat_s": "45"}, allow_redirects=False)
    text = await r.text()
    assert r.status == 400 and "session_s: a whole number from 1" in text
    assert re.search(r'id="f-heartbeat_s"[^>]*value="45"', text)
    r = await cloud.client.post("/devices/t1/config", data={
        "csrf": token, "session_s": "abc"}, allow_redirects=False)
    assert r.status == 400 and "is not a whole number" in await r.text()
    # Good: no broker link in this app, so stored for the next connect, and said so.
    r = await cloud.client.post("/devices/t1/config", data={
        "csrf": token, "session_s": "240"}, allow_redirects=False)
    assert r.status == 303 and r.headers["Location"] == "/devices/t1?done=config_stored"
    r = await cloud.client.post("/devices/t1/rename", data={"csrf": token, "name": "前台"},
                                allow_redirects=False)
    assert r.status == 303
    page = await (await cloud.client.get("/devices/t1?done=renamed")).text()
    assert "<h1>前台" in page and 'data-done="renamed"' in page
    assert 'id="f-session_s" name="session_s" inputmode="numeric" value="240"' in page
    devices = await (await cloud.client.get("/devices")).text()
    assert '<a href="/devices/t1">前台</a>' in devices
    # Forged (no CSRF token) and a key that is not hex: refused.
    r = await cloud.client.post("/devices/t1/revoke", data={}, allow_redirects=False)
    assert r.status == 403
    r = await cloud.client.post("/devices/t1/rotate", data={"csrf": token, "key": "zz" * 32},
                                allow_redirects=False)
    assert r.status == 400 and "only 0-9 and a-f" in await r.text()
    # The history shows it all in the shop's time (CST is Asia/Shanghai's abbreviation).
    page = await (await cloud.client.get("/devices/t1")).text()
    hist = page[page.index('id="history"'):]
    assert hist.index("device.rename") < hist.index("device.config") < hist.index(
        "device.register")
    assert " CST" in hist


async def test_a_seller_sees_the_page_but_no_actions_and_another_shop_sees_nothing(cloud):
    await cloud.product("shopa", "tea", 250)
    await cloud.product("shopb", "tea", 250)
    await cloud.device("t1", "shopa")
    await cloud.device("tb", "shopb")
    await _login(cloud, "seller", "shopa", "li@example.com")
    page = await (await cloud.client.get("/devices/t1")).text()
    assert 'id="history"' in page and 'id="config"' not in page and 'id="revoke"' not in page
    assert (await cloud.client.get("/devices/tb")).status == 404
    token = CSRF.search(await (await cloud.client.get("/devices")).text()).group(1)
    r = await cloud.client.post("/devices/t1/revoke", data={"csrf": token}, allow_redirects=False)
    assert r.status == 403
