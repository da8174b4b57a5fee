"""`fingerpos user create`: add a user (operators, sellers, managers) from the command line."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from collections.abc import Awaitable, Callable
from typing import TypeVar

from fingerpos.cloud.accounts.auth import create_api_token
from fingerpos.cloud.accounts.users import create_user
from fingerpos.cloud.core import db
from fingerpos.cloud.core.config import Config, ConfigError
from fingerpos.cloud.core.errors import DomainError
from fingerpos.cloud.models.users import Role
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
    rl = ps.add_parser("reset-link", help="print a one-time password reset link (24 h)",
                       description="Issue a one-time password reset link for a user and print "
                       "it; hand it to them (no e-mail is sent). It works once, expires in 24 "
                       "hours, and setting the password logs out their other sessions.")
    rl.add_argument("--email", required=True)
    rl.add_argument("--base-url", default="http://127.0.0.1:8080",
                    help="the cloud's public URL the link starts with")
    rl.add_argument("--db", metavar="URL", help="database URL (default: the SQLite file)")
    rl.add_argument("--data-dir", metavar="DIR", help="data directory")
    rl.set_defaults(func=_reset_link)


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    if args.token or not sys.stdin.isatty():
        import secrets
        return secrets.token_urlsafe(24)  # token-only account: nobody needs to know it
    return getpass.getpass("password: ")


T = TypeVar("T")


async def _in_database(args: argparse.Namespace, work: Callable[[Config], Awaitable[T]]) -> T:
    """Run `work` against the configured database, refusing an out-of-date schema."""
    config = config_from(args)
    ctx = await db.open_context(config.database_url)
    try:
        with ctx:
            if await db.pending_migrations(ctx):
                raise db.DatabaseError("the database schema is out of date: run "
                                       "`fingerpos migrate` first")
            return await work(config)
    finally:
        await ctx.close_connections()


def _run_or_report(work: Awaitable[T]) -> tuple[bool, T | None]:
    """Run the coroutine; a user-facing failure becomes one `error:` line on stderr."""
    try:
        return True, asyncio.run(work)
    except (ConfigError, db.DatabaseError) as e:
        print(f"error: {e}", file=sys.stderr)
    except DomainError as e:
        print(f"error: {e.message}", file=sys.stderr)
    return False, None


def _create(args: argparse.Namespace) -> int:
    password = _password(args)

    async def work(_config: Config) -> tuple[int, str | None]:
        user = await create_user(args.email, password, Role(args.role), name=args.name,
                                 shop_id=args.shop, can_change_price=args.can_change_price,
                                 actor="cli")
        return user.id, (await create_api_token(user, "cli") if args.token else None)

    ok, result = _run_or_report(_in_database(args, work))
    if not ok or result is None:
        return 1
    user_id, token = result
    print(f"created user {user_id} ({args.email}, {args.role})", file=sys.stderr)
    if token:
        print(token)
    return 0


def _pin(args: argparse.Namespace) -> int:
    from fingerpos.cloud.core.keyring import DeviceKeyring
    from fingerpos.cloud.fleet.roster import set_pin
    from fingerpos.cloud.models.users import User

    pin = sys.stdin.readline().strip() if args.pin_stdin or not sys.stdin.isatty() \
        else getpass.getpass("PIN: ")

    async def work(config: Config) -> None:
        user = await User.get_or_none(email=args.email.strip().lower())
        if user is None:
            raise db.DatabaseError(f"no user with the email {args.email}")
        await set_pin(user, pin, DeviceKeyring(config.key_secret))

    ok, _ = _run_or_report(_in_database(args, work))
    if not ok:
        return 1
    print(f"PIN set for {args.email}; terminals get it with their next roster", file=sys.stderr)
    return 0


def _reset_link(args: argparse.Namespace) -> int:
    from fingerpos.cloud.accounts import passwords
    from fingerpos.cloud.models.users import User

    async def work(_config: Config) -> str:
        user = await User.get_or_none(email=args.email.strip().lower())
        if user is None:
            raise db.DatabaseError(f"no user with the email {args.email}")
        return await passwords.issue_reset(user, "cli")

    ok, token = _run_or_report(_in_database(args, work))
    if not ok or token is None:
        return 1
    print(args.base_url.rstrip("/") + passwords.RESET_PATH + token)
    print(f"one-time link for {args.email}, valid for 24 hours", file=sys.stderr)
    return 0
