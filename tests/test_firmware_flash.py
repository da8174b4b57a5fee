"""A full flash on the terminal: ENOSPC mid-sale refuses the sale and loses nothing; a `config`
command cannot set outbox_bytes beyond what the filesystem can hold (os.statvfs)."""

from __future__ import annotations

from .conftest import REPO, run_micropython

MP = REPO / "tests" / "mp"


def test_enospc_during_an_append_refuses_it_and_keeps_the_chain(tmp_path):
    r = run_micropython(MP / "fw_outbox_enospc.py", str(REPO), str(tmp_path / "ob"), timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "refused: FLASH FULL" in r.stdout and r.stdout.strip().endswith("OK")
