"""The cloud's aiohttp application factory.

Resources are cleanup contexts started in order and closed in reverse:
database (first: everything else uses it), the catalogue cache's end, monitor hub, order timers, then
the MQTT side (ingestion, embedded broker, command sender) that cloud/ingest
contributes through INGEST_HOOK.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import AsyncIterator, Callable

from aiohttp import web
from fingerpos.cloud import timers
from fingerpos.cloud.accounts.auth_signin import login_throttle
from fingerpos.cloud.api import middleware, policy
from fingerpos.cloud.api.routes import add_routes
from fingerpos.cloud.commerce import catalog_cache
from fingerpos.cloud.core import db, monitor
from fingerpos.cloud.core.appkeys import CONFIG, KEYRING, METRICS, THROTTLE
from fingerpos.cloud.core.config import Config
from fingerpos.cloud.core.keyring import DeviceKeyring
from fingerpos.cloud.core.metrics import Registry
from fingerpos.cloud.web import errors as web_errors
from fingerpos.cloud.web import setup as web_pages_setup

CleanupCtx = Callable[[web.Application], AsyncIterator[None]]

# The MQTT side's plug: this module (owned by cloud-b) defines
#     def resources(config: Config) -> list[CleanupCtx]
# returning its cleanup contexts (embedded broker when config.mqtt_url is None,
# ingestion, the command sender that sets app[COMMANDS]). They start after the
# database, the monitor hub and the timers, so they can use all three.
INGEST_HOOK = "fingerpos.cloud.ingest"


def _ingest_resources(config: Config) -> list[CleanupCtx]:
    if not config.ingest or importlib.util.find_spec(INGEST_HOOK) is None:
        return []
    module = importlib.import_module(INGEST_HOOK)
    hook = getattr(module, "resources", None)
    return list(hook(config)) if hook is not None else []


async def _catalog_cache(app: web.Application) -> AsyncIterator[None]:
    """Close the catalogue cache's LISTEN connection (PostgreSQL) before the database."""
    yield
    ctx = app.get(db.DB)
    if ctx is not None:
        await catalog_cache.close(ctx.db())


def create_app(config: Config) -> web.Application:
    """Build the app for a validated copy of `config` (raises ConfigError when it is bad)."""
    config = config.validated()
    app = web.Application(middlewares=[middleware.errors, db.context_middleware,
                                       web_errors.pages, policy.middleware],
                          client_max_size=1024 * 1024)
    app[CONFIG] = config
    app[METRICS] = Registry()
    app[KEYRING] = DeviceKeyring(config.key_secret)
    app[THROTTLE] = login_throttle(config.login_max_failures, config.login_window_s)
    app.cleanup_ctx.append(db.database)
    app.cleanup_ctx.append(_catalog_cache)
    app.cleanup_ctx.append(monitor.monitor_hub)
    app.cleanup_ctx.append(timers.order_timers)
    app.cleanup_ctx.extend(_ingest_resources(config))
    add_routes(app)
    web_pages_setup(app)
    return app
