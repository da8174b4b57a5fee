"""A shop's people over the JSON API: list, invite, change (role, the price-change right,
disabled, name), the terminal PIN. The reset link is POST /users/{user}/reset-link
(views_auth). The work is in cloud/accounts/users.py, which the staff pages call too."""

from __future__ import annotations

from aiohttp import web
from fingerpos.cloud.accounts import passwords, users
from fingerpos.cloud.api import schemas
from fingerpos.cloud.api.policy import scope
from fingerpos.cloud.api.validation import body, path_int, query


async def list_(request: web.Request) -> web.Response:
    q = query(request, schemas.PeopleFilter)
    found = await users.people(scope(request).who, q.shop)
    return web.json_response({"users": [users.person_json(u) for u in found]})


async def create(request: web.Request) -> web.Response:
    data = await body(request, schemas.PersonIn)
    user, token = await users.invite(scope(request).who, data.email, data.role, name=data.name,
                                     shop=data.shop, can_change_price=data.can_change_price,
                                     password=data.password)
    await users.push_roster(request.app, user.shop_id)
    out: dict = {"user": users.person_json(user)}
    if token:
        out["reset"] = {"url": passwords.RESET_PATH + token, "token": token,
                        "expires_in_s": int(passwords.RESET_LIFETIME.total_seconds())}
    return web.json_response(out, status=201)


async def patch(request: web.Request) -> web.Response:
    actor = scope(request).who
    target = await users.person(actor, path_int(request, "user"))
    data = await body(request, schemas.PersonPatch)
    changed = await users.update(actor, target, users.Change(**data.model_dump()))
    if changed.keys() & {"role", "can_change_price", "disabled"}:
        await users.push_roster(request.app, target.shop_id)
    return web.json_response({"user": users.person_json(target), "changed": sorted(changed)})


async def set_pin(request: web.Request) -> web.Response:
    actor = scope(request).who
    target = await users.person(actor, path_int(request, "user"))
    data = await body(request, schemas.PinIn)
    await users.set_pin(actor, target, data.pin, request.app)
    sent = await users.push_roster(request.app, target.shop_id)
    return web.json_response({"ok": True, "terminals": sent})
