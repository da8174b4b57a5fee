"""`fingerpos broker-config` run against the real Mosquitto: ACLs, hashes, TLS, revocation."""

from __future__ import annotations

import json
import os
import pwd
import queue
import signal
import ssl
import stat
import subprocess
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from fingerpos import protocol
from fingerpos.tools import broker_config as bc
from fingerpos.tools.cli import main
from fingerpos.tools.device import terminal_config as tc
from fingerpos.tools.mosquitto import Mosquitto, free_port

WAIT_S = 10


def add_terminal(devices: Path, dev: str, key_byte: int) -> str:
    """Write a provisioned terminal's directory; returns its broker password."""
    key = bytes([key_byte]) * 32
    (devices / dev).mkdir(parents=True)
    tc.write_new(devices / dev / "config.json",
                 tc.build(dev, "shop1", key, tc.check_wifi(None, None),
                          tc.parse_broker("mqtt://127.0.0.1")))
    return protocol.broker_password(key)


def make_certs(d: Path) -> dict[str, str]:
    """A CA and a server certificate for 127.0.0.1, made with openssl."""
    d.mkdir()

    def ssl_cmd(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True, timeout=30)

    ssl_cmd("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=fp test CA")
    ssl_cmd("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1")
    (d / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    ssl_cmd("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", "server.crt", "-days", "2", "-extfile", "san.ext")
    return {"certfile": str(d / "server.crt"), "keyfile": str(d / "server.key"),
            "cafile": str(d / "ca.crt")}


class Client:
    """A paho client that records CONNACK, SUBACKs and messages, with bounded waits."""

    def __init__(self, port: int, user: str | None, password: str | None,
                 client_id: str, ca: str | None = None, clean: bool = True) -> None:
        self.messages: queue.Queue = queue.Queue()
        self.connack: queue.Queue = queue.Queue()
        self.subacks: queue.Queue = queue.Queue()
        self.disconnects: queue.Queue = queue.Queue()  # reason codes, e.g. a takeover
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id,
                        protocol=mqtt.MQTTv311, clean_session=clean)
        if user is not None:
            c.username_pw_set(user, password)
        if ca:
            c.tls_set(ca_certs=ca, cert_reqs=ssl.CERT_REQUIRED)
        c.on_connect = lambda _c, _u, _f, rc, _p: self.connack.put(rc)
        c.on_subscribe = lambda _c, _u, _m, rcs, _p: self.subacks.put(rcs)
        c.on_message = lambda _c, _u, m: self.messages.put((m.topic, m.payload))
        c.on_disconnect = lambda _c, _u, _f, rc, _p: self.disconnects.put(rc)
        c.reconnect_delay_set(60, 60)  # one attempt per test: no silent retries
        c.connect("127.0.0.1", port, keepalive=30)
        c.loop_start()
        self.c = c
        self.rc = self.connack.get(timeout=WAIT_S)

    @property
    def ok(self) -> bool:
        return not self.rc.is_failure

    def subscribe(self, topic: str) -> list:
        self.c.subscribe(topic, qos=1)
        return self.subacks.get(timeout=WAIT_S)

    def publish(self, topic: str, payload: bytes, retain: bool = False) -> None:
        self.c.publish(topic, payload, qos=1, retain=retain).wait_for_publish(WAIT_S)

    def next(self) -> tuple[str, bytes]:
        return self.messages.get(timeout=WAIT_S)

    def close(self) -> None:
        self.c.disconnect()
        self.c.loop_stop()


@pytest.fixture
def fleet_broker(tmp_path):
    devices = tmp_path / "devices"
    pw = {dev: add_terminal(devices, dev, i) for i, dev in enumerate(["tA", "tB", "tR"], 1)}
    (devices / "tR" / "revoked").write_text("{}")
    certs = make_certs(tmp_path / "certs")
    out = tmp_path / "broker"
    tls_port, plain_port = free_port(), free_port()
    rc = main(["broker-config", "--out", str(out), "--devices-from", str(devices),
               "--tls-port", str(tls_port), "--loopback-port", str(plain_port),
               # The test's files belong to whoever runs it: Mosquitto must stay that user.
               "--run-as", pwd.getpwuid(os.geteuid()).pw_name,
               "--persistence-dir", str(tmp_path / "state"), *sum(
                   ([f"--{k}", v] for k, v in certs.items()), [])])
    assert rc == 0
    pw["cloud"] = (out / "cloud-password").read_text().strip()
    broker = Mosquitto(config_file=out / "mosquitto.conf", port=plain_port,
                       workdir=tmp_path / "mosq")
    broker.dir.mkdir()
    broker.start()
    clients: list[Client] = []

    def connect(user: str | None, password: str | None = None, tls: bool = False,
                client_id: str | None = None) -> Client:
        c = Client(tls_port if tls else plain_port, user, password,
                   client_id or f"{user}-{len(clients)}", certs["cafile"] if tls else None)
        clients.append(c)
        return c

    yield {"pw": pw, "connect": connect, "broker": broker, "out": out, "devices": devices}
    for c in clients:
        c.close()
    broker.stop()


