"""Login throttling after NIST SP 800-63B §5.2.2, against the attacks the field report
names: many addresses on one account (per-account limit), one address over many
accounts (per-address limit); the owner is told and is not locked out of their account."""

from __future__ import annotations

import pytest
from fingerpos.cloud.accounts import auth_signin
from fingerpos.cloud.core.errors import Throttled, Unauthorized
from fingerpos.cloud.models.alarms import Alarm, AuditEntry

from .conftest import in_app

pytestmark = pytest.mark.cloud


async def _try(app, email: str, password: str, addr: str) -> str:
    try:
        await auth_signin.sign_in(app, email, password, addr, via="api")
    except Throttled:
        return "throttled"
    except Unauthorized:
        return "wrong"
    return "ok"


async def test_many_addresses_on_one_account_are_stopped_but_the_owner_gets_in(cloud,
                                                                              monkeypatch):
    monkeypatch.setattr(auth_signin.ACCOUNTS, "limit", 5)
    await cloud.user()   # buyer1@example.com / password123
    email = "buyer1@example.com"
    with in_app(cloud.app):
        assert await _try(cloud.app, email, "password123", "198.51.100.7") == "ok"  # usual place
        got = [await _try(cloud.app, email, "guess", f"203.0.113.{n}") for n in range(8)]
        assert got == ["wrong"] * 5 + ["throttled"] * 3    # one try per address, yet stopped
        # Even the right password from a stranger's address waits...
        assert await _try(cloud.app, email, "password123", "203.0.113.99") == "throttled"
        # ... but the owner, from where they signed in before, is not locked out.
        assert await _try(cloud.app, email, "password123", "198.51.100.7") == "ok"
        user_id = int((await cloud.user())["X-User-Id"]) - 1
        assert await AuditEntry.filter(user_id=user_id, action="auth.login_failed").count() == 5
        assert await Alarm.filter(kind="web_login_account").count() == 1


async def test_one_address_spraying_many_accounts_is_stopped(cloud, monkeypatch):
    monkeypatch.setattr(auth_signin.ADDRESSES, "limit", 4)
    for _ in range(6):
        await cloud.user()
    with in_app(cloud.app):
        got = [await _try(cloud.app, f"buyer{n}@example.com", "Password1", "192.0.2.5")
               for n in range(1, 7)]
        assert got == ["wrong"] * 4 + ["throttled"] * 2
        # Another address is not affected.
        assert await _try(cloud.app, "buyer6@example.com", "password123", "192.0.2.6") == "ok"
