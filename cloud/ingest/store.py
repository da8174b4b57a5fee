"""EventStore: one transaction per batch of verified events.

In one transaction: insert the events (ON CONFLICT DO NOTHING, so a
duplicate creates nothing), run the handlers for the rows that were new, update
the devices' heartbeat figures and `acked`, and allocate the seqs of the ack
commands. A crash before commit loses both an event and its effects (orders)
together: exactly-once effects come from this transaction. The caller
publishes the commands and PUBACKs the messages only after `commit` returns.

Handlers: a typ with a BatchHandler (sales) gets all its new events of the batch
in one call, in a savepoint; it refuses bad ones itself, so one bad sale cannot
sink the others. Should the batch handler fail as a whole, its savepoint is
undone and the typ's per-event Handler takes the events one by one, each in its
own savepoint (so a row no check foresaw costs only its own event). Other typs
go one event at a time.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from fingerpos.cloud.core.sql import dialect, q, when
from fingerpos.cloud.ingest.stats import IngestStats
from fingerpos.cloud.orders.bulk import insert_rows
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

log = logging.getLogger(__name__)

# typ -> await handler(device_id, event_id, data); the order service's entries.
Handler = Callable[[str, int, dict], Awaitable[object]]


class BatchOutcome(Protocol):
    """What a batch handler reports back."""

    refused: list[tuple[int, Exception]]  # (position in the list it was given, why)

    async def after_commit(self) -> None:
        """Runs once the batch is committed (feed messages)."""


# typ -> await handler(conn, [(device_id, event_id, data), ...]): every new event of
# that typ in a batch, in the batch's transaction (`conn` is a savepoint in it).
BatchHandler = Callable[[BaseDBAsyncClient, list[tuple[str, int, dict]]],
                        Awaitable[BatchOutcome]]


@dataclass(slots=True)
class Incoming:
    """One verified event waiting for its batch commit."""

    device: str
    seq: int
    typ: str
    ts: int
    data: dict
    body: str  # the raw body text, stored as received
    hash: str
    prev: str
    received: float
    mid: int
    qos: int
    generation: int
    event_id: int | None = None  # set when this delivery inserted the row
    sig: str = ""  # the payload's signature, kept to verify the event again later


@dataclass(slots=True)
class DeviceFigures:
    """What a batch changes on a device row."""

    acked: int = 0
    last_seen: float = 0.0
    fw: str | None = None
    uptime: int | None = None
    heap_free: int | None = None
    rssi: int | None = None
    outbox: int | None = None


def _int(x: object) -> int | None:
    return x if type(x) is int else None


def figures_of(batch: list[Incoming]) -> dict[str, DeviceFigures]:
    """One entry per device of the batch, with its last-seen time."""
    out: dict[str, DeviceFigures] = {}
    for ev in batch:
        f = out.get(ev.device)
        if f is None:
            out[ev.device] = DeviceFigures(last_seen=ev.received)
        elif ev.received > f.last_seen:
            f.last_seen = ev.received
    return out


def fill_figures(batch: list[Incoming], figures: dict[str, DeviceFigures]) -> None:
    """Heartbeat and boot figures from the events this commit inserted (batch is in
    seq order): a replayed old heartbeat must not overwrite newer figures. Walks
    the batch from the end: only each device's newest heartbeat and boot count."""
    beat: set[str] = set()
    boot: set[str] = set()
    for ev in reversed(batch):
        if ev.event_id is None:
            continue
        if ev.typ == "heartbeat":
            if ev.device in beat:
                continue
            beat.add(ev.device)
            f, data = figures[ev.device], ev.data
            f.uptime, f.heap_free = _int(data.get("uptime")), _int(data.get("heap_free"))
            f.rssi, f.outbox = _int(data.get("rssi")), _int(data.get("outbox"))
        elif ev.typ == "boot" and ev.device not in boot and isinstance(ev.data.get("fw"), str):
            boot.add(ev.device)
            figures[ev.device].fw = ev.data["fw"][:32]


