"""The shifts pages (issue #16 item 4): /shifts lists a shop's shifts (its staff; admins
every shop's, or one with ?shop=), /shifts/{shift} shows its X report (open) or Z report
(closed) with the log, and /shifts/{shift}.pdf the same report as a PDF. Times are the
shop's local time. Every figure comes from cloud/orders/shiftreport.py's one function.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aiohttp import web
from fingerpos.cloud.api.policy import scope
from fingerpos.cloud.commerce import shiftprint
from fingerpos.cloud.core.errors import Forbidden, Invalid, NotFound
from fingerpos.cloud.models.shifts import Shift
from fingerpos.cloud.models.shops import Shop
from fingerpos.cloud.orders import shiftreport
from fingerpos.cloud.web import forms
from fingerpos.cloud.web.page import render

LIST_MAX = 200


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _local(tz: ZoneInfo):
    def fmt(at: datetime | None) -> str:
        return at.astimezone(tz).strftime("%Y-%m-%d %H:%M") if at else "-"
    return fmt


async def _shift(request: web.Request) -> Shift:
    """The shift of the path, if the viewer may see it (another shop's is not found)."""
    s = scope(request)
    raw = request.match_info["shift"]
    if not (raw.isascii() and raw.isdigit() and len(raw) < 10):
        raise NotFound("no such shift")
    shift = await Shift.get_or_none(id=int(raw))
    if shift is None or not (s.admin or shift.shop_id == s.shop):
        raise NotFound("no such shift")
    return shift


async def shift_list(request: web.Request) -> web.Response:
    s = scope(request)
    unknown = set(request.query) - {"shop"}
    if unknown:
        raise Invalid(f"unknown filter {sorted(unknown)[0][:40]!r}: use shop")
    wanted = request.query.get("shop")
    if not s.admin and wanted not in (None, s.shop):
        raise Forbidden(f"you work for shop {s.shop}, not {str(wanted)[:32]}")
    rows = Shift.all() if s.admin and not wanted else Shift.filter(shop_id=wanted or s.shop or "")
    shifts = await rows.order_by("-opened_at", "-id").limit(LIST_MAX)
    zones = {x.id: _zone(x.timezone) for x in
             await Shop.filter(id__in=list({sh.shop_id for sh in shifts}))}
    items = []
    for sh in shifts:
        r = await shiftreport.report(sh)
        tz = zones.get(sh.shop_id, ZoneInfo("UTC"))
        items.append({"shift": sh, "report": r, "opened": _local(tz)(sh.opened_at),
                      "closed": _local(tz)(sh.closed_at)})
    return await render(request, "shifts.html", {"items": items, "admin": s.admin,
                                                 "money": forms.money})


async def shift_page(request: web.Request) -> web.Response:
    shift = await _shift(request)
    r = await shiftreport.report(shift)
    tz = _zone(r.shop.timezone)
    return await render(request, "shift.html", {
        "r": r, "shift": shift, "local": _local(tz), "money": forms.money,
        "lines": shiftprint.text_lines(r, 44), "cash": r.sales.get("cash")})


async def shift_pdf(request: web.Request) -> web.Response:
    shift = await _shift(request)
    r = await shiftreport.report(shift)
    name = f"{r.kind.lower()}-report-{shift.device_id}-{shift.number}.pdf"
    return web.Response(body=shiftprint.render_pdf(r), content_type="application/pdf",
                        headers={"Content-Disposition": f'inline; filename="{name}"'})
