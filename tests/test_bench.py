"""`fingerpos bench ingest` runs end to end with small counts and writes its JSON."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import BIN


def test_bench_ingest_smoke(tmp_path):
    out = tmp_path / "bench.json"
    res = subprocess.run(
        [str(BIN / "fingerpos"), "bench", "ingest", "--duration", "0.5", "--terminals", "2",
         "--rate", "200", "--json", str(out)],
        capture_output=True, text=True, timeout=150, cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "heartbeats committed" in res.stdout and "p99" in res.stdout
    r = json.loads(out.read_text())
    assert r["bare_subscriber"]["received"] == r["bare_subscriber"]["published"] > 0
    assert r["heartbeat"]["events_per_s"] > 0 and r["heartbeat"]["ratio_to_bare"] > 0
    assert r["sale"]["orders_per_s"] > 0
    assert r["steady"]["measured"] == r["steady"]["published"] > 0
    total = r["heartbeat"]["published"] + r["sale"]["published"] + r["steady"]["published"]
    assert r["ingest"]["stored"] == total and not r["ingest"]["dropped"]


def test_bench_rejects_bad_options():
    res = subprocess.run([sys.executable, "-m", "fingerpos.tools.cli", "bench", "ingest",
                          "--terminals", "0"], capture_output=True, text=True, timeout=30)
    assert res.returncode == 2 and "--terminals must be 1 to 1000" in res.stderr
