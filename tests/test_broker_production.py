"""Issue #14 item 1: the Mosquitto that `fingerpos broker-config` configures, under attack and load.

Real Mosquitto (Debian's 2.0.11) started with exactly the generated files: client-id
takeovers are refused, queued commands survive a SIGKILL, and a 30 s outage of the
cloud with 200 terminals at 5 events/s (30,000 events) drops nothing in the broker;
the real ingestion then stores every event exactly once (SQLite).
"""

from __future__ import annotations

import asyncio
import os
import pwd
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from fingerpos import protocol
from fingerpos.cloud.core.config import Config
from fingerpos.cloud.fleet.registry import DeviceRegistry
from fingerpos.cloud.ingest.pipeline import Ingestion
from fingerpos.cloud.ingest.wiring import cloud_client_id
from fingerpos.cloud.models.devices import DeviceEvent
from fingerpos.tools.bench_terminal import BenchTerminal
from fingerpos.tools.cli import main
from fingerpos.tools.fleet import heartbeat
from fingerpos.tools.mosquitto import Mosquitto, free_port

from tests.support.ingest_env import open_hex, register
from tests.test_broker_config import Client, add_terminal, make_certs

CLOUD_SECRET = "production-broker-secret-0123456789"
# Mosquitto 2.0.11's words (src/database.c, src/handle_connect.c) for what must never happen.
DROPPED = "dropped"
TAKEOVER = "already connected, closing old connection"


@dataclass
class Production:
    """A Mosquitto on the generated files; `connect` picks the listener a client uses."""

    out: Path
    state: Path
    broker: Mosquitto
    ports: dict[str, int]
    ca: str
    pw: dict[str, str]
    clients: list[Client] = field(default_factory=list)

    def connect(self, user: str, password: str | None = None, listener: str = "terminals",
                client_id: str | None = None, clean: bool = True) -> Client:
        c = Client(self.ports[listener], user, password if password is not None else self.pw[user],
                   client_id or f"{user}-{len(self.clients)}",
                   None if listener == "loopback" else self.ca, clean)
        self.clients.append(c)
        return c

    def log(self) -> str:
        return (self.broker.dir / "mosquitto.log").read_text(errors="replace")

    def url(self, user: str) -> str:
        return f"mqtt://{user}:{self.pw[user]}@127.0.0.1:{self.ports['loopback']}"


def start_production(tmp_path: Path, terminals: int, *extra: str) -> Production:
    devices = tmp_path / "devices"
    pw = {f"t{i}": add_terminal(devices, f"t{i}", i) for i in range(1, terminals + 1)}
    certs = make_certs(tmp_path / "certs")
    ports = {"terminals": free_port(), "cloud": free_port(), "loopback": free_port()}
    out, state = tmp_path / "broker", tmp_path / "state"
    state.mkdir()  # Mosquitto does not make it (Debian's package ships /var/lib/mosquitto)
    assert main(["broker-config", "--out", str(out), "--devices-from", str(devices),
                 "--tls-port", str(ports["terminals"]), "--cloud-tls-port", str(ports["cloud"]),
                 "--loopback-port", str(ports["loopback"]),
                 # The test's files belong to whoever runs it: Mosquitto must stay that user.
                 "--run-as", pwd.getpwuid(os.geteuid()).pw_name, "--persistence-dir", str(state),
                 *sum(([f"--{k}", v] for k, v in certs.items()), []), *extra]) == 0
    pw["cloud"] = (out / "cloud-password").read_text().strip()
    broker = Mosquitto(config_file=out / "mosquitto.conf", port=ports["loopback"],
                       workdir=tmp_path / "mosq")
    broker.dir.mkdir()
    broker.start()
    return Production(out, state, broker, ports, certs["cafile"], pw)


@pytest.fixture
def production(tmp_path):
    prod = start_production(tmp_path, 2)
    yield prod
    for c in prod.clients:
        c.close()
    prod.broker.stop()


def cloud_id(port: int = 8080) -> str:
    return cloud_client_id(Config(key_secret=CLOUD_SECRET, port=port))


