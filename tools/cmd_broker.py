"""`fingerpos broker-config`: a production Mosquitto configuration for the fleet."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from fingerpos.cloud.core.config import ConfigError
from fingerpos.cloud.core.db import DatabaseError
from fingerpos.tools import broker_config as bc
from fingerpos.tools.cmd_migrate import config_from
from fingerpos.tools.device import terminal_config as tc


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "broker-config", help="write a Mosquitto config, password file and ACL for the terminals",
        description="Write mosquitto.conf, passwd (Mosquitto's PBKDF2-SHA512 $7$ hashes) and "
        "acl for every provisioned, not revoked terminal and for the cloud user. Run it "
        "again after provisioning or revoking a terminal, then reload Mosquitto.")
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
    p.add_argument("--tls-port", type=int, default=8883, help="TLS listener port (default 8883)")
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
        done = bc.generate(args.out, fleet, args.cloud_user, args.dest, args.tls_port,
                           args.certfile, args.keyfile, args.cafile, args.loopback_port,
                           args.persistence_dir, args.run_as)
    except (bc.BrokerConfigError, OSError, ConfigError, DatabaseError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    for problem in fleet.skipped:
        print(f"warning: left out {problem}", file=sys.stderr)
    print(f"terminals ({len(fleet.active)}): {', '.join(fleet.active) or 'none'}")
    if fleet.revoked:
        print(f"revoked, left out: {', '.join(fleet.revoked)}")
    print(f"cloud user {done.cloud_user}: password in {args.out / 'cloud-password'}")
    print(f"wrote {done.conf}, {args.out / 'passwd'}, {args.out / 'acl'}")
    placeholders = [v for k, v in bc.CERT_PLACEHOLDERS.items() if getattr(args, k) == v]
    if placeholders:
        print("before starting Mosquitto, put the TLS files at " + ", ".join(placeholders))
    return 0
