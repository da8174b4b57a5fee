"""Terminal registry: register, list, and the device actions (cloud/fleet/actions.py: revoke,
rotate the key, rename, move, push settings, start an enrolment, history); shops and their
products."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aiohttp import web
from fingerpos.cloud.accounts import auth
from fingerpos.cloud.api import schemas
from fingerpos.cloud.api.policy import scope
from fingerpos.cloud.api.validation import body, query
from fingerpos.cloud.core import audit
from fingerpos.cloud.core.appkeys import COMMANDS, KEYRING
from fingerpos.cloud.core.errors import Conflict, Forbidden, Invalid, NotFound
from fingerpos.cloud.fleet import actions, keychanges
from fingerpos.cloud.fleet.roster import roster_of
from fingerpos.cloud.models.devices import Device
from fingerpos.cloud.models.shops import Product, Shop
from fingerpos.cloud.models.users import Role, User
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction


def _device_json(d: Device) -> dict:
    return {"id": d.id, "shop": d.shop, "fw": d.fw, "online": d.online, "revoked": d.revoked,
            "last_seen": d.last_seen.isoformat() if d.last_seen else None,
            "uptime": d.uptime, "heap_free": d.heap_free, "rssi": d.rssi, "outbox": d.outbox,
            "printer_charset": d.printer_charset, "name": d.name, "settings": d.settings or {}}


def _check_shop(user: User, shop: str) -> None:
    if user.role == Role.MANAGER and user.shop_id != shop:
        raise Forbidden(f"a manager may manage only their own shop ({user.shop_id})")


async def register(request: web.Request) -> web.Response:
    user = await auth.require(request, Role.ADMIN, Role.MANAGER)
    data = await body(request, schemas.DeviceIn)
    _check_shop(user, data.shop)
    await Shop.get_or_create(id=data.shop)
    sealed = request.app[KEYRING].seal(data.id, bytes.fromhex(data.key))
    try:
        async with in_transaction() as conn:
            await Device.create(id=data.id, shop=data.shop, key_enc=sealed, using_db=conn)
            await keychanges.bump(conn, data.id)  # workers that found it unknown look again
    except IntegrityError:
        raise Conflict(f"device {data.id} is already registered") from None
    await audit.record(f"user:{user.id}", "device.register", f"device:{data.id}",
                       {"shop": data.shop}, user_id=user.id)
    return web.json_response({"id": data.id, "shop": data.shop}, status=201)


async def _own_device(request: web.Request, user: User) -> Device:
    device = await Device.get_or_none(id=request.match_info["device"][:32])
    if device is None or (user.role != Role.ADMIN and device.shop != user.shop_id):
        raise NotFound("no such device")
    return device


async def list_(request: web.Request) -> web.Response:
    user = await auth.require(request, Role.ADMIN, Role.MANAGER, Role.SELLER)
    rows = Device.all() if user.role == Role.ADMIN else Device.filter(shop=user.shop_id or "")
    return web.json_response({"devices": [_device_json(d) for d in await rows.order_by("id")]})


async def revoke(request: web.Request) -> web.Response:
    user = await auth.require(request, Role.ADMIN, Role.MANAGER)
    device = await actions.revoke(user, await _own_device(request, user))
    return web.json_response(_device_json(device))


async def rotate(request: web.Request) -> web.Response:
    """Store a new key (made by `fingerpos device provision`); the old one stops working."""
    user = await auth.require(request, Role.ADMIN, Role.MANAGER)
    device = await _own_device(request, user)
    data = await body(request, schemas.RotateKey)
    await actions.rotate(user, device, data.key, request.app[KEYRING])
    return web.json_response(_device_json(device))


async def rename(request: web.Request) -> web.Response:
    user = await auth.require(request, Role.ADMIN, Role.MANAGER)
    device = await _own_device(request, user)
    data = await body(request, schemas.DeviceRename)
    return web.json_response(_device_json(await actions.rename(user, device, data.name)))


async def move(request: web.Request) -> web.Response:
    user = await auth.require(request, Role.ADMIN)
    device = await _own_device(request, user)
    data = await body(request, schemas.DeviceMove)
    await actions.move(user, device, data.shop, request.app.get(COMMANDS),
                       lambda d: roster_of(d, request.app[KEYRING]))
    return web.json_response(_device_json(device))


async def push_config(request: web.Request) -> web.Response:
    """Settings for the terminal: checked, stored, sent now and again on every connect."""
    user = await auth.require(request, Role.ADMIN, Role.MANAGER)
    device = await _own_device(request, user)
    data = await body(request, schemas.DeviceConfig)
    sent = await actions.push_config(user, device, data.settings, request.app.get(COMMANDS))
    return web.json_response({**_device_json(device), "sent": sent})


async def enrol(request: web.Request) -> web.Response:
    user = await auth.require(request, Role.ADMIN, Role.MANAGER)
    device = await _own_device(request, user)
    data = await body(request, schemas.DeviceEnrol)
    seller = await actions.start_enrol(user, device, data.seller, request.app.get(COMMANDS))
    return web.json_response({"device": device.id, "seller": seller.id, "sent": True})


async def history(request: web.Request) -> web.Response:
    user = await auth.require(request, Role.ADMIN, Role.MANAGER, Role.SELLER)
    device = await _own_device(request, user)
    rows = await actions.history(device)
    return web.json_response({"device": device.id, "history": [
        {**r, "at": r["at"].isoformat()} for r in rows]})


async def printer(request: web.Request) -> web.Response:
    """What the terminal's receipt printer prints: "gb18030" (a CJK printer in Chinese
    mode) or "ascii"; the next receipt sent to it uses it."""
    user = await auth.require(request, Role.ADMIN, Role.MANAGER)
    device = await _own_device(request, user)
    data = await body(request, schemas.PrinterIn)
    device.printer_charset = data.charset
    await device.save(update_fields=["printer_charset"])
    await audit.record(f"user:{user.id}", "device.printer", f"device:{device.id}",
                       {"charset": data.charset}, user_id=user.id)
    return web.json_response(_device_json(device))


async def create_shop(request: web.Request) -> web.Response:
    user = await auth.require(request, Role.ADMIN)
    data = await body(request, schemas.ShopIn)
    shop, created = await Shop.get_or_create(id=data.id, defaults={"name": data.name})
    if not created:
        raise Conflict(f"shop {data.id} exists")
    await audit.record(f"user:{user.id}", "shop.create", f"shop:{shop.id}", user_id=user.id)
    return web.json_response(shop_json(shop), status=201)


def shop_json(shop: Shop) -> dict:
    return {"id": shop.id, "name": shop.name, "timezone": shop.timezone,
            "cash_expiry_s": shop.cash_expiry_s, "address": shop.address, "tax_id": shop.tax_id,
            "tax_rounding": shop.tax_rounding, "refund_window_days": shop.refund_window_days,
            "refund_approval_above": shop.refund_approval_above,
            "shift_diff_limit": shop.shift_diff_limit, "shift_refund_cap": shop.shift_refund_cap}


async def shop_settings(request: web.Request) -> web.Response:
    """PATCH /shops/{shop}: its managers (admins: any shop) set name, time zone and the
    cash-at-the-counter expiry; audited."""
    user = scope(request).who
    shop = await Shop.get_or_none(id=request.match_info["shop"][:32])
    if shop is None:
        raise NotFound("no such shop")
    data = await body(request, schemas.ShopSettingsIn)
    changes = data.model_dump(exclude_none=True)
    if "timezone" in changes:
        try:
            ZoneInfo(changes["timezone"])
        except (ZoneInfoNotFoundError, ValueError):
            raise Invalid(f"timezone: {changes['timezone']!r} is not an IANA time zone "
                          "such as Asia/Shanghai") from None
    for name, value in changes.items():
        setattr(shop, name, value)
    if changes:
        await shop.save(update_fields=list(changes))
        await audit.record(f"user:{user.id}", "shop.settings", f"shop:{shop.id}", changes,
                           user_id=user.id)
    return web.json_response(shop_json(shop))


async def put_product(request: web.Request) -> web.Response:
    user = await auth.require(request, Role.ADMIN, Role.MANAGER)
    shop_id = request.match_info["shop"][:32]
    _check_shop(user, shop_id)
    if not await Shop.exists(id=shop_id):
        raise NotFound(f"no shop {shop_id}")
    data = await body(request, schemas.ProductIn)
    product, _ = await Product.update_or_create(
        shop_id=shop_id, sku=data.sku, defaults={"name": data.name, "price": data.price,
                                                 "currency": data.currency, "stock": data.stock})
    await audit.record(f"user:{user.id}", "product.put", f"{shop_id}/{data.sku}", user_id=user.id)
    return web.json_response(_product_json(product))


async def products(request: web.Request) -> web.Response:
    query(request, schemas.NoQuery)
    rows = await Product.filter(shop_id=request.match_info["shop"][:32]).order_by("sku")
    return web.json_response({"products": [_product_json(p) for p in rows]})


def _product_json(p: Product) -> dict:
    return {"sku": p.sku, "name": p.name, "price": p.price, "currency": p.currency,
            "stock": p.stock}
