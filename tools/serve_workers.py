"""Several `fingerpos serve --share-group` processes on one database and one broker.

Used by tests/test_workers.py (SIGKILL one mid-stream, restart it) and by
`fingerpos bench ingest --workers N`. Each worker is the real command line a
production host runs, in its own process group, with its own HTTP port (and
so its own MQTT client id, `fingerpos-<host>-<port>`) and data directory, and
the same FINGERPOS_SECRET as the others (device keys are sealed with it).
stop() sends SIGINT, as Ctrl-C or a service manager would, and waits.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from fingerpos.tools.mosquitto import free_port

READY_TIMEOUT_S = 90.0  # a loaded 2-core machine starts three clouds at once
STOP_TIMEOUT_S = 30.0


def fingerpos_command() -> list[str]:
    """The `fingerpos` console script of this environment (or the module, run by python)."""
    script = Path(sys.executable).parent / "fingerpos"
    return [str(script)] if script.exists() else [sys.executable, "-m", "fingerpos.tools.cli"]


class ServeWorkers:
    def __init__(self, n: int, db_url: str, mqtt_url: str, secret: str, workdir: Path,
                 share: bool = True, extra_env: dict[str, str] | None = None) -> None:
        self.db_url, self.mqtt_url, self.secret = db_url, mqtt_url, secret
        self.dir = Path(workdir)
        self.share = share
        self.env = {**os.environ, "FINGERPOS_SECRET": secret, **(extra_env or {})}
        self.env.pop("FINGERPOS_WORKER", None)  # the client id comes from the port
        self.ports = [free_port() for _ in range(n)]
        self.procs: list[subprocess.Popen | None] = [None] * n
        self.starts = [0] * n  # how often each was started (its log is per start)

    def url(self, i: int) -> str:
        return f"http://127.0.0.1:{self.ports[i]}"

    def log_path(self, i: int) -> Path:
        return self.dir / f"worker{i}.{self.starts[i]}.log"

    def start(self, i: int) -> None:
        """Start worker i (again, after kill(i): same port, so the same client id)."""
        data = self.dir / f"worker{i}"
        data.mkdir(parents=True, exist_ok=True)
        self.starts[i] += 1
        argv = [*fingerpos_command(), "serve", "--db", self.db_url, "--mqtt", self.mqtt_url,
                "--port", str(self.ports[i]), "--data-dir", str(data)]
        if self.share:
            argv.append("--share-group")
        with open(self.log_path(i), "wb") as log:
            self.procs[i] = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                             env=self.env, start_new_session=True)

    def wait_ready(self, i: int, timeout: float = READY_TIMEOUT_S) -> None:
        """Until GET /healthz answers 200 (the app, its database and its MQTT link are up)."""
        deadline = time.monotonic() + timeout
        while True:
            proc = self.procs[i]
            if proc is None or proc.poll() is not None:
                raise RuntimeError(f"worker {i} exited ({proc and proc.returncode}):\n"
                                   + self.log_tail(i))
            try:
                with urllib.request.urlopen(self.url(i) + "/healthz", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"worker {i} not ready after {timeout:.0f} s:\n"
                                   + self.log_tail(i))
            time.sleep(0.2)

    def start_all(self) -> ServeWorkers:
        for i in range(len(self.procs)):
            self.start(i)
        for i in range(len(self.procs)):
            self.wait_ready(i)
        return self

    def freeze(self, i: int) -> None:
        """SIGSTOP: the worker keeps its connections but reads and acknowledges nothing
        (a hung process); kill(i) ends it."""
        proc = self.procs[i]
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGSTOP)

    def kill(self, i: int) -> None:
        """SIGKILL: no DISCONNECT, no cleanup, as a crash or an OOM kill leaves it."""
        proc = self.procs[i]
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait(STOP_TIMEOUT_S)

    def stop(self) -> list[int | None]:
        """SIGINT to every worker still running; their exit codes (None: had to be killed)."""
        codes: list[int | None] = []
        for proc in self.procs:
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        for proc in self.procs:
            if proc is None:
                codes.append(None)
                continue
            try:
                codes.append(proc.wait(STOP_TIMEOUT_S))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                codes.append(None)
        return codes

    def log_tail(self, i: int, lines: int = 30) -> str:
        path = self.log_path(i)
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def __enter__(self) -> ServeWorkers:
        try:
            return self.start_all()
        except BaseException:
            self.stop()  # the ones that did start
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()


async def seed_fleet(db_url: str, secret: str, shop: str,
                     devices: list[tuple[str, bytes]]) -> str:
    """Register `shop` and its terminals [(id, key)] in a migrated database, keys sealed
    with `secret` as the workers' keyring opens them; returns an admin's API token
    (for the monitor feed)."""
    import secrets as _secrets

    from fingerpos.cloud.accounts.auth import create_api_token
    from fingerpos.cloud.accounts.users import create_user
    from fingerpos.cloud.core import db
    from fingerpos.cloud.core.keyring import DeviceKeyring
    from fingerpos.cloud.models.devices import Device
    from fingerpos.cloud.models.shops import Shop
    from fingerpos.cloud.models.users import Role

    ring = DeviceKeyring(secret)
    ctx = await db.open_context(db_url)
    try:
        with ctx:
            await Shop.get_or_create(id=shop)
            await Device.bulk_create([Device(id=dev, shop=shop, key_enc=ring.seal(dev, key))
                                      for dev, key in devices])
            admin = await create_user(f"admin-{_secrets.token_hex(4)}@example.com",
                                      _secrets.token_hex(8), Role.ADMIN)
            return await create_api_token(admin)
    finally:
        await ctx.close_connections()


async def migrate_db(db_url: str) -> None:
    """Apply the migrations to a database, as `fingerpos migrate` does."""
    from fingerpos.cloud.core import db
    ctx = await db.open_context(db_url)
    try:
        with ctx:
            await db.migrate(ctx)
    finally:
        await ctx.close_connections()
