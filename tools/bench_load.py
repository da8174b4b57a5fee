"""The load side of `fingerpos bench ingest`, each part in a process of its own.

- `publish`: many simulated terminals, one MQTT connection each, signing every
  event in-process with protocol.seal (own key, seq and hash chain), either as
  fast as they can (`rate` 0) or at a steady total rate; reports each event's
  publish time so the bench can measure publish -> WebSocket latency.
- `bare_subscriber`: a plain paho client (its own loop_forever) counting QoS 1
  messages on fp/v1/dev/+/evt: the ceiling the cloud is compared with.
Both run under multiprocessing's spawn context, so they share no CPU time
with the cloud process beyond what the machine has.
"""

from __future__ import annotations

import asyncio
import time
from multiprocessing.queues import Queue

import paho.mqtt.client as paho
from fingerpos import protocol
from fingerpos.cloud.ingest.link import MqttLink
from fingerpos.tools.fleet import heartbeat, sale
from paho.mqtt.enums import CallbackAPIVersion

_YIELD_EVERY = 64  # messages sealed between turns of the event loop (lets paho write)


def publish(url: str, devices: list[tuple[str, str]], typ: str, duration: float, rate: float,
            window: int, out: Queue) -> None:
    """Process entry: publish `typ` events from `devices` [(id, key hex)] for `duration` s.

    With `window` > 0 a terminal waits while that many of its events are not
    acknowledged, as a terminal's outbox would: the stream then runs at the
    cloud's pace instead of piling up in the broker.
    """
    out.put(asyncio.run(_publish(url, devices, typ, duration, rate, window)))


async def _publish(url: str, devices: list[tuple[str, str]], typ: str, duration: float,
                   rate: float, window: int = 0) -> dict:
    keys = [bytes.fromhex(k) for _, k in devices]
    acked = [0] * len(devices)
    index = {dev: i for i, (dev, _) in enumerate(devices)}
    progress = asyncio.Event()

    def on_command(client: paho.Client, userdata: object, msg: paho.MQTTMessage) -> None:
        try:
            dev, _ = protocol.parse_topic(msg.topic)
            body = protocol.verify(keys[index[dev]], msg.topic, msg.payload)
        except (protocol.ProtocolError, KeyError):
            return
        if body["typ"] == "ack" and type(body["data"].get("upto")) is int:
            acked[index[dev]] = max(acked[index[dev]], body["data"]["upto"])
            progress.set()

    links = []
    for dev, _ in devices:
        subs = [(protocol.cmd_topic(dev), 1)] if window else []
        link = MqttLink(url, "pub-" + dev, subs, on_command)
        await link.start()
        links.append(link)
    seqs = [0] * len(devices)
    prevs = [""] * len(devices)
    make = sale if typ == "sale" else heartbeat
    times: list[tuple[str, int, float]] = []
    sent = 0
    start = time.time()
    end = start + duration
    while True:
        now = time.time()
        if now >= end:
            break
        blocked = 0
        for i, (dev, _) in enumerate(devices):
            if window and seqs[i] - acked[i] >= window:
                blocked += 1
                continue
            seqs[i] += 1
            data = make(seqs[i])
            topic, payload, prevs[i] = protocol.seal(keys[i], dev, protocol.EVT, seqs[i],
                                                     int(now), typ, prevs[i], data)
            links[i].publish(topic, payload)
            times.append((dev, seqs[i], data["t"]))
            sent += 1
            if rate:
                # steady: the next event is due at start + sent / rate
                delay = start + sent / rate - time.time()
                if delay > 0:
                    await asyncio.sleep(delay)
            elif sent % _YIELD_EVERY == 0:
                await asyncio.sleep(0)
        if blocked == len(devices):
            progress.clear()
            try:
                await asyncio.wait_for(progress.wait(), max(0.0, end - time.time()))
            except TimeoutError:
                break
    elapsed = time.time() - start
    # Let the last packets leave and their PUBACKs come back.
    deadline = time.time() + 30
    while time.time() < deadline and any(
            link.client._out_messages for link in links):  # paho keeps unacked QoS 1 here
        await asyncio.sleep(0.05)
    for link in links:
        await link.stop()
    return {"sent": sent, "start": start, "elapsed": elapsed, "times": times if rate else []}


def bare_subscriber(url: str, expect: int, timeout: float, ready: Queue, out: Queue) -> None:
    """Process entry: count messages until `expect` arrived, 2 s of silence, or `timeout`."""
    host, port, _, _ = _split(url)
    state = {"n": 0, "first": 0.0, "last": 0.0}
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id="bare-subscriber")

    def on_connect(c: paho.Client, u: object, f: object, rc: object, p: object) -> None:
        c.subscribe(protocol.EVT_FILTER, qos=1)

    def on_subscribe(c: paho.Client, u: object, mid: int, rc: object, p: object) -> None:
        ready.put("ready")

    def on_message(c: paho.Client, u: object, msg: paho.MQTTMessage) -> None:
        now = time.time()
        if not state["n"]:
            state["first"] = now
        state["n"] += 1
        state["last"] = now

    client.on_connect, client.on_subscribe, client.on_message = on_connect, on_subscribe, on_message
    client.connect(host, port, 30)
    client.loop_start()
    started = time.time()
    seen, idle_since = 0, time.time()
    while state["n"] < expect and time.time() - started < timeout:
        time.sleep(0.1)
        if state["n"] != seen:
            seen, idle_since = state["n"], time.time()
        elif seen and time.time() - idle_since > 2.0:
            break  # the stream is over
    client.loop_stop()
    client.disconnect()
    out.put(state)


def _split(url: str) -> tuple[str, int, str | None, str | None]:
    from fingerpos.cloud.ingest.link import parse_url
    return parse_url(url)
