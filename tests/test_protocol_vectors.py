"""The shipped test vectors, on CPython and on the MicroPython unix port."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from fingerpos.tools import vectors

from .conftest import REPO, run_micropython

ALL = vectors.load()


def test_there_are_enough_vectors():
    assert len(ALL) >= 20
    outcomes = {v["expect"].get("error", "ok") for v in ALL}
    assert outcomes >= {"ok", "malformed", "too_large", "bad_signature", "unsigned",
                        "wrong_device", "replayed"}
    sizes = {len(bytes.fromhex(v["payload_hex"])) - 65 for v in ALL if v["expect"].get("ok")}
    assert 4096 in sizes  # a body at exactly the limit


@pytest.mark.parametrize("vector", ALL, ids=[v["name"] for v in ALL])
def test_vector_cpython(vector):
    assert vectors.check(vector) is None


def test_vectors_micropython():
    out = run_micropython(REPO / "tests" / "mp" / "run_vectors.py", str(REPO))
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[-1] == f"vectors: {len(ALL)} passed, 0 failed", out.stdout
    passed = {line.split(" ", 1)[1] for line in lines if line.startswith("PASS ")}
    assert passed == {v["name"] for v in ALL}


def test_vectors_are_reproducible(tmp_path):
    """tests/make_vectors.py regenerates exactly the committed files."""
    gen = subprocess.run([sys.executable, "-c",
                          "import sys, json; sys.path.insert(0, 'tests'); import make_vectors as m;"
                          "print(json.dumps(m.build(), ensure_ascii=False))"],
                         capture_output=True, text=True, cwd=REPO, check=True)
    built = json.loads(gen.stdout)
    assert [v["name"] for v in built] == [v["name"] for v in ALL]
    assert built == ALL


def test_cli_runs_vectors():
    out = subprocess.run([sys.executable, "-m", "fingerpos.tools.cli", "protocol", "vectors"],
                         capture_output=True, text=True)
    assert out.returncode == 0
    assert out.stdout.splitlines()[-1] == f"{len(ALL)} passed, 0 failed"
