"""Accounts: registration, argon2id passwords, sessions with CSRF, API tokens, throttling."""

from __future__ import annotations

import pytest
from fingerpos.cloud.models.alarms import Alarm, AuditEntry
from fingerpos.cloud.models.users import ApiToken, Session, User

from .conftest import in_app

pytestmark = pytest.mark.cloud
ME = "/api/v1/auth/me"


async def _register_and_login(client, email="ann@example.com", password="correct horse"):
    r = await client.post("/api/v1/auth/register", json={"email": email, "password": password})
    assert r.status == 201, await r.text()
    r = await client.post("/api/v1/auth/login", json={"email": email, "password": password})
    assert r.status == 200, await r.text()
    set_cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in set_cookie and "SameSite=Lax" in set_cookie
    return await r.json()


async def test_register_login_me_logout(cloud):
    login = await _register_and_login(cloud.client)
    assert login["user"]["role"] == "buyer"
    cookie = cloud.client.session.cookie_jar.filter_cookies(cloud.client.make_url("/"))["fp_session"]
    me = await (await cloud.client.get(ME)).json()
    assert me["user"]["email"] == "ann@example.com" and me["csrf"] == login["csrf"]
    with in_app(cloud.app):
        user = await User.get(email="ann@example.com")
        assert user.password_hash.startswith("$argon2id$")
        assert "correct horse" not in user.password_hash
        session = await Session.get(user_id=user.id)
        assert session.token_hash != cookie.value and len(session.token_hash) == 64
    r = await cloud.client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": login["csrf"]})
    assert r.status == 200
    assert (await cloud.client.get(ME)).status == 401


async def test_cookie_writes_need_the_csrf_token(cloud):
    await _register_and_login(cloud.client)
    r = await cloud.client.post("/api/v1/auth/logout")
    assert r.status == 403 and (await r.json())["error"] == "forbidden"
    r = await cloud.client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": "0" * 32})
    assert r.status == 403


async def test_a_taken_email_answers_like_a_free_one(cloud):
    """No user enumeration: the API's register answers alike; the owner is told instead."""
    body = {"email": "b@example.com", "password": "12345678"}
    first = await cloud.client.post("/api/v1/auth/register", json=body)
    again = await cloud.client.post("/api/v1/auth/register", json={**body, "email": "B@example.com",
                                                                   "password": "another one"})
    assert first.status == again.status == 201
    assert await first.json() == await again.json()
    r = await cloud.client.post("/api/v1/auth/login", json=body)      # the first one's password
    assert r.status == 200
    with in_app(cloud.app):
        taken = await AuditEntry.get(action="auth.register_taken")
        assert taken.user_id == (await r.json())["user"]["id"]


@pytest.mark.parametrize("body", [
    b"", b"[]", b"not json", b'{"email": "x@y.z"}', b'{"email": 5, "password": "12345678"}',
    b'{"email": "x@y.z", "password": "short"}', b'{"email": "x@y.z", "password": "12345678", "x": 1}',
    b'{"email": "' + b"a" * 300 + b'@y.z", "password": "12345678"}', b"\xff\xfe",
])
async def test_bad_registration_bodies_are_400(cloud, body):
    r = await cloud.client.post("/api/v1/auth/register", data=body,
                                headers={"Content-Type": "application/json"})
    assert r.status == 400
    assert set(await r.json()) == {"error", "message"}


async def test_oversized_body_is_413(cloud):
    r = await cloud.client.post("/api/v1/auth/register", data=b"{" + b" " * 70000 + b"}")
    assert r.status == 413


async def test_bearer_tokens_are_stored_hashed_and_checked(cloud):
    headers = await cloud.user("admin")
    token = headers["Authorization"].split()[1]
    assert (await cloud.client.get(ME, headers=headers)).status == 200
    with in_app(cloud.app):
        assert not await ApiToken.filter(token_hash=token).exists()
    for bad in ("Bearer nope", "Basic abc", "Bearer "):
        r = await cloud.client.get(ME, headers={"Authorization": bad})
        assert r.status == 401


async def test_failed_logins_are_throttled_and_raise_an_alarm(cloud):
    await cloud.client.post("/api/v1/auth/register",
                            json={"email": "c@example.com", "password": "rightpassword"})
    for _ in range(5):
        r = await cloud.client.post("/api/v1/auth/login",
                                    json={"email": "c@example.com", "password": "wrong-one"})
        assert r.status == 401
    r = await cloud.client.post("/api/v1/auth/login",
                                json={"email": "c@example.com", "password": "rightpassword"})
    assert r.status == 429 and (await r.json())["error"] == "throttled"
    with in_app(cloud.app):
        alarm = await Alarm.get(kind="web_login")
        assert "c@example.com" in alarm.message and alarm.cleared_at is None
    assert "fingerpos_login_failures_total 5" in await (await cloud.client.get("/metrics")).text()


async def test_nul_characters_are_refused_not_stored(cloud):
    r = await cloud.client.post("/api/v1/auth/register",
                                json={"email": "n@example.com", "password": "pass\u0000word"})
    assert r.status == 400 and "NUL" in (await r.json())["message"]
    r = await cloud.client.get("/api/v1/orders?shop=a%00", headers=await cloud.user())
    assert r.status == 400