def test_terminals_reach_only_their_own_topics(fleet_broker):
    pw, connect = fleet_broker["pw"], fleet_broker["connect"]
    cloud = connect("cloud", pw["cloud"])
    a = connect("tA", pw["tA"], client_id="tA")
    b = connect("tB", pw["tB"], client_id="tB")
    assert cloud.ok and a.ok and b.ok
    # The cloud reads all events through the shared subscription, and all status.
    assert not cloud.subscribe("$share/fingerpos/fp/v1/dev/+/evt")[0].is_failure
    assert not cloud.subscribe("fp/v1/dev/+/status")[0].is_failure
    assert not b.subscribe("fp/v1/dev/tB/cmd")[0].is_failure
    a.subscribe("fp/v1/dev/tB/cmd")  # refused or granted: either way nothing may arrive
    a.subscribe("fp/v1/dev/+/cmd")
    assert not a.subscribe("fp/v1/dev/tA/cmd")[0].is_failure

    # A forges an event and a status for B, then sends its own: the cloud gets only A's.
    # One publisher's messages arrive in order, so the forgeries would have come first.
    a.publish("fp/v1/dev/tB/evt", b"forged event")
    a.publish("fp/v1/dev/tB/status", b"offline", retain=True)
    a.publish("fp/v1/dev/tA/evt", b"A's event")
    a.publish("fp/v1/dev/tA/status", b"online", retain=True)
    assert cloud.next() == ("fp/v1/dev/tA/evt", b"A's event")
    assert cloud.next() == ("fp/v1/dev/tA/status", b"online")

    # A cannot command B; the cloud can command both; A never reads B's commands.
    a.publish("fp/v1/dev/tB/cmd", b"forged command")
    cloud.publish("fp/v1/dev/tB/cmd", b"cmd for B")
    cloud.publish("fp/v1/dev/tA/cmd", b"cmd for A")
    assert b.next() == ("fp/v1/dev/tB/cmd", b"cmd for B")
    assert a.next() == ("fp/v1/dev/tA/cmd", b"cmd for A")
    assert a.messages.empty() and b.messages.empty() and cloud.messages.empty()

    # The cloud may not forge terminal events either (it only reads evt).
    # (Its forgery is acknowledged before B publishes, so it would arrive first.)
    cloud.publish("fp/v1/dev/tB/evt", b"cloud forgery")
    b.publish("fp/v1/dev/tB/evt", b"B's event")
    assert cloud.next() == ("fp/v1/dev/tB/evt", b"B's event")


@pytest.mark.parametrize("who", ["revoked", "wrong password", "anonymous", "unknown"])
def test_refused_logins(fleet_broker, who):
    pw, connect = fleet_broker["pw"], fleet_broker["connect"]
    user, password = {"revoked": ("tR", pw["tR"]), "wrong password": ("tA", pw["tB"]),
                      "anonymous": (None, None), "unknown": ("tZ", pw["tA"])}[who]
    c = connect(user, password)
    # MQTT 3.1.1 CONNACK code 5, which paho names like its MQTT 5 equivalent.
    assert c.rc.is_failure and str(c.rc) == "Not authorized"


def test_tls_listener_takes_terminals(fleet_broker):
    a = fleet_broker["connect"]("tA", fleet_broker["pw"]["tA"], tls=True, client_id="tA")
    assert a.ok


def test_revocation_takes_effect_on_reload(fleet_broker, capsys):
    pw, connect, out = fleet_broker["pw"], fleet_broker["connect"], fleet_broker["out"]
    assert connect("tB", pw["tB"]).ok
    devices = fleet_broker["devices"]
    assert main(["device", "revoke", "--id", "tB", "--devices", str(devices),
                 "--reason", "stolen"]) == 0
    assert json.loads((devices / "tB" / "revoked").read_text())["reason"] == "stolen"
    conf = (out / "mosquitto.conf").read_text()
    argv = ["broker-config", "--out", str(out), "--devices-from", str(devices)]
    for opt in ("certfile", "keyfile", "cafile"):
        argv += [f"--{opt}", next(line.split(" ", 1)[1] for line in conf.splitlines()
                                   if line.startswith(opt + " "))]
    assert main(argv) == 0
    assert "revoked, left out: tB, tR" in capsys.readouterr().out
    fleet_broker["broker"].proc.send_signal(signal.SIGHUP)  # Mosquitto re-reads passwd + acl
    deadline = time.monotonic() + WAIT_S
    while connect("tB", pw["tB"]).ok:
        assert time.monotonic() < deadline, "revoked terminal still accepted after reload"
        time.sleep(0.1)
    assert connect("tA", pw["tA"]).ok


