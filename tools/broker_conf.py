"""mosquitto.conf for `fingerpos broker-config`: listeners, persistence, limits sized from the fleet.

Every option below is one of Mosquitto 2.0.11's (Debian bookworm's package;
Mosquitto refuses to start on an unknown option, and a test starts it with
this file), and its comment quotes what mosquitto.conf(5) says it does.

Listeners (per_listener_settings true, so each has its own password file):
    terminals   TLS, `use_username_as_clientid true`: a terminal's client id IS its
                user name, so no terminal can take another's id, nor the cloud's;
                the cloud user is not in its password file (passwd-terminals)
    cloud       optional TLS listener for cloud workers on other hosts: only the cloud
                user (passwd-cloud); workers pick their own (secret-derived) ids
    loopback    optional plain listener on 127.0.0.1, for processes on the broker host
                itself (the cloud, test benches): everyone (passwd)
The cloud listeners do not bind ids to user names: the workers share the user
`cloud`, and `use_username_as_clientid` would make them one client id that
kicks itself off (mosquitto.conf(5): the client id is replaced by the user name).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from fingerpos import protocol

# The broker must ride out a database outage of OUTAGE_S at the fleet's rate with
# nothing dropped. HEADROOM covers the terminals' one resend round within it: a
# terminal without an ack for ack_wait_s (20 s, firmware/config.py) publishes its
# outbox again from the oldest event, so a 30 s outage queues about 30 s + 20 s of
# events (firmware/link.py doubles the wait after that).
DEFAULT_EVENTS_PER_S = 5.0
DEFAULT_OUTAGE_S = 30
HEADROOM = 2.0
MIN_QUEUED = 10_000  # a small fleet still gets 10 x Mosquitto's default (1000)
# The cloud PUBACKs a batch only after committing it (cloud/ingest/pipeline.py), so the
# broker's in-flight window is what the cloud can work on between two commits: it must
# hold the fleet's events of INFLIGHT_S, and at least the cloud's whole inbox
# (Ingestion's inbox_max, 20000: past it the cloud stops reading, so a larger window
# costs nothing). With 4000 (two batches) the bench measured 8,000 events/s committed
# while the unlimited config gave 33,000: the cloud sat idle waiting for the window.
# In-flight messages are held in the session like queued ones: no extra broker memory.
INFLIGHT_S = 2.0
CLOUD_INBOX = 20_000
MIN_INFLIGHT = CLOUD_INBOX
# Mosquitto 2.0.11 refuses to start above this ("Error: max_inflight_messages must be
# <= 65535"): an MQTT packet id is 16 bits, so no more can be in flight on one session.
MAX_INFLIGHT = 65_535
DEFAULT_AUTOSAVE_S = 5
# A valid PUBLISH: fixed header (<= 5) + topic (2 + fp/v1/dev/<32>/cmd) + packet id (2)
# + the protocol's largest payload (4161). 8 KiB leaves room for MQTT 5 properties.
MAX_PACKET = 8192
SESSION_EXPIRY = "7d"
KEEPALIVE_MAX_S = 600  # firmware/config.py accepts keepalive 2..600


@dataclass(frozen=True)
class Sizing:
    """Queue and in-flight limits for `fleet` terminals at `events_per_s` each."""

    fleet: int
    events_per_s: float = DEFAULT_EVENTS_PER_S
    outage_s: int = DEFAULT_OUTAGE_S
    autosave_s: int = DEFAULT_AUTOSAVE_S

    @property
    def backlog(self) -> int:
        """Events the whole fleet sends during the outage (all of them wait for the cloud)."""
        return math.ceil(self.fleet * self.events_per_s * self.outage_s)

    @property
    def queued_messages(self) -> int:
        return max(MIN_QUEUED, math.ceil(self.backlog * HEADROOM))

    @property
    def queued_bytes(self) -> int:
        # Every queued message could be the protocol's largest: the count is then
        # always the limit that binds, and this states the memory one session may hold.
        return self.queued_messages * protocol.MAX_PAYLOAD

    @property
    def inflight(self) -> int:
        want = math.ceil(self.fleet * self.events_per_s * INFLIGHT_S)
        return min(MAX_INFLIGHT, max(MIN_INFLIGHT, want))


def limit_lines(s: Sizing) -> list[str]:
    """The global options, each with what mosquitto.conf(5) says about it."""
    mib = s.queued_bytes / 2**20
    return [
        f"# Sized for {s.fleet} terminals x {s.events_per_s:g} events/s: a {s.outage_s} s "
        f"database outage queues {s.backlog} events",
        f"# for the cloud's session; x{HEADROOM:g} for the terminals' resend round",
        "# (broker-config --fleet-size, --events-per-second, --outage-seconds).",
        "# max_queued_messages: \"the maximum number of QoS 1 or 2 messages to hold in the",
        "# queue (per client) above those messages that are currently in flight\" (default",
        "# 1000: past it messages are dropped, logged \"Outgoing messages are being dropped\").",
        f"max_queued_messages {s.queued_messages}",
        "# max_queued_bytes: past it \"subsequent messages will be silently dropped\". Set to",
        f"# count x the protocol's largest payload ({protocol.MAX_PAYLOAD} bytes), so the count binds first:",
        f"# at most {mib:.0f} MiB per session.",
        f"max_queued_bytes {s.queued_bytes}",
        "# max_inflight_messages: \"outgoing QoS 1 or 2 messages that can be in the process of",
        "# being transmitted simultaneously\" (default 20). The cloud PUBACKs a batch after",
        "# committing it, so this is all it can work on per commit: at least its inbox",
        f"# ({CLOUD_INBOX} messages; 20 would cap a batch at 20 events).",
        f"max_inflight_messages {s.inflight}",
        "# persistent_client_expiration: persistent sessions \"removed if they do not reconnect",
        "# within a certain time frame\" (default: never). A retired worker's or terminal's",
        "# session would otherwise hold its queue forever.",
        f"persistent_client_expiration {SESSION_EXPIRY}",
        "# max_packet_size: \"If a client sends a packet which is larger than this value, it",
        "# will be disconnected\" (all protocol versions): no valid fingerpos packet comes near.",
        f"max_packet_size {MAX_PACKET}",
        "# max_keepalive: MQTT 5 clients (the cloud) get a server keepalive of at most this.",
        f"max_keepalive {KEEPALIVE_MAX_S}",
        "# set_tcp_nodelay: \"disable Nagle's algorithm ... reducing latency\" of acks and prompts.",
        "set_tcp_nodelay true",
    ]


def persistence_lines(persistence_dir: str, autosave_s: int) -> list[str]:
    return [
        "# Commands wait in a terminal's persistent session while it is offline, events in",
        "# the cloud's. autosave_interval: \"the number of seconds that mosquitto will wait",
        "# between each time it saves the in-memory database to disk\" (default 1800; with",
        "# autosave_on_changes false it is a time). Mosquitto writes mosquitto.db.new and",
        "# renames it over mosquitto.db, so a SIGKILL mid-write leaves the previous save.",
        f"# LOSS WINDOW: a SIGKILL or power cut loses what arrived in the last {autosave_s} s",
        "# (plus the write itself); a clean stop (SIGTERM, systemctl stop) loses nothing.",
        "# The directory must exist and be writable by `user` (Mosquitto does not make it).",
        "persistence true",
        f"persistence_location {persistence_dir.rstrip('/')}/",
        f"autosave_interval {autosave_s}",
        "autosave_on_changes false",
    ]


def log_lines() -> list[str]:
    return [
        "# To stderr (the journal under systemd: journalctl -u mosquitto). notice carries",
        "# \"Outgoing messages are being dropped for client ...\"; information the connects",
        "# (and \"Client ... already connected, closing old connection\").",
        "log_dest stderr",
        "log_type error",
        "log_type warning",
        "log_type notice",
        "log_type information",
    ]


@dataclass(frozen=True)
class Listeners:
    tls_port: int
    certfile: str
    keyfile: str
    cafile: str
    cloud_tls_port: int | None = None
    loopback_port: int | None = None


def _auth(passwd: Path, acl: Path) -> list[str]:
    return ["allow_anonymous false", f"password_file {passwd}", f"acl_file {acl}"]


def listener_lines(dest: Path, ls: Listeners) -> list[str]:
    tls = [f"certfile {ls.certfile}", f"keyfile {ls.keyfile}", f"cafile {ls.cafile}",
           "tls_version tlsv1.2"]
    acl = dest / "acl"
    lines = [
        "",
        "# TLS listener for the terminals. Fill in the server",
        "# certificate (full chain), its private key, and the CA that signed it.",
        f"listener {ls.tls_port}",
        *tls,
        *_auth(dest / "passwd-terminals", acl),
        "# use_username_as_clientid: \"replace the clientid that a client connected with its",
        "# username ... it is possible to prevent one client disconnecting another by using",
        "# the same clientid\". A terminal asking for another's id (or the cloud's) gets its",
        "# own. Not reloaded on SIGHUP: changing it needs a restart.",
        "use_username_as_clientid true",
    ]
    if ls.cloud_tls_port is not None:
        lines += [
            "",
            "# TLS listener for cloud workers on other hosts: only the cloud user logs in here",
            "# (and only here or on loopback: it is not in passwd-terminals).",
            f"listener {ls.cloud_tls_port}",
            *tls,
            *_auth(dest / "passwd-cloud", acl),
        ]
    if ls.loopback_port is not None:
        lines += [
            "",
            "# Plain MQTT for processes on this host only (never reachable from outside):",
            "# a cloud worker on the broker host, a test bench. Ids are not bound to user",
            "# names here (the cloud workers share one user); the cloud's id is secret-derived.",
            f"listener {ls.loopback_port} 127.0.0.1",
            *_auth(dest / "passwd", acl),
        ]
    return lines


def conf_text(dest: Path, listeners: Listeners, sizing: Sizing, summary: str,
              persistence_dir: str, run_as: str) -> str:
    lines = [
        "# fingerpos production Mosquitto configuration (`fingerpos broker-config`).",
        f"# {summary}",
        "# After provisioning or revoking a terminal, generate it again and reload",
        "# Mosquitto (systemctl reload mosquitto, or SIGHUP): it re-reads the password",
        "# files, the acl and the limits below.",
        "per_listener_settings true",
        "# Started as root, Mosquitto switches to this user: it must own the password",
        f"# files and acl (they are mode 0600): chown {run_as} passwd* acl",
        f"user {run_as}",
        *persistence_lines(persistence_dir, sizing.autosave_s),
        *limit_lines(sizing),
        *log_lines(),
        *listener_lines(dest, listeners),
    ]
    return "\n".join(lines) + "\n"
