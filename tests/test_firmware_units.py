"""Firmware pure parts (command gate, roster/PIN, login guard) under the MicroPython unix port."""

from __future__ import annotations

from .conftest import REPO, run_micropython


def test_command_gate_and_login_rules_under_micropython(tmp_path):
    out = run_micropython(REPO / "tests" / "mp" / "fw_units.py", str(REPO), str(tmp_path))
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    failed = [ln for ln in lines if ln.startswith("FAIL")]
    assert not failed, "\n".join(failed)
    passed, _ = lines[-1].split(" passed, ")
    assert int(passed) >= 30 and lines[-1].endswith(" 0 failed"), lines[-1]
