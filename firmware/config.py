# The terminal's provisioning file, config.json, checked before anything runs.
# SPDX-License-Identifier: MIT
#
# Written by `fingerpos device provision` (contract in /work/shared, COMMON.md):
# {"v": 1, "id", "shop", "key": 64 hex, "wifi": {...}, "broker": {...}, "settings": {...}}.
# Settings are optional (DEFAULTS); unknown keys are ignored. A missing or bad
# file raises ConfigError, and the app shows NOT PROVISIONED instead of looping.
# boot() is what main.py calls (RAM: this module is dropped once the app starts; main.py
# is compiled on the board's heap and stays resident, so it holds only the start).
import binascii
import json

import protocol

DEFAULTS = {
    "max_failures": 3, "lockout_s": 30, "lockout_cap_s": 960, "session_s": 120,
    "match_threshold": 50, "outbox_bytes": 65536, "heartbeat_s": 60,
    "ack_wait_s": 20,  # resend unacknowledged events after this long without an ack
    "ota_trial_s": 600,  # a version on trial (ota.py) not committed by then resets
    # a close whose count differs from the terminal's tally by more needs a manager (shift.py)
    "shift_diff_limit": 1000,
}


class ConfigError(ValueError):
    pass


def settings(overrides):
    """DEFAULTS updated with the integer-valued known keys of `overrides`."""
    out = dict(DEFAULTS)
    if isinstance(overrides, dict):
        for k, v in overrides.items():
            if k in DEFAULTS and type(v) is int and v >= 0:
                out[k] = v
    return out


def outbox_room(path, used):
    """The most outbox_bytes the flash at `path` can hold: what the outbox uses now plus
    the filesystem's free space (os.statvfs: f_bavail blocks of f_frsize bytes), less a
    margin for the other files (roster, catalogue, settings) and littlefs's metadata."""
    import os

    st = os.statvfs(path)
    return used + st[4] * st[1] - 16384


def load(path):
    """Read and check path/config.json. Returns the config dict with `key` as bytes
    and `settings` complete. Raises ConfigError saying what is wrong.
    """
    try:
        with open(path + "/config.json") as f:
            cfg = json.load(f)
    except OSError:
        raise ConfigError("no config.json")
    except ValueError:
        raise ConfigError("config.json is not JSON")
    if not isinstance(cfg, dict) or cfg.get("v") != 1:
        raise ConfigError("config.json is not version 1")
    if not protocol.valid_device_id(cfg.get("id")):
        raise ConfigError("bad device id")
    key = cfg.get("key")
    if not isinstance(key, str) or len(key) != 64:
        raise ConfigError("key must be 64 hex")
    try:
        cfg["key"] = binascii.unhexlify(key)
    except ValueError:
        raise ConfigError("key must be 64 hex")
    broker = cfg.get("broker")
    if not isinstance(broker, dict) or not isinstance(broker.get("host"), str):
        raise ConfigError("no broker host")
    port = broker.get("port", 1883)
    if type(port) is not int or not 0 < port < 65536:
        raise ConfigError("bad broker port")
    # keepalive (s) bounds how long a dead link goes unnoticed: the reader gives up
    # after 1.5 x keepalive without a packet (MQTT 3.1.1 section 3.1.2.10).
    keepalive = broker.get("keepalive", 30)
    if type(keepalive) is not int or not 2 <= keepalive <= 600:
        raise ConfigError("bad broker keepalive")
    wifi = cfg.get("wifi")
    if not isinstance(wifi, dict):
        cfg["wifi"] = {}
    cfg["settings"] = settings(cfg.get("settings"))
    return cfg


def boot():
    """config.json plus the settings the cloud changed (settings.json). A missing or bad
    config.json shows NOT PROVISIONED and idles here for good (no watchdog, no reset)."""
    import hal

    try:
        cfg = load(hal.DATA_DIR)
    except ConfigError as e:
        why = str(e)
        hal.log("not provisioned: %s" % why)
        hal.Display().show(["NOT PROVISIONED", why[:21], "run: fingerpos", "device provision"])
        import time

        while True:
            time.sleep(60)
    overrides = None
    try:
        with open(hal.DATA_DIR + "/settings.json") as f:
            overrides = json.load(f)
    except (OSError, ValueError):
        pass
    if isinstance(overrides, dict):
        merged = dict(cfg["settings"])
        merged.update(overrides)
        cfg["settings"] = settings(merged)
    return cfg
