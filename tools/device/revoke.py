"""`fingerpos device revoke` in the cloud: through its API (an admin or manager token),
or straight in its database (`--db`, on the cloud's host).

Either way the revocation bumps the device keys version (cloud/fleet/keychanges.py),
so every cloud worker refuses the terminal's events within a second, and
`broker-config --db` leaves it out. The broker itself still lets the terminal connect
until broker-config is run again and Mosquitto reloaded.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote, urlsplit

from fingerpos.tools.device.provision import CloudEndpoint, ProvisionError, post


class RevokeError(Exception):
    """The cloud did not revoke the terminal; the message says why."""


def in_cloud(cloud: CloudEndpoint, device_id: str) -> None:
    """POST /api/v1/devices/{id}/revoke. Raises RevokeError."""
    try:
        status, _, message = post(cloud, f"/api/v1/devices/{quote(device_id)}/revoke", {})
    except ProvisionError as e:
        raise RevokeError(str(e)) from None
    if status == 200:
        return
    if status in (401, 403):
        raise RevokeError(f"the cloud refused the token (HTTP {status}): use an admin token "
                          "or a manager token of the terminal's shop")
    if status == 404:
        raise RevokeError(f"the cloud has no terminal {device_id!r} (or not in your shop)")
    raise RevokeError(f"the cloud answered HTTP {status}: {message}".rstrip(": "))


async def in_db(db_url: str, device_id: str, reason: str) -> None:
    """Mark the device revoked in the cloud's database, with an audit entry.
    Raises RevokeError when there is no such device."""
    from fingerpos.cloud.core import audit, db
    from fingerpos.cloud.fleet import keychanges
    from fingerpos.cloud.models.devices import Device
    from tortoise.transactions import in_transaction

    _check_url(db_url)
    try:
        ctx = await db.open_context(db_url)
    except db.DatabaseError as e:
        raise RevokeError(str(e)) from None
    try:
        with ctx:
            if await db.pending_migrations(ctx):
                raise RevokeError("the database schema is out of date: run "
                                  "`fingerpos migrate` first (nothing was changed)")
            async with in_transaction() as conn:
                if not await Device.filter(id=device_id).using_db(conn).update(revoked=True):
                    raise RevokeError(f"the database has no terminal {device_id!r}")
                await keychanges.bump(conn, device_id)
                await audit.record("cli", "device.revoke", f"device:{device_id}",
                                   {"reason": reason[:200]}, using_db=conn)
    finally:
        await ctx.close_connections()


def _check_url(db_url: str) -> None:
    """Only an existing database: revoking in a fresh, empty SQLite file helps nobody."""
    parts = urlsplit(db_url)
    if parts.scheme == "sqlite":
        path = parts.netloc + parts.path
        if not Path(path).is_file():
            raise RevokeError(f"there is no SQLite database at {path}")
    elif parts.scheme not in ("postgres", "postgresql", "asyncpg"):
        raise RevokeError(f"--db URL must be sqlite:///path or postgres://... (got {db_url!r})")