def test_the_cloud_client_id_is_secret_derived(monkeypatch):
    monkeypatch.delenv("FINGERPOS_WORKER", raising=False)
    mine = cloud_id()
    assert mine == cloud_id()  # stable: a restarted worker finds its persistent session
    assert mine != cloud_client_id(Config(key_secret="another-secret-0123456789", port=8080))
    assert mine != cloud_id(8081)  # two workers on one host
    # What it was before (guessable from the host name and port) is not even a part of it.
    assert not mine.startswith("fingerpos-") and len(mine.split(".")[1]) == 20
    assert not protocol.valid_device_id(mine)  # no terminal can ever be named like it
    monkeypatch.setenv("FINGERPOS_WORKER", "w" * 80)
    assert len(cloud_id()) == 64 and cloud_id() != mine
    assert cloud_id() != cloud_client_id(Config(key_secret="another-secret-0123456789"))


def test_takeover_attempts_are_refused(production):
    """tB, knowing the ids (the cloud's leaked), tries to take tA's and the cloud's sessions."""
    p = production
    victim_id = cloud_id()
    cloud = p.connect("cloud", listener="loopback", client_id=victim_id)
    a = p.connect("t1", client_id="t1")
    assert cloud.ok and a.ok
    assert not cloud.subscribe("fp/v1/dev/+/evt")[0].is_failure
    assert not a.subscribe("fp/v1/dev/t1/cmd")[0].is_failure

    # Each attack gets in as itself (its own id), or not at all.
    assert p.connect("t2", client_id="t1").ok
    assert p.connect("t2", client_id=victim_id).ok
    # The cloud user does not exist on the terminals' listener, whatever the password.
    assert str(p.connect("cloud").rc) == "Not authorized"
    # Nor can a terminal log in on the cloud workers' listener.
    assert str(p.connect("t1", listener="cloud", client_id="t1-other").rc) == "Not authorized"
    assert p.connect("cloud", listener="cloud", client_id=cloud_id(9)).ok  # a second worker

    # Both victims are still connected and still get what is theirs.
    cloud.publish("fp/v1/dev/t1/cmd", b"cmd after the attacks")
    assert a.next() == ("fp/v1/dev/t1/cmd", b"cmd after the attacks")
    a.publish("fp/v1/dev/t1/evt", b"event after the attacks")
    assert cloud.next() == ("fp/v1/dev/t1/evt", b"event after the attacks")
    assert a.disconnects.empty() and cloud.disconnects.empty()
    log = p.log()
    assert f"Client t1 {TAKEOVER}" not in log and f"Client {victim_id} {TAKEOVER}" not in log


