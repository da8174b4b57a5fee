"""Alarms and the live monitor: snapshot, WebSocket feed, health and metrics."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from aiohttp import WSMsgType, web
from fingerpos.cloud.api import schemas
from fingerpos.cloud.api.policy import Scope, scope
from fingerpos.cloud.api.validation import path_int, query
from fingerpos.cloud.core import monitor
from fingerpos.cloud.core.appkeys import CONFIG, METRICS, MONITOR
from fingerpos.cloud.core.errors import Forbidden
from fingerpos.cloud.fleet import alarms
from fingerpos.cloud.models.alarms import Alarm, AuditEntry
from fingerpos.cloud.models.devices import Device


async def list_alarms(request: web.Request) -> web.Response:
    s = scope(request)
    f = query(request, schemas.AlarmFilter)
    rows = alarms.of_shop(Alarm.all(), None if s.admin else s.shop or "")
    if f.open is not None:
        rows = rows.filter(cleared_at__isnull=f.open)
    return web.json_response({"alarms": await alarms.as_json(
        await rows.order_by("-id").limit(f.limit))})


async def ack_alarm(request: web.Request) -> web.Response:
    # The route's policy has checked the alarm belongs to the caller's shop.
    user = scope(request).who
    alarm = await alarms.acknowledge(path_int(request, "alarm"), user.id)
    return web.json_response((await alarms.as_json([alarm]))[0])


async def clear_alarm(request: web.Request) -> web.Response:
    user = scope(request).who
    alarm = await alarms.clear(path_int(request, "alarm"), user.id)
    return web.json_response((await alarms.as_json([alarm]))[0])


async def snapshot_data(s: Scope) -> dict:
    """What the monitor shows first: the caller's shop's counts, open alarms and terminals
    (every shop's for an admin)."""
    shop = None if s.admin else s.shop or ""
    open_alarms = await alarms.of_shop(Alarm.filter(cleared_at__isnull=True), shop).order_by(
        "-id").limit(100)
    devices = await s.shop_filter(Device.all(), "shop").order_by("id").limit(1000)
    return {"counts": monitor.counts_for(s, await monitor.counts_by_shop()),
            "alarms": await alarms.as_json(open_alarms),
            "devices": [{"id": d.id, "shop": d.shop, "online": d.online, "revoked": d.revoked,
                         "last_seen": d.last_seen.isoformat() if d.last_seen else None}
                        for d in devices]}


async def snapshot(request: web.Request) -> web.Response:
    return web.json_response(await snapshot_data(scope(request)))


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
    """The operators' feed: what the caller's scope covers (their shop; all for admins)."""
    if not _origin_ok(request):
        raise Forbidden("this Origin may not open the monitor feed")
    s = scope(request)
    first = {"kind": "snapshot", "data": await snapshot_data(s)}
    return await _stream(request, first, s)


async def buyer_feed(request: web.Request) -> web.StreamResponse:
    """A buyer's feed: changes of their own orders only (staff get nothing here)."""
    if not _origin_ok(request):
        raise Forbidden("this Origin may not open the order feed")
    user = scope(request).who
    return await _stream(request, {"kind": "hello", "data": {"user": user.id}}, OwnOrders(user.id))


@dataclass(frozen=True)
class OwnOrders:
    """The buyer feed's audience: order messages whose buyer is this user, nothing else."""

    buyer: int
    admin: bool = False
    shop: None = None

    def sees_feed(self, kind: str, data: Any) -> bool:
        return kind == "order" and isinstance(data, dict) and data.get("buyer") == self.buyer


async def _stream(request: web.Request, first: dict, audience: monitor.Audience
                  ) -> web.StreamResponse:
    ws = web.WebSocketResponse(heartbeat=30)
    await ws.prepare(request)
    hub = request.app[MONITOR]
    queue = hub.subscribe(audience)  # type: ignore[attr-defined]
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
            await ws.send_str(getter.result())   # the hub sends only what this audience sees
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
    f = query(request, schemas.AuditFilter)
    rows = await AuditEntry.all().order_by("-id").limit(f.limit)
    return web.json_response({"entries": [
        {"id": e.id, "at": e.at.isoformat(), "actor": e.actor, "action": e.action,
         "target": e.target, "detail": e.detail} for e in rows]})
