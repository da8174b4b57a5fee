"""`fingerpos device sim`: a fleet of simulated terminals against a cloud or a broker.

Terminals come either from the cloud (provisioned here through the real
provision path, ids PREFIX1..PREFIXN, reused when already in the devices
dir) or from a devices dir provisioned before. Each runs its bundle under the
MicroPython unix port with its own sensor simulator and a scripted seller.

Sellers need a roster with PIN hashes and a catalogue on the terminal. The
sim writes both into each terminal's store before boot (as the cloud's
`roster`/`catalog` commands would), with its own staff: that is all a fleet
on a bare broker has. A cloud replaces them on connect with its own roster
and catalogue; then give the sim its staff's ids and PINs (`--staff
ID:PIN`, set with `fingerpos user pin`) so the sellers can log in.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from fingerpos import protocol
from fingerpos.tools.device import terminal_config as tc
from fingerpos.tools.device.provision import CloudEndpoint
from fingerpos.tools.fleet import shop
from fingerpos.tools.fleet.fleet import Fleet, FleetMember, preload
from fingerpos.tools.fleet.provisioning import members_from_devices_dir, provision_fleet
from fingerpos.tools.fleet.seller import Staff

STATUS_EVERY_S = 5.0
COUNTER_ITEMS = 6  # products preloaded into each terminal's catalogue (terminal RAM)
SIM_STAFF = [Staff("s1", "Sam Seller", "1357", "sam-right-index"),
             Staff("m1", "Max Manager", "2468", "max-right-thumb")]


@dataclass
class SimOptions:
    count: int
    cloud: CloudEndpoint | None = None
    devices_dir: Path = Path("devices")
    broker: str | None = None
    shop: str = shop.SHOP
    prefix: str = "sim"
    rate: float = 4.0
    duration: float | None = None
    staff: list[Staff] | None = None  # the cloud's sellers (id, PIN); None: the sim's own


def staff_roster(key: bytes, staff: list[Staff]) -> list[dict]:
    return [{"id": s.id, "name": s.name, "slots": [], "pin": protocol.pin_hash(key, s.id, s.pin),
             "manager": n > 0, "price": n > 0} for n, s in enumerate(staff)]


def parse_staff(specs: list[str]) -> list[Staff]:
    """`ID:PIN` pairs (cloud user ids and their terminal PINs) -> staff; ValueError if bad."""
    staff = []
    for spec in specs:
        sid, _, pin = spec.partition(":")
        if not (sid.isdigit() and pin.isdigit() and 4 <= len(pin) <= 8):
            raise ValueError(f"--staff {spec!r}: expected USER_ID:PIN, e.g. 3:1234")
        staff.append(Staff(sid, f"user {sid}", pin, f"user{sid}-finger"))
    return staff


def _members(opts: SimOptions, say: Callable[[str], None]) -> list[FleetMember]:
    if opts.cloud is not None:
        broker = opts.broker or f"mqtt://{opts.cloud.host}:1883"
        ids = [f"{opts.prefix}{i + 1}" for i in range(opts.count)]
        say(f"provisioning {len(ids)} terminals with {opts.cloud.url} into {opts.devices_dir}:")
        return provision_fleet(opts.cloud, broker, opts.shop, ids, opts.devices_dir, say)
    members = members_from_devices_dir(opts.devices_dir, opts.count)
    if len(members) < opts.count:
        say(f"only {len(members)} provisioned terminals in {opts.devices_dir}: running those")
    if opts.broker:
        b = tc.parse_broker(opts.broker)
        for m in members:
            m.config["broker"] = {"host": b.host, "port": b.port, "tls": b.tls}
    return members


def run(opts: SimOptions, say: Callable[[str], None] = print) -> int:
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set())
                for sig in (signal.SIGINT, signal.SIGTERM)}
    fleet: Fleet | None = None
    try:
        members = _members(opts, say)
        staff = opts.staff or SIM_STAFF
        for m in members:
            preload(m.run_dir / "device", staff_roster(tc.key_of(m.config), staff),
                    shop.terminal_catalogue(COUNTER_ITEMS))
        fleet = Fleet(members).start()
        say(f"{len(members)} terminals booting (MicroPython unix port, 128 KiB heap); "
            "Ctrl-C stops them all")
        for s in staff:
            say(f"  staff {s.id} {s.name}: PIN {s.pin}")
        fleet.start_sellers(lambda dev: [Staff(s.id, s.name, s.pin, s.finger) for s in staff],
                            shop.terminal_catalogue(COUNTER_ITEMS), opts.rate)
        started = time.monotonic()
        while not stop.is_set():
            wait = STATUS_EVERY_S
            if opts.duration is not None:
                wait = min(wait, opts.duration - (time.monotonic() - started))
                if wait <= 0:
                    break
            stop.wait(wait)
            totals = fleet.totals()
            say(f"[{time.monotonic() - started:5.0f}s] sales {totals['sales']}, logins "
                f"{totals['logins']} (failed {totals['failed_logins']}), web orders shipped "
                f"{totals['shipped']}")
            for line in fleet.status_lines():
                say("  " + line)
    finally:
        if fleet is not None:
            say("stopping the terminals ...")
            fleet.stop()
            say("stopped")
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0
