"""Changing a password, and one-time reset links a manager or admin issues.

A reset link carries 32 random bytes; the database keeps only their SHA-256 (like
session tokens, cloud/accounts/auth.py), so a dump cannot be used to reset anyone. A link
expires after RESET_LIFETIME and works once (the row is marked used in the same
UPDATE that checks it, so two tabs cannot both use it). Setting a new password ends
every session and API token of the user: whoever knew the old one is logged out.
Every step is in the audit trail.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fingerpos.cloud.accounts.auth import hash_password, new_token, token_hash, verify_password
from fingerpos.cloud.accounts.throttle import Throttle
from fingerpos.cloud.core import audit
from fingerpos.cloud.core.errors import Forbidden, Invalid
from fingerpos.cloud.models.users import ApiToken, PasswordReset, Role, Session, User

RESET_LIFETIME = timedelta(hours=24)
RESET_PATH = "/reset/"
MIN_LENGTH = 8
# Wrong tokens per address (the API's POST /auth/reset and the /reset page share it).
RESETS = Throttle("reset", 20, 3600, "too many wrong reset links from your address; try later")


def _check(password: str) -> None:
    if not MIN_LENGTH <= len(password) <= 200:
        raise Invalid(f"the password must be {MIN_LENGTH} to 200 characters")


async def _set(user: User, password: str, keep_session: int | None = None) -> None:
    user.password_hash = hash_password(password)
    await user.save(update_fields=["password_hash"])
    sessions = Session.filter(user_id=user.id)
    if keep_session is not None:
        sessions = sessions.exclude(id=keep_session)
    await sessions.delete()
    await ApiToken.filter(user_id=user.id).delete()


async def change(user: User, old: str, new: str, keep_session: int | None = None) -> None:
    """The user's own change: the current password first (Forbidden when wrong)."""
    if not verify_password(user.password_hash, old):
        raise Forbidden("the current password is wrong")
    _check(new)
    await _set(user, new, keep_session)
    await audit.record(f"user:{user.id}", "user.password_change", f"user:{user.id}",
                       user_id=user.id)


def may_manage(actor: User, target: User) -> bool:
    """Admins manage anyone; a manager their own shop's people, never an admin."""
    if actor.role == Role.ADMIN:
        return True
    return (actor.role == Role.MANAGER and target.role != Role.ADMIN
            and actor.shop_id is not None and target.shop_id == actor.shop_id)


async def issue_reset(target: User, actor: str, now: datetime | None = None) -> str:
    """A new reset token for `target` (the path is RESET_PATH + token)."""
    token = new_token()
    now = now or datetime.now(UTC)
    await PasswordReset.create(token_hash=token_hash(token), user=target, issued_by=actor[:100],
                               expires_at=now + RESET_LIFETIME)
    await audit.record(actor, "user.reset_issued", f"user:{target.id}", user_id=target.id)
    return token


async def link_state(token: str, now: datetime | None = None
                     ) -> tuple[str, PasswordReset | None]:
    """What the reset page says before the form is sent: ("ok", row) for a usable link,
    ("used" | "expired", row), or ("unknown", None). Only a look: `redeem` decides."""
    if not 20 <= len(token) <= 100:
        return "unknown", None
    row = await PasswordReset.filter(token_hash=token_hash(token)).prefetch_related(
        "user").first()
    if row is None:
        return "unknown", None
    if row.used_at is not None:
        return "used", row
    if row.expires_at <= (now or datetime.now(UTC)):
        return "expired", row
    return "ok", row


async def redeem(token: str, password: str, now: datetime | None = None) -> User:
    """Use a reset token once to set a new password; Invalid when unknown, used or expired."""
    _check(password)
    now = now or datetime.now(UTC)
    claimed = await PasswordReset.filter(token_hash=token_hash(token), used_at__isnull=True,
                                         expires_at__gt=now).update(used_at=now)
    if not claimed:
        raise Invalid("this reset link is unknown, used or expired: ask for a new one")
    row = await PasswordReset.get(token_hash=token_hash(token)).prefetch_related("user")
    await _set(row.user, password)
    await audit.record(f"user:{row.user.id}", "user.password_reset", f"user:{row.user.id}",
                       user_id=row.user.id)
    return row.user
