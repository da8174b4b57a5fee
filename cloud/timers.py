"""The timers as one background task: expire unpaid orders, flag unaccepted ones, finish
payment intents a crash left processing, drop expired sessions."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime

from aiohttp import web
from fingerpos.cloud import orders
from fingerpos.cloud.commerce import recovery
from fingerpos.cloud.core.appkeys import CONFIG, METRICS
from fingerpos.cloud.models.users import Session

log = logging.getLogger(__name__)


async def tick(app: web.Application) -> tuple[int, int]:
    """One pass of both timers; returns (expired, flagged)."""
    config = app[CONFIG]
    expired = await orders.expire_unpaid(config.unpaid_expiry_s)
    flagged = await orders.flag_unaccepted(config.accept_alert_s)
    recovered, interrupted = await recovery.recover_stuck()  # payments a crash left half-done
    # Expired sessions are refused at use already; this only keeps the table small.
    await Session.filter(expires_at__lt=datetime.now(UTC)).delete()
    metrics = app[METRICS]
    metrics.counter("fingerpos_orders_expired_total", "Unpaid orders expired").inc(expired)
    metrics.counter("fingerpos_orders_unaccepted_total", "Paid orders flagged as not accepted"
                    ).inc(flagged)
    metrics.counter("fingerpos_payments_recovered_total",
                    "Payment intents left processing by a crash, finished by the timers",
                    outcome="succeeded").inc(recovered)
    metrics.counter("fingerpos_payments_recovered_total",
                    "Payment intents left processing by a crash, finished by the timers",
                    outcome="failed").inc(interrupted)
    return expired, flagged


async def _loop(app: web.Application) -> None:
    interval = app[CONFIG].timer_interval_s
    while True:
        try:
            await tick(app)
        except (OSError, ConnectionError) as e:  # database away: try again next round
            log.warning("order timers: %s", e)
        except Exception:  # a bug here must not stop the timers for good
            log.exception("order timers failed; retrying")
        await asyncio.sleep(interval)


async def order_timers(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: run the timers while the app runs."""
    task = asyncio.create_task(_loop(app), name="order-timers")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
