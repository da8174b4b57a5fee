"""Ingestion: MQTT in, verified events stored exactly once, acks out.

Flow for each message: the link's on_publish appends it to an in-memory inbox
(no await on the hot path); one task takes everything waiting (up to
`batch_max`) - one message when idle, thousands when busy - verifies each
with protocol.verify against the device's cached key, commits the batch in
one transaction (cloud/ingest/store.py), and only then sends each device an
`ack` command (highest seq up to which every event is stored, from its
SeqTracker) and PUBACKs the messages to the broker (manual acks + a
persistent session: what was not committed is delivered again after a crash).
If the database is down, the batch is retried with back-off and nothing is
acknowledged until it commits.

Backpressure: when the inbox holds `inbox_max` messages (the database is slow
or down), the link stops reading PUBLISH packets, so memory stays bounded and
the broker keeps the backlog (persistent session, QoS 1, nothing PUBACKed);
reading resumes when the inbox is down to half of it.

Sessions. One worker keeps a persistent session (clean=False): after a crash
or restart the broker hands it what was queued or in flight. Workers of a
share group (`--share-group`) connect with a clean session instead (MQTT 5
clean start, session expiry 0): Mosquitto 2.0 keeps choosing a member whose
persistent session outlives its connection, so while a worker is away its
share of the stream (1/N) queues in a session nobody reads, and what was in
flight to it is not handed to the others (eclipse/mosquitto #1747, #2662;
tests/test_workers.py measures it on our broker config). With a clean session
a worker that goes away leaves the group at once, the others get the whole
stream, and the few messages the broker had in flight to it are lost there:
the terminals still hold them in their outboxes and send them again when the
ack stops moving (firmware `ack_wait_s`), and the database's unique (device,
seq) makes a resend of something already stored harmless. So in shared mode
a hole in seq alarms only after SHARED_GAP_GRACE_S, longer than a terminal's
resend wait.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from hashlib import sha256

from fingerpos import protocol
from fingerpos.cloud.fleet.commands import CommandSender
from fingerpos.cloud.fleet.registry import DeviceRegistry, DeviceState
from fingerpos.cloud.ingest.gaps import GapWatch
from fingerpos.cloud.ingest.link import MqttLink
from fingerpos.cloud.ingest.stats import IngestStats
from fingerpos.cloud.ingest.status import StatusDesk
from fingerpos.cloud.ingest.store import EventStore, Handler, Incoming, figures_of
from fingerpos.cloud.ingest.verify import EventVerifier
from fingerpos.protocol.chain import BROKEN, DUPLICATE, GAP
from fingerpos.protocol.subscriptions import EVT_FILTER, STATUS_FILTER, shared
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

log = logging.getLogger(__name__)

# kind, payload -> the monitor feed (cloud-a's monitor.publish bound to the app).
Notify = Callable[[str, dict], Awaitable[None]]
Roster = Callable[[str], Awaitable[dict]]
# device, kind ("seq_gap" | "broken_chain"), message -> cloud/fleet/alarms.py's raise_alarm.
Alarm = Callable[[str, str, str], Awaitable[object]]
_FEED_ITEMS = 200
_DROP_EXAMPLES = 5  # dropped messages named per reason in a batch's feed message
_TOPIC_CACHE = 100_000
_Raw = tuple[bytes, bytes, int, int, int, float]  # topic, payload, mid, qos, generation, time
# Shared mode: a hole may be events lost in the broker with a worker that died; the
# terminal resends them after firmware/config.py's ack_wait_s (20 s) without an ack; three
# times that leaves room for a loaded host and the worker's own gap-check round.
SHARED_GAP_GRACE_S = 60.0
GAP_GRACE_S = 5.0  # one worker: a hole is not a worker's crash


def shared_clean_session(share_group: str | None) -> bool:
    """The session a worker asks for: clean in a share group, persistent alone (see header)."""
    return share_group is not None


async def _ignore(kind: str, payload: dict) -> None:
    return None


async def empty_roster(device_id: str) -> dict:
    return {"sellers": []}


class Ingestion:
    def __init__(self, mqtt_url: str, registry: DeviceRegistry,
                 handlers: dict[str, Handler] | None = None, notify: Notify = _ignore,
                 roster: Roster = empty_roster, share_group: str | None = None,
                 client_id: str = "fingerpos-cloud", batch_max: int = 2000,
                 gap_grace: float | None = None, alarm: Alarm | None = None,
                 ack_interval: float = 0.25, ack_every: int = 256,
                 refusals: tuple[type[BaseException], ...] = (ValueError, LookupError, TypeError),
                 welcome: Callable[[str], Awaitable[object]] | None = None,
                 inbox_max: int = 20000,
                 ) -> None:
        self.mqtt_url = mqtt_url
        self.registry = registry
        self.stats = IngestStats()
        self.store = EventStore(handlers or {}, self.stats, refusals)
        self.notify = notify
        self.alarm = alarm or self._alarm_to_feed
        self.share_group = share_group
        self.client_id = client_id
        self.batch_max = batch_max
        if gap_grace is None:
            gap_grace = SHARED_GAP_GRACE_S if share_group else GAP_GRACE_S
        self.gap_grace = gap_grace
        # Ack pacing: a device's first ack after a quiet spell goes out with its
        # batch; under load at most one per `ack_interval` (or every `ack_every`
        # events), so acks do not double the message rate.
        self.ack_interval = ack_interval
        self.ack_every = ack_every
        self._ack_pending: set[str] = set()
        self.commands = CommandSender(registry, self._publish)
        self.status = StatusDesk(self.commands, self.stats, notify, roster, welcome)
        self.link: MqttLink | None = None
        self.verifier = EventVerifier()
        self._topics: dict[bytes, tuple[str, str, str]] = {}
        self._inbox: deque[_Raw] = deque()
        self.inbox_max = inbox_max
        self.inbox_peak = 0  # the most messages the inbox has held (tests check the bound)
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task] = []
        self.idle = asyncio.Event()  # set whenever the inbox is empty and committed

    # -- life cycle ------------------------------------------------------------
    async def start(self) -> None:
        evt, status = EVT_FILTER, STATUS_FILTER
        if self.share_group:
            evt, status = shared(evt, self.share_group), shared(status, self.share_group)
        self.link = MqttLink(self.mqtt_url, self.client_id, [(evt, 1), (status, 1)],
                             mqtt5=self.share_group is not None, manual_ack=True,
                             clean=shared_clean_session(self.share_group),
                             on_publish=self._on_publish)
        await self.link.start()
        gaps = GapWatch(self.registry, self.gap_grace, self.share_group is not None,
                        self._raise, self._ack_later)
        self._tasks = [asyncio.create_task(self._run(), name="ingest"),
                       asyncio.create_task(gaps.run(), name="ingest-gaps")]

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            try:
                await t
            except asyncio.CancelledError:
                pass
        if self.link:
            await self.link.stop()

    async def _alarm_to_feed(self, device: str, kind: str, message: str) -> None:
        await self.notify("alarm", {"kind": kind, "device": device, "message": message})

    def _publish(self, topic: str, payload: bytes) -> None:
        if self.link is None:
            raise RuntimeError("ingestion is not started: no MQTT link to send commands on")
        self.link.publish(topic, payload, qos=1)

    # -- receive: the link's callback, no awaits --------------------------------
    def _on_publish(self, topic: bytes, payload: bytes, mid: int, qos: int) -> None:
        inbox = self._inbox
        inbox.append((topic, payload, mid, qos, self.link.generation,  # type: ignore[union-attr]
                      time.time()))
        if len(inbox) >= self.inbox_max:
            self.link.pause()  # type: ignore[union-attr]
            self.stats.paused += 1
            self.inbox_peak = max(self.inbox_peak, len(inbox))
        if not self._wake.is_set():
            self.idle.clear()
            self._wake.set()

    # -- the batch loop ------------------------------------------------------
    async def _run(self) -> None:
        while True:
            if not self._inbox:
                self.idle.set()
                try:
                    timeout = self.ack_interval if self._ack_pending else None
                    await asyncio.wait_for(self._wake.wait(), timeout)
                except TimeoutError:
                    pass
            self._wake.clear()
            inbox = self._inbox
            self.inbox_peak = max(self.inbox_peak, len(inbox))
            take = [inbox.popleft() for _ in range(min(self.batch_max, len(inbox)))]
            link = self.link
            if link is not None and link.paused and len(inbox) <= self.inbox_max // 2:
                link.resume()  # may append to the inbox at once
            batch = await self._verify(take)
            if batch:
                await self._commit(batch)
            if self._ack_pending:
                # Here no batch is in flight, so every tracker's `committed` is in the database.
                await self._flush_acks()

    async def _flush_acks(self) -> None:
        now = time.monotonic()
        due = []
        for dev in list(self._ack_pending):
            st = self.registry.cached(dev)
            if st is None or st.tracker.committed <= st.acked_sent:
                self._ack_pending.discard(dev)
            elif now - st.acked_at >= self.ack_interval:
                due.append(st)
        if not due:
            return
        try:
            async with in_transaction() as conn:
                sealed, _ = await self.commands.seal_many(
                    conn, [(st.id, "ack", {"upto": st.tracker.committed}) for st in due],
                    skip_unknown=True)
        except Exception as e:  # the database is away: they stay pending
            log.info("deferred acks not sent yet: %s", e)
            return
        self.commands.publish_all(sealed)
        self.stats.acks_sent += len(sealed)
        for st in due:
            st.acked_sent, st.acked_at = st.tracker.committed, now
            self._ack_pending.discard(st.id)

    async def _verify(self, take: list[_Raw]) -> list[Incoming]:
        try:  # keys rotated or revoked on any worker are dropped before this batch
            await self.registry.refresh()
        except Exception as e:  # the database is away: the look-ups below wait for it
            self.stats.db_errors += 1
            log.warning("device key check failed (%s: %s)", type(e).__name__, e)
        batch: list[Incoming] = []
        drops: list[tuple[int, int]] = []  # (generation, mid) of messages dropped here
        by_reason: dict[str, int] = {}
        examples: list[dict] = []
        for topic, payload, mid, qos, gen, received in take:
            delay = 0.05
            while True:  # a device lookup needs the database: wait for it
                try:
                    reason, dev, name = await self._check(topic, payload, mid, qos, gen,
                                                          received, batch)
                    break
                except asyncio.CancelledError:
                    raise
                except Exception as e:
                    self.stats.db_errors += 1
                    log.warning("device lookup failed (%s: %s); retrying in %.1fs",
                                type(e).__name__, e, delay)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 2.0)
            if reason is not None:
                self.stats.drop(reason)
                if qos:
                    drops.append((gen, mid))
                by_reason[reason] = seen = by_reason.get(reason, 0) + 1
                if seen <= _DROP_EXAMPLES:  # per reason: a rare one is not crowded out
                    examples.append({"reason": reason, "device": dev, "topic": name})
        self._puback_all(drops)
        if by_reason:
            # One feed message per batch, not per message: a flood of forged or
            # stale messages must not flood (and so disconnect) the monitor's clients.
            await self.notify("ingest", {"dropped": by_reason, "examples": examples,
                                         "counts": dict(self.stats.dropped)})
        return batch

    def _topic(self, topic: bytes) -> tuple[str, str, str]:
        """(topic text, device, kind), cached: a fleet has few topics.
        Raises ProtocolError (or UnicodeDecodeError) for a bad one."""
        known = self._topics.get(topic)
        if known is None:
            text = topic.decode()
            dev, kind = protocol.parse_topic(text)
            if len(self._topics) >= _TOPIC_CACHE:
                self._topics.clear()
            known = self._topics[topic] = (text, dev, kind)
        return known

    async def _check(self, topic: bytes, payload: bytes, mid: int, qos: int, gen: int,
                     received: float, batch: list[Incoming],
                     ) -> tuple[str | None, str | None, str | None]:
        """Append a good event to batch; returns (drop reason, device, topic) otherwise."""
        try:
            name, dev, kind = self._topic(topic)
        except UnicodeDecodeError:
            return "malformed", None, None
        except protocol.ProtocolError as e:
            return e.code, None, topic.decode(errors="replace")
        if kind == protocol.STATUS:
            self._puback_all([(gen, mid)] if qos else [])
            return await self.status.handle(dev, payload), dev, name
        if kind != protocol.EVT:
            return "malformed", dev, name
        self.stats.received += 1
        st = self.registry.cached(dev)
        if st is None:
            if self.registry.known_unknown(dev):
                return "unknown_device", dev, name
            st = await self.registry.load(dev)
            if st is None:
                return "unknown_device", dev, name
        if st.revoked:
            return "revoked", dev, name
        try:
            body = self.verifier.verify_event(st.key, topic, dev, payload)
        except protocol.ProtocolError as e:
            return e.code, dev, name
        raw = payload[:-65]
        batch.append(Incoming(dev, body["seq"], body["typ"], body["ts"], body["data"],
                              raw.decode(), sha256(raw).hexdigest()[:32], body["prev"], received,
                              mid, qos, gen, sig=payload[-64:].decode()))
        return None, dev, name

    def _puback_all(self, acks: list[tuple[int, int]]) -> None:
        """PUBACK (generation, mid) pairs: one write per connection generation."""
        link = self.link
        if not acks or link is None:
            return
        gen = acks[0][0]
        if all(g == gen for g, _ in acks):
            link.ack_many([m for _, m in acks], gen)
            return
        by_gen: dict[int, list[int]] = {}
        for g, m in acks:
            by_gen.setdefault(g, []).append(m)
        for g, mids in by_gen.items():
            link.ack_many(mids, g)

    async def _commit(self, batch: list[Incoming]) -> None:
        batch.sort(key=lambda ev: (ev.device, ev.seq))
        delay = 0.05
        while True:
            try:
                # Each attempt in its own task: when the database dies inside a
                # transaction, tortoise can leave its current-transaction context
                # variable on the released connection, and every retry in the same
                # context would reuse it ("connection has been released back to the
                # pool") until the process restarts.
                sealed, upto = await asyncio.create_task(self._commit_once(batch))
                break
            except asyncio.CancelledError:
                raise
            except Exception as e:  # any database failure: retry, acknowledge nothing
                self.stats.db_errors += 1
                log.warning("commit of %d events failed (%s: %s); retrying in %.1fs",
                            len(batch), type(e).__name__, e, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
                try:
                    await self.registry.reseed(sorted({ev.device for ev in batch}))
                except Exception as e2:  # still down: the next attempt reseeds again
                    log.debug("reseed failed: %s", e2)
        self.commands.publish_all(sealed)
        self.stats.acks_sent += len(sealed)
        self._puback_all([(ev.generation, ev.mid) for ev in batch if ev.qos])
        self.stats.batches += 1
        now = time.monotonic()
        for dev, n in upto.items():
            st = self.registry.cached(dev)
            if st is not None:
                st.acked_sent, st.acked_at = n, now
                self._ack_pending.discard(dev)
        # Per-event items only for small batches: a busy feed says how many.
        news = [ev for ev in batch if ev.event_id is not None]
        feed: dict = {"stored": len(news), "batch": len(batch),
                      "lag_ms": round((time.time() - batch[0].received) * 1000, 1)}
        if len(news) <= _FEED_ITEMS:
            feed["items"] = [[ev.device, ev.seq, ev.typ] for ev in news]
        await self.notify("ingest", feed)

    async def _commit_once(self, batch: list[Incoming]) -> tuple[list, dict[str, int]]:
        """Classify against the trackers, then one transaction for it all."""
        alarms: list[tuple[str, str, str]] = []
        again: set[str] = set()  # devices that sent something twice: ack them at once
        dev: str | None = None
        st: DeviceState | None = None
        for ev in batch:  # sorted by device: one registry look-up per device
            if ev.device != dev:
                dev = ev.device
                st = self.registry.cached(dev) or await self.registry.load(dev)
            if st is None:
                continue
            kind = st.tracker.observe(ev.seq, ev.prev, ev.hash)
            if kind == DUPLICATE:
                self.stats.duplicates += 1
                again.add(ev.device)
            elif kind == GAP:
                self.stats.gaps += 1
                st.gap_since = st.gap_since or time.monotonic()
            elif kind == BROKEN:
                self.stats.broken_chains += 1
                alarms.append((ev.device, "broken_chain",
                               f"event {ev.seq}: prev does not match the event before it"))
        figures = figures_of(batch)
        upto: dict[str, int] = {}  # the acks that go out with this batch
        now = time.monotonic()
        for dev, f in figures.items():
            st = self.registry.cached(dev)
            if st is None:
                continue
            f.acked = n = st.tracker.committed
            if not st.tracker.missing():
                st.gap_since, st.gap_alarmed = None, False
            if n > 0 and (dev in again or now - st.acked_at >= self.ack_interval
                          or n - st.acked_sent >= self.ack_every):
                upto[dev] = n
            elif n > st.acked_sent:
                self._ack_pending.add(dev)

        async def allocate(conn: BaseDBAsyncClient) -> list:
            items = [(dev, "ack", {"upto": n}) for dev, n in upto.items() if n > 0]
            sealed, _ = await self.commands.seal_many(conn, items, skip_unknown=True) if items else ([], [])
            return sealed

        sealed = await self.store.commit(batch, figures, allocate)
        self.stats.stored += sum(1 for ev in batch if ev.event_id is not None)
        for dev, kind, message in alarms:
            await self._raise(dev, kind, message)
        return sealed, upto

    async def _raise(self, device: str, kind: str, message: str) -> None:
        try:
            await self.alarm(device, kind, message)
        except Exception as e:  # an alarm must not stop ingestion; the log keeps it
            log.error("alarm %s for %s not recorded (%s): %s", kind, device, e, message)

    def _ack_later(self, device: str) -> None:
        self._ack_pending.add(device)  # the batch loop sends it
        self._wake.set()
