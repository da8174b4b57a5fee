"""A production Mosquitto configuration for fingerpos: listeners, password files, ACL.

Output (all in one directory):
    mosquitto.conf   tools/broker_conf.py: per_listener_settings, no anonymous access,
                     a TLS listener for the terminals (client id bound to the user
                     name), optionally a TLS listener for remote cloud workers and a
                     plain one on 127.0.0.1; persistence with a short autosave; queue
                     and in-flight limits sized from the fleet
    passwd-terminals Mosquitto's own hashed format, one line per active terminal
                     (user = device id, password = protocol.broker_password(key)):
                     the terminals' listener, where the cloud user cannot log in
    passwd-cloud     the cloud user only: the cloud workers' TLS listener
    passwd           both: the loopback listener (processes on the broker host)
    acl              each terminal writes only its own evt/status and reads only its
                     own cmd (%u patterns); the cloud reads every evt/status (also as
                     $share/...) and writes every cmd
    cloud-password   the cloud user's password, made once and reused on every run

Password hashes are computed here, not by `mosquitto_passwd`: the technician's
laptop rarely has Mosquitto installed. The format is what mosquitto_passwd
(Mosquitto 2.x) writes: `user:$7$<iterations>$<base64 12-byte salt>$<base64
PBKDF2-HMAC-SHA512, 64 bytes>` with 101 iterations; a test checks a real
Mosquitto accepts it and that this module verifies mosquitto_passwd's output.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from fingerpos import protocol
from fingerpos.protocol.subscriptions import SHARE_GROUP
from fingerpos.tools.broker_conf import Listeners, Sizing, conf_text
from fingerpos.tools.device import terminal_config as tc

PBKDF2_ITERATIONS = 101  # mosquitto_passwd's default for $7$
SALT_BYTES = 12
HASH_BYTES = 64
DEFAULT_CLOUD_USER = "cloud"
DEFAULT_PERSISTENCE_DIR = "/var/lib/mosquitto"  # Debian's mosquitto package's own
DEFAULT_RUN_AS = "mosquitto"
CERT_PLACEHOLDERS = {
    "certfile": "/etc/mosquitto/certs/fingerpos-server.crt",
    "keyfile": "/etc/mosquitto/certs/fingerpos-server.key",
    "cafile": "/etc/mosquitto/certs/fingerpos-ca.crt",
}
TOPIC_ROOT = protocol.PREFIX  # "fp/v1/dev/"


class BrokerConfigError(ValueError):
    pass


def mosquitto_hash(password: str, salt: bytes | None = None,
                   iterations: int = PBKDF2_ITERATIONS) -> str:
    """The `$7$` hash mosquitto_passwd writes for `password`."""
    salt = salt if salt is not None else secrets.token_bytes(SALT_BYTES)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations, HASH_BYTES)
    return f"$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def mosquitto_check(password: str, hashed: str) -> bool:
    """True when `hashed` (a `$7$` entry) is the hash of `password`."""
    parts = hashed.split("$")
    if len(parts) != 5 or parts[1] != "7":
        return False
    try:
        iterations, salt = int(parts[2]), base64.b64decode(parts[3], validate=True)
        want = base64.b64decode(parts[4], validate=True)
    except ValueError:
        return False
    got = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations, len(want))
    return hmac.compare_digest(got, want)


@dataclass(frozen=True)
class Fleet:
    active: dict[str, str]  # device id -> broker password
    revoked: list[str]
    skipped: list[str]  # "dir: why" for directories that hold no usable config


def fleet_from_dirs(devices_dir: Path) -> Fleet:
    """Terminals provisioned under devices_dir (one sub-directory each, with config.json)."""
    devices_dir = Path(devices_dir)
    if not devices_dir.is_dir():
        raise BrokerConfigError(f"{devices_dir} is not a directory of provisioned terminals")
    active: dict[str, str] = {}
    revoked: list[str] = []
    skipped: list[str] = []
    for d in sorted(p for p in devices_dir.iterdir() if p.is_dir()):
        if not (d / tc.CONFIG_NAME).exists():
            continue  # not a terminal directory (e.g. a bundle elsewhere)
        try:
            config = tc.load(d / tc.CONFIG_NAME)
        except tc.ConfigError as e:
            skipped.append(str(e))
            continue
        if config["id"] != d.name:
            skipped.append(f"{d}: holds the config of {config['id']!r}, not {d.name!r}")
        elif tc.is_revoked(d):
            revoked.append(config["id"])
        else:
            active[config["id"]] = protocol.broker_password(tc.key_of(config))
    return Fleet(active, revoked, skipped)


async def fleet_from_db(db_url: str, key_secret: str) -> Fleet:
    """Terminals registered in the cloud's database; keys opened with the cloud's secret.

    A key that does not open aborts the whole run: writing a password file
    without those terminals would lock them all out (a wrong FINGERPOS_SECRET
    makes every key fail at once).
    """
    from fingerpos.cloud.core import db
    from fingerpos.cloud.core.keyring import DeviceKeyring, KeyringError
    from fingerpos.cloud.models.devices import Device

    ring = DeviceKeyring(key_secret)
    ctx = await db.open_context(db_url)
    try:
        await db.require_current(ctx)  # an empty or old database: say so, not a traceback
        with ctx:
            rows = await Device.all().order_by("id").values_list("id", "key_enc", "revoked")
    finally:
        await ctx.close_connections()
    active: dict[str, str] = {}
    revoked: list[str] = []
    for dev, key_enc, is_revoked in rows:
        if is_revoked:
            revoked.append(dev)
            continue
        try:
            active[dev] = protocol.broker_password(ring.open(key_enc, dev))
        except KeyringError as e:
            raise BrokerConfigError(str(e)) from None
    return Fleet(active, revoked, [])


def acl_text(cloud_user: str, share_group: str = SHARE_GROUP) -> str:
    evt, status, cmd = (TOPIC_ROOT + "+/" + k for k in ("evt", "status", "cmd"))
    return "\n".join([
        "# fingerpos topic ACL. Terminals log in with username = device id, so the",
        "# %u patterns give each terminal exactly its own topics and nothing else.",
        f"pattern write {TOPIC_ROOT}%u/evt",
        f"pattern write {TOPIC_ROOT}%u/status",
        f"pattern read {TOPIC_ROOT}%u/cmd",
        "",
        "# The cloud workers: every terminal's events and status (also as a shared",
        "# subscription that splits the stream between workers), every terminal's commands.",
        f"user {cloud_user}",
        f"topic read {evt}",
        f"topic read {status}",
        f"topic read $share/{share_group}/{evt}",
        f"topic read $share/{share_group}/{status}",
        f"topic write {cmd}",
        "",
    ])


def cloud_password(out: Path) -> str:
    """The cloud user's password: read from out/cloud-password, or made and saved there."""
    path = out / "cloud-password"
    if path.exists():
        password = path.read_text().strip()
        if len(password) >= 16:
            return password
        raise BrokerConfigError(f"{path} holds no usable password (16+ characters): fix or delete it")
    password = secrets.token_hex(16)
    _write_private(path, password + "\n")
    return password