def test_password_file_format_matches_mosquitto_passwd(tmp_path):
    """This module reads mosquitto_passwd's own output, and writes the same shape."""
    path = tmp_path / "pw"
    subprocess.run(["mosquitto_passwd", "-c", "-b", str(path), "tA", "s3cret-pass"],
                   check=True, capture_output=True, timeout=30)
    entry = path.read_text().strip().split(":", 1)[1]
    assert bc.mosquitto_check("s3cret-pass", entry)
    assert not bc.mosquitto_check("other", entry)
    ours = bc.mosquitto_hash("s3cret-pass")
    assert ours.split("$")[:3] == entry.split("$")[:3] == ["", "7", "101"]
    assert [len(p) for p in ours.split("$")[3:]] == [len(p) for p in entry.split("$")[3:]]
    assert bc.mosquitto_check("s3cret-pass", ours)
    for bad in ("", "$6$x$y", "$7$101$!!$??", "$7$x$aa==$bb=="):
        assert not bc.mosquitto_check("s3cret-pass", bad)


def test_generated_files(tmp_path, capsys):
    devices = tmp_path / "devices"
    pw_a = add_terminal(devices, "tA", 1)
    add_terminal(devices, "tB", 2)
    (devices / "tB" / "revoked").write_text("{}")
    (devices / "broken").mkdir()
    (devices / "broken" / "config.json").write_text("{oops")
    (devices / "moved").mkdir()
    (devices / "moved" / "config.json").write_text(
        (devices / "tA" / "config.json").read_text())
    out = tmp_path / "out"
    assert main(["broker-config", "--out", str(out), "--devices-from", str(devices),
                 "--dest", "/etc/mosquitto/fingerpos"]) == 0
    std = capsys.readouterr()
    assert "terminals (1): tA" in std.out and "revoked, left out: tB" in std.out
    assert "warning: left out" in std.err and "broken" in std.err and "'moved'" in std.err
    assert "put the TLS files at /etc/mosquitto/certs/fingerpos-server.crt" in std.out
    def users(name: str) -> dict[str, str]:
        return dict(line.split(":", 1) for line in (out / name).read_text().splitlines())

    assert sorted(users("passwd")) == ["cloud", "tA"]
    assert sorted(users("passwd-terminals")) == ["tA"]  # the terminals' listener
    assert sorted(users("passwd-cloud")) == ["cloud"]
    assert bc.mosquitto_check(pw_a, users("passwd")["tA"])
    cloud_pw = (out / "cloud-password").read_text().strip()
    assert bc.mosquitto_check(cloud_pw, users("passwd-cloud")["cloud"])
    for name in ("passwd", "passwd-terminals", "passwd-cloud", "acl", "mosquitto.conf",
                 "cloud-password"):
        assert stat.S_IMODE((out / name).stat().st_mode) == 0o600, name
    conf = (out / "mosquitto.conf").read_text()
    for line in ("per_listener_settings true", "allow_anonymous false", "listener 8883",
                 "password_file /etc/mosquitto/fingerpos/passwd-terminals",
                 "acl_file /etc/mosquitto/fingerpos/acl", "tls_version tlsv1.2",
                 "use_username_as_clientid true", "autosave_interval 5",
                 "autosave_on_changes false", "log_type notice",
                 # One terminal found: the floor, 10 x Mosquitto's default of 1000.
                 "max_queued_messages 10000", "max_inflight_messages 20000",
                 "max_packet_size 8192"):
        assert line in conf.splitlines(), line
    assert "allow_anonymous true" not in conf and "127.0.0.1" not in conf
    assert "LOSS WINDOW: a SIGKILL or power cut loses what arrived in the last 5 s" in conf
    assert "autosave every 5 s: a SIGKILL loses at most the last 5 s" in std.out
    # A second run keeps the cloud's password (the cloud workers hold it).
    assert main(["broker-config", "--out", str(out), "--devices-from", str(devices)]) == 0
    assert (out / "cloud-password").read_text().strip() == cloud_pw


