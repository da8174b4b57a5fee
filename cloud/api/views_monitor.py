"""Alarms and the live monitor: snapshot, WebSocket feed, health and metrics."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from urllib.parse import urlsplit

from aiohttp import WSMsgType, web
from fingerpos.cloud import alarms, auth
from fingerpos.cloud.api import schemas
from fingerpos.cloud.api.validation import path_int, query
from fingerpos.cloud.appkeys import CONFIG, METRICS, MONITOR
from fingerpos.cloud.errors import Forbidden
from fingerpos.cloud.models.alarms import Alarm, AuditEntry
from fingerpos.cloud.models.devices import Device
from fingerpos.cloud.models.users import Role
from fingerpos.cloud.orders.queries import state_counts

STAFF = (Role.SELLER, Role.MANAGER, Role.ADMIN)


async def list_alarms(request: web.Request) -> web.Response:
    await auth.require(request, *STAFF)
    f = query(request, schemas.AlarmFilter)
    rows = Alarm.all()
    if f.open is not None:
        rows = rows.filter(cleared_at__isnull=f.open)
    out = [alarms.alarm_json(a) for a in await rows.order_by("-id").limit(f.limit)]
    return web.json_response({"alarms": out})


async def ack_alarm(request: web.Request) -> web.Response:
    user = await auth.require(request, Role.MANAGER, Role.ADMIN)
    alarm = await alarms.acknowledge(path_int(request, "alarm"), user.id)
    return web.json_response(alarms.alarm_json(alarm))


async def clear_alarm(request: web.Request) -> web.Response:
    user = await auth.require(request, Role.MANAGER, Role.ADMIN)
    alarm = await alarms.clear(path_int(request, "alarm"), user.id)
    return web.json_response(alarms.alarm_json(alarm))


async def snapshot_data() -> dict:
    open_alarms = await Alarm.filter(cleared_at__isnull=True).order_by("-id").limit(100)
    devices = await Device.all().order_by("id").limit(1000)
    return {"counts": await state_counts(),
            "alarms": [alarms.alarm_json(a) for a in open_alarms],
            "devices": [{"id": d.id, "shop": d.shop, "online": d.online, "revoked": d.revoked,
                         "last_seen": d.last_seen.isoformat() if d.last_seen else None}
                        for d in devices]}


async def snapshot(request: web.Request) -> web.Response:
    await auth.require(request, *STAFF)
    return web.json_response(await snapshot_data())


def _origin_ok(request: web.Request) -> bool:
    """Browsers send Origin on WebSocket upgrades: only this site (and configured ones) may
    read the feed with the user's cookie. Non-browser clients send no Origin."""
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    if origin in request.app[CONFIG].allowed_origins:
        return True
    return urlsplit(origin).netloc == request.host


async def feed(request: web.Request) -> web.StreamResponse:
    """The operators' feed: everything (staff only)."""
    if not _origin_ok(request):
        raise Forbidden("this Origin may not open the monitor feed")
    await auth.require(request, *STAFF)
    first = {"kind": "snapshot", "data": await snapshot_data()}
    return await _stream(request, first, lambda text: True)


async def buyer_feed(request: web.Request) -> web.StreamResponse:
    """A buyer's feed: changes of their own orders only."""
    if not _origin_ok(request):
        raise Forbidden("this Origin may not open the order feed")
    user = await auth.require(request)
    mine = f'"buyer":{user.id},'

    def wanted(text: str) -> bool:  # cheap pre-filter on the serialised message, then exact
        if not text.startswith('{"kind":"order"') or mine not in text:
            return False
        return json.loads(text)["data"].get("buyer") == user.id

    return await _stream(request, {"kind": "hello", "data": {"user": user.id}}, wanted)


async def _stream(request: web.Request, first: dict, wanted: Callable[[str], bool]
                  ) -> web.StreamResponse:
    ws = web.WebSocketResponse(heartbeat=30)
    await ws.prepare(request)
    hub = request.app[MONITOR]
    queue = hub.subscribe()  # type: ignore[attr-defined]
    request.app[METRICS].gauge("fingerpos_monitor_clients", "Open monitor feeds").inc()
    try:
        await ws.send_str(json.dumps(first))
        reader = asyncio.ensure_future(ws.receive())
        while not ws.closed:
            getter = asyncio.ensure_future(queue.get())
            done, _ = await asyncio.wait({getter, reader}, return_when=asyncio.FIRST_COMPLETED)
            if reader in done:
                getter.cancel()
                msg = reader.result()
                if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED,
                                WSMsgType.ERROR):
                    break
                reader = asyncio.ensure_future(ws.receive())  # clients only listen; ignore text
                continue
            text = getter.result()
            if wanted(text):
                await ws.send_str(text)
        reader.cancel()
    finally:
        hub.unsubscribe(queue)  # type: ignore[attr-defined]
        request.app[METRICS].gauge("fingerpos_monitor_clients", "Open monitor feeds").inc(-1)
    return ws


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


async def metrics(request: web.Request) -> web.Response:
    return web.Response(text=request.app[METRICS].render(),
                        content_type="text/plain", charset="utf-8",
                        headers={"X-Content-Type-Options": "nosniff"})


async def audit_log(request: web.Request) -> web.Response:
    await auth.require(request, Role.ADMIN)
    f = query(request, schemas.AuditFilter)
    rows = await AuditEntry.all().order_by("-id").limit(f.limit)
    return web.json_response({"entries": [
        {"id": e.id, "at": e.at.isoformat(), "actor": e.actor, "action": e.action,
         "target": e.target, "detail": e.detail} for e in rows]})
