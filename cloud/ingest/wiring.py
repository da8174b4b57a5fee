"""The MQTT side's cleanup contexts for create_app (cloud/app.py's INGEST_HOOK).

    resources(config) -> [embedded broker (when config.mqtt_url is None), ingestion]

The ingestion context sets app[COMMANDS] (the signed command sender the order
engine calls), wires stored events to the order service by `typ`, alarms to
cloud/fleet/alarms.py, the feed to cloud/core/monitor.py, its counters to /metrics, and
answers a terminal's `online` with `time`, its shop's roster, and what it should be
showing (cloud/commerce/resync.py).
"""

from __future__ import annotations

import gc
import hashlib
import hmac
import os
import socket
from collections.abc import AsyncIterator, Callable

from aiohttp import web
from fingerpos.cloud import orders
from fingerpos.cloud.commerce import cash, printing, resync
from fingerpos.cloud.core import monitor
from fingerpos.cloud.core.appkeys import COMMANDS, CONFIG, KEYRING, METRICS
from fingerpos.cloud.core.config import Config
from fingerpos.cloud.core.errors import DomainError
from fingerpos.cloud.core.metrics import Registry
from fingerpos.cloud.fleet import alarms, roster
from fingerpos.cloud.fleet.registry import DeviceRegistry
from fingerpos.cloud.ingest import device_alarms, shifts
from fingerpos.cloud.ingest.broker import EmbeddedBroker
from fingerpos.cloud.ingest.pipeline import Ingestion
from fingerpos.cloud.ingest.stats import REASONS, IngestStats

CleanupCtx = Callable[[web.Application], AsyncIterator[None]]
BROKER_URL = web.AppKey("embedded_broker_url", str)
INGESTION = web.AppKey("ingestion", Ingestion)
# Where the embedded broker listens: host:port. Terminals reach it over the
# shop's network, so a real install sets e.g. 0.0.0.0:1883 (see cloud/ingest/broker.py).
BIND_ENV = "FINGERPOS_BROKER_BIND"

HANDLERS = {
    "sale": orders.from_sale,
    "ack": cash.ack,  # commerce: action "cash" pays a web order; the others go to orders
    "price_change": orders.price_change_from_device,
    "printed": printing.printed,  # commerce: the receipt job's outcome on the order
    "enrol": roster.record_enrolment,
    "alarm": device_alarms.from_alarm_event,
    "login": device_alarms.from_login_event,
    "shift": shifts.from_shift,     # the cash drawer's shift (issue #16 item 4)
    "refund": shifts.from_refund,   # a cash refund paid out at the terminal
}
# Typs whose new events of a batch go to one call (HANDLERS' entry stays: the fallback).
BATCH_HANDLERS = {
    "sale": orders.from_sales,
}


def resources(config: Config) -> list[CleanupCtx]:
    out: list[CleanupCtx] = []
    if config.mqtt_url is None:
        out.append(embedded_broker)
    out.append(ingestion)
    return out


def broker_bind() -> tuple[str, int]:
    host, _, port = os.environ.get(BIND_ENV, "127.0.0.1:1883").rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{BIND_ENV} must be host:port, e.g. 0.0.0.0:1883")
    return host, int(port)


async def embedded_broker(app: web.Application) -> AsyncIterator[None]:
    broker = await EmbeddedBroker(*broker_bind()).start()
    app[BROKER_URL] = broker.url.replace("0.0.0.0", "127.0.0.1")
    yield
    await broker.stop()


def cloud_client_id(config: Config) -> str:
    """This worker's MQTT client id: `fingerpos.<tag>.<worker>`, at most 64 characters.

    worker = FINGERPOS_WORKER, else <hostname>-<port>: distinct per worker and the
    same after a restart, so the worker finds its persistent session (what the broker
    queued while it was away) again. tag = HMAC-SHA256(the cloud's key secret, worker),
    20 hex digits: without the secret nobody can compute the id, so on a broker that
    does not bind ids to user names (the embedded one, another cluster) no client can
    connect with it and kick the worker off (MQTT 3.1.1 section 3.1.4: the server
    disconnects the existing client with the same id). The dots keep it outside the
    device id alphabet: no terminal's user-name-bound id (broker-config's
    use_username_as_clientid) can ever equal it.
    """
    worker = os.environ.get("FINGERPOS_WORKER") or f"{socket.gethostname()}-{config.port}"
    tag = hmac.new(config.key_secret.encode(), b"mqtt client id\n" + worker.encode(),
                   hashlib.sha256).hexdigest()[:20]
    return f"fingerpos.{tag}.{worker}"[:64]


def _collector(stats: IngestStats) -> Callable[[Registry], None]:
    def collect(reg: Registry) -> None:
        for name, value in (("received", stats.received), ("stored", stats.stored),
                            ("duplicates", stats.duplicates), ("gaps", stats.gaps),
                            ("broken_chains", stats.broken_chains),
                            ("handler_errors", stats.handler_errors),
                            ("db_errors", stats.db_errors), ("acks_sent", stats.acks_sent)):
            reg.counter(f"fingerpos_ingest_{name}_total", f"ingestion: {name}").set(value)
        for reason in REASONS:
            reg.counter("fingerpos_dropped_total", "MQTT messages dropped, by reason",
                        reason=reason).set(stats.dropped[reason])
    return collect


async def ingestion(app: web.Application) -> AsyncIterator[None]:
    config: Config = app[CONFIG]
    url = config.mqtt_url or app[BROKER_URL]
    ring = app[KEYRING]

    async def notify(kind: str, payload: dict) -> None:
        await monitor.publish(app, kind, payload)
        if kind == "device" and payload.get("online") is False:
            await device_alarms.device_offline(payload["id"])

    async def roster_of(device_id: str) -> dict:
        return await roster.roster_of(device_id, ring)

    async def alarm(device_id: str, kind: str, message: str) -> None:
        await alarms.raise_alarm(device_id, kind, "warning", message)

    ing = Ingestion(url, DeviceRegistry(ring.open), handlers=HANDLERS, notify=notify,
                    roster=roster_of, share_group=config.share_group,
                    client_id=cloud_client_id(config), alarm=alarm,
                    refusals=(DomainError, ValueError, LookupError, TypeError),
                    welcome=resync.welcome)  # after time and roster: open prompts,
    # unanswered print jobs, the catalogue (nothing rests on the broker's queues)
    ing.store.batch_handlers.update(BATCH_HANDLERS)
    await ing.start()
    app[INGESTION] = ing
    app[COMMANDS] = ing.commands
    app[METRICS].add_collector(_collector(ing.stats))
    # Everything made at startup (modules, ORM metadata, routes) lives as long as
    # the process: moved out of the collector's sight, a full collection walks
    # only what the stream made, instead of pausing the loop ~100+ ms (measured
    # under `fingerpos bench ingest --mode steady`: the p99 latency's spikes).
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()  # an app stopped in a longer-lived process (tests) is collectable again
        await ing.stop()
