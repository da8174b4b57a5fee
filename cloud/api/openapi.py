"""The OpenAPI 3.1 document, generated from the route table and its pydantic models."""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web
from fingerpos.cloud.api.routes import ROUTES, V1, Route

_INT_PARAMS = {"order", "alarm", "user"}
_ERROR = {"$ref": "#/components/schemas/Error"}
_REASONS = {400: "invalid input", 401: "not authenticated", 403: "not allowed (role, CSRF, Origin)",
            404: "not found", 409: "conflict with the current state", 413: "body too large",
            415: "the body is not application/json",
            422: "Idempotency-Key reused with a different request", 429: "too many attempts"}

# What an alarm looks like (cloud/fleet/alarms.py alarm_json): title, title_zh and link
# were added for people (issue #17); kind and message keep their machine meaning.
_NULL_STR = {"type": ["string", "null"]}
ALARM = {"type": "object", "required": ["id", "kind", "title", "severity", "message"],
         "properties": {
             "id": {"type": "integer"}, "device": _NULL_STR, "shop": _NULL_STR,
             "kind": {"type": "string", "description": "machine kind, e.g. unaccepted:shop1"},
             "title": {"type": "string",
                       "description": "for people, in English: Order 1042 not accepted for 5 min"},
             "title_zh": {"type": "string", "description": "the title in zh-CN"},
             "link": {**_NULL_STR, "description": "site path of its order, product or "
                                                  "terminal (/orders/1042), or null"},
             "severity": {"enum": ["info", "warning", "critical"]},
             "message": {"type": "string"}, "count": {"type": "integer"},
             "first_at": {"type": "string", "format": "date-time"},
             "last_at": {"type": "string", "format": "date-time"},
             "acked_at": {"type": ["string", "null"], "format": "date-time"},
             "cleared_at": {"type": ["string", "null"], "format": "date-time"}}}
_ALARM_REF = {"$ref": "#/components/schemas/Alarm"}
_OK_SCHEMAS = {
    V1 + "/alarms": {"type": "object", "properties": {
        "alarms": {"type": "array", "items": _ALARM_REF}}},
    V1 + "/alarms/{alarm}/ack": _ALARM_REF, V1 + "/alarms/{alarm}/clear": _ALARM_REF,
}


def _schema(model: Any, defs: dict[str, Any]) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    defs.update(schema.pop("$defs", {}))
    defs[model.__name__] = schema
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _operation(r: Route, defs: dict[str, Any]) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": r.summary,
                          "operationId": r.handler.__module__.rsplit(".", 1)[-1] + "."
                          + r.handler.__name__}
    params = []
    for name in re.findall(r"{(\w+)}", r.path):
        kind = ({"type": "integer", "minimum": 1, "maximum": 2**31 - 1} if name in _INT_PARAMS
                else {"type": "string", "pattern": r"^[A-Za-z0-9_-]{1,32}$"})
        params.append({"name": name, "in": "path", "required": True, "schema": kind})
    if r.query is not None:
        for name, f in r.query.model_fields.items():
            sub = r.query.model_json_schema()["properties"][name]
            params.append({"name": name, "in": "query", "required": f.is_required(), "schema": sub})
    if params:
        op["parameters"] = params
    if r.body is not None:
        op["requestBody"] = {"required": True,
                             "content": {"application/json": {"schema": _schema(r.body, defs)}}}
    ok_content = ({r.content: {"schema": {"type": "string"}}} if r.content != "application/json"
                  else {"application/json": {"schema": _OK_SCHEMAS.get(r.path,
                                                                       {"type": "object"})}})
    responses: dict[str, Any] = {str(r.ok): {"description": "success"}}
    if r.ok != 101:
        responses[str(r.ok)]["content"] = ok_content
    errors = set(r.errors)
    if r.body is not None:
        errors.add(415)
    if r.method not in ("GET", "HEAD"):
        errors.add(403)    # cross-site requests are refused (Origin / Sec-Fetch-Site)
    if "Idempotency-Key" in r.summary:
        errors.add(422)
    for status in sorted(errors):
        responses[str(status)] = {"description": _REASONS[status],
                                  "content": {"application/json": {"schema": _ERROR}}}
    op["responses"] = responses
    if r.auth:
        op["security"] = [{"bearer": []}, {"session": []}]
    return op


def build() -> dict[str, Any]:
    defs: dict[str, Any] = {
        "Error": {"type": "object", "required": ["error", "message"],
                  "properties": {"error": {"type": "string"}, "message": {"type": "string"}}},
        "Alarm": ALARM}
    paths: dict[str, Any] = {}
    for r in ROUTES:
        paths.setdefault(r.path, {})[r.method.lower()] = _operation(r, defs)
    paths[V1 + "/openapi.json"] = {"get": {
        "summary": "This document", "operationId": "openapi.document",
        "responses": {"200": {"description": "OpenAPI 3.1",
                              "content": {"application/json": {"schema": {"type": "object"}}}}}}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "fingerpos cloud", "version": "1",
                 "description": "Orders, devices, alarms and the live monitor. Errors are "
                                "JSON {error, message}. Cookie-authenticated writes need the "
                                "X-CSRF-Token header (from login or GET /api/v1/auth/me)."},
        "paths": paths,
        "components": {"schemas": defs, "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer"},
            "session": {"type": "apiKey", "in": "cookie", "name": "fp_session"}}},
    }


async def document(request: web.Request) -> web.Response:
    return web.json_response(build())
