"""Who is asking: argon2id passwords, session cookies with CSRF tokens, bearer API tokens.
(Signing in, with its throttle and failure records, is cloud/accounts/auth_signin.py.)

Secrets handed to clients (session and API tokens) are 32 random bytes; only
their SHA-256 is stored, so a database dump cannot be replayed as a login.
SHA-256 (not argon2) is right for these: they are high-entropy, not guessable.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from aiohttp import web
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fingerpos.cloud.core.errors import Forbidden, Unauthorized
from fingerpos.cloud.models.users import ApiToken, Role, Session, User

SESSION_COOKIE = "fp_session"
CSRF_HEADER = "X-CSRF-Token"
SESSION_LIFETIME = timedelta(days=7)
_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
# Verified against when the email is unknown, so both paths cost the same time.
_DUMMY_HASH = _hasher.hash("not a password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


async def authenticate(email: str, password: str) -> User | None:
    """The user with these credentials, or None (same cost whether or not the email exists)."""
    user = await User.get_or_none(email=email.lower())
    if user is None:
        verify_password(_DUMMY_HASH, password)
        return None
    if user.disabled or not verify_password(user.password_hash, password):
        return None
    return user


async def start_session(user: User) -> tuple[str, str]:
    """Create a session; return (cookie token, CSRF token)."""
    token, csrf = new_token(), secrets.token_hex(16)
    await Session.create(token_hash=token_hash(token), csrf=csrf, user=user,
                         expires_at=datetime.now(UTC) + SESSION_LIFETIME)
    return token, csrf


async def create_api_token(user: User, name: str = "") -> str:
    token = "fpt_" + new_token()
    await ApiToken.create(token_hash=token_hash(token), name=name[:100], user=user)
    return token


@dataclass
class Identity:
    user: User
    via: str                  # "session" | "token"
    session: Session | None = None


IDENTITY = web.RequestKey("fp_identity", object)   # Identity | None, once found


async def identify(request: web.Request) -> Identity | None:
    """The caller from a bearer token or a session cookie; None when anonymous.

    A bad or expired credential is an error, not anonymity: a client that
    sent one should learn it is no longer logged in. The answer is kept on the
    request: the route's policy guard asks first, the view may ask again for free.
    """
    if IDENTITY in request:
        return request[IDENTITY]  # type: ignore[return-value]
    found = await _identify(request)
    request[IDENTITY] = found
    return found


async def _identify(request: web.Request) -> Identity | None:
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("Authorization must be 'Bearer <token>'")
        row = await ApiToken.filter(token_hash=token_hash(token.strip())).select_related(
            "user").first()  # one joined query, not two: this runs on every API call
        if row is None or row.user.disabled:
            raise Unauthorized("unknown or revoked API token")
        return Identity(row.user, "token")
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        session = await Session.filter(token_hash=token_hash(cookie)).select_related(
            "user").first()
        if session is None or session.expires_at < datetime.now(UTC) or session.user.disabled:
            raise Unauthorized("the session has expired; log in again")
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            sent = request.headers.get(CSRF_HEADER, "")
            if not hmac.compare_digest(sent.encode(), session.csrf.encode()):
                raise Forbidden(f"missing or wrong {CSRF_HEADER} header (see GET /api/v1/auth/me)")
        return Identity(session.user, "session", session)
    return None


async def require(request: web.Request, *roles: Role) -> User:
    """The authenticated user, who must have one of `roles` (any role when none given)."""
    who = await identify(request)
    if who is None:
        raise Unauthorized("log in first (session cookie or Authorization: Bearer <token>)")
    if roles and who.user.role not in roles:
        raise Forbidden(f"this needs the role {' or '.join(r.value for r in roles)}")
    return who.user
