"""`fingerpos bench search` smoke test: a small catalogue, the whole command path."""

from __future__ import annotations

import json
import subprocess
import sys


def test_bench_search_small(tmp_path):
    out = tmp_path / "b.json"
    res = subprocess.run([sys.executable, "-m", "fingerpos.tools.cli", "bench", "search",
                          "--products", "300", "--rounds", "2", "--json", str(out)],
                         capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "p50" in res.stdout and "p99" in res.stdout
    figures = json.loads(out.read_text())
    assert figures["products"] == 300 and figures["queries"] == 20
    assert 0 < figures["p50_ms"] <= figures["p99_ms"] <= figures["max_ms"]


def test_bench_search_refuses_bad_counts(tmp_path):
    res = subprocess.run([sys.executable, "-m", "fingerpos.tools.cli", "bench", "search",
                          "--products", "0"], capture_output=True, text=True, timeout=60,
                         cwd=tmp_path)
    assert res.returncode == 2 and res.stderr.startswith("error: --products")
