"""The embedded amqtt broker under concurrent connects and subscribes.

amqtt iterates its subscription table with awaits inside the loop; a
persistent session that reconnects while other clients subscribe to new
filters used to die with "dictionary changed size during iteration"
(cloud/ingest/broker.py's _SnapshotTable is the fix). This reproduces that race:
with the fix removed, the loop's exception handler sees the RuntimeError.
amqtt also sent a reconnecting client the retained messages of other clients'
filters (cloud/ingest/broker.py's _Broker is the fix).
"""

from __future__ import annotations

import asyncio
import threading
import time

import paho.mqtt.client as paho
from fingerpos.cloud.ingest.broker import EmbeddedBroker
from fingerpos.tools.mosquitto import free_port

_TERMINALS = 60


def _client(port: int, cid: str, clean: bool = True) -> paho.Client:
    c = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=cid, clean_session=clean)
    c.connect("127.0.0.1", port)
    c.loop_start()
    return c


def _seed(port: int) -> None:
    """Retained statuses, one subscription per terminal, and the cloud's
    persistent session subscribed to every status."""
    for i in range(_TERMINALS):
        c = _client(port, f"t{i}")
        c.publish(f"fp/v1/dev/t{i}/status", b"online", qos=1, retain=True).wait_for_publish(10)
        c.subscribe(f"fp/v1/dev/t{i}/cmd", 1)
        c.disconnect()
        c.loop_stop()
    cloud = _client(port, "cloud", clean=False)
    cloud.subscribe("fp/v1/dev/+/status", 1)
    time.sleep(0.3)
    cloud.disconnect()
    cloud.loop_stop()


def _subscribe_burst(port: int, k: int, clients: list[paho.Client]) -> None:
    for i in range(25):
        c = _client(port, f"n{k}-{i}")
        c.subscribe(f"fp/v1/dev/n{k}-{i}/cmd", 1)
        clients.append(c)


def _reconnect_cloud(port: int, rounds: int) -> int:
    """Reconnect the persistent session `rounds` times; the last time, check
    it is served: a status published after it connected reaches it."""
    got = threading.Event()
    for n in range(rounds):
        cloud = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="cloud",
                            clean_session=False)
        up = threading.Event()

        def connected(c, u, f, rc, p, up=up):
            # amqtt drops an anonymous session's subscriptions once it is disconnected,
            # so (like the cloud's MqttLink) subscribe again on every connect.
            c.subscribe("fp/v1/dev/+/status", 1)
            up.set()
        cloud.on_connect = connected
        if n == rounds - 1:
            cloud.on_message = lambda c, u, m: m.topic.endswith("/late/status") and got.set()
        cloud.connect("127.0.0.1", port)
        cloud.loop_start()
        time.sleep(0.15)
        if n == rounds - 1:
            assert up.wait(20), "the persistent session got no CONNACK"
            pub = _client(port, "late")
            for _ in range(20):  # until it arrives: a served session gets one soon
                pub.publish("fp/v1/dev/late/status", b"online", qos=1).wait_for_publish(10)
                if got.wait(1):
                    break
            pub.disconnect()
            pub.loop_stop()
        cloud.disconnect()
        cloud.loop_stop()
    return got.is_set()


async def test_reconnect_while_others_subscribe() -> None:
    failures: list[BaseException] = []
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(
        lambda lp, ctx: isinstance(ctx.get("exception"), RuntimeError)
        and failures.append(ctx["exception"]))
    port = free_port()
    broker = await EmbeddedBroker("127.0.0.1", port).start()
    clients: list[paho.Client] = []
    try:
        await asyncio.to_thread(_seed, port)
        served = await asyncio.wait_for(asyncio.gather(
            *[asyncio.to_thread(_subscribe_burst, port, k, clients) for k in range(3)],
            asyncio.to_thread(_reconnect_cloud, port, 12)), 90)
        assert served[-1], "the reconnected persistent session was not served"
        assert not failures, f"the broker failed a client: {failures[0]!r}"
    finally:
        for c in clients:
            c.disconnect()
            c.loop_stop()
        await broker.stop()
        loop.set_exception_handler(None)


def _received_on_connect(port: int, cid: str, topic_filter: str) -> list[str]:
    """Connect a persistent session that already holds topic_filter; the topics
    of what it is sent within a moment."""
    got: list[str] = []
    c = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=cid, clean_session=False)
    c.on_message = lambda cl, ud, msg: got.append(msg.topic)
    c.connect("127.0.0.1", port)
    c.loop_start()
    c.subscribe(topic_filter, 1)
    time.sleep(0.5)
    c.disconnect()
    c.loop_stop()
    got.clear()
    c.reconnect()
    c.loop_start()
    time.sleep(1.0)
    c.disconnect()
    c.loop_stop()
    return got


async def test_a_reconnecting_client_gets_only_its_own_filters_retained_messages() -> None:
    port = free_port()
    broker = await EmbeddedBroker("127.0.0.1", port).start()
    try:
        def scenario() -> tuple[list[str], list[str]]:
            t2 = _client(port, "t2")
            t2.publish("fp/v1/dev/t2/status", b"online", qos=1, retain=True).wait_for_publish(10)
            t2.disconnect()
            t2.loop_stop()
            cloud = _client(port, "cloud", clean=False)  # holds every status, stays connected
            cloud.subscribe("fp/v1/dev/+/status", 1)
            time.sleep(0.3)
            try:
                terminal = _received_on_connect(port, "t1", "fp/v1/dev/t1/cmd")
                monitor = _received_on_connect(port, "monitor", "fp/v1/dev/+/status")
            finally:
                cloud.disconnect()
                cloud.loop_stop()
            return terminal, monitor

        terminal, monitor = await asyncio.wait_for(asyncio.to_thread(scenario), 60)
        assert terminal == [], f"t1 was sent another terminal's retained messages: {terminal}"
        assert "fp/v1/dev/t2/status" in monitor  # its own filter's retained status still comes
    finally:
        await broker.stop()