@pytest.mark.parametrize("problem, message", [
    ("no-devices", "is not a directory of provisioned terminals"),
    ("cloud-named-terminal", "a terminal is named 'cloud' like the cloud user"),
    ("bad-cloud-user", "cloud user 'a b' must be"),
    ("bad-port", "port 70000 is not 1-65535"),
    ("short-cloud-password", "holds no usable password"),
    ("same-ports", "the listeners need different ports"),
    ("fleet-size", "--fleet-size 0 is not 1-10000000"),
    ("rate", "--events-per-second -1 is not above 0"),
    ("outage", "--outage-seconds 0 is not 1-86400"),
    ("autosave", "--autosave-interval 0 is not 1-3600 s"),
])
def test_bad_input_is_refused(tmp_path, capsys, problem, message):
    devices = tmp_path / "devices"
    devices.mkdir()
    out = tmp_path / "out"
    argv = ["broker-config", "--out", str(out), "--devices-from", str(devices)]
    if problem == "no-devices":
        argv[-1] = str(tmp_path / "nope")
    elif problem == "cloud-named-terminal":
        add_terminal(devices, "cloud", 3)
    elif problem == "bad-cloud-user":
        argv += ["--cloud-user", "a b"]
    elif problem == "bad-port":
        argv += ["--loopback-port", "70000"]
    elif problem == "same-ports":
        argv += ["--loopback-port", "8883"]
    elif problem in ("fleet-size", "rate", "outage", "autosave"):
        opt = {"fleet-size": "--fleet-size", "rate": "--events-per-second",
               "outage": "--outage-seconds", "autosave": "--autosave-interval"}[problem]
        argv += [opt, "-1" if problem == "rate" else "0"]
    elif problem == "short-cloud-password":
        out.mkdir()
        (out / "cloud-password").write_text("abc\n")
    assert main(argv) == 1
    assert message in capsys.readouterr().err
    assert not (out / "passwd").exists()


@pytest.mark.parametrize("argv, queued, inflight", [
    # The scenario: 200 terminals x 5 events/s x 30 s = 30,000 events, x2 headroom.
    (["--fleet-size", "200"], 60_000, 20_000),
    (["--fleet-size", "2000", "--events-per-second", "1", "--outage-seconds", "60"],
     240_000, 20_000),
    # 100,000 in flight would be wanted; Mosquitto refuses to start above 65535 (16-bit ids).
    (["--fleet-size", "100000", "--events-per-second", "0.5"], 3_000_000, 65_535),
])
def test_limits_are_sized_from_the_fleet(tmp_path, argv, queued, inflight):
    devices = tmp_path / "devices"
    add_terminal(devices, "tA", 1)
    out = tmp_path / "out"
    assert main(["broker-config", "--out", str(out), "--devices-from", str(devices), *argv]) == 0
    conf = (out / "mosquitto.conf").read_text().splitlines()
    assert f"max_queued_messages {queued}" in conf
    # The byte limit never binds before the count: every message could be the largest.
    assert f"max_queued_bytes {queued * protocol.MAX_PAYLOAD}" in conf
    assert f"max_inflight_messages {inflight}" in conf


def test_inflight_window_holds_the_clouds_whole_inbox():
    """The cloud PUBACKs only after its commit, so the broker's in-flight window is all the
    cloud can work on per commit. A window below the cloud's inbox (where it stops reading
    anyway) left it idle: 8,000 events/s committed with 4,000 against 33,000 unlimited
    (`fingerpos bench ingest --broker generated`). Reference: Ingestion's own bound."""
    import inspect

    from fingerpos.cloud.ingest.pipeline import Ingestion
    from fingerpos.tools.broker_conf import Sizing
    inbox = inspect.signature(Ingestion).parameters["inbox_max"].default
    for fleet in (1, 150, 2000):
        assert Sizing(fleet).inflight >= inbox, fleet


def test_fleet_size_defaults_to_the_provisioned_terminals(tmp_path, capsys):
    devices = tmp_path / "devices"
    for i in range(1, 4):
        add_terminal(devices, f"t{i}", i)
    (devices / "t3" / "revoked").write_text("{}")
    assert main(["broker-config", "--out", str(tmp_path / "out"), "--devices-from", str(devices),
                 "--outage-seconds", "1000"]) == 0
    # 2 active terminals x 5 events/s x 1000 s x 2
    assert "sized for 2 terminals x 5 events/s, a 1000 s outage: max_queued_messages 20000" \
        in capsys.readouterr().out


def test_a_database_that_is_not_migrated_is_refused_with_what_to_run(tmp_path, capsys,
                                                                     monkeypatch):
    """`broker-config --db` on a new (empty) database: one line saying `fingerpos migrate`,
    no traceback ("no such table: device" before) and no half-written config."""
    monkeypatch.setenv("FINGERPOS_SECRET", "ab" * 32)
    out = tmp_path / "out"
    assert main(["broker-config", "--out", str(out), "--db",
                 f"sqlite://{tmp_path / 'empty.sqlite3'}"]) == 1
    err = capsys.readouterr().err
    assert "out of date" in err and "fingerpos migrate" in err and "Traceback" not in err
    assert not (out / "passwd").exists()
