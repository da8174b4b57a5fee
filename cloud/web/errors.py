"""Designed error pages: a 404, 405 or 500 a person can read, in en or zh-CN.

Browsers (anything not under /api/ that accepts text/html, or says nothing) get the
site's error page in the language of their Accept-Language, with the nav and a way
back; /api/ paths and clients that ask only for JSON keep the API's JSON error body
{error, message} (cloud/api/middleware.py). An unexpected exception is logged with its
traceback and a short reference, and the answer carries only that reference: never the
traceback, the exception's text or a path of the server (OWASP ASVS 5 V16.5).
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from fingerpos.cloud.api.middleware import error_json
from fingerpos.cloud.core.errors import DomainError
from fingerpos.cloud.web import i18n
from fingerpos.cloud.web.page import form_token, secure_headers, viewer

log = logging.getLogger(__name__)


def wants_html(request: web.Request) -> bool:
    """Whether this answer should be a page: not an API path, and an Accept that takes
    HTML (a browser's does) or is absent; `Accept: application/json` alone means JSON."""
    if request.path.startswith("/api/"):
        return False
    accept = request.headers.get("Accept", "")
    if not accept.strip():
        return True
    return "text/html" in accept or ("*/*" in accept and "application/json" not in accept)


async def error_page(request: web.Request, status: int, message: str = "",
                     ref: str = "") -> web.Response:
    """The error page for `status` (404, 403, 405, 500 ...) in the request's language."""
    who = None
    if status != 500:   # a failing database must not turn the 500 page into another 500
        who = await viewer(request)
    ctx: dict[str, Any] = {
        **i18n.context(request), "status": status, "message": message, "ref": ref,
        "viewer": who, "user": who.user if who else None, "staff": bool(who and who.staff),
        "csrf": await form_token(request) if status != 500 else "", "path": request.path}
    response = aiohttp_jinja2.render_template("error.html", request, ctx, status=status)
    secure_headers(request, response)
    return response


@web.middleware
async def pages(request: web.Request, handler: Any) -> web.StreamResponse:
    """Unknown pages, wrong methods and crashes as designed pages (JSON under /api/)."""
    try:
        return await handler(request)
    except web.HTTPException as e:
        if e.status < 400 or not wants_html(request):
            raise
        t = i18n.translator(i18n.lang_of(request))
        message = t(f"error.{e.status}.text") if f"error.{e.status}.text" in i18n.TEXT[
            "en"] else e.reason
        answer = await error_page(request, e.status, message)
        if "Allow" in e.headers:
            answer.headers["Allow"] = e.headers["Allow"]
        return answer
    except DomainError:
        raise   # the API's middleware answers it with its status and JSON body
    except Exception:
        ref = secrets.token_hex(4)
        log.exception("unhandled error %s on %s %s", ref, request.method, request.path)
        if not wants_html(request):
            return error_json(500, "internal", f"something went wrong on our side (reference "
                                               f"{ref}); the error is logged")
        return await error_page(request, 500, ref=ref)

