"""Creating users (web registration and the CLI share it), and a shop's people: the staff
pages and the users REST both call these, so both refuse the same things and audit the
same way.

Who may manage whom is `passwords.may_manage` (admins anyone; a manager their own
shop's sellers and managers, never an admin); the routes' policy (cloud/api/policy.py,
the `user` owner check) has refused foreign people before any of this runs. People here
are sellers and managers: buyers have no shop, admins are made with the CLI.

A change a terminal must know (disabled, role, the price-change right, the PIN) is sent
to the shop's terminals as a fresh `roster` command at once (queued by the broker for an
offline one, and re-sent on its next `online` anyway: cloud/ingest/status.py).
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from fingerpos.cloud.accounts.auth import hash_password
from fingerpos.cloud.accounts.passwords import issue_reset, may_manage
from fingerpos.cloud.core import audit
from fingerpos.cloud.core.errors import Conflict, Forbidden, Invalid, NotFound
from fingerpos.cloud.models.shops import Shop
from fingerpos.cloud.models.users import ApiToken, Role, Session, User
from tortoise.exceptions import IntegrityError

log = logging.getLogger(__name__)
PEOPLE_ROLES = (Role.SELLER, Role.MANAGER)


async def create_user(email: str, password: str, role: Role = Role.BUYER, *, name: str = "",
                      shop_id: str | None = None, can_change_price: bool = False,
                      actor: str = "system") -> User:
    email = email.strip().lower()
    if "@" not in email or len(email) > 254:
        raise Invalid("email must be an address like name@example.com")
    if len(password) < 8:
        raise Invalid("the password must be at least 8 characters")
    if role in (Role.SELLER, Role.MANAGER) and not shop_id:
        raise Invalid(f"a {role.value} needs a shop")
    if shop_id:
        await Shop.get_or_create(id=shop_id)
    try:
        user = await User.create(email=email, name=name, password_hash=hash_password(password),
                                 role=role, shop_id=shop_id, can_change_price=can_change_price)
    except IntegrityError:
        raise Conflict(f"a user with email {email} exists") from None
    await audit.record(actor, "user.create", f"user:{user.id}",
                       {"role": role.value, "shop": shop_id}, user_id=user.id)
    return user


def user_json(user: User) -> dict:
    return {"id": user.id, "email": user.email, "name": user.name, "role": user.role.value,
            "shop": user.shop_id, "can_change_price": user.can_change_price,
            "can_refund": user.can_refund}


def person_json(user: User) -> dict:
    """A person as the staff page and GET /users show them (never the PIN or its seal)."""
    return {**user_json(user), "disabled": user.disabled, "pin_set": bool(user.pin_sealed),
            "created_at": user.created_at.isoformat() if user.created_at else None}


def actor_of(user: User) -> str:
    return f"user:{user.id}"


# --- a shop's people -----------------------------------------------------------------

async def people(actor: User, shop: str | None = None) -> list[User]:
    """The people `actor` manages, by shop then name: a manager's own shop, an admin's
    every shop (or `shop`)."""
    rows = User.filter(role__in=list(PEOPLE_ROLES))
    if actor.role != Role.ADMIN:
        if shop is not None and shop != actor.shop_id:
            raise Forbidden(f"you work for shop {actor.shop_id}, not {shop[:32]}")
        shop = actor.shop_id or ""
    if shop is not None:
        rows = rows.filter(shop_id=shop)
    return await rows.order_by("shop_id", "name", "id").limit(2000)


async def person(actor: User, user_id: int) -> User:
    """One person `actor` may manage (NotFound otherwise, as the route policy answers)."""
    target = await User.get_or_none(id=user_id)
    if target is None or target.role not in PEOPLE_ROLES or not may_manage(actor, target):
        raise NotFound("no such person")
    return target


def _role(text: str) -> Role:
    try:
        role = Role(text)
    except ValueError:
        role = Role.BUYER
    if role not in PEOPLE_ROLES:
        raise Invalid("a shop's people are sellers or managers")
    return role


async def invite(actor: User, email: str, role: str, *, name: str = "", shop: str | None = None,
                 can_change_price: bool = False, password: str | None = None
                 ) -> tuple[User, str | None]:
    """Create a seller or manager; without a password, an unusable random one and a
    one-time reset link for them to set their own. Returns (user, reset token or None)."""
    if actor.role == Role.ADMIN:
        if not shop:
            raise Invalid("say which shop this person works for")
        if not await Shop.exists(id=shop[:32]):   # a typo must not make a new shop
            raise Invalid(f"there is no shop {shop[:32]}: create it first (POST /api/v1/shops)")
    elif shop and shop != actor.shop_id:
        raise Forbidden(f"you work for shop {actor.shop_id}, not {shop[:32]}")
    else:
        shop = actor.shop_id
    user = await create_user(email, password or secrets.token_urlsafe(32), _role(role),
                             name=name.strip()[:100], shop_id=shop,
                             can_change_price=can_change_price, actor=actor_of(actor))
    token = None if password else await issue_reset(user, actor_of(actor))
    return user, token


@dataclass
class Change:
    """What the staff page or PATCH /users/{user} asks to change (None: leave it)."""

    name: str | None = None
    role: str | None = None
    can_change_price: bool | None = None
    disabled: bool | None = None
    can_refund: bool | None = None


async def update(actor: User, target: User, change: Change) -> dict[str, list[Any]]:
    """Apply a change; returns {field: [old, new]} of what changed (audited as one entry)."""
    wanted: dict[str, Any] = {}
    if change.name is not None:
        wanted["name"] = change.name.strip()[:100]
    if change.role is not None:
        wanted["role"] = _role(change.role)
    if change.can_change_price is not None:
        wanted["can_change_price"] = change.can_change_price
    if change.disabled is not None:
        wanted["disabled"] = change.disabled
    if change.can_refund is not None:
        wanted["can_refund"] = change.can_refund
    if target.id == actor.id and ("role" in wanted and wanted["role"] != target.role
                                  or wanted.get("disabled")):
        raise Conflict("you cannot change your own role or disable your own account: ask "
                       "another manager or an admin")
    changed = {k: [_plain(getattr(target, k)), _plain(v)] for k, v in wanted.items()
               if getattr(target, k) != v}
    if not changed:
        return {}
    for k in changed:
        setattr(target, k, wanted[k])
    await target.save(update_fields=list(changed))
    if wanted.get("disabled") and "disabled" in changed:
        # A disabled person is logged out everywhere (pages and API) at once.
        await Session.filter(user_id=target.id).delete()
        await ApiToken.filter(user_id=target.id).delete()
    await audit.record(actor_of(actor), "user.update", f"user:{target.id}",
                       {"changes": changed}, user_id=target.id)
    return changed


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, Role) else value


async def set_pin(actor: User, target: User, pin: str, app: web.Application) -> None:
    from fingerpos.cloud.core.appkeys import KEYRING
    from fingerpos.cloud.fleet.roster import set_pin as seal_pin
    await seal_pin(target, pin, app[KEYRING])
    await audit.record(actor_of(actor), "user.pin_set", f"user:{target.id}", user_id=target.id)


async def push_roster(app: web.Application, shop: str | None) -> int:
    """Send the shop's terminals their roster now; how many were sent (0 without MQTT)."""
    from fingerpos.cloud.core.appkeys import COMMANDS, KEYRING
    from fingerpos.cloud.fleet.roster import roster_of
    from fingerpos.cloud.models.devices import Device
    if not shop or COMMANDS not in app:
        return 0
    sent = 0
    for device in await Device.filter(shop=shop, revoked=False).only("id"):
        try:
            await app[COMMANDS].send(device.id, "roster", await roster_of(device.id, app[KEYRING]))
            sent += 1
        except LookupError as e:   # revoked or removed since the query
            log.warning("roster for %s not sent: %s", device.id, e)
    return sent
