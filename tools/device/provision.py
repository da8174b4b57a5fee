"""Provision one terminal: make its key, register it with the cloud, write its config.

Order matters so a failure never leaves a key the cloud knows but nobody has,
nor a config the cloud does not know: the device directory is claimed first
(mkdir is atomic), then the cloud registers the key, then config.json is
written. If registration fails the empty directory is removed again.

The HTTP call uses urllib (stdlib): one synchronous request does not need an
event loop, and a technician's laptop then needs nothing beyond fingerpos.
"""

from __future__ import annotations

import json
import secrets
import shutil
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from fingerpos import protocol
from fingerpos.tools.device import terminal_config as tc

REGISTER_PATH = "/api/v1/devices"
HTTP_TIMEOUT_S = 15


class ProvisionError(Exception):
    """A refusal the technician must act on; the message says what to do."""


@dataclass(frozen=True)
class CloudEndpoint:
    url: str
    token: str

    @classmethod
    def parse(cls, url: str | None, token: str | None) -> CloudEndpoint:
        if not url:
            raise tc.ConfigError("no cloud: give --cloud URL or set FINGERPOS_CLOUD")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise tc.ConfigError(f"cloud URL {url!r} must be http(s)://host[:port]")
        if not token:
            raise tc.ConfigError("no API token: give --token TOKEN or set FINGERPOS_TOKEN "
                                 "(`fingerpos user create --role admin --token` makes one)")
        return cls(url.rstrip("/"), token)

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or ""


def register(cloud: CloudEndpoint, device_id: str, shop: str, key: bytes) -> dict:
    """POST the terminal to the cloud; returns the cloud's JSON answer (201)."""
    status, answer, message = post(cloud, REGISTER_PATH,
                                   {"id": device_id, "shop": shop, "key": key.hex()})
    if status == 201:
        return answer
    if status == 409:
        raise ProvisionError(f"the cloud already has a terminal {device_id!r}: "
                             "choose another id (nothing was written)")
    if status in (401, 403):
        raise ProvisionError(f"the cloud refused the token (HTTP {status}): "
                             "use an admin or manager API token")
    raise ProvisionError(f"the cloud answered HTTP {status}: {message}".rstrip(": "))


def post(cloud: CloudEndpoint, path: str, body: dict) -> tuple[int, dict, str]:
    """POST JSON with the API token: (HTTP status, the JSON answer, its message).
    Raises ProvisionError when the cloud cannot be reached."""
    req = urllib.request.Request(
        cloud.url + path, data=json.dumps(body).encode(), method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {cloud.token}"})
    try:
        with urllib.request.urlopen(req, timeout=HTTP_TIMEOUT_S) as resp:
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as e:
        status, raw = e.code, e.read()
    except (TimeoutError, urllib.error.URLError, ConnectionError) as e:
        reason = getattr(e, "reason", e)
        raise ProvisionError(f"cannot reach the cloud at {cloud.url}: {reason}") from None
    answer = _json_or_text(raw)
    return status, answer, answer.get("message") or answer.get("error") or answer.get("text", "")


def _json_or_text(raw: bytes) -> dict:
    try:
        answer = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return {"text": raw[:200].decode(errors="replace").strip()}
    return answer if isinstance(answer, dict) else {"text": str(answer)[:200]}


@dataclass(frozen=True)
class Provisioned:
    device_dir: Path
    config: dict

    @property
    def broker_password(self) -> str:
        return protocol.broker_password(tc.key_of(self.config))


def provision(device_id: str, shop: str, cloud: CloudEndpoint, broker: tc.Broker,
              wifi: dict, out_dir: Path) -> Provisioned:
    """Make a key, register it, write out_dir/device_id/config.json (0600)."""
    tc.check_id(device_id)
    tc.check_shop(shop)
    device_dir = Path(out_dir) / device_id
    try:
        device_dir.parent.mkdir(parents=True, exist_ok=True)
        device_dir.mkdir(mode=0o700)
    except FileExistsError:
        raise ProvisionError(f"{device_dir} already exists: terminal {device_id!r} was "
                             "provisioned here before (nothing was changed)") from None
    except OSError as e:
        raise ProvisionError(f"cannot create {device_dir}: {e.strerror}") from None
    key = secrets.token_bytes(protocol.KEY_LEN)
    config = tc.build(device_id, shop, key, wifi, broker)
    try:
        register(cloud, device_id, shop, key)
    except BaseException:
        shutil.rmtree(device_dir, ignore_errors=True)
        raise
    try:
        tc.write_new(device_dir / tc.CONFIG_NAME, config)
    except OSError as e:
        raise ProvisionError(f"terminal {device_id!r} is registered with the cloud but "
                             f"{device_dir / tc.CONFIG_NAME} could not be written ({e.strerror}): "
                             "delete the terminal in the cloud and provision it again") from None
    return Provisioned(device_dir, config)
