"""Signing in and registering: the one place the forms (cloud/web/views_auth.py) and the
JSON API (cloud/api/views_auth.py) both go through, so they share the throttles, the
metrics, the alarm and the records the account owner is shown at the next login.

A failed attempt on an existing account is written to the audit trail as
`auth.login_failed` with that account's id (the target is the client address);
an unknown email is counted and throttled the same way, but has no owner to tell.

Three throttles, after NIST SP 800-63B §5.2.2 (rate limiting, at most 100 failed
attempts on one account): per (email, address), the tight one; per account across every
address (a botnet on one account); and per address across every account (one address
spraying a password over many). The account-wide limit must not become a lock an
attacker can put on the owner: an address this account has signed in from before is not
held to it (only to its own per-(email, address) limit), so the owner gets in from their
usual place while strangers are stopped. The owner sees every failed attempt at their
next login, and an alarm is raised when the account-wide limit is reached.
"""

from __future__ import annotations

from aiohttp import web
from fingerpos.cloud.accounts import auth
from fingerpos.cloud.accounts.throttle import Throttle
from fingerpos.cloud.accounts.users import create_user
from fingerpos.cloud.core import audit
from fingerpos.cloud.core.appkeys import CONFIG, METRICS, THROTTLE
from fingerpos.cloud.core.errors import Conflict, Throttled, Unauthorized
from fingerpos.cloud.fleet import alarms
from fingerpos.cloud.models.users import Role, User

LOGIN_THROTTLED = "too many failed logins; wait a few minutes and try again"
WRONG = "wrong email or password"
# Registrations per client address in an hour (form and API): each one costs an argon2
# hash, and a flood of them is how addresses would be probed.
REGISTER_LIMIT = 20
REGISTER_WINDOW_S = 3600
REGISTRATIONS = Throttle("register", REGISTER_LIMIT, REGISTER_WINDOW_S,
                         "too many registrations from your address; try again later")


ACCOUNT_LIMIT = 100          # NIST SP 800-63B §5.2.2: no more than 100 failed attempts
ADDRESS_LIMIT = 50           # failures from one address over all accounts
WIDE_WINDOW_S = 3600
ACCOUNTS = Throttle("login_account", ACCOUNT_LIMIT, WIDE_WINDOW_S,
                    "too many failed logins for this account; try again later from a "
                    "place you have signed in from before")
ADDRESSES = Throttle("login_address", ADDRESS_LIMIT, WIDE_WINDOW_S, LOGIN_THROTTLED)


async def _known_address(email: str, addr: str) -> bool:
    """Whether this account has signed in from `addr` before (its audit trail says so)."""
    from fingerpos.cloud.models.alarms import AuditEntry
    owner = await User.get_or_none(email=email)
    return owner is not None and await AuditEntry.exists(user_id=owner.id, action="auth.login",
                                                         target=addr)


def login_throttle(max_failures: int, window_s: float) -> Throttle:
    """Failed logins per (email, client address), shared by every worker."""
    return Throttle("login", max_failures, window_s, LOGIN_THROTTLED)


async def sign_in(app: web.Application, email: str, password: str, addr: str,
                  via: str) -> tuple[User, str, str]:
    """Check the credentials; return (user, session token, CSRF token).

    Raises Throttled (429, before the password is checked) or Unauthorized (401, the
    same message whether or not the email exists). `via` ("web" | "api") goes in the
    failure record, so the owner's notice can say where the attempt came from.
    """
    email = email.strip().lower()
    throttle: Throttle = app[THROTTLE]  # type: ignore[assignment]
    await throttle.check(email, addr)
    await ADDRESSES.check(addr)
    if await ACCOUNTS.count(email) >= ACCOUNTS.limit and not await _known_address(email, addr):
        raise Throttled(ACCOUNTS.message)
    user = await auth.authenticate(email, password)
    if user is None:
        await _failed(app, throttle, email, addr, via)
        raise Unauthorized(WRONG)
    await throttle.clear(email, addr)
    await ACCOUNTS.clear(email)
    token, csrf = await auth.start_session(user)
    await audit.record(f"user:{user.id}", "auth.login", addr, {"via": via}, user_id=user.id)
    return user, token, csrf


async def _failed(app: web.Application, throttle: Throttle, email: str, addr: str,
                  via: str) -> None:
    failures = await throttle.hit(email, addr)
    await ADDRESSES.hit(addr)
    account_failures = await ACCOUNTS.hit(email)
    app[METRICS].counter("fingerpos_login_failures_total", "Failed web logins").inc()
    owner = await User.get_or_none(email=email)
    if owner is not None:
        await audit.record(f"{via}:login", "auth.login_failed", addr, {"via": via},
                           user_id=owner.id)
    if failures >= throttle.limit:
        await alarms.raise_alarm(None, "web_login", "warning",
                                 f"{failures} failed web logins for {email} from {addr}")
    if account_failures == ACCOUNTS.limit:
        await alarms.raise_alarm(None, "web_login_account", "warning",
                                 f"{account_failures} failed web logins for {email} from "
                                 "several addresses")


async def register(email: str, password: str, name: str, addr: str, via: str) -> User | None:
    """Create a buyer account; None when the address is taken (its owner is told instead).

    Callers answer the same way in both cases, so nobody learns which addresses have
    accounts. Raises Invalid for input create_user refuses.
    """
    try:
        return await create_user(email, password, Role.BUYER, name=name, actor=f"{via}:register")
    except Conflict:
        owner = await User.get(email=email.strip().lower())
        await audit.record(f"{via}:register", "auth.register_taken", addr, {"via": via},
                           user_id=owner.id)
        return None


def set_session_cookie(app: web.Application, response: web.StreamResponse, token: str) -> None:
    response.set_cookie(auth.SESSION_COOKIE, token, httponly=True, samesite="Lax",
                        secure=app[CONFIG].cookie_secure, path="/",
                        max_age=int(auth.SESSION_LIFETIME.total_seconds()))