class EventStore:
    def __init__(self, handlers: dict[str, Handler], stats: IngestStats,
                 refusals: tuple[type[BaseException], ...] = (ValueError, LookupError, TypeError),
                 batch_handlers: dict[str, BatchHandler] | None = None) -> None:
        self.handlers = handlers
        self.batch_handlers = dict(batch_handlers or {})
        self.stats = stats
        # What a handler raises when it refuses an event's data (the order
        # service's DomainError); anything else (a database error) fails the batch.
        self.refusals = refusals

    async def commit(self, batch: list[Incoming], figures: dict[str, DeviceFigures],
                     in_tx: Callable[[BaseDBAsyncClient], Awaitable[object]]) -> object:
        """Store `batch`; `in_tx(conn)` runs last inside the same transaction
        (the ack commands' seq allocation) and its result is returned."""
        async with in_transaction() as conn:
            d = dialect(conn)
            await self._insert(conn, d, batch)
            fill_figures(batch, figures)
            outcomes = await self._dispatch(batch)
            await self._update_devices(conn, d, figures)
            result = await in_tx(conn)
        for outcome in outcomes:
            try:
                await outcome.after_commit()
            except Exception as e:  # committed is committed: a lost feed message is only logged
                log.error("after-commit work failed (%s: %s)", type(e).__name__, e)
        return result

    async def _insert(self, conn: BaseDBAsyncClient, d: str, batch: list[Incoming]) -> None:
        index = {(ev.device, ev.seq): ev for ev in batch}
        for ev in batch:  # a failed attempt before this one may have set them
            ev.event_id = None
        rows = await insert_rows(
            conn, "device_event", "device_id, seq, typ, ts, body, hash, prev, received_at,"
                                  " raw_body, sig",
            [(ev.device, ev.seq, ev.typ, ev.ts, ev.body, ev.hash, ev.prev, ev.received, ev.body,
              ev.sig) for ev in batch],
            " ON CONFLICT (device_id, seq) DO NOTHING RETURNING id, device_id, seq")
        for r in rows:
            index[(r["device_id"], r["seq"])].event_id = r["id"]

    async def _dispatch(self, batch: list[Incoming]) -> list[BatchOutcome]:
        together: dict[str, list[Incoming]] = {}
        alone: list[Incoming] = []
        for ev in batch:
            if ev.event_id is None:
                continue
            if ev.typ in self.batch_handlers:
                together.setdefault(ev.typ, []).append(ev)
            elif ev.typ in self.handlers:
                alone.append(ev)
        # Batched typs first: no event of a batch can refer to an order a sale of the
        # same batch creates (terminals learn order ids only from the cloud's commands).
        outcomes = []
        for typ, events in together.items():
            outcome = await self._run_batch(typ, events)
            if outcome is not None:
                outcomes.append(outcome)
        for ev in alone:
            await self._run_one(self.handlers[ev.typ], ev)
        return outcomes

    async def _run_batch(self, typ: str, events: list[Incoming]) -> BatchOutcome | None:
        try:
            async with in_transaction() as savepoint:
                outcome = await self.batch_handlers[typ](
                    savepoint, [(ev.device, ev.event_id, ev.data) for ev in events])
        except Exception as e:
            one = self.handlers.get(typ)
            if one is None:
                raise
            # Undone; one by one the bad event (if that is what it was) fails alone,
            # and a dead database fails them all, which fails the batch.
            log.error("%d %s events failed together (%s: %s); handling them one by one",
                      len(events), typ, type(e).__name__, e)
            for ev in events:
                await self._run_one(one, ev)
            return None
        for n, e in outcome.refused:
            self._refused(events[n], e)
        return outcome

    async def _run_one(self, handler: Handler, ev: Incoming) -> None:
        try:
            async with in_transaction():  # a savepoint inside the batch
                await handler(ev.device, ev.event_id, ev.data)  # type: ignore[arg-type]
        except self.refusals as e:
            self._refused(ev, e)

    def _refused(self, ev: Incoming, e: BaseException) -> None:
        # The event's data was refused by its handler: the event stays stored (it
        # is evidence); the failure is counted and logged.
        self.stats.handler_errors += 1
        log.warning("event %s/%s (%s) refused by its handler: %s", ev.device, ev.seq, ev.typ, e)

    async def _update_devices(self, conn: BaseDBAsyncClient, d: str,
                              figures: dict[str, DeviceFigures]) -> None:
        rows = [[f.acked, f.acked, when(d, f.last_seen), f.fw, f.uptime, f.heap_free, f.rssi,
                 f.outbox, dev] for dev, f in figures.items()]
        if rows:
            await conn.execute_many(q(d, (
                "UPDATE device SET acked = CASE WHEN acked < ? THEN ? ELSE acked END,"
                " last_seen = ?, fw = COALESCE(?, fw), uptime = COALESCE(?, uptime),"
                " heap_free = COALESCE(?, heap_free), rssi = COALESCE(?, rssi),"
                " outbox = COALESCE(?, outbox) WHERE id = ?")), rows)
