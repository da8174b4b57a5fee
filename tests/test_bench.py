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


def test_bench_soak_smoke(tmp_path):
    """The soak command runs and reports memory; no timing or memory figure is asserted."""
    out = tmp_path / "soak.json"
    res = subprocess.run(
        [str(BIN / "fingerpos"), "bench", "ingest", "--mode", "soak", "--duration", "3",
         "--sample", "0.5", "--terminals", "2", "--rate", "100", "--json", str(out)],
        capture_output=True, text=True, timeout=150, cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "slope" in res.stdout
    s = json.loads(out.read_text())["soak"]
    assert s["stored"] == s["published"] > 0 and s["samples"] >= 2
    assert 0 < s["rss_start_mb"] <= s["rss_max_mb"] and len(s["rss_mb"]) == s["samples"]


async def test_bench_terminal_signs_what_protocol_verifies():
    from fingerpos import protocol
    from fingerpos.tools.bench_terminal import BenchTerminal
    from fingerpos.tools.fleet import sale

    key = bytes(range(32))
    term = BenchTerminal("t9", key)
    prev = ""
    for n in (1, 2):
        data = sale(n)
        seq, body = term.event(1700000000, "sale", data)
        assert body == protocol.make_body("t9", seq, 1700000000, "sale", prev, data)
        frame = term._out[-1]
        payload = body + b"\n" + protocol.sign(key, term.topic, body)[-64:]
        assert frame.endswith(payload)
        assert protocol.verify(key, term.topic, payload)["seq"] == n
        prev = protocol.chain_hash(body)
    assert term.prev == prev
