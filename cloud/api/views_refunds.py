"""Refunds: staff refund an order's lines (by card through the provider when a card paid
it, else in cash), list an order's refunds; the provider's signed refund callback."""

from __future__ import annotations

from aiohttp import web
from fingerpos.cloud.api import policy as P
from fingerpos.cloud.api import schemas_commerce as sc
from fingerpos.cloud.api.validation import body, path_int
from fingerpos.cloud.api.views_payments import provider, raw_body
from fingerpos.cloud.commerce import card_refunds
from fingerpos.cloud.orders import refunds


async def create(request: web.Request) -> web.Response:
    user = P.scope(request).who
    data = await body(request, sc.RefundIn)
    made = await card_refunds.refund(provider(request), user, path_int(request, "order"),
                                     [ln.model_dump() for ln in data.lines], data.reason,
                                     data.restock)
    return web.json_response(refunds.refund_json(made), status=201)


async def list_(request: web.Request) -> web.Response:
    rows = await refunds.of_order(path_int(request, "order"))
    return web.json_response({"refunds": [refunds.refund_json(r) for r in rows]})


async def callback(request: web.Request) -> web.Response:
    """The provider's refund webhook: its signature is the only credential."""
    return web.json_response(await card_refunds.settle_callback(
        provider(request), dict(request.headers), await raw_body(request)))
