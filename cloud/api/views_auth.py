"""Register, log in, log out, who am I."""

from __future__ import annotations

from aiohttp import web
from fingerpos.cloud.accounts import auth, auth_signin, passwords
from fingerpos.cloud.accounts.users import user_json
from fingerpos.cloud.api import schemas
from fingerpos.cloud.api.policy import scope
from fingerpos.cloud.api.validation import body, path_int
from fingerpos.cloud.core.errors import Forbidden, Invalid, Unauthorized
from fingerpos.cloud.models.users import Role, Session, User


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


async def change_password(request: web.Request) -> web.Response:
    """The caller's own password; their other sessions and API tokens end."""
    who = await auth.identify(request)
    if who is None:
        raise Unauthorized("not logged in")
    data = await body(request, schemas.PasswordChange)
    await passwords.change(who.user, data.old, data.new,
                           keep_session=who.session.id if who.session else None)
    return web.json_response({"ok": True})


async def reset_password(request: web.Request) -> web.Response:
    """Redeem a one-time reset link's token (no login: the token is the credential)."""
    addr = request.remote or "?"
    await passwords.RESETS.check(addr)
    data = await body(request, schemas.PasswordReset)
    try:
        user = await passwords.redeem(data.token, data.password)
    except Invalid:
        await passwords.RESETS.hit(addr)   # guessing tokens is hopeless, but not free either
        raise
    return web.json_response({"email": user.email, "ok": True})


async def reset_link(request: web.Request) -> web.Response:
    """A manager (their shop's people) or an admin issues a one-time reset link for a user;
    the route's policy has checked the user is theirs to manage."""
    actor = scope(request).who
    target = await User.get(id=path_int(request, "user"))
    if not passwords.may_manage(actor, target):
        raise Forbidden("you may not manage this account")
    token = await passwords.issue_reset(target, f"user:{actor.id}")
    return web.json_response({"user": target.id, "url": passwords.RESET_PATH + token,
                              "token": token,
                              "expires_in_s": int(passwords.RESET_LIFETIME.total_seconds())},
                             status=201)

