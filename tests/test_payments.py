"""The sandbox payment provider's intents and signed callbacks."""

from __future__ import annotations

import time

import pytest
from fingerpos.cloud.commerce.payments import (
    SIGNATURE_HEADER,
    TOLERANCE_S,
    PaymentError,
    SandboxProvider,
    luhn_ok,
    sign_callback,
)

SECRET = b"s" * 32


@pytest.fixture
def sandbox():
    return SandboxProvider(SECRET, "http://127.0.0.1:8080/")


def signed(sandbox, intent, succeeded=True, ts=None, secret=SECRET):
    body = sandbox.callback_body(intent, succeeded, "4242")
    ts = int(time.time()) if ts is None else ts
    return {SIGNATURE_HEADER: sign_callback(secret, body, ts)}, body


def test_intent_is_for_one_order_version(sandbox):
    it = sandbox.create_intent(7, 3, 1999, "EUR")
    assert it.pay_url == f"http://127.0.0.1:8080/pay/sandbox/{it.intent_id}"
    assert (it.order_id, it.version, it.amount) == (7, 3, 1999)
    assert sandbox.create_intent(7, 3, 1999, "EUR").intent_id != it.intent_id


def test_valid_callback(sandbox):
    it = sandbox.create_intent(7, 3, 1999, "EUR")
    headers, body = signed(sandbox, it)
    res = sandbox.parse_callback(headers, body)
    assert (res.order_id, res.version, res.amount, res.currency, res.succeeded) == (7, 3, 1999, "EUR", True)
    assert res.card_last4 == "4242"


def test_replayed_callback_is_refused(sandbox):
    headers, body = signed(sandbox, sandbox.create_intent(1, 1, 100, "EUR"))
    sandbox.parse_callback(headers, body)
    with pytest.raises(PaymentError) as e:
        sandbox.parse_callback(headers, body)
    assert e.value.code == "replayed"


@pytest.mark.parametrize("skew", [TOLERANCE_S + 1, -(TOLERANCE_S + 1)])
def test_stale_or_future_callback_is_refused(sandbox, skew):
    headers, body = signed(sandbox, sandbox.create_intent(1, 1, 100, "EUR"), ts=int(time.time()) - skew)
    with pytest.raises(PaymentError) as e:
        sandbox.parse_callback(headers, body)
    assert e.value.code == "stale"


def test_forged_or_altered_callbacks_are_refused(sandbox):
    it = sandbox.create_intent(1, 1, 100, "EUR")
    headers, body = signed(sandbox, it, secret=b"x" * 32)
    with pytest.raises(PaymentError, match="signature"):
        sandbox.parse_callback(headers, body)
    headers, body = signed(sandbox, it)
    with pytest.raises(PaymentError, match="signature"):
        sandbox.parse_callback(headers, body.replace(b'"amount":100', b'"amount":1'))
    with pytest.raises(PaymentError) as e:
        sandbox.parse_callback({}, body)
    assert e.value.code == "unsigned"
    with pytest.raises(PaymentError) as e:   # "²".isdigit() is true, int("²") fails
        sandbox.parse_callback({SIGNATURE_HEADER: "t=²,v1=00"}, body)
    assert e.value.code == "unsigned"


@pytest.mark.parametrize("body", [b"", b"[]", b'{"intent":1}', b"\xff",
                                  b'{"intent":"a","order":"1","version":1,"amount":1,"currency":"EUR","succeeded":true,"card_last4":"4242"}',
                                  b'{"intent":"a","order":1,"version":1,"amount":1,"currency":"EUR","succeeded":1,"card_last4":"42"}'])
def test_malformed_signed_bodies_are_refused(sandbox, body):
    ts = int(time.time())
    with pytest.raises(PaymentError) as e:
        sandbox.parse_callback({SIGNATURE_HEADER: sign_callback(SECRET, body, ts)}, body)
    assert e.value.code == "malformed"


def test_short_secret_is_refused():
    with pytest.raises(ValueError, match="16 bytes"):
        SandboxProvider(b"short")


@pytest.mark.parametrize("number, ok", [("4242 4242 4242 4242", True), ("4242424242424241", False),
                                        ("1234", False), ("4242-4242-4242-4242", False),
                                        ("4242 4242 4242 424²", False)])
def test_luhn(number, ok):
    assert luhn_ok(number) is ok
