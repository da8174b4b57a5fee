"""The sandbox provider's hosted pay page, /pay/sandbox/{intent}.

It stands where a real provider's page would: it shows what is being paid (order,
version, amount), takes a card number (checked with Luhn, never stored: only the last
four digits travel on) and lets the tester choose approve or decline. The submission
goes through the same signed-callback path a real provider's webhook takes
(cloud/commerce/checkout.py); the order engine then refuses a stale version.
"""

from __future__ import annotations

from aiohttp import web
from fingerpos.cloud.commerce import checkout
from fingerpos.cloud.core.appkeys import CONFIG
from fingerpos.cloud.core.errors import DomainError, NotFound
from fingerpos.cloud.models.commerce import PaymentIntent
from fingerpos.cloud.models.users import Role
from fingerpos.cloud.web.page import Viewer, checked_form, need, redirect, render
from fingerpos.cloud.web.views_orders import keep_pickup, refusal_text


async def _intent(request: web.Request, who: Viewer) -> PaymentIntent:
    text = request.match_info["intent"]
    if not (text.startswith("pi_") and 4 <= len(text) <= 40):
        raise NotFound("no such payment")
    intent = await PaymentIntent.get_or_none(id=text)
    if intent is None or intent.buyer_id != who.user.id:
        raise NotFound("no such payment")
    return intent


async def pay_page(request: web.Request, errors: dict[str, str] | None = None,
                   status: int = 200, card: str = "") -> web.Response:
    who = await need(request, Role.BUYER)
    intent = await _intent(request, who)
    return await render(request, "pay.html", {"i": intent, "errors": errors or {},
                                              "form": {"card_number": card}}, status=status)


async def pay_submit(request: web.Request) -> web.Response:
    who = await need(request, Role.BUYER)
    form = await checked_form(request)
    intent = await _intent(request, who)
    card = form.get("card_number", "").strip()[:30]
    if not card:
        return await pay_page(request, {"card_number": "enter a card number"}, status=400)
    decline = form.get("outcome") == "decline"
    provider = checkout.sandbox(request.app[CONFIG].key_secret)
    try:
        result = await checkout.sandbox_pay(provider, intent.id, card, decline=decline)
    except DomainError as e:
        if e.status == 404:
            raise
        if e.message.startswith("card_number:"):
            return await pay_page(request, {"card_number": e.message.split(":", 1)[1].strip()},
                                  status=e.status, card=card)
        text = await refusal_text(e.message, intent.order_id, who)
        return await pay_page(request, {"form": text}, status=e.status)
    if not result.get("paid"):
        return await pay_page(request, {"form": "The card was declined. Nothing was charged; "
                                                "go back to the order to try again."},
                              status=402)
    response = redirect(f"/orders/{intent.order_id}")
    keep_pickup(request, response, intent.order_id, who.user.id, result["pickup_code"])
    raise response
