"""Register, log in, log out as forms; the failed-sign-in notice for the account owner.

Logging in goes through cloud/accounts/auth_signin.py, as the JSON API's login does: the same
argon2 check at the same cost whether or not the email exists, the same database-backed
throttle, the same cookie flags, and the same `auth.login_failed` records, so the owner is
told at the next login about failed attempts made through either.
Register answers the same way whether or not the address is taken (no enumeration);
a registration attempt on a taken address is recorded for the owner instead.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from aiohttp import web
from fingerpos.cloud.accounts import auth, auth_signin
from fingerpos.cloud.api import schemas
from fingerpos.cloud.core.errors import Invalid, Throttled, Unauthorized
from fingerpos.cloud.models.alarms import AuditEntry
from fingerpos.cloud.models.users import Role, Session
from fingerpos.cloud.web import forms
from fingerpos.cloud.web.page import checked_form, redirect, render, viewer

NOTICE_LIMIT = 20


def _safe_next(target: str | None) -> str:
    """Only a path on this site (never //host or a scheme): no open redirect."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else "/"


async def login_form(request: web.Request) -> web.Response:
    return await render(request, "login.html", {"errors": {}, "form": {},
                                                "next": _safe_next(request.query.get("next")),
                                                "notice": request.query.get("registered")})


async def login(request: web.Request) -> web.Response:
    form = await checked_form(request)
    nxt = _safe_next(form.get("next"))
    data, errors = forms.validate(schemas.Login, {"email": form.get("email", ""),
                                                  "password": form.get("password", "")})
    if data is None:
        return await render(request, "login.html", {"errors": errors, "form": form, "next": nxt,
                                                    "notice": None}, status=400)
    email = data.email.strip().lower()
    try:
        user, token, _csrf = await auth_signin.sign_in(request.app, email, data.password,
                                                       request.remote or "?", via="web")
    except Throttled as e:
        return await render(request, "login.html", {"errors": {"form": e.message}, "form": form,
                                                    "next": nxt, "notice": None}, status=429)
    except Unauthorized as e:
        return await render(request, "login.html", {
            "errors": {"password": e.message}, "form": {"email": email},
            "next": nxt, "notice": None}, status=401)
    target = "/monitor" if user.role != Role.BUYER and nxt == "/" else nxt
    response = redirect(target + ("&" if "?" in target else "?") + "signed_in=1")
    auth_signin.set_session_cookie(request.app, response, token)
    raise response


async def failed_since_last_login(user_id: int) -> list[AuditEntry]:
    """Failed sign-ins (and registration attempts) on this account between the login
    before the current one and the current one."""
    logins = await AuditEntry.filter(user_id=user_id, action="auth.login").order_by("-id").limit(2)
    if not logins:
        return []
    query = AuditEntry.filter(user_id=user_id, id__lt=logins[0].id,
                              action__in=["auth.login_failed", "auth.register_taken"])
    if len(logins) > 1:
        query = query.filter(id__gt=logins[1].id)
    return await query.order_by("-id").limit(NOTICE_LIMIT)


def _what(entry: AuditEntry) -> str:
    if entry.action == "auth.register_taken":
        return "registration attempt"
    via = entry.detail.get("via") if isinstance(entry.detail, dict) else None
    return "failed sign-in through the API" if via == "api" else "failed sign-in"


async def signin_notice(request: web.Request) -> dict | None:
    """What the banner after a login shows: None when there is nothing to report."""
    if request.query.get("signed_in") != "1":
        return None
    who = await viewer(request)
    if who is None:
        return None
    entries = await failed_since_last_login(who.user.id)
    if not entries:
        return None
    return {"count": len(entries), "attempts": [
        {"at": e.at, "from": e.target, "what": _what(e)} for e in entries],
        "more": len(entries) >= NOTICE_LIMIT}


async def register_form(request: web.Request) -> web.Response:
    return await render(request, "register.html", {"errors": {}, "form": {}})


async def register(request: web.Request) -> web.Response:
    form = await checked_form(request)
    addr = request.remote or "?"
    try:
        await auth_signin.REGISTRATIONS.check(addr)
    except Throttled as e:
        return await render(request, "register.html", {"errors": {"form": e.message},
                                                       "form": {}}, status=429)
    await auth_signin.REGISTRATIONS.hit(addr)  # every attempt counts
    fields = {"email": form.get("email", "").strip(), "password": form.get("password", ""),
              "name": form.get("name", "").strip()}
    data, errors = forms.validate(schemas.Register, fields)
    if data is not None and form.get("password2", "") != data.password:
        errors["password2"] = "the two passwords differ"
    if data is None or errors:
        return await render(request, "register.html", {"errors": errors, "form": fields},
                            status=400)
    try:
        await auth_signin.register(data.email, data.password, data.name, addr, via="web")
    except Invalid as e:
        return await render(request, "register.html", {"errors": {"email": e.message},
                                                       "form": fields}, status=400)
    raise redirect("/login?registered=1")


async def logout(request: web.Request) -> web.Response:
    await checked_form(request)
    who = await viewer(request)
    if who is not None:
        await Session.filter(id=who.session.id).delete()
    response = redirect("/")
    response.del_cookie(auth.SESSION_COOKIE, path="/")
    raise response
