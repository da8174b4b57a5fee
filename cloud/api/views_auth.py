"""Register, log in, log out, who am I."""

from __future__ import annotations

from aiohttp import web
from fingerpos.cloud import auth, auth_signin
from fingerpos.cloud.api import schemas
from fingerpos.cloud.api.validation import body
from fingerpos.cloud.errors import Unauthorized
from fingerpos.cloud.models.users import Role, Session
from fingerpos.cloud.users import user_json


async def register(request: web.Request) -> web.Response:
    """201 and the same body whether or not the address was free: no enumeration."""
    addr = request.remote or "?"
    await auth_signin.REGISTRATIONS.check(addr)
    await auth_signin.REGISTRATIONS.hit(addr)   # every attempt counts
    data = await body(request, schemas.Register)
    await auth_signin.register(data.email, data.password, data.name, addr, via="api")
    return web.json_response({"email": data.email.strip().lower(), "role": Role.BUYER.value,
                              "message": REGISTERED}, status=201)


REGISTERED = "registered: log in with this address and password"


async def login(request: web.Request) -> web.Response:
    data = await body(request, schemas.Login)
    user, token, csrf = await auth_signin.sign_in(request.app, data.email, data.password,
                                                  request.remote or "?", via="api")
    response = web.json_response({"user": user_json(user), "csrf": csrf})
    auth_signin.set_session_cookie(request.app, response, token)
    return response


async def logout(request: web.Request) -> web.Response:
    who = await auth.identify(request)
    if who is not None and who.session is not None:
        await Session.filter(id=who.session.id).delete()
    response = web.json_response({"ok": True})
    response.del_cookie(auth.SESSION_COOKIE, path="/")
    return response


async def me(request: web.Request) -> web.Response:
    who = await auth.identify(request)
    if who is None:
        raise Unauthorized("not logged in")
    out = {"user": user_json(who.user), "csrf": who.session.csrf if who.session else None}
    return web.json_response(out)
