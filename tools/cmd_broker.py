"""`fingerpos broker-config`: a production Mosquitto configuration for the fleet."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from fingerpos.cloud.core.config import ConfigError
from fingerpos.cloud.core.db import DatabaseError
from fingerpos.tools import broker_conf as conf
from fingerpos.tools import broker_config as bc
from fingerpos.tools.cmd_migrate import config_from
from fingerpos.tools.device import terminal_config as tc


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "broker-config", help="write a Mosquitto config, password file and ACL for the terminals",
        description="Write mosquitto.conf, the password files passwd, passwd-terminals and "
        "passwd-cloud (Mosquitto's PBKDF2-SHA512 $7$ hashes) and acl for every provisioned, "
        "not revoked terminal and for the cloud user. Run it again after provisioning or "
        "revoking a terminal, then reload Mosquitto.")
    p.add_argument("--out", type=Path, required=True, help="directory to write the files to")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--devices-from", type=Path,
                     help="provisioned terminals, one sub-directory each (default ./devices)")
    src.add_argument("--db", metavar="URL", help="read the terminals from the cloud's database "
                     "instead (sqlite:///path or postgres://...); device keys are opened with "
                     "FINGERPOS_SECRET (or the data dir's secret, as `fingerpos serve` does)")
    p.add_argument("--data-dir", metavar="DIR", help="with --db: the cloud's data directory "
                   "(default $FINGERPOS_DATA or ~/.local/share/fingerpos)")
    p.add_argument("--cloud-user", default=bc.DEFAULT_CLOUD_USER,
                   help="MQTT user of the cloud workers (default cloud); its password is "
                   "made once and kept in OUT/cloud-password")
    p.add_argument("--dest", type=Path, help="where the files will live on the broker host, "
                   "for the paths inside mosquitto.conf (default: OUT)")
    p.add_argument("--tls-port", type=int, default=8883, help="the terminals' TLS listener "
                   "(client id = user name; the cloud user cannot log in) (default 8883)")
    for name, path in bc.CERT_PLACEHOLDERS.items():
        p.add_argument(f"--{name}", default=path, help=f"TLS {name} path (default {path})")
    p.add_argument("--persistence-dir", default=bc.DEFAULT_PERSISTENCE_DIR,
                   help="where Mosquitto keeps sessions and queued commands "
                   f"(default {bc.DEFAULT_PERSISTENCE_DIR})")
    p.add_argument("--run-as", default=bc.DEFAULT_RUN_AS,
                   help="user Mosquitto runs as after starting as root; it must own the "
                   f"files (default {bc.DEFAULT_RUN_AS})")
    p.add_argument("--loopback-port", type=int,
                   help="also listen with plain MQTT on 127.0.0.1:PORT (cloud on the same host)")
    p.add_argument("--cloud-tls-port", type=int,
                   help="also listen with TLS on PORT for cloud workers on other hosts (only "
                   "the cloud user; on --tls-port it cannot log in)")
    p.add_argument("--fleet-size", type=int, metavar="N",
                   help="terminals to size the queue and in-flight limits for (default: the "
                   "active terminals found, at least 1)")
    p.add_argument("--events-per-second", type=float, default=conf.DEFAULT_EVENTS_PER_S,
                   metavar="R", help="events per second of one terminal at its busiest "
                   f"(default {conf.DEFAULT_EVENTS_PER_S:g})")
    p.add_argument("--outage-seconds", type=int, default=conf.DEFAULT_OUTAGE_S, metavar="S",
                   help="database outage the broker queues for without dropping a message "
                   f"(default {conf.DEFAULT_OUTAGE_S})")
    p.add_argument("--autosave-interval", type=int, default=conf.DEFAULT_AUTOSAVE_S,
                   metavar="S", help="seconds between saves of sessions and queued messages: "
                   f"what a SIGKILL or power cut can lose (default {conf.DEFAULT_AUTOSAVE_S})")
    p.set_defaults(func=_run)


def _fleet(args: argparse.Namespace) -> bc.Fleet:
    if args.db is None and args.data_dir is None:
        return bc.fleet_from_dirs(args.devices_from or tc.DEFAULT_DEVICES_DIR)
    if args.devices_from is not None:
        raise bc.BrokerConfigError("--data-dir goes with --db, not --devices-from")
    config = config_from(args)  # the cloud's own rules for the URL and the secret
    return asyncio.run(bc.fleet_from_db(config.database_url, config.key_secret))


def _run(args: argparse.Namespace) -> int:
    try:
        fleet = _fleet(args)
        fleet_size = args.fleet_size if args.fleet_size is not None else max(1, len(fleet.active))
        sizing = bc.Sizing(fleet_size,
                           args.events_per_second, args.outage_seconds, args.autosave_interval)
        done = bc.generate(args.out, fleet, args.cloud_user, args.dest, args.tls_port,
                           args.certfile, args.keyfile, args.cafile, args.loopback_port,
                           args.persistence_dir, args.run_as, args.cloud_tls_port, sizing)
    except (bc.BrokerConfigError, OSError, ConfigError, DatabaseError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    for problem in fleet.skipped:
        print(f"warning: left out {problem}", file=sys.stderr)
    print(f"terminals ({len(fleet.active)}): {', '.join(fleet.active) or 'none'}")
    if fleet.revoked:
        print(f"revoked, left out: {', '.join(fleet.revoked)}")
    print(f"cloud user {done.cloud_user}: password in {args.out / 'cloud-password'}")
    s = done.sizing
    print(f"sized for {s.fleet} terminals x {s.events_per_s:g} events/s, a {s.outage_s} s "
          f"outage: max_queued_messages {s.queued_messages}, max_inflight_messages "
          f"{s.inflight}")
    print(f"autosave every {s.autosave_s} s: a SIGKILL loses at most the last "
          f"{s.autosave_s} s of queued messages")
    print(f"wrote {done.conf}, {args.out / 'passwd'}, {args.out / 'passwd-terminals'}, "
          f"{args.out / 'passwd-cloud'}, {args.out / 'acl'}")
    placeholders = [v for k, v in bc.CERT_PLACEHOLDERS.items() if getattr(args, k) == v]
    if placeholders:
        print("before starting Mosquitto, put the TLS files at " + ", ".join(placeholders))
    return 0
