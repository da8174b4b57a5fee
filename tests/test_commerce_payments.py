"""Payments: intents for one order version, the sandbox page's submission (card checked,
never stored), the signed callback (forged, stale, replayed ones refused), idempotency keys
under 50 concurrent requests, throttling, and CSRF on the buyer's session."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from fingerpos.cloud.commerce import checkout
from fingerpos.cloud.commerce.payments import SIGNATURE_HEADER, sign_callback
from fingerpos.cloud.core.appkeys import CONFIG
from fingerpos.cloud.models.commerce import IdempotencyRecord, PaymentIntent
from fingerpos.cloud.models.orders import Payment

from tests.conftest import in_app

pytestmark = pytest.mark.cloud
CARD = "4242 4242 4242 4242"
GOOD = {"card_number": CARD, "expiry": "12/30", "cvc": "123"}


async def _order(cloud, buyer=None):
    await cloud.product("s1", "tea", 250)
    buyer = buyer or await cloud.user("buyer")
    r = await cloud.client.post("/api/v1/orders", headers=buyer,
                                json={"shop": "s1", "items": [{"sku": "tea", "qty": 2}]})
    assert r.status == 201, await r.text()
    return buyer, await r.json()


async def _intent(cloud, buyer, order, version=None, headers=None):
    return await cloud.client.post(f"/api/v1/orders/{order['id']}/payments",
                                   json={"version": version or order["version"]},
                                   headers=buyer | (headers or {}))


async def _pay(cloud, buyer, intent_id, body=None, headers=None):
    return await cloud.client.post(f"/api/v1/pay/sandbox/{intent_id}", json=body or GOOD,
                                   headers=buyer | (headers or {}))


def _secret(cloud) -> bytes:
    from fingerpos.cloud.core.appkeys import CONFIG
    return checkout.sandbox(cloud.app[CONFIG].key_secret).secret


async def test_sandbox_payment_pays_the_order_and_keeps_no_card_number(cloud):
    buyer, order = await _order(cloud)
    r = await _intent(cloud, buyer, order)
    assert r.status == 201
    intent = await r.json()
    assert (intent["amount"], intent["currency"], intent["version"]) == (500, "EUR", 1)
    assert intent["pay_url"] == f"/pay/sandbox/{intent['id']}"
    r = await cloud.client.get(f"/api/v1/pay/sandbox/{intent['id']}", headers=buyer)
    assert (await r.json())["status"] == "open"
    r = await _pay(cloud, buyer, intent["id"], headers={"Idempotency-Key": "k1"})
    assert r.status == 200, await r.text()
    paid = await r.json()
    assert paid["paid"] is True and paid["order"]["state"] == "paid"
    assert len(paid["pickup_code"]) == 6 and paid["intent"]["card_last4"] == "4242"
    with in_app(cloud.app):
        stored = [json.dumps(x.__dict__, default=str) for x in
                  await PaymentIntent.all()] + [json.dumps(x.response) for x in
                                                await IdempotencyRecord.all()]
        assert await Payment.filter(order_id=order["id"], accepted=True, method="sandbox").count() == 1
    assert not any("4242424242424242" in s or CARD in s for s in stored)
    r = await _pay(cloud, buyer, intent["id"])                     # paid already
    assert r.status == 409


async def test_declined_card_fails_the_intent(cloud):
    buyer, order = await _order(cloud)
    intent = await (await _intent(cloud, buyer, order)).json()
    r = await _pay(cloud, buyer, intent["id"], GOOD | {"outcome": "decline"})
    assert r.status == 200
    assert (await r.json())["paid"] is False
    r = await cloud.client.get(f"/api/v1/orders/{order['id']}", headers=buyer)
    assert (await r.json())["state"] == "pending_payment"
    assert (await _pay(cloud, buyer, intent["id"])).status == 409


async def test_stale_version_is_refused_with_a_clear_message(cloud):
    buyer, order = await _order(cloud)
    intent = await (await _intent(cloud, buyer, order)).json()
    manager = await cloud.user("manager", shop="s1")
    r = await cloud.client.post(f"/api/v1/orders/{order['id']}/price", headers=manager,
                                json={"version": 1, "total": 400, "reason": "discount"})
    assert r.status == 200
    r = await _pay(cloud, buyer, intent["id"])
    assert r.status == 409
    assert "stale version" in (await r.json())["message"]
    r = await _intent(cloud, buyer, order, version=1)
    assert r.status == 409 and "version 2" in (await r.json())["message"]
    fresh = await (await _intent(cloud, buyer, order, version=2)).json()
    assert fresh["amount"] == 400
    r = await _pay(cloud, buyer, fresh["id"])
    assert r.status == 200 and (await r.json())["order"]["total"] == 400


async def test_fifty_identical_pay_requests_make_one_payment(cloud):
    buyer, order = await _order(cloud)
    intent = await (await _intent(cloud, buyer, order)).json()
    rs = await asyncio.gather(*[_pay(cloud, buyer, intent["id"], headers={"Idempotency-Key": "same"})
                                for _ in range(50)])
    codes = sorted(r.status for r in rs)
    assert set(codes) <= {200, 409} and 200 in codes
    bodies = {json.dumps(await r.json(), sort_keys=True) for r in rs if r.status == 200}
    assert len(bodies) == 1                                    # repeats get the first answer
    with in_app(cloud.app):
        assert await Payment.filter(order_id=order["id"]).count() == 1


async def test_fifty_pay_requests_without_key_make_one_payment(cloud):
    buyer, order = await _order(cloud)
    intent = await (await _intent(cloud, buyer, order)).json()
    rs = await asyncio.gather(*[_pay(cloud, buyer, intent["id"]) for _ in range(50)])
    assert sorted(r.status for r in rs) == [200] + [409] * 49
    with in_app(cloud.app):
        assert await Payment.filter(order_id=order["id"]).count() == 1


async def test_idempotent_intent_creation(cloud):
    buyer, order = await _order(cloud)
    rs = await asyncio.gather(*[_intent(cloud, buyer, order, headers={"Idempotency-Key": "i1"})
                                for _ in range(20)])
    assert {r.status for r in rs} <= {201, 409}
    with in_app(cloud.app):
        assert await PaymentIntent.filter(order_id=order["id"]).count() == 1
    r = await _intent(cloud, buyer, order, headers={"Idempotency-Key": "x" * 101})
    assert r.status == 400


async def test_invalid_cards_are_refused_then_throttled(cloud):
    buyer, order = await _order(cloud)
    intent = await (await _intent(cloud, buyer, order)).json()
    for _ in range(checkout.MAX_FAILED_ATTEMPTS):
        r = await _pay(cloud, buyer, intent["id"], GOOD | {"card_number": "4242 4242 4242 4241"})
        assert r.status == 400 and "card" in (await r.json())["message"]
    assert (await _pay(cloud, buyer, intent["id"])).status == 429


async def test_the_pay_attempt_limit_holds_across_two_workers(cloud, aiohttp_client):
    """A second app on the same database (another worker) shares the intent's budget."""
    import dataclasses

    from fingerpos.cloud.app import create_app

    from tests.conftest import CloudHarness
    other = CloudHarness(await aiohttp_client(create_app(
        dataclasses.replace(cloud.app[CONFIG]))))
    buyer, order = await _order(cloud)
    intent = await (await _intent(cloud, buyer, order)).json()
    bad = GOOD | {"card_number": "4242 4242 4242 4241"}
    for n in range(checkout.MAX_FAILED_ATTEMPTS):   # alternate workers
        r = await _pay((cloud, other)[n % 2], buyer, intent["id"], bad)
        assert r.status == 400, n
    for worker in (cloud, other):
        assert (await _pay(worker, buyer, intent["id"])).status == 429
    with in_app(cloud.app):  # counted in the database, not in one process's memory
        from fingerpos.cloud.models.throttle import ThrottleWindow
        row = await ThrottleWindow.get(key=checkout.ATTEMPTS.key(intent["id"]))
        assert row.count == checkout.MAX_FAILED_ATTEMPTS


