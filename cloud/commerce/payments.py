"""Payment providers: the interface a real card provider plugs into, and
`sandbox`, the built-in provider for the demo and the tests, which behaves
like a real one: an intent for one order *version*, a hosted pay page, and a
signed callback (HMAC-SHA256 with a timestamp tolerance; a replayed callback
is refused). No card number is ever stored: the pay page only sends the
last four digits and the outcome.

Plugging in a real provider means implementing `PaymentProvider`:
`create_intent` calls the provider's API and returns where to send the buyer,
`parse_callback` verifies the provider's webhook signature its own way and
returns a `CallbackResult`; `refund` asks the provider to pay back part or all of a
succeeded intent and `parse_refund_callback` verifies the provider's answer, which
alone settles the refund (cloud/commerce/card_refunds.py). The order service does the rest (matching amount,
currency and version, idempotency), identically for every provider. The other
built-in provider, `cash` (cloud/commerce/cash.py), has no callback: a terminal's
signed event confirms it. docs/payments.md has the whole story.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Protocol

TOLERANCE_S = 300  # a callback older or newer than this is refused (clock skew + retries)
SIGNATURE_HEADER = "Fingerpos-Signature"


class PaymentError(ValueError):
    """A callback or intent that must be refused; `code` is machine-readable."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Intent:
    intent_id: str
    order_id: int
    version: int  # the order revision this payment is for; a stale one is refused later
    amount: int
    currency: str
    pay_url: str


@dataclass(frozen=True)
class CallbackResult:
    intent_id: str
    order_id: int
    version: int
    amount: int
    currency: str
    succeeded: bool
    card_last4: str  # all a provider ever tells us about the card


@dataclass(frozen=True)
class ProviderRefund:
    """A refund the provider accepted to process: `pending` until its callback."""

    refund_id: str   # the provider's reference ("re_..." for the sandbox)
    intent_id: str
    amount: int
    currency: str


@dataclass(frozen=True)
class RefundResult:
    refund_id: str
    intent_id: str
    amount: int
    currency: str
    succeeded: bool
    failure: str     # the provider's reason when it did not pay back


class PaymentProvider(Protocol):
    name: str

    def create_intent(self, order_id: int, version: int, amount: int, currency: str) -> Intent: ...

    def parse_callback(self, headers: dict[str, str], body: bytes, now: float | None = None) -> CallbackResult: ...

    def refund(self, intent_id: str, amount: int, currency: str) -> ProviderRefund: ...

    def parse_refund_callback(self, headers: dict[str, str], body: bytes,
                              now: float | None = None) -> RefundResult: ...


