"""The cloud's configuration: one validated dataclass, built from arguments and the environment.

Validation happens once, here, before anything starts, so a typo in a URL or a
port is a one-line error at startup rather than a traceback at the first request.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

DB_FILE = "fingerpos.sqlite3"
_DB_SCHEMES = ("sqlite", "postgres", "postgresql", "asyncpg")
_MQTT_SCHEMES = ("mqtt", "mqtts", "tcp", "ssl")


class ConfigError(ValueError):
    """A setting is invalid; the message says which and what to do."""


def default_data_dir() -> Path:
    """$FINGERPOS_DATA, else ~/.local/share/fingerpos (XDG's place for user data)."""
    env = os.environ.get("FINGERPOS_DATA")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg) if xdg else Path.home() / ".local" / "share"
    return base / "fingerpos"


@dataclass(frozen=True)
class Config:
    """Everything the cloud needs to start. `validated()` checks it and fills defaults."""

    db_url: str | None = None          # None: SQLite file in data_dir
    mqtt_url: str | None = None        # None: start the embedded broker
    host: str = "127.0.0.1"
    port: int = 8080
    data_dir: Path = field(default_factory=default_data_dir)
    key_secret: str = ""               # encrypts device keys at rest; env FINGERPOS_SECRET
    share_group: str | None = None     # None or "fingerpos": shared MQTT subscription
    cookie_secure: bool = False        # Secure flag on the session cookie (set behind TLS)
    allowed_origins: tuple[str, ...] = ()  # extra Origins allowed on the WebSocket feeds
    unpaid_expiry_s: int = 900         # pending_payment orders expire after this
    accept_alert_s: int = 300          # paid orders not accepted by then raise an alarm
    timer_interval_s: float = 5.0      # how often the order timers look
    login_max_failures: int = 5        # failed logins per email+address before throttling
    login_window_s: int = 300
    ingest: bool = True                # run the MQTT side (cloud/ingest); tests of the core may not

    @property
    def database_url(self) -> str:
        """The URL tortoise connects to (the default SQLite file when db_url is None)."""
        if self.db_url:
            return self.db_url
        return f"sqlite://{Path(self.data_dir) / DB_FILE}"

    def validated(self) -> Config:
        """Return a checked copy; raise ConfigError naming the bad setting."""
        if not isinstance(self.port, int) or not 0 <= self.port <= 65535:
            raise ConfigError(f"port must be 0-65535, got {self.port!r}")
        if not self.host or not re.fullmatch(r"[A-Za-z0-9.:_\-\[\]]+", self.host):
            raise ConfigError(f"host {self.host!r} is not a host name or address")
        if self.db_url is not None:
            scheme = urlsplit(self.db_url).scheme
            if scheme not in _DB_SCHEMES:
                raise ConfigError(f"--db URL must start with one of {', '.join(s + '://' for s in _DB_SCHEMES)}"
                                  f" (got {self.db_url!r})")
        if self.mqtt_url is not None:
            parts = urlsplit(self.mqtt_url)
            if parts.scheme not in _MQTT_SCHEMES or not parts.hostname:
                raise ConfigError(f"--mqtt URL must look like mqtt://host:1883 or"
                                  f" mqtts://host:8883?ca=FILE (got {self.mqtt_url!r})")
            ca = parse_qs(parts.query).get("ca", [None])[-1]
            if ca is not None and not Path(ca).is_file():
                raise ConfigError(f"--mqtt URL: the CA file {ca} does not exist")
        if self.share_group not in (None, "fingerpos"):
            raise ConfigError("share_group must be None or 'fingerpos'")
        for name in ("unpaid_expiry_s", "accept_alert_s", "login_max_failures", "login_window_s"):
            if int(getattr(self, name)) < 1:
                raise ConfigError(f"{name} must be at least 1")
        if self.timer_interval_s <= 0:
            raise ConfigError("timer_interval_s must be positive")
        secret = self.key_secret or os.environ.get("FINGERPOS_SECRET", "")
        if not secret:
            secret = _data_dir_secret(Path(self.data_dir))
        if len(secret) < 16:
            raise ConfigError("FINGERPOS_SECRET must be at least 16 characters")
        return _replace(self, data_dir=Path(self.data_dir), key_secret=secret)


def _data_dir_secret(data_dir: Path) -> str:
    """A random secret kept in the data dir, so a one-machine install works without set-up.

    Production sets FINGERPOS_SECRET (the same on every worker); this file is the
    embedded default's equivalent, created once with owner-only permissions.
    """
    path = data_dir / "secret"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    data_dir.mkdir(parents=True, exist_ok=True)
    secret = os.urandom(32).hex()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secret + "\n")
    return secret


def _replace(config: Config, **changes: object) -> Config:
    from dataclasses import replace
    return replace(config, **changes)
