"""`fingerpos user create`: add a user (operators, sellers, managers) from the command line."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys

from fingerpos.cloud import db
from fingerpos.cloud.auth import create_api_token
from fingerpos.cloud.config import ConfigError
from fingerpos.cloud.errors import DomainError
from fingerpos.cloud.models.users import Role
from fingerpos.cloud.users import create_user
from fingerpos.tools.cmd_migrate import config_from


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("user", help="manage cloud users")
    ps = p.add_subparsers(dest="user_command", metavar="ACTION", required=True)
    c = ps.add_parser("create", help="create a user; optionally print an API token for the CLI")
    c.add_argument("--email", required=True)
    c.add_argument("--role", required=True, choices=[r.value for r in Role])
    c.add_argument("--shop", help="the shop id of a seller or manager")
    c.add_argument("--name", default="")
    c.add_argument("--can-change-price", action="store_true",
                   help="give a seller the right to change unpaid orders' prices")
    c.add_argument("--password-stdin", action="store_true",
                   help="read the password from stdin (default: ask, or a random one with --token)")
    c.add_argument("--token", action="store_true", help="print a new bearer API token")
    c.add_argument("--db", metavar="URL", help="database URL (default: the SQLite file)")
    c.add_argument("--data-dir", metavar="DIR", help="data directory")
    c.set_defaults(func=_create)
    pin = ps.add_parser("pin", help="set a seller's or manager's terminal PIN (4-8 digits)",
                        description="Set the PIN a seller types at the terminal. Terminals get "
                        "it (as a hash keyed with their own key) in their next roster, sent "
                        "when they come online.")
    pin.add_argument("--email", required=True)
    pin.add_argument("--pin-stdin", action="store_true", help="read the PIN from stdin")
    pin.add_argument("--db", metavar="URL", help="database URL (default: the SQLite file)")
    pin.add_argument("--data-dir", metavar="DIR", help="data directory")
    pin.set_defaults(func=_pin)


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    if args.token or not sys.stdin.isatty():
        import secrets
        return secrets.token_urlsafe(24)  # token-only account: nobody needs to know it
    return getpass.getpass("password: ")


async def _run(args: argparse.Namespace, password: str) -> tuple[int, str | None]:
    config = config_from(args)
    ctx = await db.open_context(config.database_url)
    try:
        with ctx:
            pending = await db.pending_migrations(ctx)
            if pending:
                raise db.DatabaseError("the database schema is out of date: run "
                                       "`fingerpos migrate` first")
            user = await create_user(args.email, password, Role(args.role), name=args.name,
                                     shop_id=args.shop, can_change_price=args.can_change_price,
                                     actor="cli")
            token = await create_api_token(user, "cli") if args.token else None
            return user.id, token
    finally:
        await ctx.close_connections()


def _create(args: argparse.Namespace) -> int:
    try:
        user_id, token = asyncio.run(_run(args, _password(args)))
    except (ConfigError, db.DatabaseError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except DomainError as e:
        print(f"error: {e.message}", file=sys.stderr)
        return 1
    print(f"created user {user_id} ({args.email}, {args.role})", file=sys.stderr)
    if token:
        print(token)
    return 0


async def _set_pin(args: argparse.Namespace, pin: str) -> None:
    from fingerpos.cloud.keyring import DeviceKeyring
    from fingerpos.cloud.models.users import User
    from fingerpos.cloud.roster import set_pin

    config = config_from(args)
    ctx = await db.open_context(config.database_url)
    try:
        with ctx:
            if await db.pending_migrations(ctx):
                raise db.DatabaseError("the database schema is out of date: run "
                                       "`fingerpos migrate` first")
            user = await User.get_or_none(email=args.email.strip().lower())
            if user is None:
                raise db.DatabaseError(f"no user with the email {args.email}")
            await set_pin(user, pin, DeviceKeyring(config.key_secret))
    finally:
        await ctx.close_connections()


def _pin(args: argparse.Namespace) -> int:
    pin = sys.stdin.readline().strip() if args.pin_stdin or not sys.stdin.isatty() \
        else getpass.getpass("PIN: ")
    try:
        asyncio.run(_set_pin(args, pin))
    except (ConfigError, db.DatabaseError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except DomainError as e:
        print(f"error: {e.message}", file=sys.stderr)
        return 1
    print(f"PIN set for {args.email}; terminals get it with their next roster", file=sys.stderr)
    return 0
