"""Who may call a route, and which shop's data they see: one policy declared with the route.

Every route of the app (REST, pages, WebSocket feeds, exports, static files) is added
through `declare`, which records its Policy and wraps its handler in a guard. The guard
runs before the view: it identifies the caller (the surface says how: a bearer token or
session for the API, the session cookie for pages), refuses a role the policy does not
admit, then checks every object the path names (order, alarm, device, shop, payment,
user) against the caller's Scope, so a foreign shop's ids are refused (404 for objects,
403 for a shop named outright) before any view code runs. The view gets the Scope as
`request[SCOPE]` and filters its lists with it (`scope.shop_filter`, `scope.orders`).

A route added to the router without `declare` has no policy: `middleware` refuses it
(403) and tests/test_tenancy_routes.py, which walks app.router.routes(), fails. A path
parameter the guard has no owner check for is refused when the route is declared.

This follows Django REST framework's `permission_classes` (a rule per endpoint, next to
it) rather than checks repeated inside views; written here because aiohttp has none.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from fingerpos.cloud.core.errors import Forbidden, NotFound, Unauthorized
from fingerpos.cloud.models.users import Role, User

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# Finds the caller: a User, None when anonymous (or it raises, e.g. a page's login redirect).
Identify = Callable[[web.Request], Awaitable[User | None]]


@dataclass(frozen=True)
class Policy:
    name: str
    roles: frozenset[Role]   # empty: anyone, signed in or not

    @property
    def public(self) -> bool:
        return not self.roles


PUBLIC = Policy("public", frozenset())
SIGNED_IN = Policy("signed_in", frozenset(Role))      # scoped by role: see Scope
BUYER = Policy("buyer", frozenset({Role.BUYER}))
STAFF = Policy("staff", frozenset({Role.SELLER, Role.MANAGER, Role.ADMIN}))
MANAGERS = Policy("managers", frozenset({Role.MANAGER, Role.ADMIN}))
ADMIN = Policy("admin", frozenset({Role.ADMIN}))


@dataclass(frozen=True)
class Scope:
    """What one caller may see: admins every shop, sellers and managers their shop,
    buyers their own orders and payments, anonymous callers nothing private."""

    user: User | None

    @property
    def who(self) -> User:
        """The signed-in caller (every policy but PUBLIC guarantees one)."""
        if self.user is None:
            raise Unauthorized("log in first")
        return self.user

    @property
    def admin(self) -> bool:
        return self.user is not None and self.user.role == Role.ADMIN

    @property
    def shop(self) -> str | None:
        """The one shop a seller or manager works for (None for everyone else)."""
        if self.user is None or self.user.role not in (Role.SELLER, Role.MANAGER):
            return None
        return self.user.shop_id or None

    @property
    def buyer(self) -> int | None:
        return self.user.id if self.user is not None and self.user.role == Role.BUYER else None

    def sees_shop(self, shop_id: str | None) -> bool:
        return self.admin or (shop_id is not None and shop_id == self.shop)

    def sees_order(self, shop_id: str | None, buyer_id: int | None) -> bool:
        if self.buyer is not None:
            return buyer_id == self.buyer
        return self.sees_shop(shop_id)

    def shop_filter(self, query: Any, field: str = "shop_id") -> Any:
        """`query` cut down to the rows of shops this caller sees (all for admins)."""
        if self.admin:
            return query
        return query.filter(**{field: self.shop or ""})   # "" is no shop's id: nothing

    def sees_feed(self, kind: str, data: Any) -> bool:
        """Whether a monitor feed message {kind, data} may reach this caller's socket.
        Messages carry the shop they belong to; one without a shop (fleet-wide ingestion
        figures, an alarm of no shop's terminal) and any kind not known here go to
        admins only, so a new kind is private until someone decides otherwise."""
        if self.admin:
            return True
        if not isinstance(data, dict):
            return False
        if self.buyer is not None:
            return kind == "order" and data.get("buyer") == self.buyer
        return kind in ("order", "orders", "alarm", "device") and self.sees_shop(data.get("shop"))


SCOPE = web.RequestKey("fp_scope", Scope)
ROUTE_POLICIES = web.AppKey("route_policies", dict)   # AbstractRoute -> Policy


def scope(request: web.Request) -> Scope:
    return request[SCOPE]


# --- owners of the objects a path can name ------------------------------------------------

def _int(text: str, what: str) -> int:
    if not (text.isascii() and text.isdigit()) or len(text) > 10 or not 1 <= int(text) <= 2**31 - 1:
        raise NotFound(f"no such {what}")
    return int(text)


async def _order(s: Scope, text: str) -> None:
    from fingerpos.cloud.models.orders import Order
    oid = _int(text, "order")
    row = await Order.filter(id=oid).first().values("shop_id", "buyer_id")
    if row is None or not s.sees_order(row["shop_id"], row["buyer_id"]):
        raise NotFound(f"no order {oid}")


async def _alarm(s: Scope, text: str) -> None:
    from fingerpos.cloud.models.alarms import Alarm
    from fingerpos.cloud.models.devices import Device
    aid = _int(text, "alarm")
    row = await Alarm.filter(id=aid).first().values("device_id", "shop_id")
    shop = row["shop_id"] if row is not None else None
    if row is not None and row["device_id"]:
        device = await Device.filter(id=row["device_id"]).first().values("shop")
        shop = device["shop"] if device else None
    if row is None or not s.sees_shop(shop):
        raise NotFound(f"no alarm {aid}")


async def _device(s: Scope, text: str) -> None:
    from fingerpos.cloud.models.devices import Device
    row = await Device.filter(id=text[:32]).first().values("shop")
    if row is None or not s.sees_shop(row["shop"]):
        raise NotFound("no such device")


async def _shop(s: Scope, text: str) -> None:
    if not s.sees_shop(text):
        raise Forbidden(f"you work for shop {s.shop}, not {text[:32]}" if s.shop
                        else "this is a shop's staff page")


async def _intent(s: Scope, text: str) -> None:
    from fingerpos.cloud.models.commerce import PaymentIntent
    row = await PaymentIntent.filter(id=text[:40]).first().values("buyer_id", "order__shop_id")
    if row is None:
        raise NotFound("no such payment")
    mine = row["buyer_id"] == s.buyer if s.buyer is not None else s.sees_shop(row["order__shop_id"])
    if not mine:
        raise NotFound("no such payment")


async def _user(s: Scope, text: str) -> None:
    """A person a manager may manage: their own shop's staff and never an admin."""
    target = await User.filter(id=_int(text, "user")).first().values("shop_id", "role")
    if target is None or not (s.admin or (s.sees_shop(target["shop_id"])
                                          and target["role"] != Role.ADMIN)):
        raise NotFound("no such user")


async def _shift(s: Scope, text: str) -> None:
    from fingerpos.cloud.models.shifts import Shift
    sid = _int(text, "shift")
    row = await Shift.filter(id=sid).first().values("shop_id")
    if row is None or not s.sees_shop(row["shop_id"]):
        raise NotFound(f"no shift {sid}")


OWNERS: dict[str, Callable[[Scope, str], Awaitable[None]]] = {
    "order": _order, "alarm": _alarm, "device": _device, "shop": _shop, "intent": _intent,
    "user": _user, "shift": _shift}
# Parameters that name nothing with an owner of its own (a sku is always within {shop}).
UNOWNED = {"sku"}


async def _enforce(request: web.Request, policy: Policy, identify: Identify) -> Scope:
    if policy.public:
        return Scope(None)
    user = await identify(request)
    if user is None:
        raise Unauthorized("log in first (session cookie or Authorization: Bearer <token>)")
    if user.role not in policy.roles:
        raise Forbidden("this is for " + " or ".join(r.value for r in Role if r in policy.roles)
                        + " accounts")
    s = Scope(user)
    for name, value in request.match_info.items():
        if name in OWNERS:
            await OWNERS[name](s, value)
    return s


def declare(app: web.Application, method: str, path: str, handler: Handler, policy: Policy,
            identify: Identify, *, head: bool = True,
            wrap: Callable[[Handler], Handler] | None = None) -> None:
    """Add one route with its policy (a GET also answers HEAD unless `head` is False).
    `wrap` goes around the guard (pages: so a refusal renders as an error page)."""
    params = set(re.findall(r"{(\w+)", path))
    unknown = params - set(OWNERS) - UNOWNED
    if unknown and not policy.public:
        raise ValueError(f"{method} {path}: no owner check for {sorted(unknown)}; add one to "
                         "cloud/api/policy.py OWNERS")

    async def guarded(request: web.Request) -> web.StreamResponse:
        request[SCOPE] = await _enforce(request, policy, identify)
        return await handler(request)

    guarded.__name__ = getattr(handler, "__name__", "handler")
    guarded.__wrapped__ = handler  # type: ignore[attr-defined]
    final = wrap(guarded) if wrap is not None else guarded
    registry = app.setdefault(ROUTE_POLICIES, {})
    methods = [method] + (["HEAD"] if method == "GET" and head else [])
    for m in methods:
        registry[app.router.add_route(m, path, final)] = policy


def declare_static(app: web.Application, prefix: str, folder: Any) -> None:
    resource = app.router.add_static(prefix, folder, name="static")
    registry = app.setdefault(ROUTE_POLICIES, {})
    for route in resource:
        registry[route] = PUBLIC


def policy_of(request: web.Request) -> Policy | None:
    return request.app.get(ROUTE_POLICIES, {}).get(request.match_info.route)


@web.middleware
async def middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    """Refuse a matched route nobody declared a policy for: fail closed."""
    if request.match_info.http_exception is None and policy_of(request) is None:
        raise Forbidden(f"no access policy is declared for {request.method} {request.path}")
    return await handler(request)
