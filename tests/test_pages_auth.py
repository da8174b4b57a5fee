"""The sign-in pages over HTTP (no browser): security headers, forms and their CSRF tokens,
field errors, cookie flags, no user enumeration, open redirects, the failed-sign-in notice,
registration throttling, the staff-only pages and the live feeds' Origin check."""

from __future__ import annotations

import re

import pytest

from .support.pages import post, register_and_login

pytestmark = pytest.mark.cloud


async def test_pages_render_with_security_headers(cloud):
    r = await cloud.client.get("/")
    assert r.status == 200
    assert "script-src 'self'" in r.headers["Content-Security-Policy"]
    assert r.headers["X-Frame-Options"] == "DENY"
    assert "fp_pre" in r.cookies and r.cookies["fp_pre"]["httponly"]
    assert r.cookies["fp_pre"]["samesite"] == "Strict"
    for path in ("/login", "/register", "/cart", "/static/site.css", "/static/live.js"):
        assert (await cloud.client.get(path)).status == 200, path


async def test_register_field_errors_are_next_to_their_fields(cloud):
    r = await post(cloud.client, "/register", {"email": "not-an-address", "password": "short",
                                               "password2": "short"})
    assert r.status == 400
    html = await r.text()
    assert re.search(r'data-field="email">enter an email address', html)
    assert re.search(r'data-field="password">must be at least 8 characters', html)
    assert 'value="not-an-address"' in html        # what was typed stays, except passwords
    r = await post(cloud.client, "/register", {"email": "a@example.com", "password": "password1",
                                               "password2": "password2"})
    assert 'data-field="password2">the two passwords differ' in await r.text()


async def test_forms_need_their_csrf_token(cloud):
    r = await cloud.client.post("/login", data={"email": "a@example.com", "password": "x"},
                                allow_redirects=False)
    assert r.status == 403 and "another site" in await r.text()
    await register_and_login(cloud.client)
    r = await cloud.client.post("/logout", data={"csrf": "wrong"}, allow_redirects=False)
    assert r.status == 403


async def test_login_cookie_flags_and_no_user_enumeration(cloud):
    await register_and_login(cloud.client)
    cookie = cloud.client.session.cookie_jar.filter_cookies(cloud.client.make_url("/"))
    assert "fp_session" in cookie
    r = await post(cloud.client, "/register", {"email": "ann@example.com", "password": "another one",
                                               "password2": "another one"})
    # A taken address answers exactly like a free one.
    assert r.status == 303 and r.headers["Location"] == "/login?registered=1"
    bad_known = await post(cloud.client, "/login", {"email": "ann@example.com", "password": "nope!"})
    bad_unknown = await post(cloud.client, "/login", {"email": "zed@example.com", "password": "nope!"})
    assert bad_known.status == bad_unknown.status == 401
    assert "wrong email or password" in await bad_known.text()
    assert "wrong email or password" in await bad_unknown.text()


async def test_login_sets_httponly_lax_cookie(cloud):
    await post(cloud.client, "/register", {"email": "b@example.com", "password": "password123",
                                           "password2": "password123"})
    r = await post(cloud.client, "/login", {"email": "b@example.com", "password": "password123",
                                            "next": "/orders"})
    assert r.status == 303 and r.headers["Location"] == "/orders?signed_in=1"
    morsel = r.cookies["fp_session"]
    assert morsel["httponly"] and morsel["samesite"] == "Lax" and morsel["path"] == "/"


async def test_open_redirect_is_refused(cloud):
    await post(cloud.client, "/register", {"email": "c@example.com", "password": "password123",
                                           "password2": "password123"})
    r = await post(cloud.client, "/login", {"email": "c@example.com", "password": "password123",
                                            "next": "//evil.example/x"})
    assert r.headers["Location"] == "/?signed_in=1"


async def test_failed_signins_are_shown_to_the_owner_after_login(cloud):
    await register_and_login(cloud.client, "owner@example.com", "password123")
    cloud.client.session.cookie_jar.clear()
    for _ in range(2):
        r = await post(cloud.client, "/login", {"email": "owner@example.com", "password": "guess"})
        assert r.status == 401
    r = await post(cloud.client, "/login", {"email": "owner@example.com", "password": "password123",
                                            "next": "/"})
    page = await (await cloud.client.get(r.headers["Location"])).text()
    assert "2 failed sign-in attempts on your account" in page
    # The next login has nothing new to report.
    cloud.client.session.cookie_jar.clear()
    r = await post(cloud.client, "/login", {"email": "owner@example.com", "password": "password123",
                                            "next": "/"})
    page = await (await cloud.client.get(r.headers["Location"])).text()
    assert "failed sign-in" not in page


async def test_registrations_are_throttled_per_address(cloud):
    from fingerpos.cloud.accounts.auth_signin import REGISTER_LIMIT
    for n in range(REGISTER_LIMIT):
        r = await post(cloud.client, "/register", {"email": f"r{n}@example.com", "password": "x"})
        assert r.status == 400
    r = await post(cloud.client, "/register", {"email": "late@example.com",
                                               "password": "password123",
                                               "password2": "password123"})
    assert r.status == 429 and "too many registrations" in await r.text()


async def test_staff_pages_need_staff(cloud):
    r = await cloud.client.get("/monitor", allow_redirects=False)
    assert r.status == 303 and r.headers["Location"] == "/login?next=/monitor"
    await register_and_login(cloud.client)
    r = await cloud.client.get("/monitor")
    assert r.status == 403 and "for seller or manager or admin" in await r.text()


async def test_live_feeds_refuse_a_foreign_origin(cloud):
    await register_and_login(cloud.client)
    for path in ("/api/v1/orders/ws", "/api/v1/monitor/ws"):
        r = await cloud.client.get(path, headers={
            "Origin": "https://evil.example", "Connection": "Upgrade", "Upgrade": "websocket",
            "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="})
        assert r.status == 403, path
    ws = await cloud.client.ws_connect("/api/v1/orders/ws",
                                       headers={"Origin": str(cloud.client.make_url("/"))[:-1]})
    assert (await ws.receive_json(timeout=5))["kind"] == "hello"
    await ws.close()


async def test_failed_api_logins_are_in_the_owners_notice_too(cloud):
    """The JSON API's login goes through the same place as the form: its failures count."""
    await register_and_login(cloud.client, "api-owner@example.com", "password123")
    cloud.client.session.cookie_jar.clear()
    for _ in range(3):
        r = await cloud.client.post("/api/v1/auth/login", json={
            "email": "api-owner@example.com", "password": "guess"})
        assert r.status == 401
    r = await post(cloud.client, "/login", {"email": "api-owner@example.com", "password": "guess"})
    assert r.status == 401
    r = await post(cloud.client, "/login", {"email": "api-owner@example.com",
                                            "password": "password123", "next": "/"})
    page = await (await cloud.client.get(r.headers["Location"])).text()
    assert "4 failed sign-in attempts on your account" in page
    assert page.count("failed sign-in through the API") == 3
    # An API login is a login too: the next notice starts after it.
    r = await cloud.client.post("/api/v1/auth/login", json={
        "email": "api-owner@example.com", "password": "password123"})
    assert r.status == 200
    r = await post(cloud.client, "/login", {"email": "api-owner@example.com",
                                            "password": "password123", "next": "/"})
    assert "failed sign-in" not in await (await cloud.client.get(r.headers["Location"])).text()
