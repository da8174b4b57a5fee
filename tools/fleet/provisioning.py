"""Simulated terminals set up the way a technician sets up real ones: provision, then bundle.

provision() is `fingerpos device provision` (key, cloud registration, config.json);
bundle() is `fingerpos device bundle` (firmware and protocol compiled with
mpy-cross, the fingerprint driver, the config). The fleet then runs each
bundle's main.py under the MicroPython unix port, as the board would run it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from fingerpos.tools.device import bundle as bundle_mod
from fingerpos.tools.device import provision as provision_mod
from fingerpos.tools.device import terminal_config as tc
from fingerpos.tools.fleet.fleet import FleetMember
from fingerpos.tools.fleet.terminal import SOURCE_ROOT

SIM_WIFI = {"ssid": "", "password": ""}  # the unix HAL's Wi-Fi is always up
# Faster than the field defaults so a demo shows heartbeats and lockouts within a minute.
SIM_SETTINGS = {"heartbeat_s": 20, "lockout_s": 10, "lockout_cap_s": 60, "session_s": 120}


def member_from_dir(device_dir: Path, src_root: Path = SOURCE_ROOT) -> FleetMember:
    """A provisioned terminal directory (config.json) -> a fleet member running its bundle."""
    config_path = device_dir / tc.CONFIG_NAME
    config = tc.load(config_path)
    config.setdefault("settings", {})
    for k, v in SIM_SETTINGS.items():
        config["settings"].setdefault(k, v)
    out = device_dir / "bundle"
    bundle_mod.build(src_root, config_path, out, target="unix")  # runs on the unix port
    return FleetMember(config, out, device_dir / "sim")


def provision_fleet(cloud: provision_mod.CloudEndpoint, broker_url: str, shop: str,
                    ids: list[str], devices_dir: Path,
                    progress: Callable[[str], None] = print) -> list[FleetMember]:
    """Provision and bundle each id; an id provisioned here before is reused as it is."""
    broker = tc.parse_broker(broker_url)
    members = []
    for dev in ids:
        device_dir = devices_dir / dev
        if (device_dir / tc.CONFIG_NAME).exists():
            progress(f"  {dev}: already provisioned in {device_dir}")
        else:
            provision_mod.provision(dev, shop, cloud, broker, SIM_WIFI, devices_dir)
            progress(f"  {dev}: provisioned (shop {shop}, broker {broker_url})")
        members.append(member_from_dir(device_dir))
        progress(f"  {dev}: bundle built in {device_dir / 'bundle'}")
    return members


def members_from_devices_dir(devices_dir: Path, count: int) -> list[FleetMember]:
    """The first `count` provisioned, non-revoked terminals in a devices directory."""
    if not Path(devices_dir).is_dir():
        raise tc.ConfigError(f"{devices_dir} is not a directory of provisioned terminals")
    dirs = sorted(d for d in Path(devices_dir).iterdir()
                  if (d / tc.CONFIG_NAME).exists() and not (d / tc.REVOKED_NAME).exists())
    if not dirs:
        raise tc.ConfigError(f"no provisioned terminals in {devices_dir} "
                             "(fingerpos device provision --out DIR makes them)")
    return [member_from_dir(d) for d in dirs[:count]]
