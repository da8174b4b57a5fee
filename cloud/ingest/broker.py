"""EmbeddedBroker: an amqtt 0.12 MQTT broker inside the cloud process.

`fingerpos serve` with no --mqtt starts one, so a single machine needs
nothing else installed. Its limits, and why production uses Mosquitto:
- MQTT 3.1.1 only, so no MQTT 5 shared subscriptions: one cloud worker;
- no per-device topic ACL: any client that connects may publish on any
  device's topics (a forged event still fails its HMAC and is dropped, but a
  client could write another device's unsigned status, or read commands);
- anonymous connections (authentication is by the MAC on every message),
  so bind it to loopback or to a trusted shop LAN only;
- sessions and retained messages live in memory: a restart loses the queue
  (terminals resend from their outbox, which is what keeps data safe);
- one asyncio broker on the cloud's loop: a few thousand messages per second.
`fingerpos broker-config` writes a Mosquitto configuration with
per-device credentials and ACLs for production.

amqtt 0.12.1 (the newest release) iterates its subscription table with
awaits inside the loop: when a persistent session reconnects (the cloud's
ingestion does) while another client subscribes to a new filter, the
reconnect dies with "dictionary changed size during iteration" and that
client is never served. `_SnapshotTable` makes every iteration run over a
copy; tests/test_broker_embedded.py reproduces the race.

It also sends a client that connects the retained messages of every filter
that any client holds, not only its own: a terminal reconnecting got every
other terminal's retained `status` (the cloud holds `fp/v1/dev/+/status`),
which it drops as malformed commands. `_Broker` sends only those of the
session's own filters.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable

from amqtt.broker import Broker
from amqtt.errors import BrokerError
from amqtt.session import Session

log = logging.getLogger(__name__)


class _SnapshotTable(dict):
    """amqtt's topic filter -> subscribers table, iterated over a copy, so
    subscribing during another client's (awaiting) iteration is safe."""

    def __iter__(self):  # type: ignore[override]
        return iter(list(dict.keys(self)))

    def items(self):  # type: ignore[override]
        return list(dict.items(self))


class _Broker(Broker):
    async def _publish_retained_messages_for_subscription(
            self, subscription: tuple[str, int], session: Session) -> None:
        holders = self._subscriptions.get(subscription[0]) or []
        if any(s.client_id == session.client_id for s, _ in holders):
            await super()._publish_retained_messages_for_subscription(subscription, session)


def broker_config(host: str, port: int) -> dict:
    return {
        "listeners": {"default": {"type": "tcp", "bind": f"{host}:{port}",
                                  "max_connections": 1000}},
        # Only the anonymous-auth plugin: amqtt's defaults also load packet
        # loggers and a $SYS publisher, which cost CPU on every message.
        "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin":
                    {"allow_anonymous": True}},
    }


class EmbeddedBroker:
    def __init__(self, host: str = "127.0.0.1", port: int = 1883) -> None:
        self.host = host
        self.port = port
        self._broker: Broker | None = None

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    async def start(self) -> EmbeddedBroker:
        """Listen on host:port. Raises RuntimeError with a one-line reason."""
        self._broker = _Broker(broker_config(self.host, self.port))
        self._broker._subscriptions = _SnapshotTable(self._broker._subscriptions)
        try:
            await self._broker.start()
        except BrokerError as e:
            self._broker = None
            raise RuntimeError(
                f"cannot start the embedded MQTT broker on {self.host}:{self.port} ({e}):"
                " is the port taken? choose another or give --mqtt URL") from e
        log.info("embedded MQTT broker listening on %s:%s", self.host, self.port)
        return self

    async def stop(self) -> None:
        if self._broker is not None:
            await self._broker.shutdown()
            self._broker = None


def embedded_broker_ctx(host: str, port: int,
                        on_url: Callable[[str], None] | None = None
                        ) -> Callable[[object], AsyncIterator[None]]:
    """A cleanup_ctx for aiohttp: start the broker, yield, stop it.

    `on_url(url)` tells the app where the broker listens (for the ingestion).
    """

    async def ctx(app: object) -> AsyncIterator[None]:
        broker = await EmbeddedBroker(host, port).start()
        if on_url:
            on_url(broker.url)
        yield
        await broker.stop()

    return ctx
