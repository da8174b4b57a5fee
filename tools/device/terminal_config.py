"""The terminal's config.json: build, validate, write and read it.

This module owns the contract between `fingerpos device provision` and the
firmware (see docs/technicians.md):

    {"v": 1, "id": "t1", "shop": "shop1", "key": "<64 lowercase hex>",
     "wifi": {"ssid": "...", "password": "..."},
     "broker": {"host": "192.168.1.10", "port": 1883, "tls": false},
     "settings": {...optional firmware settings...}}
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from fingerpos import protocol

CONFIG_NAME = "config.json"
REVOKED_NAME = "revoked"
DEFAULT_DEVICES_DIR = Path("devices")
MAX_SHOP = 64
MQTT_PORTS = {"mqtt": (1883, False), "mqtts": (8883, True)}


class ConfigError(ValueError):
    """Bad technician input or a bad config file; the message says which and why."""


@dataclass(frozen=True)
class Broker:
    host: str
    port: int
    tls: bool

    def as_json(self) -> dict:
        return {"host": self.host, "port": self.port, "tls": self.tls}


def check_id(device_id: str) -> str:
    if not protocol.valid_device_id(device_id):
        raise ConfigError(f"device id {device_id!r} must be 1-32 characters of A-Z a-z 0-9 _ -")
    return device_id


def check_shop(shop: str) -> str:
    # The shop is an identifier the cloud matches against; keep it as tame as a device id
    # (no spaces, nothing a topic or a URL path would have to escape).
    if not shop or len(shop) > MAX_SHOP or not all(c.isalnum() and c.isascii() or c in "_-" for c in shop):
        raise ConfigError(f"shop {shop!r} must be 1-{MAX_SHOP} characters of A-Z a-z 0-9 _ -")
    return shop


def check_wifi(ssid: str | None, password: str | None) -> dict:
    """Wi-Fi credentials as the firmware reads them; empty ssid = not set (simulator only)."""
    if ssid is None and password is None:
        return {"ssid": "", "password": ""}
    if ssid is None:
        raise ConfigError("--wifi-password needs --wifi-ssid")
    n = len(ssid.encode())
    if not 1 <= n <= 32:
        raise ConfigError(f"Wi-Fi SSID must be 1-32 bytes, got {n}")
    password = password or ""
    # WPA2-PSK passphrases are 8-63 characters; empty means an open network.
    if password and not 8 <= len(password) <= 63:
        raise ConfigError("Wi-Fi password must be 8-63 characters (or empty for an open network)")
    return {"ssid": ssid, "password": password}


def parse_broker(url: str) -> Broker:
    """`mqtt://host[:port]` (plain, default 1883) or `mqtts://host[:port]` (TLS, default 8883)."""
    parts = urlsplit(url)
    if parts.scheme not in MQTT_PORTS:
        raise ConfigError(f"broker URL {url!r} must start with mqtt:// or mqtts://")
    default_port, tls = MQTT_PORTS[parts.scheme]
    try:
        port = parts.port or default_port
    except ValueError:
        raise ConfigError(f"broker URL {url!r} has a bad port") from None
    if not parts.hostname:
        raise ConfigError(f"broker URL {url!r} has no host")
    if parts.username or parts.password or parts.path not in ("", "/"):
        raise ConfigError(f"broker URL {url!r} must be just scheme://host[:port] "
                          "(the terminal logs in with its own id and key)")
    return Broker(parts.hostname, port, tls)


def build(device_id: str, shop: str, key: bytes, wifi: dict, broker: Broker) -> dict:
    if len(key) != protocol.KEY_LEN:
        raise ConfigError("a device key is exactly 32 bytes")
    return {"v": 1, "id": check_id(device_id), "shop": check_shop(shop), "key": key.hex(),
            "wifi": wifi, "broker": broker.as_json(), "settings": {}}


def write_new(path: Path, config: dict) -> None:
    """Write config.json with mode 0600, never replacing an existing file."""
    data = (json.dumps(config, indent=1) + "\n").encode()
    # O_EXCL: two provisioning runs racing for one id cannot both write a key.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def load(path: Path) -> dict:
    """Read and check a terminal config file; ConfigError names the file and the problem."""
    try:
        config = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ConfigError(f"{path}: not a readable JSON config ({e})") from None
    if not isinstance(config, dict):
        raise ConfigError(f"{path}: not a JSON object")
    try:
        check_id(config.get("id"))
        key = bytes.fromhex(config.get("key", ""))
    except (ConfigError, TypeError, ValueError) as e:
        raise ConfigError(f"{path}: {e}") from None
    if len(key) != protocol.KEY_LEN or config["key"] != key.hex():
        raise ConfigError(f"{path}: key must be 64 lowercase hex characters")
    if config.get("v") != 1:
        raise ConfigError(f"{path}: unsupported config version {config.get('v')!r}")
    return config


def key_of(config: dict) -> bytes:
    return bytes.fromhex(config["key"])


def is_revoked(device_dir: Path) -> bool:
    return (Path(device_dir) / REVOKED_NAME).exists()
