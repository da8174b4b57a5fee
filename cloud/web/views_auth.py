"""Register, log in, log out as forms; the failed-sign-in notice for the account owner.

Same rules as the JSON API (cloud/api/views_auth.py): argon2 check at the same cost
whether or not the email exists, the shared login throttle, and the same cookie flags.
A failed login for an existing account is written to the audit trail as
`auth.login_failed` with that account's id, so the owner is told at the next login.
Register answers the same way whether or not the address is taken (no enumeration);
a registration attempt on a taken address is recorded for the owner instead.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from aiohttp import web
from fingerpos.cloud import alarms, audit, auth
from fingerpos.cloud.api import schemas
from fingerpos.cloud.appkeys import CONFIG, METRICS, THROTTLE
from fingerpos.cloud.errors import Conflict, Invalid, Throttled
from fingerpos.cloud.models.alarms import AuditEntry
from fingerpos.cloud.models.users import Role, Session, User
from fingerpos.cloud.users import create_user
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
    email, addr = data.email.strip().lower(), request.remote or "?"
    throttle: auth.LoginThrottle = request.app[THROTTLE]  # type: ignore[assignment]
    try:
        throttle.check(email, addr)
    except Throttled as e:
        return await render(request, "login.html", {"errors": {"form": e.message}, "form": form,
                                                    "next": nxt, "notice": None}, status=429)
    user = await auth.authenticate(email, data.password)
    if user is None:
        await _failed(request, throttle, email, addr)
        return await render(request, "login.html", {
            "errors": {"password": "wrong email or password"}, "form": {"email": email},
            "next": nxt, "notice": None}, status=401)
    throttle.succeeded(email, addr)
    token, _csrf = await auth.start_session(user)
    await audit.record(f"user:{user.id}", "auth.login", addr, user_id=user.id)
    target = "/monitor" if user.role != Role.BUYER and nxt == "/" else nxt
    response = redirect(target + ("&" if "?" in target else "?") + "signed_in=1")
    response.set_cookie(auth.SESSION_COOKIE, token, httponly=True, samesite="Lax",
                        secure=request.app[CONFIG].cookie_secure, path="/",
                        max_age=int(auth.SESSION_LIFETIME.total_seconds()))
    raise response


async def _failed(request: web.Request, throttle: auth.LoginThrottle, email: str,
                  addr: str) -> None:
    failures = throttle.failed(email, addr)
    request.app[METRICS].counter("fingerpos_login_failures_total", "Failed web logins").inc()
    owner = await User.get_or_none(email=email)
    if owner is not None:
        await audit.record("web:login", "auth.login_failed", addr, user_id=owner.id)
    if failures >= throttle.max_failures:
        await alarms.raise_alarm(None, "web_login", "warning",
                                 f"{failures} failed web logins for {email} from {addr}")


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
        {"at": e.at, "from": e.target, "what": "registration attempt" if
         e.action == "auth.register_taken" else "failed sign-in"} for e in entries],
        "more": len(entries) >= NOTICE_LIMIT}


async def register_form(request: web.Request) -> web.Response:
    return await render(request, "register.html", {"errors": {}, "form": {}})


# Registrations per client address in an hour: each one costs an argon2 hash, and a
# flood of them is how addresses would be probed (the answer itself reveals nothing).
REGISTER_LIMIT = 20
REGISTER_WINDOW_S = 3600
REGISTRATIONS = web.AppKey("web_registrations", auth.LoginThrottle)


def registrations(app: web.Application) -> auth.LoginThrottle:
    return app[REGISTRATIONS]


async def register(request: web.Request) -> web.Response:
    form = await checked_form(request)
    addr = request.remote or "?"
    try:
        registrations(request.app).check("register", addr)
    except Throttled:
        return await render(request, "register.html", {
            "errors": {"form": "too many registrations from your address; try again later"},
            "form": {}}, status=429)
    registrations(request.app).failed("register", addr)  # every attempt counts
    fields = {"email": form.get("email", "").strip(), "password": form.get("password", ""),
              "name": form.get("name", "").strip()}
    data, errors = forms.validate(schemas.Register, fields)
    if data is not None and form.get("password2", "") != data.password:
        errors["password2"] = "the two passwords differ"
    if data is None or errors:
        return await render(request, "register.html", {"errors": errors, "form": fields},
                            status=400)
    try:
        await create_user(data.email, data.password, Role.BUYER, name=data.name,
                          actor="web:register")
    except Conflict:
        owner = await User.get(email=data.email.strip().lower())
        await audit.record("web:register", "auth.register_taken", request.remote or "?",
                           user_id=owner.id)
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
