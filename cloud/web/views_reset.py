"""The page a one-time reset link opens: /reset/<token>, a new password twice.

The link is the credential (cloud/accounts/passwords.py issues it for a manager or admin, or the
CLI prints it), so the page needs no login. GET says up front when the link is unknown
(404), used or expired (410), in the reader's language (cloud/web/i18n.py), instead of
letting them type a password first; POST redeems it through `passwords.redeem`, the same
single-use UPDATE the JSON API uses, so two tabs cannot both use one link. Wrong tokens
count against the address in the same throttle as POST /api/v1/auth/reset.

The token is in the path: the pages load nothing from elsewhere and every page's
`Referrer-Policy: same-origin` keeps it from other sites (not `no-referrer`: Chromium
then sends `Origin: null` on the form's POST, which the cross-site check refuses), and
`Cache-Control: no-store` keeps it out of the browser's cache.
"""

from __future__ import annotations

from aiohttp import web
from fingerpos.cloud.accounts import passwords
from fingerpos.cloud.core.errors import Invalid, Throttled
from fingerpos.cloud.models.users import PasswordReset
from fingerpos.cloud.web import i18n
from fingerpos.cloud.web.page import checked_form, render

_STATUS = {"unknown": 404, "used": 410, "expired": 410, "throttled": 429}


async def _answer(request: web.Request, state: str, row: PasswordReset | None,
                  errors: dict[str, str] | None = None, status: int = 200) -> web.Response:
    words = i18n.context(request)
    expired_at = row.expires_at.strftime("%Y-%m-%d %H:%M UTC") if row is not None else ""
    response = await render(request, "reset.html", {
        **words, "state": state, "errors": errors or {}, "expired_at": expired_at,
        "email": row.user.email if row is not None and state in ("ok", "done") else "",
        "token": request.match_info["token"]},
        status=_STATUS.get(state, status))
    response.headers["Cache-Control"] = "no-store"
    return response


async def reset_form(request: web.Request) -> web.Response:
    state, row = await passwords.link_state(request.match_info["token"])
    return await _answer(request, state, row)


async def reset_submit(request: web.Request) -> web.Response:
    form = await checked_form(request)
    token = request.match_info["token"]
    t = i18n.translator(i18n.lang_of(request))
    addr = request.remote or "?"
    try:
        await passwords.RESETS.check(addr)
    except Throttled:
        return await _answer(request, "throttled", None)
    state, row = await passwords.link_state(token)
    if state != "ok":
        await passwords.RESETS.hit(addr)
        return await _answer(request, state, row)
    password = form.get("password", "")
    errors: dict[str, str] = {}
    if not passwords.MIN_LENGTH <= len(password) <= 200:
        errors["password"] = t("reset.short")
    elif form.get("password2", "") != password:
        errors["password2"] = t("reset.differ")
    if errors:
        return await _answer(request, "ok", row, errors, status=400)
    try:
        await passwords.redeem(token, password)
    except Invalid:   # used in another tab, or expired, since the look above
        state, row = await passwords.link_state(token)
        return await _answer(request, state if state != "ok" else "used", row)
    return await _answer(request, "done", row)
