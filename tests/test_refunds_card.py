"""Card refunds through the payment provider and the refund REST API (issue #16 item 3).

A refund of a card-paid order is `pending` until the provider's signed callback settles
it; the callback is held to the same HMAC scheme as payment callbacks (docs/payments.md):
replayed, badly signed, stale, unknown and payment-shaped callbacks are refused. The REST
route is scoped by shop (a second shop's manager gets 404), refuses a seller above the
shop's amount with a clear 403, and answers every bad request with a 4xx, never a 500."""

from __future__ import annotations

import json
import time

import pytest
from fingerpos.cloud.commerce import card_refunds, checkout
from fingerpos.cloud.commerce.payments import SIGNATURE_HEADER, sign_callback
from fingerpos.cloud.core.appkeys import CONFIG
from fingerpos.cloud.models.orders import Order, OrderLine
from fingerpos.cloud.models.refunds import Refund
from fingerpos.cloud.models.shops import Product
from fingerpos.cloud.models.users import User

from .conftest import in_app
from .test_refunds import _line, _shop_with_teapot, paid_order

pytestmark = pytest.mark.cloud
CALLBACK = "/api/v1/payments/sandbox/refund-callback"


def _provider(cloud):
    return checkout.sandbox(cloud.app[CONFIG].key_secret)


async def _pending(cloud, oid: int, qty: int, restock: bool = True) -> Refund:
    manager = await cloud.user("manager", "shop1")
    with in_app(cloud.app):
        user = await User.get(id=int(manager["X-User-Id"]))
        return await card_refunds.refund(_provider(cloud), user, oid,
                                         [{"line": await _line(oid), "qty": qty}], "退货",
                                         restock, deliver=False)


def _signed(cloud, refund: Refund, succeeded: bool, secret: bytes | None = None,
            ts: int | None = None, failure: str = "") -> tuple[bytes, dict[str, str]]:
    provider = _provider(cloud)
    body = provider.refund_callback_body(card_refunds.provider_refund_of(refund), succeeded,
                                         failure)
    header = sign_callback(secret or provider.secret, body, ts or int(time.time()))
    return body, {SIGNATURE_HEADER: header, "Content-Type": "application/json"}


async def test_a_card_refund_is_pending_until_its_signed_callback(cloud):
    await _shop_with_teapot(cloud, stock=20)
    oid = await paid_order(cloud, qty=3)
    refund = await _pending(cloud, oid, 2)
    assert (refund.method, refund.status, refund.amount) == ("card", "pending", 22600)
    assert refund.provider_ref.startswith("re_")
    with in_app(cloud.app):
        assert (await Order.get(id=oid)).refunded == 22600   # counts while pending
        assert (await Product.get(sku="teapot")).stock == 17  # not back until it succeeds
    body, headers = _signed(cloud, refund, True)
    r = await cloud.client.post(CALLBACK, data=body, headers=headers)
    assert r.status == 200, await r.text()
    assert (await r.json())["refund"]["status"] == "succeeded"
    with in_app(cloud.app):
        assert (await Product.get(sku="teapot")).stock == 19
    r = await cloud.client.post(CALLBACK, data=body, headers=headers)   # replayed
    assert r.status == 409


async def test_a_failed_card_refund_gives_the_amount_back(cloud):
    await _shop_with_teapot(cloud, stock=20)
    oid = await paid_order(cloud, qty=3)
    refund = await _pending(cloud, oid, 3)
    body, headers = _signed(cloud, refund, False, failure="card closed")
    r = await cloud.client.post(CALLBACK, data=body, headers=headers)
    assert r.status == 200, await r.text()
    with in_app(cloud.app):
        failed = await Refund.get(id=refund.id)
        assert (failed.status, failed.failure) == ("failed", "card closed")
        assert (await Order.get(id=oid)).refunded == 0
        assert (await OrderLine.get(order_id=oid)).refunded_qty == 0
        assert (await Product.get(sku="teapot")).stock == 17
    again = await _pending(cloud, oid, 3)     # it can be refunded again
    assert again.amount == 33900
    body, headers = _signed(cloud, refund, True)   # a late success for the failed one
    r = await cloud.client.post(CALLBACK, data=body, headers=headers)
    assert r.status == 409 and "already failed" in await r.text()


