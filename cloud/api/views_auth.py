"""Register, log in, log out, who am I."""

from __future__ import annotations

from aiohttp import web
from fingerpos.cloud import alarms, audit, auth
from fingerpos.cloud.api import schemas
from fingerpos.cloud.api.validation import body
from fingerpos.cloud.appkeys import CONFIG, METRICS, THROTTLE
from fingerpos.cloud.errors import Unauthorized
from fingerpos.cloud.models.users import Role, Session
from fingerpos.cloud.users import create_user, user_json


async def register(request: web.Request) -> web.Response:
    data = await body(request, schemas.Register)
    user = await create_user(data.email, data.password, Role.BUYER, name=data.name,
                             actor="web:register")
    return web.json_response(user_json(user), status=201)


async def login(request: web.Request) -> web.Response:
    data = await body(request, schemas.Login)
    email, addr = data.email.strip().lower(), request.remote or "?"
    throttle: auth.LoginThrottle = request.app[THROTTLE]  # type: ignore[assignment]
    throttle.check(email, addr)
    user = await auth.authenticate(email, data.password)
    if user is None:
        failures = throttle.failed(email, addr)
        request.app[METRICS].counter("fingerpos_login_failures_total", "Failed web logins").inc()
        if failures >= throttle.max_failures:
            await alarms.raise_alarm(None, "web_login", "warning",
                                     f"{failures} failed web logins for {email} from {addr}")
        raise Unauthorized("wrong email or password")
    throttle.succeeded(email, addr)
    token, csrf = await auth.start_session(user)
    await audit.record(f"user:{user.id}", "auth.login", addr, user_id=user.id)
    response = web.json_response({"user": user_json(user), "csrf": csrf})
    response.set_cookie(auth.SESSION_COOKIE, token, httponly=True, samesite="Lax",
                        secure=request.app[CONFIG].cookie_secure, path="/",
                        max_age=int(auth.SESSION_LIFETIME.total_seconds()))
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
