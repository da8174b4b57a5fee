"""`fingerpos device provision|bundle|flash|selftest|sim`: set terminals up from a laptop, or simulate them."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

from fingerpos.tools.device import board as board_mod
from fingerpos.tools.device import bundle as bundle_mod
from fingerpos.tools.device import flash as flash_mod
from fingerpos.tools.device import provision as provision_mod
from fingerpos.tools.device import revoke as revoke_mod
from fingerpos.tools.device import selftest as selftest_mod
from fingerpos.tools.device import terminal_config as tc

# The source tree this fingerpos runs from: firmware/ and protocol/ sit next to tools/.
SOURCE_ROOT = Path(__file__).resolve().parent.parent


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("device", help="provision, bundle, flash and check one terminal")
    ps = p.add_subparsers(dest="device_command", metavar="ACTION", required=True)

    pv = ps.add_parser("provision", help="make a terminal's key, register it with the cloud, "
                       "write its config.json",
                       description="Make a 32-byte key for a new terminal, register the terminal "
                       "with the cloud (POST /api/v1/devices) and write DIR/ID/config.json "
                       "(mode 0600). The key is never printed unless --show-key.")
    pv.add_argument("--id", required=True, help="terminal id: 1-32 of A-Z a-z 0-9 _ -")
    pv.add_argument("--shop", required=True, help="the shop the terminal sells for")
    pv.add_argument("--wifi-ssid", help="Wi-Fi network the terminal joins")
    pv.add_argument("--wifi-password", help="its password (8-63 characters; omit for open)")
    pv.add_argument("--broker", help="MQTT broker the terminal uses: mqtt://host[:1883] or "
                    "mqtts://host[:8883] (default: mqtt://<cloud host>:1883)")
    pv.add_argument("--cloud", default=os.environ.get("FINGERPOS_CLOUD"),
                    help="cloud base URL, e.g. https://pos.example.com (env FINGERPOS_CLOUD)")
    pv.add_argument("--token", default=os.environ.get("FINGERPOS_TOKEN"),
                    help="admin/manager API token (env FINGERPOS_TOKEN)")
    pv.add_argument("--out", type=Path, default=tc.DEFAULT_DEVICES_DIR,
                    help="directory holding one sub-directory per terminal (default ./devices)")
    pv.add_argument("--show-key", action="store_true", help="also print the device key")
    pv.set_defaults(func=_provision)

    bd = ps.add_parser("bundle", help="compile the firmware and config into the files a "
                       "terminal runs, with sizes against the Pico W's flash")
    src = bd.add_mutually_exclusive_group(required=True)
    src.add_argument("--id", help="terminal id: uses ./devices/ID/config.json")
    src.add_argument("--config", type=Path, help="path of the terminal's config.json")
    bd.add_argument("--devices", type=Path, default=tc.DEFAULT_DEVICES_DIR,
                    help="where --id looks (default ./devices)")
    bd.add_argument("--out", type=Path, help="bundle directory (default: bundle/ next to "
                    "the config)")
    bd.add_argument("--src", type=Path, default=SOURCE_ROOT,
                    help=f"fingerpos source tree with firmware/ and protocol/ (default {SOURCE_ROOT})")
    bd.set_defaults(func=_bundle)

    fl = ps.add_parser("flash", help="copy a bundle to a Pico W with mpremote, verify "
                       "SHA-256 on the board, reset it",
                       description="Copy a bundle onto a Pico W running MicroPython (1.22 or "
                       "newer) through mpremote: stop a running app, copy every file with "
                       "progress, check each file's SHA-256 on the board, reset it. Files the "
                       "bundle does not list (the terminal's outbox and state) are kept.")
    which = fl.add_mutually_exclusive_group(required=True)
    which.add_argument("--id", help="terminal id: flashes ./devices/ID/bundle")
    which.add_argument("--bundle", type=Path, help="bundle directory from `device bundle`")
    fl.add_argument("--devices", type=Path, default=tc.DEFAULT_DEVICES_DIR,
                    help="where --id looks (default ./devices)")
    fl.add_argument("--port", required=True, help="serial port, e.g. /dev/ttyACM0 or COM5 "
                    "(`mpremote connect list` shows them)")
    fl.add_argument("--root", default="/", help="filesystem root on the board (default /)")
    fl.set_defaults(func=_flash)

    st = ps.add_parser("selftest", help="check the sensor, buzzer/strobe and Wi-Fi "
                       "on a flashed terminal",
                       description="Run a hardware check on a flashed terminal with its own "
                       "firmware modules: fingerprint sensor handshake (VfyPwd, ReadSysPara), "
                       "a short buzzer and strobe pulse, joining the Wi-Fi in its config.json. "
                       "Prints PASS/FAIL per check; exit status 1 when any check fails.")
    st.add_argument("--port", required=True, help="serial port, e.g. /dev/ttyACM0 or COM5")
    st.add_argument("--root", default="/", help="filesystem root on the board (default /)")
    st.set_defaults(func=_selftest)

    rv = ps.add_parser("revoke", help="revoke a terminal in the cloud (API token or --db) "
                       "and mark it here: broker-config then leaves it out",
                       description="Mark the terminal revoked in its provisioning directory "
                       "and, given --cloud and --token (or --db), in the cloud, whose workers "
                       "then refuse its events within 1 s. Without either it says plainly that "
                       "the cloud was not told. Then run broker-config and reload Mosquitto.")
    rv.add_argument("--id", required=True, help="terminal id")
    rv.add_argument("--devices", type=Path, default=tc.DEFAULT_DEVICES_DIR,
                    help="directory of provisioned terminals (default ./devices)")
    rv.add_argument("--cloud", default=os.environ.get("FINGERPOS_CLOUD"),
                    help="revoke it in this cloud, e.g. https://pos.example.com "
                    "(env FINGERPOS_CLOUD)")
    rv.add_argument("--token", default=os.environ.get("FINGERPOS_TOKEN"),
                    help="admin/manager API token for --cloud (env FINGERPOS_TOKEN)")
    rv.add_argument("--db", metavar="URL", help="revoke it straight in the cloud's database "
                    "instead (sqlite:///path or postgres://...)")
    rv.add_argument("--reason", default="", help="why, kept in DIR/ID/revoked")
    rv.set_defaults(func=_revoke)

    sm = ps.add_parser("sim", help="run a fleet of simulated terminals (real firmware on the "
                       "MicroPython unix port, sensor simulators, scripted sellers)",
                       description="Run N terminals on this machine, each the real firmware "
                       "under `micropython -X heapsize=128k` with its own fingerprint sensor "
                       "simulator and a scripted seller (logins, failed logins, sales, web "
                       "orders). With --cloud the terminals are provisioned there first; with "
                       "--devices-dir provisioned ones are used. Ctrl-C stops them all.")
    sm.add_argument("--count", type=int, required=True, help="how many terminals (1-50)")
    sm.add_argument("--cloud", default=os.environ.get("FINGERPOS_CLOUD"),
                    help="provision the terminals with this cloud (env FINGERPOS_CLOUD)")
    sm.add_argument("--token", default=os.environ.get("FINGERPOS_TOKEN"),
                    help="admin/manager API token for --cloud (env FINGERPOS_TOKEN)")
    sm.add_argument("--devices-dir", type=Path, default=Path("devices-sim"),
                    help="where the terminals' directories are (default ./devices-sim)")
    sm.add_argument("--broker", help="MQTT broker the terminals use, mqtt://host:port "
                    "(default: the cloud host's 1883, or what each config.json says)")
    sm.add_argument("--shop", default="shop1", help="shop of provisioned terminals (default shop1)")
    sm.add_argument("--staff", action="append", default=[], metavar="ID:PIN",
                    help="a seller of the cloud (user id and terminal PIN, see `fingerpos user "
                    "pin`); repeat for more. Default: the sim's own staff (bare broker)")
    sm.add_argument("--rate", type=float, default=4.0, metavar="SALES_PER_MIN",
                    help="sales per minute per terminal (default 4)")
    sm.add_argument("--duration", type=float, metavar="S", help="stop after S seconds "
                    "(default: run until Ctrl-C)")
    sm.set_defaults(func=_sim)


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 1


def _provision(args: argparse.Namespace) -> int:
    try:
        tc.check_id(args.id)
        tc.check_shop(args.shop)
        wifi = tc.check_wifi(args.wifi_ssid, args.wifi_password)
        cloud = provision_mod.CloudEndpoint.parse(args.cloud, args.token)
        broker = tc.parse_broker(args.broker or f"mqtt://{cloud.host}:1883")
    except tc.ConfigError as e:
        return _fail(str(e))
    if (args.out / args.id).exists():  # provision() re-checks atomically; this avoids a
        # misleading "registering ..." line before the refusal
        return _fail(f"{args.out / args.id} already exists: terminal {args.id!r} was "
                     "provisioned here before (nothing was changed)")
    print(f"registering terminal {args.id} (shop {args.shop}) with {cloud.url} ...")
    try:
        done = provision_mod.provision(args.id, args.shop, cloud, broker, wifi, args.out)
    except provision_mod.ProvisionError as e:
        return _fail(str(e))
    cfg = done.config
    print(f"registered; config written to {done.device_dir / tc.CONFIG_NAME} (mode 0600)")
    print(f"  broker  {'mqtts' if broker.tls else 'mqtt'}://{broker.host}:{broker.port} "
          f"(user {cfg['id']})")
    print(f"  wifi    {cfg['wifi']['ssid'] or '(none: simulator only)'}")
    if args.show_key:
        print(f"  key     {cfg['key']}")
    print(f"next: fingerpos device bundle --id {cfg['id']}")
    return 0


def _bundle(args: argparse.Namespace) -> int:
    if args.id is not None:
        try:
            tc.check_id(args.id)
        except tc.ConfigError as e:
            return _fail(str(e))
        config = args.devices / args.id / tc.CONFIG_NAME
    else:
        config = args.config
    out = args.out or config.parent / "bundle"
    if not config.exists():
        hint = f" (provision it first: fingerpos device provision --id {args.id} ...)" if args.id else ""
        return _fail(f"{config}: no such file{hint}")

    def show(f: bundle_mod.BundleFile) -> None:
        print(f"  {f.path:<32} {f.size:>7} B")

    print(f"building bundle in {out}")
    try:
        b = bundle_mod.build(args.src, config, out, on_file=show)
    except (bundle_mod.BundleError, tc.ConfigError) as e:
        return _fail(str(e))
    kib = 1024
    print(f"{len(b.files)} files, {b.total_bytes} B; on flash {b.blocks} blocks of 4 KiB "
          f"+ {b.reserve_bytes // kib} KiB outbox reserve = {b.needed_bytes // kib} KiB "
          f"of {b.capacity // kib} KiB (Pico W filesystem)")
    if not b.fits:
        return _fail(f"the bundle needs {b.needed_bytes // kib} KiB but a Pico W has "
                     f"{b.capacity // kib} KiB: shrink the firmware or the outbox")
    print(f"manifest: {out / bundle_mod.MANIFEST_NAME}")
    which = f"--id {args.id}" if args.id and args.out is None else f"--bundle {out}"
    print(f"next: fingerpos device flash --port /dev/ttyACM0 {which}")
    return 0


def _flash(args: argparse.Namespace) -> int:
    try:
        if args.bundle is None:
            bundle_dir = args.devices / tc.check_id(args.id) / "bundle"
        else:
            bundle_dir = args.bundle
        board = board_mod.Mpremote(args.port)
        result = flash_mod.flash(board, bundle_dir, root=args.root)
    except (board_mod.BoardError, bundle_mod.BundleError, tc.ConfigError) as e:
        return _fail(str(e))
    print(f"flashed {result.files} files ({result.bytes} B)")
    return 0


def _selftest(args: argparse.Namespace) -> int:
    try:
        ok = selftest_mod.run(board_mod.Mpremote(args.port), root=args.root)
    except board_mod.BoardError as e:
        return _fail(str(e))
    return 0 if ok else 1


def _sim(args: argparse.Namespace) -> int:
    from fingerpos.tools.fleet import sim

    if not 1 <= args.count <= 50:
        return _fail("--count must be 1..50")
    if not 0 < args.rate <= 120:
        return _fail("--rate must be above 0 and at most 120 sales per minute")
    try:
        cloud = provision_mod.CloudEndpoint.parse(args.cloud, args.token) if args.cloud else None
        if args.broker:
            tc.parse_broker(args.broker)
        tc.check_shop(args.shop)
        staff = sim.parse_staff(args.staff) if args.staff else None
        opts = sim.SimOptions(count=args.count, cloud=cloud, devices_dir=args.devices_dir,
                              broker=args.broker, shop=args.shop, rate=args.rate,
                              duration=args.duration, staff=staff)
        return sim.run(opts, say=lambda line: print(line, flush=True))
    except (tc.ConfigError, provision_mod.ProvisionError, bundle_mod.BundleError,
            ValueError) as e:
        return _fail(str(e))
    except FileNotFoundError as e:  # no devices dir, no micropython
        return _fail(str(e))


def _revoke(args: argparse.Namespace) -> int:
    try:
        tc.check_id(args.id)
        cloud = (provision_mod.CloudEndpoint.parse(args.cloud, args.token)
                 if args.db is None and (args.cloud or args.token) else None)
    except tc.ConfigError as e:
        return _fail(str(e))
    try:
        tc.load(args.devices / args.id / tc.CONFIG_NAME)
        here = None
    except tc.ConfigError as e:
        here = str(e)
    if here is not None and cloud is None and args.db is None:
        return _fail(f"terminal {args.id!r} is not provisioned here: {here}; give --cloud and "
                     "--token (or --db) to revoke it in the cloud")
    if here is None:
        marker = args.devices / args.id / tc.REVOKED_NAME
        stamp = datetime.now(UTC).isoformat(timespec="seconds")
        marker.write_text(json.dumps({"at": stamp, "reason": args.reason}) + "\n")
        print(f"terminal {args.id} marked revoked here ({marker})")
    try:
        if cloud is not None:
            revoke_mod.in_cloud(cloud, args.id)
            print(f"revoked in the cloud ({cloud.url}): every worker refuses its events within 1 s")
        elif args.db is not None:
            asyncio.run(revoke_mod.in_db(args.db, args.id, args.reason))
            print("revoked in the cloud's database: every worker refuses its events within 1 s")
        else:
            print(f"warning: terminal {args.id} is NOT revoked in the cloud, which still accepts "
                  "its events: give --cloud URL --token TOKEN (or --db URL) to revoke it there",
                  file=sys.stderr)
    except revoke_mod.RevokeError as e:
        return _fail(f"terminal {args.id} is NOT revoked in the cloud: {e}")
    print("now run fingerpos broker-config and reload Mosquitto")
    return 0