async def test_hostile_refund_callbacks_are_refused(cloud):
    await _shop_with_teapot(cloud)
    oid = await paid_order(cloud, qty=1)
    refund = await _pending(cloud, oid, 1)
    body, good = _signed(cloud, refund, True)
    _, bad = _signed(cloud, refund, True, secret=b"y" * 32)
    _, stale = _signed(cloud, refund, True, ts=int(time.time()) - 3600)
    unknown = json.loads(body) | {"refund": "re_nobody"}
    unknown_body = json.dumps(unknown).encode()
    more = json.loads(body) | {"amount": refund.amount + 1}
    more_body = json.dumps(more).encode()
    # a payment callback, validly signed, is not a refund callback
    payment = json.dumps({"intent": refund.intent_id, "order": oid, "version": 1,
                          "amount": refund.amount, "currency": "CNY", "succeeded": True,
                          "card_last4": "4242"}).encode()
    secret = _provider(cloud).secret
    # a refund-shaped body of another type (a future webhook kind) is not a refund either
    typed = json.dumps(json.loads(body) | {"type": "payment"}).encode()
    cases = [(typed, {SIGNATURE_HEADER: sign_callback(secret, typed, int(time.time()))}, 400),
             (body, bad, 400), (body, stale, 400), (body, {}, 400),
             (unknown_body, {SIGNATURE_HEADER: sign_callback(secret, unknown_body,
                                                             int(time.time()))}, 400),
             (more_body, {SIGNATURE_HEADER: sign_callback(secret, more_body,
                                                          int(time.time()))}, 400),
             (payment, {SIGNATURE_HEADER: sign_callback(secret, payment, int(time.time()))},
              400),
             (b"\xff" * 10, {SIGNATURE_HEADER: sign_callback(secret, b"\xff" * 10,
                                                             int(time.time()))}, 400)]
    for data, headers, status in cases:
        r = await cloud.client.post(CALLBACK, data=data, headers=headers)
        assert r.status == status, (data[:60], await r.text())
    with in_app(cloud.app):
        assert (await Refund.get(id=refund.id)).status == "pending"
    r = await cloud.client.post(CALLBACK, data=body, headers=good)
    assert r.status == 200


async def test_rest_refund_scoped_by_shop_and_by_right(cloud):
    """Through the API: the sandbox settles a card refund at once; a second shop's manager
    is refused (404); a seller above the shop's 200.00 gets a 403 saying so; over-refunds
    and malformed lines are 409 / 400, never 500."""
    await _shop_with_teapot(cloud)
    await _shop_with_teapot(cloud, "shop2")
    oid = await paid_order(cloud, qty=3)
    with in_app(cloud.app):
        line = await _line(oid)
    manager = await cloud.user("manager", "shop1")
    seller = await cloud.user("seller", "shop1")
    other = await cloud.user("manager", "shop2")
    url = f"/api/v1/orders/{oid}/refunds"

    async def post(who, lines, reason="破损"):
        r = await cloud.client.post(url, headers=who, json={"lines": lines, "reason": reason,
                                                            "restock": True})
        return r.status, await r.json()

    assert (await post(other, [{"line": line, "qty": 1}]))[0] == 404
    status, answer = await post(seller, [{"line": line, "qty": 2}])
    assert status == 403 and "above the shop's 20000; it needs a manager" in answer["message"]
    for lines in ([{"line": line, "qty": -1}], [{"line": line, "qty": 0}], [],
                  [{"line": "x", "qty": 1}], [{"line": line + 99, "qty": 1}]):
        assert (await post(manager, lines))[0] == 400, lines
    assert (await post(manager, [{"line": line, "qty": 1}], reason=""))[0] == 400
    status, answer = await post(manager, [{"line": line, "qty": 2}])
    assert status == 201, answer
    assert (answer["method"], answer["status"], answer["amount"]) == ("card", "succeeded", 22600)
    status, answer = await post(manager, [{"line": line, "qty": 2}])
    assert status == 409 and "only 1 of 3 left" in answer["message"]
    r = await cloud.client.get(url, headers=manager)
    assert [x["amount"] for x in (await r.json())["refunds"]] == [22600]
    assert (await cloud.client.get(url, headers=other)).status == 404
    r = await cloud.client.get(f"/api/v1/orders/{oid}", headers=manager)
    order = await r.json()
    assert order["refunded"] == 22600 and order["lines"][0]["refunded"] == 2


async def test_the_shops_amount_and_the_sellers_right_are_settings(cloud):
    """A manager lowers the shop's approval amount to 50.00 (audited), so a seller can no
    longer refund a 113.00 teapot, until the manager gives the seller the refund right."""
    await _shop_with_teapot(cloud)
    oid = await paid_order(cloud, qty=1)
    with in_app(cloud.app):
        line = await _line(oid)
    manager = await cloud.user("manager", "shop1")
    seller = await cloud.user("seller", "shop1")
    r = await cloud.client.patch("/api/v1/shops/shop1", headers=manager,
                                 json={"refund_approval_above": 5000, "refund_window_days": 7})
    assert r.status == 200, await r.text()
    assert (await r.json())["refund_approval_above"] == 5000
    for bad in ({"refund_approval_above": -1}, {"refund_window_days": "7"}):
        r = await cloud.client.patch("/api/v1/shops/shop1", headers=manager, json=bad)
        assert r.status == 400, bad
    url = f"/api/v1/orders/{oid}/refunds"
    body = {"lines": [{"line": line, "qty": 1}], "reason": "不想要了"}
    r = await cloud.client.post(url, headers=seller, json=body)
    assert r.status == 403 and "above the shop's 5000" in (await r.json())["message"]
    r = await cloud.client.patch(f"/api/v1/users/{seller['X-User-Id']}", headers=manager,
                                 json={"can_refund": True})
    assert r.status == 200 and "can_refund" in (await r.json())["changed"]
    r = await cloud.client.post(url, headers=seller, json=body)
    assert r.status == 201, await r.text()
    assert (await r.json())["approved_by"] == int(seller["X-User-Id"])
