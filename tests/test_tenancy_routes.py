"""Tenancy, generated from the route table: every route of the app, walked as every role of
shop A (and anonymously) with shop B's ids, must refuse, and nothing of shop B may show.

The walk reads app.router.routes(), so a route added later is walked too; a route
without a declared policy fails here (and is refused at run time). The outside reference
is a second shop with its own terminal, order, alarm, payment and manager: shop A's
people must meet none of it. Manager B then opens the same URLs, which proves the ids
are real (a walk with wrong ids would pass for nothing).
"""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, datetime

import pytest
from fingerpos.cloud.accounts import auth
from fingerpos.cloud.api import policy as P
from fingerpos.cloud.fleet import alarms
from fingerpos.cloud.models.shifts import Shift
from fingerpos.cloud.models.users import User
from fingerpos.cloud.orders import shiftlog

from .conftest import in_app

pytestmark = pytest.mark.cloud
MARKERS = re.compile(r"shopb|devb|secretb", re.I)
REFUSED = {401, 403, 404}
# The only routes anyone may call without signing in. A staff route marked PUBLIC by
# mistake shows up here as a difference.
PUBLIC_PATHS = {
    "/", "/product/{shop}/{sku}", "/cart", "/checkout", "/login", "/register", "/logout",
    "/api/v1/auth/register", "/api/v1/auth/login", "/api/v1/auth/reset", "/api/v1/shops/{shop}/products",
    "/api/v1/products/search", "/api/v1/shops/{shop}/products/{sku}",
    "/api/v1/shops/{shop}/categories", "/api/v1/payments/sandbox/callback",
    "/api/v1/payments/sandbox/refund-callback", "/healthz",
    "/metrics", "/api/v1/openapi.json", "/static", "/reset/{token}"}
# Routes whose foreign shop travels in the body rather than the path.
BODIES = {("POST", "/api/v1/devices"): {"id": "x-new", "shop": "shopb", "key": "00" * 32},
          ("POST", "/api/v1/users"): {"email": "z@example.com", "password": "password123",
                                      "role": "seller", "shop": "shopb"}}


async def _session(cloud, user_id: int) -> dict[str, str]:
    with in_app(cloud.app):
        token, csrf = await auth.start_session(await User.get(id=user_id))
    return {"_session": token, "X-CSRF-Token": csrf, "_csrf": csrf}


async def _shop_b(cloud) -> dict[str, str]:
    """Shop B's objects: the ids the walk fills the paths with."""
    await cloud.product("shopa", "tea", 250)
    await cloud.product("shopb", "secretb-tea", 990)
    await cloud.device("deva-1", "shopa")
    await cloud.device("devb-1", "shopb")
    buyer_b = await cloud.user()
    r = await cloud.client.post("/api/v1/orders", headers=buyer_b, json={
        "shop": "shopb", "items": [{"sku": "secretb-tea", "qty": 1}]})
    order = await r.json()
    r = await cloud.client.post(f"/api/v1/orders/{order['id']}/payments", headers=buyer_b,
                                json={"provider": "sandbox", "version": 1})
    intent = await r.json()
    manager_b = await cloud.user("manager", shop="shopb")
    with in_app(cloud.app):
        alarm = await alarms.raise_alarm("devb-1", "offline", "warning", "devb-1 offline")
        shift = await Shift.create(shop_id="shopb", device_id="devb-1", number=1, open_seq=1,
                                   opened_at=datetime.now(UTC))
        await shiftlog.append(shift, "shopb", "devb-1", 1, None, "open", amount=5000,
                              seller="secretb-seller", number=1)
    return {"order": str(order["id"]), "alarm": str(alarm.id), "device": "devb-1",
            "shift": str(shift.id),
            "shop": "shopb", "sku": "secretb-tea", "intent": intent["id"],
            "user": manager_b["X-User-Id"], "_buyer_b": buyer_b["X-User-Id"],
            "_manager_b": manager_b["X-User-Id"]}


def _routes(app):
    """(method, path template, policy) of every route, HEAD included."""
    out = []
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter") or info.get("prefix")
        out.append((route.method, path, app[P.ROUTE_POLICIES].get(route)))
    return out


async def _call(cloud, method: str, path: str, who: dict[str, str], ids: dict[str, str],
                query: str = ""):
    url = re.sub(r"{(\w+)[^}]*}", lambda m: ids[m.group(1)], path) + query
    headers = {k: v for k, v in who.items() if not k.startswith("_")}
    kw: dict = {}
    if method in ("POST", "DELETE", "PUT", "PATCH"):
        if path.startswith("/api/"):
            kw["json"] = BODIES.get((method, path), {})
        else:
            kw["data"] = {"csrf": who.get("_csrf", "")}
    cloud.client.session.cookie_jar.clear()   # only the role's own session cookie is sent
    if "_session" in who:
        cloud.client.session.cookie_jar.update_cookies({auth.SESSION_COOKIE: who["_session"]},
                                                       cloud.client.make_url("/"))
    r = await cloud.client.request(method, url, headers=headers, allow_redirects=False, **kw)
    return r.status, (await r.read()).decode("utf-8", "replace")


