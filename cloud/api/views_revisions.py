"""Validation before print on demand, and revising a held order."""

from __future__ import annotations

from aiohttp import web
from fingerpos.cloud import orders
from fingerpos.cloud.accounts import auth
from fingerpos.cloud.api import schemas_commerce as sc
from fingerpos.cloud.api.validation import body, path_int
from fingerpos.cloud.commerce import staging
from fingerpos.cloud.models.users import Role

STAFF = (Role.SELLER, Role.MANAGER, Role.ADMIN)


def _problems(problems: list) -> list[dict[str, str]]:
    return [{"code": p.code, "message": p.message} for p in problems]


async def validate(request: web.Request) -> web.Response:
    """Check the stored order now; a failing one is held with its reasons."""
    user = await auth.require(request, *STAFF)
    order = await staging.staff_order(path_int(request, "order"), user)
    problems = await staging.check(order, user)
    order = await staging.staff_order(order.id, user)
    return web.json_response({"ok": not problems, "problems": _problems(problems),
                              "order": orders.order_json(order)})


async def revise(request: web.Request) -> web.Response:
    user = await auth.require(request, *STAFF)
    order_id = path_int(request, "order")
    data = await body(request, sc.ReviseIn)
    order, problems = await staging.revise(
        order_id, user, data.version, [ln.model_dump() for ln in data.lines],
        None if data.adjustments is None else [(a.label, a.amount) for a in data.adjustments],
        data.reason)
    return web.json_response({"ok": not problems, "problems": _problems(problems),
                              "order": orders.order_json(order)})
