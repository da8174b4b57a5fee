"""A terminal's own page (/devices/{device}, issue #18 item 5): its figures, its history
(people's actions and its boots with the firmware each reported) and, for managers of its
shop, the actions: rename, push settings, start an enrolment, rotate the key, revoke, and
for admins move it to another shop.

The work is cloud/fleet/actions.py's, the same the REST API calls, so both refuse the same
input and write the same audit entries. Each form posts to its own address and comes back
here (303) with what was done, or is shown again with the error by the field and what was
typed kept. The route policy has already refused staff of another shop (404).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from fingerpos.cloud.api.policy import scope
from fingerpos.cloud.core.appkeys import COMMANDS, KEYRING
from fingerpos.cloud.core.errors import DomainError, Invalid
from fingerpos.cloud.fleet import actions
from fingerpos.cloud.fleet.roster import roster_of
from fingerpos.cloud.models.devices import Device
from fingerpos.cloud.models.shops import Shop
from fingerpos.cloud.models.users import Role, User
from fingerpos.cloud.web import units
from fingerpos.cloud.web.page import checked_form, redirect, render

DONE = {"renamed", "config_sent", "config_stored", "enrol_sent", "rotated", "revoked", "moved"}


async def _page(request: web.Request, device: Device, errors: dict[str, str] | None = None,
                form: dict[str, str] | None = None, status: int = 200) -> web.Response:
    actor = scope(request).who
    shop = await Shop.get_or_none(id=device.shop)
    zone = shop.timezone if shop and shop.timezone else "UTC"
    sellers = await User.filter(shop_id=device.shop, disabled=False,
                                role__in=[Role.SELLER, Role.MANAGER]).order_by("name", "id")
    current = {**{k: s.default for k, s in actions.SETTINGS.items()},
               **actions.stored_settings(device)}
    history = [{**h, "when": units.local(h["at"], zone)} for h in await actions.history(device)]
    done = request.query.get("done", "")
    return await render(request, "device.html", {
        "device": device, "shop": shop, "zone": zone,
        "seen": units.local(device.last_seen, zone), "heap": units.kb(device.heap_free),
        "signal": units.dbm(device.rssi), "up": units.duration(device.uptime),
        "can_manage": actor.role == Role.ADMIN or (
            actor.role == Role.MANAGER and actor.shop_id == device.shop),
        "admin": actor.role == Role.ADMIN,
        "shops": await Shop.all().order_by("id").values_list("id", flat=True)
        if actor.role == Role.ADMIN else [],
        "sellers": sellers, "settings": actions.SETTINGS, "current": current,
        "pushed": device.settings or {}, "history": history,
        "done": done if done in DONE else "", "errors": errors or {}, "form": form or {}},
        status=status)


async def device_page(request: web.Request) -> web.Response:
    return await _page(request, await actions.get(request.match_info["device"]))


def _where(device: Device, done: str) -> web.HTTPSeeOther:
    return redirect(f"/devices/{device.id}?done={done}")


async def _act(request: web.Request, work: Any, field: str) -> web.Response:
    """Run one action from a posted form; a refusal shows the page again (400 or 403)."""
    form = await checked_form(request)
    device = await actions.get(request.match_info["device"])
    actor = scope(request).who
    try:
        done = await work(actor, device, form)
    except DomainError as e:
        text = e.message.split(": ", 1)[1] if e.message.startswith(field + ": ") else e.message
        return await _page(request, device, {field: text}, form, status=e.status)
    raise _where(device, done)


async def rename(request: web.Request) -> web.Response:
    async def work(actor: User, device: Device, form: dict[str, str]) -> str:
        await actions.rename(actor, device, form.get("name", ""))
        return "renamed"
    return await _act(request, work, "name")


async def push_config(request: web.Request) -> web.Response:
    async def work(actor: User, device: Device, form: dict[str, str]) -> str:
        changes: dict[str, Any] = {}
        for key in actions.SETTINGS:
            text = form.get(key, "").strip()
            if text == "":
                continue
            try:
                value = int(text)
            except ValueError:
                raise Invalid(f"settings: {key}: {text[:20]!r} is not a whole number") from None
            if value != (device.settings or {}).get(key, actions.SETTINGS[key].default):
                changes[key] = value
        if not changes:
            raise Invalid("settings: nothing changed")
        sent = await actions.push_config(actor, device, changes, request.app.get(COMMANDS))
        return "config_sent" if sent else "config_stored"
    return await _act(request, work, "settings")


async def enrol(request: web.Request) -> web.Response:
    async def work(actor: User, device: Device, form: dict[str, str]) -> str:
        await actions.start_enrol(actor, device, form.get("seller", ""), request.app.get(COMMANDS))
        return "enrol_sent"
    return await _act(request, work, "seller")


async def rotate(request: web.Request) -> web.Response:
    async def work(actor: User, device: Device, form: dict[str, str]) -> str:
        await actions.rotate(actor, device, form.get("key", ""), request.app[KEYRING])
        return "rotated"
    return await _act(request, work, "key")


async def revoke(request: web.Request) -> web.Response:
    async def work(actor: User, device: Device, form: dict[str, str]) -> str:
        await actions.revoke(actor, device)
        return "revoked"
    return await _act(request, work, "revoke")


async def move(request: web.Request) -> web.Response:
    async def work(actor: User, device: Device, form: dict[str, str]) -> str:
        await actions.move(actor, device, form.get("shop", ""), request.app.get(COMMANDS),
                           lambda d: roster_of(d, request.app[KEYRING]))
        return "moved"
    return await _act(request, work, "shop")