def _saved_after(db: Path, t_ns: int, timeout: float) -> bool:
    """Wait until Mosquitto has saved its database after t_ns (it renames a new file over it)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if db.exists() and db.stat().st_mtime_ns > t_ns:
            return True
        time.sleep(0.1)
    return False


def test_sigkill_and_restart_keep_queued_commands(production):
    p = production
    conf = (p.out / "mosquitto.conf").read_text()
    window = int(next(line.split()[1] for line in conf.splitlines()
                      if line.startswith("autosave_interval ")))
    assert window <= 10  # the loss window the generated file and the README state
    t1 = p.connect("t1", client_id="t1", clean=False)
    assert not t1.subscribe("fp/v1/dev/t1/cmd")[0].is_failure
    t1.close()  # offline now; its session waits
    cloud = p.connect("cloud", listener="loopback", client_id=cloud_id())
    commands = [b"queued command %d" % i for i in range(5)]
    for c in commands:
        cloud.publish("fp/v1/dev/t1/cmd", c)  # returns once the broker PUBACKed it
    published = time.time_ns()
    saved = _saved_after(p.state / "mosquitto.db", published, 3 * window + 10)
    p.broker.proc.kill()  # SIGKILL: no clean shutdown, no save
    p.broker.proc.wait(10)
    p.broker.start()
    t1 = p.connect("t1", client_id="t1", clean=False)
    got = []
    for _ in commands:
        try:
            got.append(t1.next()[1])
        except Exception:
            break
    assert got == commands, (f"got {len(got)} of {len(commands)} commands after SIGKILL; "
                             f"database saved after they were queued: {saved}")


async def _publish_burst(prod: Production, terms: list[BenchTerminal], per_terminal: int) -> float:
    """Each terminal publishes `per_terminal` more signed heartbeats (its seq and hash chain
    continue) as fast as the broker takes them; returns once every one is PUBACKed (the
    broker holds them). Seconds taken."""
    start = time.monotonic()
    for term in terms:
        await term.connect(prod.url(term.dev), subscribe=False)
    goal = {term.dev: term.seq + per_terminal for term in terms}
    while any(term.seq < goal[term.dev] for term in terms):
        for term in terms:
            for _ in range(min(25, goal[term.dev] - term.seq)):
                term.event(int(time.time()), "heartbeat", heartbeat(term.seq + 1))
            term.flush()
        for term in terms:
            await term.drain()
    async with asyncio.timeout(60):
        while any(term.unconfirmed for term in terms):
            await asyncio.sleep(0.05)
    for term in terms:
        await term.close()
    return time.monotonic() - start


async def _stored() -> int:
    return await DeviceEvent.all().count()


async def _drained(want: int, start: float, stall_s: float = 10.0) -> float:
    """Seconds from start until `want` events are stored, or until nothing more is for stall_s."""
    last, last_change = -1, time.monotonic()
    while (n := await _stored()) < want and time.monotonic() - last_change < stall_s:
        if n != last:
            last, last_change = n, time.monotonic()
        await asyncio.sleep(0.2)
    return time.monotonic() - start


async def test_outage_burst_drops_nothing_and_stores_everything_once(tmp_path, ingest_db):
    """200 terminals x 5 events/s x 30 s while the cloud is away: 30,000 queued, then drained."""
    fleet, per_terminal = 200, 5 * 30
    # The default sizing comes from the 200 provisioned terminals (5 events/s, 30 s).
    prod = await asyncio.to_thread(start_production, tmp_path, fleet)
    terms = [BenchTerminal(f"t{i}", bytes([i]) * 32) for i in range(1, fleet + 1)]
    for term in terms:
        await register(term.dev, key=term.key)
    url = prod.url("cloud")
    ing = Ingestion(url, DeviceRegistry(open_hex), client_id=cloud_id())
    try:
        await ing.start()
        # Each terminal's first event proves the cloud's (persistent) subscription is in place.
        await _publish_burst(prod, terms, 1)
        async with asyncio.timeout(60):
            while await _stored() < fleet:
                await asyncio.sleep(0.1)
        await ing.stop()  # the outage: its session stays, the broker queues for it

        publish_s = await _publish_burst(prod, terms, per_terminal)
        queued = fleet * per_terminal

        ing = Ingestion(url, DeviceRegistry(open_hex), client_id=cloud_id())
        start = time.monotonic()
        await ing.start()
        drain_s = await _drained(fleet + queued, start)
        await asyncio.sleep(1)  # anything more (a duplicate) would arrive now
        stored = await _stored()
    finally:
        await ing.stop()
        prod.broker.stop()
    log = prod.log()
    dropped = sum(DROPPED in line for line in log.splitlines())
    print(f"\noutage burst: {queued} events published in {publish_s:.1f} s while the cloud "
          f"was away; dropped lines {dropped}; stored {stored - fleet} of {queued}; drained in "
          f"{drain_s:.1f} s ({queued / drain_s:.0f} events/s); redelivered and recognised "
          f"{ing.stats.duplicates}")
    assert dropped == 0, [line for line in log.splitlines() if DROPPED in line][:3]
    assert stored == fleet + queued
    rows = await DeviceEvent.all().values_list("device_id", "seq")
    assert len(set(rows)) == len(rows) == fleet * (per_terminal + 1)
    # Redelivery is MQTT's at-least-once (the warm-up's events the stopped cloud had stored
    # but not yet PUBACKed): the database's unique (device, seq) made them no second row.
    assert ing.stats.stored == queued
