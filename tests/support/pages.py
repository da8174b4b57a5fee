"""Shortcuts the page tests share: a form's CSRF token, posting a form, logging in."""

from __future__ import annotations

import re

from tests.conftest import in_app

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


async def csrf_of(client, path: str = "/login") -> str:
    r = await client.get(path)
    assert r.status == 200, await r.text()
    return CSRF.search(await r.text()).group(1)


async def post(client, path: str, data: dict, page: str = "/login", **kw):
    token = await csrf_of(client, page)
    return await client.post(path, data={"csrf": token, **data}, allow_redirects=False, **kw)


async def start_payment(client, order_path: str, version: str) -> str:
    """Press Pay on the order page: a payment intent, then the sandbox's hosted page."""
    r = await post(client, order_path + "/pay", {"version": version}, page=order_path)
    assert r.status == 303 and r.headers["Location"].startswith("/pay/sandbox/pi_"), await r.text()
    return r.headers["Location"]


async def register_and_login(client, email: str = "ann@example.com",
                             password: str = "correct horse") -> None:
    r = await post(client, "/register", {"email": email, "password": password,
                                         "password2": password, "name": "Ann"})
    assert r.status == 303 and r.headers["Location"] == "/login?registered=1"
    r = await post(client, "/login", {"email": email, "password": password, "next": "/"})
    assert r.status == 303, await r.text()


async def staff_session(cloud, role: str = "manager", can_change_price: bool = False) -> None:
    from fingerpos.cloud.accounts.users import create_user
    from fingerpos.cloud.models.users import Role
    with in_app(cloud.app):
        await create_user(f"{role}@example.com", "password123", Role(role), shop_id="shop1",
                          can_change_price=can_change_price)
    r = await post(cloud.client, "/login", {"email": f"{role}@example.com",
                                            "password": "password123", "next": "/"})
    assert r.headers["Location"] == "/monitor?signed_in=1"