@pytest.mark.parametrize("body", [
    {"card_number": "4242", "expiry": "12/30", "cvc": "123"},
    {"card_number": CARD, "expiry": "13/30", "cvc": "123"},
    {"card_number": CARD, "expiry": "12/30", "cvc": "12"},
    {"card_number": "4242-4242-4242-4242", "expiry": "12/30", "cvc": "123"},
    {"card_number": CARD, "expiry": "12/30", "cvc": "123", "outcome": "maybe"},
    {"card_number": 4242424242424242, "expiry": "12/30", "cvc": "123"},
])
async def test_bad_pay_fields(cloud, body):
    buyer, order = await _order(cloud)
    intent = await (await _intent(cloud, buyer, order)).json()
    assert (await _pay(cloud, buyer, intent["id"], body)).status == 400


async def test_other_people_cannot_pay_or_see_an_intent(cloud):
    buyer, order = await _order(cloud)
    intent = await (await _intent(cloud, buyer, order)).json()
    stranger = await cloud.user("buyer")
    seller = await cloud.user("seller", shop="s1")
    assert (await _intent(cloud, stranger, order)).status == 404
    assert (await _pay(cloud, stranger, intent["id"])).status == 404
    r = await cloud.client.get(f"/api/v1/pay/sandbox/{intent['id']}", headers=stranger)
    assert r.status == 404
    assert (await _pay(cloud, seller, intent["id"])).status == 403
    assert (await _pay(cloud, {}, intent["id"])).status == 401
    assert (await _pay(cloud, buyer, "pi_doesnotexist")).status == 404
    assert (await _pay(cloud, buyer, "nope")).status == 404


