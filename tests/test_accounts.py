"""Accounts: changing one's password, one-time reset links (CLI and API) that expire and
work once, and who may issue them (a manager only for their own shop's people)."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from fingerpos.cloud.accounts import passwords
from fingerpos.cloud.models.users import PasswordReset, User

from .conftest import in_app

pytestmark = pytest.mark.cloud
LOGIN = "/api/v1/auth/login"


async def _login(cloud, email: str, password: str) -> int:
    return (await cloud.client.post(LOGIN, json={"email": email, "password": password})).status


async def test_a_user_changes_their_password_and_old_credentials_stop_working(cloud):
    buyer = await cloud.user()
    r = await cloud.client.post("/api/v1/auth/password", headers=buyer,
                                json={"old": "wrong", "new": "new password 1"})
    assert r.status == 403
    r = await cloud.client.post("/api/v1/auth/password", headers=buyer,
                                json={"old": "password123", "new": "new password 1"})
    assert r.status == 200
    assert await _login(cloud, "buyer1@example.com", "password123") == 401
    assert await _login(cloud, "buyer1@example.com", "new password 1") == 200
    # The API token used before the change is revoked with the old password.
    assert (await cloud.client.get("/api/v1/auth/me", headers=buyer)).status == 401


async def test_a_reset_link_works_once_and_expires(cloud):
    manager = await cloud.user("manager", shop="shopa")
    seller = await cloud.user("seller", shop="shopa")
    other = await cloud.user("seller", shop="shopb")
    admin = await cloud.admin()
    for target, status in ((other, 404), (admin, 404), (seller, 201)):
        r = await cloud.client.post(f"/api/v1/users/{target['X-User-Id']}/reset-link",
                                    headers=manager)
        assert r.status == status
    token = (await r.json())["token"]
    r = await cloud.client.post("/api/v1/auth/reset", json={"token": token,
                                                            "password": "fresh password"})
    assert r.status == 200
    assert await _login(cloud, "seller2@example.com", "fresh password") == 200
    again = await cloud.client.post("/api/v1/auth/reset", json={"token": token,
                                                                "password": "another one!"})
    assert again.status == 400
    with in_app(cloud.app):
        user = await User.get(id=int(seller["X-User-Id"]))
        old = await passwords.issue_reset(user, "test",
                                          now=datetime.now(UTC) - timedelta(hours=25))
        row = await PasswordReset.get(user_id=user.id, used_at=None)
        assert old not in row.token_hash          # only the hash is stored
    r = await cloud.client.post("/api/v1/auth/reset", json={"token": old,
                                                            "password": "expired pass"})
    assert r.status == 400 and "expired" in (await r.json())["message"]


def test_the_cli_prints_a_reset_link(tmp_path):
    db = f"sqlite://{tmp_path}/fp.sqlite3"
    run = [sys.executable, "-c", "import sys; from fingerpos.tools.cli import main; "
           "sys.exit(main(sys.argv[1:]))"]
    subprocess.run([*run, "migrate", "--db", db], check=True, capture_output=True)
    subprocess.run([*run, "user", "create", "--email", "m@example.com", "--role", "admin",
                    "--password-stdin", "--db", db], input="password123\n", text=True,
                   check=True, capture_output=True)
    out = subprocess.run([*run, "user", "reset-link", "--email", "m@example.com", "--db", db,
                          "--base-url", "https://pos.example"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("https://pos.example/reset/") and "24 hours" in out.stderr
