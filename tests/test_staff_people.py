"""A shop's people over the JSON API (the staff pages call the same cloud/accounts/users.py):
invite with a one-time link, list, role, the price-change right, disable, the terminal PIN,
every action audited, and a second shop's manager refused throughout.

Outside references: a second shop; the protocol's own `pin_hash` (what the firmware
compares a typed PIN with) checked against the roster a real terminal receives through
Mosquitto; the reset link redeemed through the public reset endpoint.
"""

from __future__ import annotations

import asyncio
import dataclasses

import pytest
from fingerpos import protocol
from fingerpos.cloud.app import create_app
from fingerpos.cloud.models.alarms import AuditEntry
from fingerpos.tools.fleet import SimTerminal

from tests.conftest import CloudHarness, in_app

pytestmark = pytest.mark.cloud
USERS = "/api/v1/users"
LOGIN = "/api/v1/auth/login"


async def _audit(cloud, target: int) -> list[tuple[str, str, dict]]:
    with in_app(cloud.app):
        rows = await AuditEntry.filter(target=f"user:{target}").order_by("id")
    return [(r.actor, r.action, r.detail) for r in rows]


async def test_a_manager_invites_lists_and_changes_their_people_not_another_shops(cloud):
    manager = await cloud.user("manager", shop="shopa")
    boss = manager["X-User-Id"]
    other = await cloud.user("manager", shop="shopb")
    admin = await cloud.admin()
    # Invite: no password, so a one-time link; it sets the password and then signs in.
    r = await cloud.client.post(USERS, headers=manager, json={
        "email": "Li.Wei@Example.com", "name": "李伟", "role": "seller"})
    assert r.status == 201, await r.text()
    invited = await r.json()
    seller = invited["user"]
    assert seller["shop"] == "shopa" and seller["email"] == "li.wei@example.com"
    assert invited["reset"]["url"] == "/reset/" + invited["reset"]["token"]
    r = await cloud.client.post("/api/v1/auth/reset", json={
        "token": invited["reset"]["token"], "password": "李伟的密码 ok"})
    assert r.status == 200
    r = await cloud.client.post(LOGIN, json={"email": "li.wei@example.com",
                                             "password": "李伟的密码 ok"})
    assert r.status == 200
    # Refused: another shop, no shop for an admin's invite, a taken address, an admin role.
    for who, body, status in (
            (manager, {"email": "x@example.com", "role": "seller", "shop": "shopb"}, 403),
            (admin, {"email": "y@example.com", "role": "seller"}, 400),
            (manager, {"email": "li.wei@example.com", "role": "seller"}, 409),
            (manager, {"email": "z@example.com", "role": "admin"}, 400)):
        r = await cloud.client.post(USERS, headers=who, json=body)
        assert r.status == status, (body, await r.text())
    # Lists: a manager their shop's people, an admin everyone's.
    r = await cloud.client.get(USERS, headers=manager)
    assert {u["email"] for u in (await r.json())["users"]} == {"manager1@example.com",
                                                                 "li.wei@example.com"}
    assert (await cloud.client.get(USERS + "?shop=shopb", headers=manager)).status == 403
    r = await cloud.client.get(USERS, headers=admin)
    assert {u["shop"] for u in (await r.json())["users"]} == {"shopa", "shopb"}
    # Changes: the right and the role; shop B's manager cannot touch shop A's seller.
    url = f"{USERS}/{seller['id']}"
    r = await cloud.client.patch(url, headers=other, json={"can_change_price": True})
    assert r.status == 404
    r = await cloud.client.patch(url, headers=manager, json={"can_change_price": True,
                                                             "role": "manager"})
    assert r.status == 200 and (await r.json())["changed"] == ["can_change_price", "role"]
    r = await cloud.client.patch(f"{USERS}/{boss}", headers=manager, json={"disabled": True})
    assert r.status == 409      # not oneself: a manager cannot lock themselves out
    r = await cloud.client.patch(url, headers=manager, json={"disabled": True})
    assert r.status == 200
    r = await cloud.client.post(LOGIN, json={"email": "li.wei@example.com",
                                             "password": "李伟的密码 ok"})
    assert r.status == 401
    trail = await _audit(cloud, seller["id"])
    assert [a for _, a, _ in trail] == ["user.create", "user.reset_issued", "user.password_reset",
                                        "user.update", "user.update"]
    assert trail[0][0] == trail[3][0] == f"user:{boss}"
    assert trail[3][2] == {"changes": {"can_change_price": [False, True],
                                       "role": ["seller", "manager"]}}


