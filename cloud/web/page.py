"""Who is looking at a page, form CSRF, and the wrapper every page handler runs in.

Pages accept only the session cookie (never a bearer token: a browser page has
none). Every form carries a `csrf` field: the session's CSRF token when logged
in, else a token bound to a random pre-session cookie (double submit, HMAC'd
with a key derived from the cloud's secret), so even login, register and the
cart cannot be posted from another site.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import aiohttp_jinja2
from aiohttp import web
from fingerpos.cloud.accounts.auth import SESSION_COOKIE, token_hash
from fingerpos.cloud.core.appkeys import CONFIG, KEYRING
from fingerpos.cloud.core.errors import DomainError, Forbidden
from fingerpos.cloud.models.users import Role, Session, User
from fingerpos.cloud.web import i18n

PRE_COOKIE = "fp_pre"
STAFF = (Role.SELLER, Role.MANAGER, Role.ADMIN)
# Pages load nothing from elsewhere and run no inline script.
CSP = ("default-src 'self'; img-src 'self' data: https:; style-src 'self'; script-src 'self'; "
       "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Viewer:
    user: User
    session: Session

    @property
    def staff(self) -> bool:
        return self.user.role in STAFF


VIEWER = web.RequestKey("fp_viewer", object)       # Viewer | None, once looked up
NEW_PRE = web.RequestKey("fp_new_pre", str)        # a pre-session cookie to set on the answer


class LoginFirst(Exception):
    """The page needs a logged-in user: send the browser to /login and back."""


async def viewer(request: web.Request) -> Viewer | None:
    """The logged-in user of this request (cached on it), or None. An expired or unknown
    session cookie is simply anonymous here: the page offers to log in."""
    if VIEWER in request:
        return request[VIEWER]  # type: ignore[return-value]
    found = None
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        # One joined query (select_related), not two (prefetch): this runs on every page.
        session = await Session.filter(token_hash=token_hash(cookie)).select_related(
            "user").first()
        if session and session.expires_at >= datetime.now(UTC) and not session.user.disabled:
            found = Viewer(session.user, session)
    request[VIEWER] = found
    return found


async def page_user(request: web.Request) -> User:
    """The pages' way to find the caller for a route's policy: the session cookie only;
    nobody logged in goes to /login and back."""
    who = await viewer(request)
    if who is None:
        raise LoginFirst()
    return who.user


async def need(request: web.Request, *roles: Role) -> Viewer:
    who = await viewer(request)
    if who is None:
        raise LoginFirst()
    if roles and who.user.role not in roles:
        raise Forbidden(f"this page is for {' or '.join(r.value for r in roles)} accounts")
    return who


# Derived once per keyring, not per page (HKDF was a few % of an anonymous page's time).
_PRE_KEYS: weakref.WeakKeyDictionary[Any, bytes] = weakref.WeakKeyDictionary()


def _pre_token(request: web.Request, pre: str) -> str:
    keyring = request.app[KEYRING]
    key = _PRE_KEYS.get(keyring)
    if key is None:
        key = _PRE_KEYS[keyring] = keyring.subkey(b"web pre-session csrf v1")
    return hmac.new(key, pre.encode(), hashlib.sha256).hexdigest()


def pre_cookie(request: web.Request) -> str:
    """This browser's pre-session cookie value (made for this response when absent)."""
    value = request.cookies.get(PRE_COOKIE, "")
    if len(value) != 32 or not value.isalnum():
        value = request.get(NEW_PRE) or secrets.token_hex(16)
        request[NEW_PRE] = value
    return value


async def form_token(request: web.Request) -> str:
    who = await viewer(request)
    return who.session.csrf if who else _pre_token(request, pre_cookie(request))


async def checked_form(request: web.Request) -> dict[str, str]:
    """The posted form as a dict of strings, after its CSRF token is verified."""
    posted = await request.post()
    form = {k: v for k, v in posted.items() if isinstance(v, str)}
    sent = form.get("csrf", "")
    who = await viewer(request)
    if who is not None:
        expected = who.session.csrf
    elif request.cookies.get(PRE_COOKIE):
        expected = _pre_token(request, request.cookies[PRE_COOKIE])
    else:
        expected = ""
    if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise Forbidden("this form has expired or came from another site: reload the page "
                        "and send it again")
    return form


def secure_headers(request: web.Request, response: web.StreamResponse) -> None:
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("X-Frame-Options", "DENY")
    if request.get(NEW_PRE):
        response.set_cookie(PRE_COOKIE, request[NEW_PRE], httponly=True, samesite="Strict",
                            secure=request.app[CONFIG].cookie_secure, path="/")


async def render(request: web.Request, template: str, context: dict[str, Any],
                 status: int = 200) -> web.Response:
    """A template with what every page needs: the viewer, the form token, the nav."""
    who = await viewer(request)
    base = {"viewer": who, "user": who.user if who else None, "staff": bool(who and who.staff),
            "csrf": await form_token(request), "path": request.path}
    return aiohttp_jinja2.render_template(template, request, {**base, **context}, status=status)


def redirect(location: str) -> web.HTTPSeeOther:
    return web.HTTPSeeOther(location)


def page(handler: Handler) -> Handler:
    """Run a page handler: login redirects, domain errors as an error page, security headers.
    Redirects are raised (aiohttp's way); the headers are set on them before they leave."""
    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            try:
                response = await handler(request)
            except LoginFirst:
                raise redirect("/login?next=" + quote(request.path_qs, safe="/")) from None
        except DomainError as e:
            response = await render(request, "error.html", {
                **i18n.context(request), "status": e.status, "message": e.message,
                "ref": ""}, status=e.status)
        except web.HTTPException as e:
            if e.status < 400:
                secure_headers(request, e)
                raise
            response = await render(request, "error.html", {
                **i18n.context(request), "status": e.status, "message": e.reason,
                "ref": ""}, status=e.status)
        secure_headers(request, response)
        return response
    wrapped.__name__ = handler.__name__
    return wrapped
