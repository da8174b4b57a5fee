"""Staff pages for a shop's people (/shop/people): the list with an invite form, and one
person's page (role, the price-change right, disable/enable, the terminal PIN, a one-time
reset link, and their audit trail).

Managers see their own shop's sellers and managers, admins every shop's; the routes'
policy (MANAGERS, and the `user` owner check) refuses anyone else before these run. The
work is cloud/accounts/users.py's, the same the JSON API (/api/v1/users) calls, so both refuse the
same input and write the same audit entries. A link is shown once, on the answer to the
form that made it (never stored in clear, so it cannot be shown again: issue a new one).
Links start with the host the manager's browser used for this page (https with
--secure-cookies, which means the cloud is behind TLS).
"""

from __future__ import annotations

from aiohttp import web
from fingerpos.cloud.accounts import passwords, users
from fingerpos.cloud.api import schemas
from fingerpos.cloud.api.policy import scope
from fingerpos.cloud.api.validation import path_int
from fingerpos.cloud.core.appkeys import CONFIG
from fingerpos.cloud.core.errors import DomainError
from fingerpos.cloud.models.alarms import AuditEntry
from fingerpos.cloud.models.users import Role, User
from fingerpos.cloud.web import forms, i18n
from fingerpos.cloud.web.page import checked_form, redirect, render

ROLES = [r.value for r in users.PEOPLE_ROLES]
TRAIL_ROWS = 50


def _link(request: web.Request, token: str) -> str:
    # Behind a TLS proxy (--secure-cookies) aiohttp sees plain http: the link says https.
    scheme = "https" if request.app[CONFIG].cookie_secure else request.scheme
    return f"{scheme}://{request.host}{passwords.RESET_PATH}{token}"


def _placed(errors: dict[str, str], shown: tuple[str, ...]) -> dict[str, str]:
    """Errors of fields the form shows stay by them; the rest go to the form's own line."""
    out = {k: v for k, v in errors.items() if k in shown}
    rest = [f"{k}: {v}" for k, v in errors.items() if k not in shown]
    if rest:
        out["form"] = "; ".join(rest)
    return out


async def people_list(request: web.Request, errors: dict[str, str] | None = None,
                      form: dict[str, str] | None = None, invited: dict | None = None,
                      status: int = 200) -> web.Response:
    actor = scope(request).who
    shop = request.query.get("shop") or None if actor.role == Role.ADMIN else None
    found = await users.people(actor, shop)
    return await render(request, "people.html", {
        **i18n.context(request), "people": [users.person_json(u) for u in found], "roles": ROLES,
        "admin": actor.role == Role.ADMIN, "errors": errors or {}, "form": form or {},
        "invited": invited, "me": actor.id, "shop": actor.shop_id}, status=status)


async def invite(request: web.Request) -> web.Response:
    actor = scope(request).who
    form = await checked_form(request)
    fields = {k: form.get(k, "").strip() for k in ("email", "name", "role", "shop")}
    # The API's model (cloud/api/schemas.py), so the form refuses what the API refuses.
    data, errors = forms.validate(schemas.PersonIn, {
        "email": fields["email"], "name": fields["name"], "role": fields["role"] or "seller",
        "shop": fields["shop"] or None, "can_change_price": form.get("can_change_price") == "1"})
    if data is None:
        return await people_list(request, _placed(errors, ("email", "name", "shop")), fields,
                                 status=400)
    try:
        user, token = await users.invite(actor, data.email, data.role, name=data.name,
                                         shop=data.shop, can_change_price=data.can_change_price)
    except DomainError as e:
        field = "email" if e.status == 409 or "email" in e.message else "form"
        return await people_list(request, {field: e.message}, fields, status=e.status)
    await users.push_roster(request.app, user.shop_id)
    return await people_list(request, invited={
        "person": users.person_json(user), "link": _link(request, token or ""),
        "hours": int(passwords.RESET_LIFETIME.total_seconds() // 3600)})


async def person_page(request: web.Request, errors: dict[str, str] | None = None,
                      notice: str | None = None, link: str | None = None,
                      status: int = 200) -> web.Response:
    actor = scope(request).who
    target = await users.person(actor, path_int(request, "user"))
    trail = await AuditEntry.filter(target=f"user:{target.id}").order_by("-id").limit(TRAIL_ROWS)
    ids = {int(e.actor[5:]) for e in trail if e.actor[:5] == "user:" and e.actor[5:].isdigit()}
    names = await User.filter(id__in=list(ids)).values("id", "email") if ids else []
    return await render(request, "person.html", {
        **i18n.context(request), "person": users.person_json(target), "roles": ROLES, "errors": errors or {},
        "notice": notice, "link": link, "me": actor.id,
        "hours": int(passwords.RESET_LIFETIME.total_seconds() // 3600),
        "trail": trail, "actors": {f"user:{n['id']}": n["email"] for n in names}},
        status=status)


async def _apply(request: web.Request, change: users.Change, notice: str) -> web.Response:
    actor = scope(request).who
    target = await users.person(actor, path_int(request, "user"))
    try:
        changed = await users.update(actor, target, change)
    except DomainError as e:
        if e.status == 404:
            raise
        return await person_page(request, {"form": e.message}, status=e.status)
    if changed.keys() & {"role", "can_change_price", "disabled"}:
        await users.push_roster(request.app, target.shop_id)
    raise redirect(f"/shop/people/{target.id}?done={notice if changed else 'nothing'}"
                   f"&lang={i18n.lang_of(request)}")


async def save(request: web.Request) -> web.Response:
    form = await checked_form(request)
    data, errors = forms.validate(schemas.PersonPatch, {
        "name": form.get("name"), "role": form.get("role") or None,
        "can_change_price": form.get("can_change_price") == "1"})
    if data is None:
        return await person_page(request, _placed(errors, ("name",)), status=400)
    return await _apply(request, users.Change(**data.model_dump()), "saved")


async def disable(request: web.Request) -> web.Response:
    await checked_form(request)
    return await _apply(request, users.Change(disabled=True), "disabled")


async def enable(request: web.Request) -> web.Response:
    await checked_form(request)
    return await _apply(request, users.Change(disabled=False), "enabled")


async def set_pin(request: web.Request) -> web.Response:
    actor = scope(request).who
    form = await checked_form(request)
    target = await users.person(actor, path_int(request, "user"))
    pin = form.get("pin", "").strip()
    if pin != form.get("pin2", "").strip():
        t = i18n.translator(i18n.lang_of(request))
        return await person_page(request, {"pin2": t("person.pin_differ")}, status=400)
    try:
        await users.set_pin(actor, target, pin, request.app)
    except DomainError as e:
        return await person_page(request, {"pin": e.message}, status=e.status)
    await users.push_roster(request.app, target.shop_id)
    raise redirect(f"/shop/people/{target.id}?done=pin&lang={i18n.lang_of(request)}")


async def reset_link(request: web.Request) -> web.Response:
    actor = scope(request).who
    await checked_form(request)
    target = await users.person(actor, path_int(request, "user"))
    token = await passwords.issue_reset(target, users.actor_of(actor))
    return await person_page(request, link=_link(request, token))


DONE = ("saved", "disabled", "enabled", "pin", "nothing")


async def person(request: web.Request) -> web.Response:
    done = request.query.get("done", "")
    return await person_page(request, notice=done if done in DONE else None)