async def test_a_pin_set_by_the_manager_reaches_the_terminal_as_the_protocols_hash(
        aiohttp_client, cloud_config, broker, topic_prefix):
    config = dataclasses.replace(cloud_config, ingest=True, mqtt_url=broker.url)
    cloud = CloudHarness(await aiohttp_client(create_app(config)))
    dev = topic_prefix + "p"
    key = await cloud.device(dev, "shopa")
    manager = await cloud.user("manager", shop="shopa")
    seller = await cloud.user("seller", shop="shopa")
    sid = seller["X-User-Id"]
    term = SimTerminal(dev, key, broker.url)
    await term.start()
    try:
        async with asyncio.timeout(10):   # the roster it gets on coming online
            while not any(c["typ"] == "roster" for c in term.commands):
                await asyncio.sleep(0.05)
        seen = len(term.commands)
        for pin, status in (("12ab", 400), ("123", 400), ("4821", 200)):
            r = await cloud.client.put(f"{USERS}/{sid}/pin", headers=manager, json={"pin": pin})
            assert r.status == status, await r.text()
        assert (await r.json())["terminals"] == 1
        other = await cloud.user("manager", shop="shopb")
        r = await cloud.client.put(f"{USERS}/{sid}/pin", headers=other, json={"pin": "1111"})
        assert r.status == 404

        async def next_roster() -> dict:
            nonlocal seen
            async with asyncio.timeout(10):
                while True:
                    for c in term.commands[seen:]:
                        seen += 1
                        if c["typ"] == "roster":
                            return {s["id"]: s for s in c["data"]["sellers"]}
                    await asyncio.sleep(0.05)

        roster = await next_roster()
        assert roster[sid]["pin"] == protocol.pin_hash(key, sid, "4821")
        assert roster[sid]["price"] is False
        r = await cloud.client.patch(f"{USERS}/{sid}", headers=manager,
                                     json={"can_change_price": True})
        assert (await next_roster())[sid]["price"] is True
        r = await cloud.client.patch(f"{USERS}/{sid}", headers=manager, json={"disabled": True})
        assert sid not in await next_roster()    # a disabled seller cannot log in there
    finally:
        await term.stop()
    assert [a for _, a, _ in await _audit(cloud, int(sid))] == [
        "user.create", "user.pin_set", "user.update", "user.update"]


async def test_hostile_input_on_the_people_pages_is_refused_clearly(cloud):
    """Forms posted by hand (no browser): each refused with a 4xx and a message, nothing
    made, never a 500; an admin's typo in a shop id does not create a shop."""
    from fingerpos.cloud.accounts import auth
    from fingerpos.cloud.models.shops import Shop
    from fingerpos.cloud.models.users import User
    manager = await cloud.user("manager", shop="shopa")
    admin = await cloud.admin()

    async def post(who: dict, path: str, form: dict | bytes, ctype: str | None = None):
        with in_app(cloud.app):
            token, csrf = await auth.start_session(await User.get(id=int(who["X-User-Id"])))
        cloud.client.session.cookie_jar.clear()
        cloud.client.session.cookie_jar.update_cookies({auth.SESSION_COOKIE: token},
                                                       cloud.client.make_url("/"))
        data = form if isinstance(form, bytes) else {"csrf": csrf, **form}
        headers = {"Content-Type": ctype} if ctype else {}
        r = await cloud.client.post(path, data=data, headers=headers, allow_redirects=False)
        return r.status, await r.text()

    for form in ({"email": "a" * 300 + "@example.com"}, {"email": "no-at-sign"},
                 {"email": "x@example.com", "role": "admin"},
                 {"email": "x@example.com", "role": "seller", "shop": "shopb"},
                 {"email": "x@example.com", "name": "n" * 500}, {}):
        status, text = await post(manager, "/shop/people", form)
        assert status in (400, 403), (form, status)
        assert 'class="error' in text, form
    status, text = await post(manager, "/shop/people", b"csrf=%ff%fe&email=%00",
                              "application/x-www-form-urlencoded")
    assert 400 <= status < 500
    status, text = await post(admin, "/shop/people", {"email": "x@example.com", "shop": "shopz"})
    assert status == 400 and "there is no shop shopz" in text
    for path in ("/shop/people/0", "/shop/people/99999999999", "/shop/people/1e3",
                 "/shop/people/%E4%B8%AD/pin"):
        status, _ = await post(manager, path, {"pin": "1234", "pin2": "1234"})
        assert status == 404, path
    with in_app(cloud.app):
        assert not await User.filter(email__startswith="x@").exists()
        assert not await Shop.exists(id="shopz")
