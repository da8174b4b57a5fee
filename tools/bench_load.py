"""The load side of `fingerpos bench ingest`, each part in a process of its own.

- `publish`: many simulated terminals, one MQTT connection each, signing every
  event in-process (tools/bench_terminal.py: own key, seq and hash chain),
  either as fast as they can (`rate` 0) or at a steady total rate; reports each
  event's publish time so the bench can measure publish -> WebSocket latency.
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
from fingerpos.protocol.subscriptions import EVT_FILTER
from fingerpos.tools.bench_terminal import BenchTerminal
from fingerpos.tools.fleet import heartbeat, sale
from paho.mqtt.enums import CallbackAPIVersion

_BURST = 16  # events per terminal signed between writes when publishing flat out


def publish(url: str, devices: list[tuple[str, str]], typ: str, duration: float, rate: float,
            window: int, out: Queue, keep_times: bool = True, login: bool = False) -> None:
    """Process entry: publish `typ` events from `devices` [(id, key hex)] for `duration` s.

    With `window` > 0 a terminal waits while that many of its events are not
    acknowledged, as a terminal's outbox would: the stream then runs at the
    cloud's pace instead of piling up in the broker.
    """
    out.put(asyncio.run(_publish(url, devices, typ, duration, rate, window, keep_times, login)))


async def _publish(url: str, devices: list[tuple[str, str]], typ: str, duration: float,
                   rate: float, window: int = 0, keep_times: bool = True,
                   login: bool = False) -> dict:
    """keep_times=False (the soak): no per-event times, which would only grow.
    login: each terminal logs in with its own credentials (the generated broker config)."""
    terms = [BenchTerminal(dev, bytes.fromhex(key)) for dev, key in devices]
    progress = asyncio.Event()
    for term in terms:
        term.progress = progress
        await term.connect(url, subscribe=bool(window), login=login)
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
        if rate:  # steady: one event at a time, each due at start + sent / rate
            term = terms[sent % len(terms)]
            term.event(int(now), typ, make(term.seq + 1))
            term.flush()
            if keep_times:
                times.append((term.dev, term.seq, time.time()))
            sent += 1
            delay = start + sent / rate - time.time()
            if delay > 0:
                await asyncio.sleep(delay)
            continue
        for term in terms:
            for _ in range(_BURST):
                if window and term.seq - term.acked >= window:
                    blocked += 1
                    break
                term.event(int(now), typ, make(term.seq + 1))
                sent += 1
            term.flush()
        for term in terms:
            await term.drain()  # the broker's pace bounds what waits in our buffers
        if blocked == len(terms):
            progress.clear()
            try:
                await asyncio.wait_for(progress.wait(), max(0.0, end - time.time()))
            except TimeoutError:
                break
    elapsed = time.time() - start
    # Let the last packets leave and their PUBACKs come back.
    deadline = time.time() + 30
    while time.time() < deadline and any(term.unconfirmed for term in terms):
        await asyncio.sleep(0.05)
    for term in terms:
        await term.close()
    return {"sent": sent, "start": start, "elapsed": elapsed, "times": times}


def bare_subscriber(url: str, expect: int, timeout: float, ready: Queue, out: Queue) -> None:
    """Process entry: count messages until `expect` arrived, 2 s of silence, or `timeout`."""
    host, port, _, _ = _split(url)
    state = {"n": 0, "first": 0.0, "last": 0.0}
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id="bare-subscriber")

    def on_connect(c: paho.Client, u: object, f: object, rc: object, p: object) -> None:
        c.subscribe(EVT_FILTER, qos=1)

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
