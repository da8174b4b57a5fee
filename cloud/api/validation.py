"""Turning request bytes into checked models; every failure is an Invalid (400) with a reason."""

from __future__ import annotations

import json
from typing import TypeVar

from aiohttp import web
from fingerpos.cloud.core.errors import DomainError, Invalid, NotFound, TooLarge
from pydantic import BaseModel, ValidationError

MAX_BODY = 64 * 1024
MAX_DEPTH = 32   # our bodies nest 3 deep; anything far deeper is an attack, not an order


class UnsupportedMediaType(DomainError):
    status, code = 415, "unsupported_media_type"


def _depth(value: object) -> int:
    """How deeply `value` nests (iterative: a deep value must not exhaust the stack)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, level)
            if level > MAX_DEPTH:
                return level
            stack.extend((v, level + 1) for v in (item.values() if isinstance(item, dict)
                                                  else item))
    return deepest
MAX_ID = 2**31 - 1
M = TypeVar("M", bound=BaseModel)


def _explain(e: ValidationError) -> str:
    first = e.errors()[0]
    where = ".".join(str(p) for p in first.get("loc", ())) or "body"
    more = f" (and {e.error_count() - 1} more)" if e.error_count() > 1 else ""
    return f"{where}: {first.get('msg', 'invalid')}{more}"


async def body(request: web.Request, model: type[M]) -> M:
    """The JSON body as `model`: Content-Type application/json (415 otherwise), at most
    MAX_BODY bytes (413) and MAX_DEPTH levels deep (400)."""
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise TooLarge(f"the request body is over {MAX_BODY} bytes")
    raw = await request.content.read(MAX_BODY + 1)
    if len(raw) > MAX_BODY:
        raise TooLarge(f"the request body is over {MAX_BODY} bytes")
    if request.content_type != "application/json":
        raise UnsupportedMediaType("the request body must be JSON (Content-Type: application/json)")
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise Invalid("the request body must be a JSON object") from None
    except RecursionError:   # the C scanner gives up on very deep nesting
        raise Invalid(f"the request body nests deeper than {MAX_DEPTH} levels") from None
    if _depth(data) > MAX_DEPTH:
        raise Invalid(f"the request body nests deeper than {MAX_DEPTH} levels")
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