def sign_callback(secret: bytes, body: bytes, timestamp: int) -> str:
    """`t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>` (the header value)."""
    mac = hmac.new(secret, str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


class _SeenSignatures:
    """Signatures already accepted inside the tolerance window (replay guard).

    Bounded: entries older than the tolerance are useless (the timestamp
    check refuses them anyway), so they are dropped first.
    """

    def __init__(self, limit: int = 100_000) -> None:
        self._seen: OrderedDict[str, int] = OrderedDict()
        self._limit = limit

    def add(self, sig: str, ts: int, now: float) -> bool:
        while self._seen and (next(iter(self._seen.values())) < now - TOLERANCE_S
                              or len(self._seen) >= self._limit):
            self._seen.popitem(last=False)
        if sig in self._seen:
            return False
        self._seen[sig] = ts
        return True


class SandboxProvider:
    """The built-in card provider. Its hosted page lives at /pay/sandbox/{intent}."""

    name = "sandbox"

    def __init__(self, secret: bytes, base_url: str = "") -> None:
        if len(secret) < 16:
            raise ValueError("the sandbox callback secret must be at least 16 bytes")
        self.secret = secret
        self.base_url = base_url.rstrip("/")
        self._seen = _SeenSignatures()

    def create_intent(self, order_id: int, version: int, amount: int, currency: str) -> Intent:
        intent_id = "pi_" + secrets.token_urlsafe(18)
        return Intent(intent_id, order_id, version, amount, currency,
                      f"{self.base_url}/pay/sandbox/{intent_id}")

    def callback_body(self, intent: Intent, succeeded: bool, card_last4: str) -> bytes:
        """What the hosted page posts back (the same shape a real webhook has)."""
        return json.dumps({"intent": intent.intent_id, "order": intent.order_id,
                           "version": intent.version, "amount": intent.amount,
                           "currency": intent.currency, "succeeded": succeeded,
                           "card_last4": card_last4}, separators=(",", ":")).encode()

    def parse_callback(self, headers: dict[str, str], body: bytes,
                       now: float | None = None) -> CallbackResult:
        self.verify(headers, body, now)
        return _parse_body(body)

    def refund(self, intent_id: str, amount: int, currency: str) -> ProviderRefund:
        """Pay back `amount` of a succeeded intent; the outcome comes by callback."""
        if type(amount) is not int or amount <= 0 or not intent_id.startswith("pi_"):
            raise PaymentError("invalid_refund", "a refund needs a card payment and an amount > 0")
        return ProviderRefund("re_" + secrets.token_urlsafe(18), intent_id, amount, currency)

    def refund_callback_body(self, refund: ProviderRefund, succeeded: bool,
                             failure: str = "") -> bytes:
        """The sandbox's refund webhook: `"type": "refund"`, so a payment callback's
        signed body can never pass for a refund's (and the other way round)."""
        return json.dumps({"type": "refund", "refund": refund.refund_id,
                           "intent": refund.intent_id, "amount": refund.amount,
                           "currency": refund.currency, "succeeded": succeeded,
                           "failure": failure}, separators=(",", ":")).encode()

    def parse_refund_callback(self, headers: dict[str, str], body: bytes,
                              now: float | None = None) -> RefundResult:
        self.verify(headers, body, now)
        return _parse_refund_body(body)

    def verify(self, headers: dict[str, str], body: bytes, now: float | None = None) -> None:
        """The signature (HMAC-SHA256 over "<t>.<body>"), its age, and no replay."""
        now = time.time() if now is None else now
        header = next((v for k, v in headers.items() if k.lower() == SIGNATURE_HEADER.lower()), "")
        parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
        if "t" not in parts or "v1" not in parts or not (parts["t"].isascii() and parts["t"].isdigit()):
            raise PaymentError("unsigned", f"callback lacks a valid {SIGNATURE_HEADER} header")
        ts = int(parts["t"])
        if abs(now - ts) > TOLERANCE_S:
            raise PaymentError("stale", f"callback timestamp is more than {TOLERANCE_S}s away from now")
        if not hmac.compare_digest(sign_callback(self.secret, body, ts), f"t={ts},v1={parts['v1']}"):
            raise PaymentError("bad_signature", "callback signature does not match")
        if not self._seen.add(parts["v1"], ts, now):
            raise PaymentError("replayed", "this callback was already received")


def _parse_refund_body(body: bytes) -> RefundResult:
    try:
        d = json.loads(body)
        if d["type"] != "refund":
            raise ValueError("not a refund callback")
        result = RefundResult(str(d["refund"]), str(d["intent"]), d["amount"], str(d["currency"]),
                              d["succeeded"], str(d.get("failure", ""))[:200])
    except (ValueError, KeyError, TypeError) as e:
        raise PaymentError("malformed", f"refund callback body is not valid: {e}") from None
    if type(result.amount) is not int or type(result.succeeded) is not bool:
        raise PaymentError("malformed", "refund callback amount/succeeded fields are not valid")
    return result


def _parse_body(body: bytes) -> CallbackResult:
    try:
        d = json.loads(body)
        result = CallbackResult(str(d["intent"]), d["order"], d["version"], d["amount"],
                                str(d["currency"]), d["succeeded"], str(d["card_last4"]))
    except (ValueError, KeyError, TypeError) as e:
        raise PaymentError("malformed", f"callback body is not valid: {e}") from None
    for name in ("order_id", "version", "amount"):
        if type(getattr(result, name)) is not int:
            raise PaymentError("malformed", f"callback field {name} must be an integer")
    last4 = result.card_last4
    if type(result.succeeded) is not bool or not (len(last4) == 4 and last4.isascii()
                                                  and last4.isdigit()):
        raise PaymentError("malformed", "callback succeeded/card_last4 fields are not valid")
    return result


def luhn_ok(number: str) -> bool:
    """The card-number checksum the sandbox page checks (the number itself is never kept)."""
    if not number.isascii():   # str.isdigit() also takes "²", which int() refuses
        return False
    digits = [int(c) for c in number if c.isdigit()]
    if len(digits) < 12 or len(digits) > 19 or len(digits) != len(number.replace(" ", "")):
        return False
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0