async def test_session_pay_needs_the_csrf_token(cloud):
    await cloud.product("s1", "tea", 250)
    r = await cloud.client.post("/api/v1/auth/register",
                                json={"email": "b@example.com", "password": "password123"})
    assert r.status == 201
    r = await cloud.client.post("/api/v1/auth/login",
                                json={"email": "b@example.com", "password": "password123"})
    csrf = {"X-CSRF-Token": (await r.json())["csrf"]}
    r = await cloud.client.post("/api/v1/orders", headers=csrf,
                                json={"shop": "s1", "items": [{"sku": "tea", "qty": 1}]})
    order = await r.json()
    assert (await _intent(cloud, {}, order)).status == 403              # no CSRF header
    intent = await (await _intent(cloud, csrf, order)).json()
    assert (await _pay(cloud, {"X-CSRF-Token": "wrong"}, intent["id"])).status == 403
    assert (await _pay(cloud, csrf, intent["id"])).status == 200


async def _callback(cloud, body: bytes, header: str | None):
    headers = {"Content-Type": "application/json"}
    if header is not None:
        headers[SIGNATURE_HEADER] = header
    return await cloud.client.post("/api/v1/payments/sandbox/callback", data=body, headers=headers)


async def test_signed_callback_pays_and_forgeries_and_replays_are_refused(cloud):
    buyer, order = await _order(cloud)
    intent = await (await _intent(cloud, buyer, order)).json()
    body = json.dumps({"intent": intent["id"], "order": order["id"], "version": 1,
                       "amount": 500, "currency": "EUR", "succeeded": True,
                       "card_last4": "1111"}, separators=(",", ":")).encode()
    secret, now = _secret(cloud), int(time.time())
    forged = sign_callback(b"not the secret at all!", body, now)
    for header in (None, "", "t=abc,v1=00", forged, sign_callback(secret, body, now - 3600),
                   sign_callback(secret, body, now + 3600)):
        r = await _callback(cloud, body, header)
        assert r.status == 400, header
    tampered = body.replace(b"500", b"1")
    r = await _callback(cloud, tampered, sign_callback(secret, body, now))
    assert r.status == 400
    good = sign_callback(secret, body, now)
    r = await cloud.client.post("/api/v1/payments/sandbox/callback", data=body,
                                headers={"fingerpos-signature": good})    # any header case
    assert r.status == 200, await r.text()
    answer = await r.json()
    assert answer["paid"] is True and "pickup_code" not in answer
    r = await _callback(cloud, body, good)                          # the same callback again
    assert r.status == 409 and "replayed" in (await r.json())["message"]
    with in_app(cloud.app):
        assert await Payment.filter(order_id=order["id"], accepted=True).count() == 1


async def test_callback_not_matching_its_intent_and_malformed_ones(cloud):
    buyer, order = await _order(cloud)
    intent = await (await _intent(cloud, buyer, order)).json()
    secret, now = _secret(cloud), int(time.time())
    base = {"intent": intent["id"], "order": order["id"], "version": 1, "amount": 500,
            "currency": "EUR", "succeeded": True, "card_last4": "1111"}
    for change in ({"amount": 1}, {"version": 9}, {"intent": "pi_other"}, {"currency": "USD"},
                   {"amount": "500"}, {"card_last4": "12"}, {"succeeded": "yes"}):
        body = json.dumps(base | change).encode()
        r = await _callback(cloud, body, sign_callback(secret, body, now))
        assert r.status == 400, change
    for body in (b"not json", b"[]", b"{}"):
        r = await _callback(cloud, body, sign_callback(secret, body, now))
        assert r.status == 400
    big = b"{" + b" " * 70000 + b"}"
    assert (await _callback(cloud, big, sign_callback(secret, big, now))).status == 413
