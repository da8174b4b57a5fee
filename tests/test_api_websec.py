"""Web security of the API and the forms, against a hostile client: cross-site posts
(Fetch Metadata and Origin, whatever the Content-Type), non-JSON bodies, deeply nested
JSON, an Idempotency-Key reused for another request (Stripe answers that with an error),
405 with Allow (RFC 9110 §15.5.6) and HEAD on GET routes (RFC 9110 §9.3.2)."""

from __future__ import annotations

import pytest

from .support.pages import csrf_of

pytestmark = pytest.mark.cloud
LOGIN = "/api/v1/auth/login"


async def test_cross_site_posts_are_refused_whatever_the_content_type(cloud):
    await cloud.user()
    creds = {"email": "buyer1@example.com", "password": "password123"}
    for headers in ({"Origin": "http://evil.example"}, {"Sec-Fetch-Site": "cross-site"},
                    {"Sec-Fetch-Site": "same-site"}, {"Origin": "null"}):
        r = await cloud.client.post(LOGIN, json=creds, headers=headers)
        assert r.status == 403, headers          # login CSRF: no cookie gets set
        assert "fp_session" not in r.cookies
        r = await cloud.client.post("/api/v1/auth/register", headers=headers, json={
            "email": "x@example.com", "password": "password123", "name": "X"})
        assert r.status == 403
        # A form post (text/plain or urlencoded needs no preflight): refused the same way.
        token = await csrf_of(cloud.client, "/register")
        r = await cloud.client.post("/register", headers=headers, allow_redirects=False, data={
            "csrf": token, "email": "y@example.com", "password": "password123",
            "password2": "password123"})
        assert r.status == 403
    host = f"http://127.0.0.1:{cloud.client.port}"
    r = await cloud.client.post(LOGIN, json=creds, headers={"Origin": host,
                                                            "Sec-Fetch-Site": "same-origin"})
    assert r.status == 200
    assert (await cloud.client.post(LOGIN, json=creds)).status == 200   # not a browser


async def test_json_endpoints_take_only_json_and_bounded_nesting(cloud):
    r = await cloud.client.post(LOGIN, data='{"email": "a@b.c", "password": "12345678"}',
                                headers={"Content-Type": "text/plain"})
    assert r.status == 415 and (await r.json())["error"] == "unsupported_media_type"
    for depth in (40, 30_000):   # 60 KB: under the size limit, over the stack
        r = await cloud.client.post(LOGIN, data="[" * depth + "]" * depth,
                                    headers={"Content-Type": "application/json"})
        assert r.status == 400, depth
    deep = '{"email": "a@b.c", "password": "12345678", "x": ' + "[" * 50 + "]" * 50 + "}"
    r = await cloud.client.post(LOGIN, data=deep, headers={"Content-Type": "application/json"})
    assert r.status == 400 and "deeper" in (await r.json())["message"]


async def test_an_idempotency_key_is_bound_to_its_request(cloud):
    buyer = await cloud.user()
    await cloud.product("shop1", "tea", 250)
    r = await cloud.client.post("/api/v1/orders", headers=buyer,
                                json={"shop": "shop1", "items": [{"sku": "tea", "qty": 1}]})
    oid = (await r.json())["id"]
    url = f"/api/v1/orders/{oid}/payments"
    key = {**buyer, "Idempotency-Key": "k-1"}
    first = await cloud.client.post(url, headers=key, json={"provider": "sandbox", "version": 1})
    again = await cloud.client.post(url, headers=key, json={"provider": "sandbox", "version": 1})
    assert first.status == again.status == 201
    assert (await first.json()) == (await again.json())
    other = await cloud.client.post(url, headers=key, json={"provider": "cash", "version": 1})
    assert other.status == 422 and (await other.json())["error"] == "idempotency_key_reused"


async def test_405_names_the_allowed_methods_and_head_answers_get_routes(cloud):
    r = await cloud.client.delete(LOGIN)
    assert r.status == 405 and r.headers["Allow"] == "POST"
    assert (await r.json())["error"] == "method_not_allowed"
    r = await cloud.client.put("/login")
    assert r.status == 405 and set(r.headers["Allow"].split(",")) >= {"GET", "POST"}
    for path in ("/", "/api/v1/products/search", "/healthz", "/login"):
        r = await cloud.client.head(path)
        assert r.status == 200 and await r.read() == b"", path
