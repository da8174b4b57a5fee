"""The one place domain errors become HTTP answers: JSON {error, message} with a 4xx."""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web
from fingerpos.cloud import monitor
from fingerpos.cloud.errors import DomainError

log = logging.getLogger(__name__)
_HTTP_CODES = {400: "invalid", 401: "unauthorized", 403: "forbidden", 404: "not_found",
               405: "method_not_allowed", 409: "conflict", 413: "too_large", 429: "throttled"}


def error_json(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": code, "message": message}, status=status)


@web.middleware
async def errors(request: web.Request, handler: Any) -> web.StreamResponse:
    monitor.CURRENT_APP.set(request.app)
    try:
        return await handler(request)
    except DomainError as e:
        return error_json(e.status, e.code, e.message)
    except web.HTTPException as e:
        if e.status < 400 or not request.path.startswith("/api/"):
            raise
        return error_json(e.status, _HTTP_CODES.get(e.status, "error"), e.reason)
