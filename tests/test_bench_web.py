"""`fingerpos bench web` runs end to end with tiny counts: every page answers 200 under load
(the order page with the buyer's session), the bare aiohttp app is measured in the same run,
and the JSON has the figures. No speed is asserted here (the machine is shared)."""

from __future__ import annotations

import json
import subprocess

from tests.conftest import BIN


def test_bench_web_smoke(tmp_path):
    out = tmp_path / "web.json"
    res = subprocess.run(
        [str(BIN / "fingerpos"), "bench", "web", "--requests", "60", "--warmup", "8",
         "--connections", "4", "--search-products", "300", "--json", str(out)],
        capture_output=True, text=True, timeout=240, cwd=tmp_path)
    assert res.returncode in (0, 1), res.stderr[-2000:]  # 1: a target missed, still measured
    assert "bare aiohttp" in res.stdout and "order page (buyer)" in res.stdout
    r = json.loads(out.read_text())
    assert r["bare"]["rps"] > 0
    for name, page in r["pages"].items():
        assert page["errors"] == 0, (name, page["statuses"])
        assert page["rps"] > 0 and page["p99_ms"] >= page["p50_ms"] > 0 and page["ratio"] > 0
    assert r["search"][0]["products"] == 300 and r["search"][0]["database"] == "sqlite"


def test_bench_web_rejects_bad_options():
    res = subprocess.run([str(BIN / "fingerpos"), "bench", "web", "--connections", "0"],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 2 and "--connections must be 1 to 1000" in res.stderr


def test_bench_web_stops_when_the_cloud_cannot_start():
    """A --db nobody listens on: the cloud's process exits at once; the bench says so and
    exits 2 (it used to wait on the dead process's ready queue forever)."""
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again below: nothing listens there
    res = subprocess.run([str(BIN / "fingerpos"), "bench", "web", "--requests", "5",
                          "--warmup", "0", "--search-products", "0",
                          "--db", f"postgres://nobody@127.0.0.1:{port}/none"],
                         capture_output=True, text=True, timeout=180)
    assert res.returncode == 2, res.stderr[-2000:]
    assert "exited with code 1 before it was ready" in res.stderr
    assert "cannot reach the database" in res.stderr
