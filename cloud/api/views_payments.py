"""Payments: intents for an order version (provider `sandbox`, or `cash` at the counter),
the sandbox's hosted-page submission, and the provider callback (signed; replays
refused). Idempotency-Key is honoured on the writes."""

from __future__ import annotations

from aiohttp import web
from fingerpos.cloud.accounts import auth
from fingerpos.cloud.api import schemas_commerce as sc
from fingerpos.cloud.api.validation import MAX_BODY, body, path_int
from fingerpos.cloud.commerce import cash, checkout, idempotency
from fingerpos.cloud.core.appkeys import CONFIG
from fingerpos.cloud.core.errors import NotFound, TooLarge
from fingerpos.cloud.models.users import Role


def provider(request: web.Request) -> checkout.SandboxProvider:
    return checkout.sandbox(request.app[CONFIG].key_secret)


async def raw_body(request: web.Request) -> bytes:
    """A webhook's body as sent (its signature covers the bytes), at most MAX_BODY."""
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise TooLarge(f"the request body is over {MAX_BODY} bytes")
    raw = await request.content.read(MAX_BODY + 1)
    if len(raw) > MAX_BODY:
        raise TooLarge(f"the request body is over {MAX_BODY} bytes")
    return raw


def _intent_id(request: web.Request) -> str:
    text = request.match_info["intent"]
    if not (text.startswith("pi_") and 4 <= len(text) <= 40):
        raise NotFound("no such payment")
    return text


async def create_intent(request: web.Request) -> web.Response:
    user = await auth.require(request, Role.BUYER)
    order_id = path_int(request, "order")
    data = await body(request, sc.IntentIn)

    async def run() -> idempotency.Answer:
        if data.provider == cash.NAME:   # pay at the counter: the shop's terminals are told
            intent = await cash.choose(user, order_id, data.version)
        else:
            intent = await checkout.create_intent(provider(request), user, order_id,
                                                  data.version)
        return 201, checkout.intent_json(intent)

    status, answer = await idempotency.once(request.headers.get(idempotency.HEADER),
                                            f"{user.id}:intent:{order_id}", run,
                                            idempotency.fingerprint("intent", order_id,
                                                                    data.model_dump()))
    return web.json_response(answer, status=status)


async def get_intent(request: web.Request) -> web.Response:
    """What the hosted page shows: amount, currency, order and version, status."""
    user = await auth.require(request, Role.BUYER)
    intent = await checkout.public_intent(_intent_id(request))
    if intent.buyer_id != user.id:
        raise NotFound("no such payment")
    return web.json_response(checkout.intent_json(intent))


async def sandbox_pay(request: web.Request) -> web.Response:
    """The hosted sandbox page posts the card here (the buyer's session: CSRF applies)."""
    user = await auth.require(request, Role.BUYER)
    intent_id = _intent_id(request)
    intent = await checkout.public_intent(intent_id)
    if intent.buyer_id != user.id:
        raise NotFound("no such payment")
    data = await body(request, sc.SandboxPayIn)

    async def run() -> idempotency.Answer:
        return 200, await checkout.sandbox_pay(provider(request), intent_id, data.card_number,
                                               decline=data.outcome == "decline")

    status, answer = await idempotency.once(request.headers.get(idempotency.HEADER),
                                            f"{user.id}:pay:{intent_id}", run,
                                            idempotency.fingerprint(
                                                "pay", intent_id, {**data.model_dump(),
                                                                   "card_number": data.card_number[-4:]}))
    return web.json_response(answer, status=status)


async def sandbox_callback(request: web.Request) -> web.Response:
    """The provider's webhook: the signature (HMAC, timestamp) is the only credential."""
    result = await checkout.settle(provider(request), dict(request.headers),
                                   await raw_body(request))
    result.pop("pickup_code", None)  # the provider never sees the buyer's pickup code
    return web.json_response(result)