async def test_every_route_refuses_shop_a_people_shop_b_ids(cloud):
    ids = await _shop_b(cloud)
    roles = {"anonymous": {}}
    for role in ("buyer", "seller", "manager"):
        user = await cloud.user(role, shop=None if role == "buyer" else "shopa")
        roles[role] = await _session(cloud, int(user["X-User-Id"]))
    routes = _routes(cloud.app)
    assert [r for r in routes if r[2] is None] == [], "routes without a declared policy"
    public = {path for _, path, policy in routes if policy.public}
    assert public == PUBLIC_PATHS
    leaks = []
    for method, path, policy in routes:
        if policy.public or path.endswith("/logout"):   # logout would end the role's session
            continue
        owned = bool(re.search(r"{(order|alarm|device|shop|intent|user|shift)\b", path))
        queries = [""] if owned else ["", "?shop=shopb"]
        for role, who in roles.items():
            for q in queries:
                status, text = await _call(cloud, method, path, who, ids, q)
                mutating = method not in ("GET", "HEAD")
                refused = status in REFUSED or (status == 303 and role == "anonymous")
                if refused:   # (its message may repeat the id it was asked for)
                    continue
                if owned or (mutating and (method, path) in BODIES):
                    leaks.append((role, method, path + q, status, text[:120]))
                elif MARKERS.search(text):
                    leaks.append((role, method, path + q, status, "shows shop B: " + text[:120]))
    assert leaks == [], "\n".join(map(str, leaks))


async def test_shop_b_manager_reaches_the_same_urls(cloud):
    """The ids of the walk are real: shop B's own manager opens every GET route with them."""
    ids = await _shop_b(cloud)
    manager_b = await _session(cloud, int(ids["_manager_b"]))
    buyer_b = await _session(cloud, int(ids["_buyer_b"]))
    for method, path, policy in _routes(cloud.app):
        if method != "GET" or policy.public or path.endswith("/ws"):
            continue
        who = buyer_b if policy is P.BUYER else manager_b
        if policy is P.ADMIN or (who is manager_b and "{user}" in path):
            continue
        status, text = await _call(cloud, method, path, who, ids)
        assert status not in REFUSED, (path, status, text[:200])
    status, _ = await _call(cloud, "POST", "/api/v1/alarms/{alarm}/ack", manager_b, ids)
    assert status == 200


async def _next(ws, kind: str, timeout: float = 5.0) -> dict:
    async with asyncio.timeout(timeout):
        while True:
            msg = json.loads((await ws.receive()).data)
            if msg["kind"] == kind:
                return msg


async def test_a_second_shops_terminal_order_and_alarm_never_reach_the_first_shops_socket(cloud):
    """Plain WebSocket clients of both shops' managers, side by side, with an admin: each
    of shop B's changes reaches B and the admin, never A; A's own still reach A."""
    from fingerpos.cloud.core import monitor
    await cloud.product("shopa", "tea", 250)
    await cloud.product("shopb", "secretb-tea", 990)
    await cloud.device("deva-1", "shopa")
    await cloud.device("devb-1", "shopb")
    heads = {"a": await cloud.user("manager", shop="shopa"),
             "b": await cloud.user("manager", shop="shopb"), "admin": await cloud.admin()}
    feeds = {k: await cloud.client.ws_connect("/api/v1/monitor/ws", headers=h)
             for k, h in heads.items()}
    snap_a = (await _next(feeds["a"], "snapshot"))["data"]
    assert [d["id"] for d in snap_a["devices"]] == ["deva-1"]
    buyer = await cloud.user()
    r = await cloud.client.post("/api/v1/orders", headers=buyer, json={
        "shop": "shopb", "items": [{"sku": "secretb-tea", "qty": 1}]})
    assert r.status == 201
    with in_app(cloud.app):
        await alarms.raise_alarm("devb-1", "offline", "warning", "devb-1 offline")
        await monitor.publish(cloud.app, "device", {"id": "devb-1", "online": True})
    for k in ("b", "admin"):
        assert (await _next(feeds[k], "order"))["data"]["shop"] == "shopb"
        assert (await _next(feeds[k], "alarm"))["data"]["device"] == "devb-1"
        assert (await _next(feeds[k], "device"))["data"]["shop"] == "shopb"
    # A's own device message comes after B's: everything A was sent is on its socket now.
    with in_app(cloud.app):
        await monitor.publish(cloud.app, "device", {"id": "deva-1", "online": True})
    seen = []
    async with asyncio.timeout(5):
        while not seen or seen[-1]["kind"] != "device":
            seen.append(json.loads((await feeds["a"].receive()).data))
    # The periodic state counts (every 2 s, cloud/core/monitor.py) may come in between: A's
    # are its own shop's, which has no orders, so B's order must not be counted in them.
    counts = [m["data"] for m in seen if m["kind"] == "counts"]
    assert counts in ([], [{}]), counts
    rest = [m for m in seen if m["kind"] != "counts"]
    assert [m["kind"] for m in rest] == ["device"] and rest[0]["data"]["id"] == "deva-1"
    for ws in feeds.values():
        await ws.close()