def _write_private(path: Path, text: str) -> None:
    """Write a secret file with mode 0600, atomically (readers never see half a file)."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


@dataclass(frozen=True)
class Generated:
    conf: Path
    fleet: Fleet
    cloud_user: str
    sizing: Sizing


def generate(out: Path, fleet: Fleet, cloud_user: str = DEFAULT_CLOUD_USER,
             dest: Path | None = None, tls_port: int = 8883,
             certfile: str = CERT_PLACEHOLDERS["certfile"],
             keyfile: str = CERT_PLACEHOLDERS["keyfile"],
             cafile: str = CERT_PLACEHOLDERS["cafile"],
             loopback_port: int | None = None,
             persistence_dir: str = DEFAULT_PERSISTENCE_DIR,
             run_as: str = DEFAULT_RUN_AS, cloud_tls_port: int | None = None,
             sizing: Sizing | None = None) -> Generated:
    """Write mosquitto.conf, the password files, acl (and cloud-password once) into out.

    `sizing` defaults to the fleet's active terminals at the default rate and outage.
    """
    if not protocol.valid_device_id(cloud_user):
        raise BrokerConfigError(f"cloud user {cloud_user!r} must be 1-32 of A-Z a-z 0-9 _ -")
    if cloud_user in fleet.active or cloud_user in fleet.revoked:
        raise BrokerConfigError(f"a terminal is named {cloud_user!r} like the cloud user: "
                                "pick another --cloud-user")
    if not run_as or any(c.isspace() for c in run_as):
        raise BrokerConfigError(f"--run-as {run_as!r} is not a user name")
    ports = [p for p in (tls_port, cloud_tls_port, loopback_port) if p is not None]
    for port in ports:
        if not 1 <= port <= 65535:
            raise BrokerConfigError(f"port {port} is not 1-65535")
    if len(set(ports)) < len(ports):
        raise BrokerConfigError(f"the listeners need different ports, not {ports}")
    sizing = sizing or Sizing(max(1, len(fleet.active)))
    check_sizing(sizing)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    dest = Path(dest or out).resolve()
    hashed = {u: mosquitto_hash(p) for u, p in
              {cloud_user: cloud_password(out), **fleet.active}.items()}
    for name, users in (("passwd", sorted(hashed)), ("passwd-terminals", sorted(fleet.active)),
                        ("passwd-cloud", [cloud_user])):
        _write_private(out / name, "".join(f"{u}:{hashed[u]}\n" for u in users))
    _write_private(out / "acl", acl_text(cloud_user))
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    summary = (f"{stamp}: terminals {len(fleet.active)}, revoked and left out "
               f"{len(fleet.revoked)}, cloud user {cloud_user}")
    conf = out / "mosquitto.conf"
    listeners = Listeners(tls_port, certfile, keyfile, cafile, cloud_tls_port, loopback_port)
    _write_private(conf, conf_text(dest, listeners, sizing, summary, persistence_dir, run_as))
    return Generated(conf, fleet, cloud_user, sizing)


def check_sizing(s: Sizing) -> None:
    """Refuse limits Mosquitto would refuse, or that would mean nothing."""
    if not 1 <= s.fleet <= 10_000_000:
        raise BrokerConfigError(f"--fleet-size {s.fleet} is not 1-10000000")
    if not 0 < s.events_per_s <= 1000:
        raise BrokerConfigError(f"--events-per-second {s.events_per_s:g} is not above 0 "
                                "and at most 1000")
    if not 1 <= s.outage_s <= 86_400:
        raise BrokerConfigError(f"--outage-seconds {s.outage_s} is not 1-86400")
    if not 1 <= s.autosave_s <= 3600:
        raise BrokerConfigError(f"--autosave-interval {s.autosave_s} is not 1-3600 s")
