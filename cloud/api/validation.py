"""Turning request bytes into checked models; every failure is an Invalid (400) with a reason."""

from __future__ import annotations

import json
from typing import TypeVar

from aiohttp import web
from fingerpos.cloud.errors import Invalid, NotFound, TooLarge
from pydantic import BaseModel, ValidationError

MAX_BODY = 64 * 1024
MAX_ID = 2**31 - 1
M = TypeVar("M", bound=BaseModel)


def _explain(e: ValidationError) -> str:
    first = e.errors()[0]
    where = ".".join(str(p) for p in first.get("loc", ())) or "body"
    more = f" (and {e.error_count() - 1} more)" if e.error_count() > 1 else ""
    return f"{where}: {first.get('msg', 'invalid')}{more}"


async def body(request: web.Request, model: type[M]) -> M:
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise TooLarge(f"the request body is over {MAX_BODY} bytes")
    raw = await request.content.read(MAX_BODY + 1)
    if len(raw) > MAX_BODY:
        raise TooLarge(f"the request body is over {MAX_BODY} bytes")
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise Invalid("the request body must be a JSON object") from None
    if not isinstance(data, dict):
        raise Invalid("the request body must be a JSON object")
    if _has_nul(data):
        raise Invalid("text may not contain NUL characters")
    try:
        return model.model_validate(data)
    except ValidationError as e:
        raise Invalid(_explain(e)) from None


def _has_nul(value: object) -> bool:
    """PostgreSQL text cannot hold U+0000; refuse it at the edge rather than fail in the DB."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def query(request: web.Request, model: type[M]) -> M:
    params = dict(request.query)
    if len(params) != len(request.query):
        raise Invalid("each query parameter may appear once")
    if _has_nul(params):
        raise Invalid("text may not contain NUL characters")
    try:
        return model.model_validate(params)
    except ValidationError as e:
        raise Invalid(_explain(e)) from None


def path_int(request: web.Request, name: str) -> int:
    """An integer path segment; anything else is simply not found."""
    text = request.match_info[name]
    # Row ids are 32-bit in the schema (PostgreSQL integer): larger ones cannot exist.
    if not (text.isascii() and text.isdigit()) or len(text) > 10 or not 1 <= int(text) <= MAX_ID:
        raise NotFound(f"no such {name}")
    return int(text)
