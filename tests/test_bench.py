"""`fingerpos bench ingest` runs end to end with small counts and writes its JSON."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import BIN, cloud_on_postgres


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


@pytest.mark.parametrize("argv, error", [
    (["--terminals", "0"], "--terminals must be 1 to 5000"),
    (["--workers", "3"], "--workers above 1 needs --db postgres://"),
    (["--db", "mysql://x/y"], "give `sqlite` or postgres://"),
    (["--workers", "2", "--mode", "soak", "--db", "postgres://u@h/d"], "without --workers"),
])
def test_bench_rejects_bad_options(argv, error):
    res = subprocess.run([sys.executable, "-m", "fingerpos.tools.cli", "bench", "ingest", *argv],
                         capture_output=True, text=True, timeout=30)
    assert res.returncode == 2 and error in res.stderr


def _bench(tmp_path, *argv: str) -> tuple[str, dict]:
    out = tmp_path / "bench.json"
    res = subprocess.run([str(BIN / "fingerpos"), "bench", "ingest", "--duration", "0.5",
                          "--terminals", "2", "--rate", "100", "--json", str(out), *argv],
                         capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    return res.stdout, json.loads(out.read_text())


def test_bench_generated_broker_runs_both_configs_and_prints_the_ratio(tmp_path):
    """--broker generated: the unlimited baseline, then Mosquitto on the files
    `fingerpos broker-config --db` wrote, terminals logging in as themselves."""
    stdout, r = _bench(tmp_path, "--broker", "generated", "--mode", "sale")
    assert "generated broker config, SQLite:" in stdout
    assert "generated/unlimited (SQLite)" in stdout
    assert [(one["broker"], one["db"]) for one in r["runs"]] == [
        ("unlimited", "SQLite"), ("generated", "SQLite")]
    generated = r["runs"][1]
    assert generated["sale"]["stored"] > 0  # the terminals' passwords and ACL let them in
    assert not generated["ingest"]["dropped"]  # and every event reaching the cloud was good
    assert "sale" in r["ratios"]["generated/unlimited (SQLite)"]
    # broker-config sized for the load offered: at least the seeded terminals (2 x 3 streams)
    assert generated["broker_fleet_size"] >= 6 and "broker-config --fleet-size" in stdout


def test_generated_config_is_sized_for_the_load_the_bench_offers():
    """The generated config must hold a 30 s outage of what the bench's terminals offer
    (broker_conf.Sizing, as production sizes from its fleet): sized from the seeded
    terminals alone, the flat-out stream overran the queue and was 95 % dropped."""
    from fingerpos.tools.broker_conf import Sizing
    from fingerpos.tools.cmd_bench import generated_fleet_size
    for offered, seeded in ((100_000.0, 150), (1_000.0, 150), (0.0, 6)):
        s = Sizing(generated_fleet_size(offered, seeded))
        assert s.fleet >= seeded and s.backlog >= offered * s.outage_s


@pytest.mark.cloud
def test_bench_workers_on_postgres_and_sqlite_prints_the_ratio(tmp_path, request):
    """--workers 1 (a `fingerpos serve --share-group` process) on SQLite and on PostgreSQL,
    in one run: the PostgreSQL/SQLite ratio line."""
    if not cloud_on_postgres():
        pytest.skip("needs the PostgreSQL pass of ./run test")
    pg = request.getfixturevalue("postgres").url()
    stdout, r = _bench(tmp_path, "--db", "sqlite", "--db", pg, "--workers", "1",
                       "--mode", "heartbeat")
    assert "PostgreSQL/SQLite (unlimited)" in stdout and "1 serve worker(s)" in stdout
    assert [one["db"] for one in r["runs"]] == ["SQLite", "PostgreSQL"]
    assert all(one["ingest"]["stored"] == one["heartbeat"]["stored"] > 0 for one in r["runs"])


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
