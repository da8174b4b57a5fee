"""Orders: create from a cart, read, list with filters, change price, pay, cancel."""

from __future__ import annotations

from aiohttp import web
from fingerpos.cloud import orders
from fingerpos.cloud.accounts import auth
from fingerpos.cloud.api import schemas
from fingerpos.cloud.api.validation import body, path_int, query
from fingerpos.cloud.commerce import checkout, pickup
from fingerpos.cloud.core.errors import NotFound
from fingerpos.cloud.models.orders import Order
from fingerpos.cloud.models.users import Role
from fingerpos.cloud.orders.rules import PriceActor

STAFF = (Role.SELLER, Role.MANAGER, Role.ADMIN)


async def create(request: web.Request) -> web.Response:
    user = await auth.require(request, Role.BUYER)
    data = await body(request, schemas.CartIn)
    order = await orders.create_from_cart(user, data.shop, [i.model_dump() for i in data.items])
    return web.json_response(await orders.get_for(user, order.id), status=201)


async def get(request: web.Request) -> web.Response:
    user = await auth.require(request)
    return web.json_response(await orders.get_for(user, path_int(request, "order")))


async def list_(request: web.Request) -> web.Response:
    user = await auth.require(request)
    f = query(request, schemas.OrderFilter)
    rows = await orders.list_for(user, state=f.state, shop=f.shop, since=f.since, until=f.until,
                                 limit=f.limit, offset=f.offset)
    return web.json_response({"orders": rows})


async def change_price(request: web.Request) -> web.Response:
    user = await auth.require(request, *STAFF)
    order_id = path_int(request, "order")
    data = await body(request, schemas.PriceChangeIn)
    await orders.get_for(user, order_id)  # 404 for an order outside the user's shop
    actor = PriceActor(user.role.value, user.shop_id, user.can_change_price)
    order = await orders.change_price(order_id, data.version, data.total, data.reason, actor,
                                      user_id=user.id)
    return web.json_response(orders.order_json(order))


async def pay(request: web.Request) -> web.Response:
    """A payment taken at the counter (cash), confirmed by staff of the order's shop.

    Buyers pay through a provider (POST /orders/{id}/payments: `sandbox`, or `cash`
    confirmed by the shop's terminal). The pickup code is the one sealed for the
    buyer, so their order page shows it.
    """
    user = await auth.require(request, *STAFF)
    order_id = path_int(request, "order")
    data = await body(request, schemas.PayIn)
    mine = Order.filter(id=order_id)
    if user.role != Role.ADMIN:
        mine = mine.filter(shop_id=user.shop_id)
    if not await mine.exists():
        raise NotFound(f"no order {order_id}")
    order, code = await orders.pay(order_id, data.amount, data.currency, data.version, "cash",
                                   pickup_code=await pickup.code_for(order_id))
    await checkout.close_others(order_id, paid_by="")   # no intent paid it: all are over
    return web.json_response({"order": orders.order_json(order), "pickup_code": code})


async def cancel(request: web.Request) -> web.Response:
    user = await auth.require(request)
    order = await orders.cancel(path_int(request, "order"), user)
    return web.json_response(orders.order_json(order))


async def hold(request: web.Request) -> web.Response:
    user = await auth.require(request, *STAFF)
    order = await orders.stage(path_int(request, "order"), user, hold=True)
    return web.json_response(orders.order_json(order))


async def release(request: web.Request) -> web.Response:
    user = await auth.require(request, *STAFF)
    order = await orders.stage(path_int(request, "order"), user, hold=False)
    return web.json_response(orders.order_json(order))
