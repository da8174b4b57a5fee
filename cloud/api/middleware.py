"""The one place domain errors become HTTP answers: JSON {error, message} with a 4xx;
and the cross-site refusal every state-changing request passes first.

Cross-site (OWASP ASVS 5 V3.5, the Fetch Metadata pattern): a POST/PUT/PATCH/DELETE
whose browser says it came from another site (`Sec-Fetch-Site: cross-site` or
`same-site`) or whose `Origin` is not this host (nor a configured allowed origin) is
refused with 403 before any handler runs, whatever its Content-Type: this stops login
CSRF and cross-site registration, which carry no session token to check, and backs up
the tokens everywhere else. Clients that send neither header (curl, the CLI, a
provider's webhook) are not browsers and cannot carry a victim's cookies.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from fingerpos.cloud.core import monitor
from fingerpos.cloud.core.appkeys import CONFIG
from fingerpos.cloud.core.errors import DomainError, Forbidden

log = logging.getLogger(__name__)
_HTTP_CODES = {400: "invalid", 401: "unauthorized", 403: "forbidden", 404: "not_found",
               405: "method_not_allowed", 409: "conflict", 413: "too_large",
               415: "unsupported_media_type", 429: "throttled"}
_SAFE = ("GET", "HEAD", "OPTIONS")


def same_site(request: web.Request) -> bool:
    """Whether a browser request comes from this site (True for non-browser clients)."""
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None and site not in ("same-origin", "none"):
        return False
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    if origin in request.app[CONFIG].allowed_origins:
        return True
    return origin != "null" and urlsplit(origin).netloc == request.host


def error_json(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": code, "message": message}, status=status)


@web.middleware
async def errors(request: web.Request, handler: Any) -> web.StreamResponse:
    monitor.CURRENT_APP.set(request.app)
    try:
        if request.method not in _SAFE and not same_site(request):
            raise Forbidden("cross-site requests are refused: send this from the site's own "
                            "pages")
        return await handler(request)
    except DomainError as e:
        return error_json(e.status, e.code, e.message)
    except web.HTTPException as e:
        if e.status < 400 or not request.path.startswith("/api/"):
            raise
        answer = error_json(e.status, _HTTP_CODES.get(e.status, "error"), e.reason)
        if "Allow" in e.headers:   # RFC 9110 §15.5.6: a 405 says which methods are allowed
            answer.headers["Allow"] = e.headers["Allow"]
        return answer
