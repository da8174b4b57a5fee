"""`fingerpos bench scale-model` (tools/scale_model.py), held against the firmware it models
and against arithmetic done by hand."""

from __future__ import annotations

import json
import random
import re
import subprocess

from fingerpos.tools import scale_model as sm

from tests.conftest import BIN, REPO


def test_the_model_uses_the_firmwares_figures():
    """Heartbeat period, resend wait and reconnect back-off as the firmware's source has them."""
    config = (REPO / "firmware" / "config.py").read_text()
    mqtt = (REPO / "firmware" / "mqtt.py").read_text()
    assert f'"heartbeat_s": {sm.HEARTBEAT_S}' in config
    assert f'"ack_wait_s": {sm.ACK_WAIT_S},' in config
    base, cap = re.search(r"async def run\(self, base_ms=(\d+), cap_ms=(\d+)\)", mqtt).groups()
    assert (int(base), int(cap)) == (sm.BACKOFF_BASE_MS, sm.BACKOFF_CAP_MS)
    assert "delay = min(cap_ms, base_ms << min(fails - 1, 10))" in mqtt
    assert "delay // 2 + random.getrandbits(16) % (delay // 2 + 1)" in mqtt
    rng = random.Random(3)
    waits = [[sm.backoff_ms(n, rng) for _ in range(200)] for n in (1, 2, 7, 20)]
    assert min(waits[0]) >= 250 and max(waits[0]) <= 500
    assert 500 <= min(waits[1]) and max(waits[1]) <= 1000
    assert all(15000 <= x <= 30000 for w in waits[2:] for x in w)  # capped at 30 s


def test_load_by_hand():
    """100,000 terminals, a heartbeat a minute, 30 sales an hour at the peak, 2 events each:
    100000/60 = 1,666.7 heartbeats/s, + 100000*30*2/3600 = 1,666.7 -> 3,333.3 events/s."""
    lo = sm.load(sm.Fleet())
    assert round(lo["heartbeats_per_s"], 1) == 1666.7
    assert round(lo["peak_events_per_s"], 1) == 3333.3
    p = sm.plan(sm.Fleet(), sm.Capacity(worker_events_s=1000, pg_events_s=10000, headroom=0.5))
    assert p["workers"] == 8  # ceil(3333.3 / 500) = 7, plus one that may die
    assert round(p["pg_utilisation_at_peak"], 3) == 0.333


def test_a_reconnect_storm_is_bound_by_the_accept_rate():
    """Nothing comes back faster than the survivors accept (n / rate), and with room for all
    at once every terminal is back within its first back-off (at most 500 ms)."""
    fast = sm.reconnect_storm(2000, accepts_s=1e9)
    assert fast["left"] == 0 and fast["all_s"] <= 0.6
    slow = sm.reconnect_storm(2000, accepts_s=200)
    assert slow["left"] == 0 and slow["all_s"] >= 2000 / 200
    assert slow["peak_attempts_per_s"] > 200  # the refused ones try again


def test_the_command_prints_the_plan_and_reads_a_bench(tmp_path):
    bench = tmp_path / "bench.json"
    bench.write_text(json.dumps({"workers": 3, "runs": [
        {"db": "PostgreSQL", "broker": "unlimited", "heartbeat": {"events_per_s": 6000.0}}]}))
    out = tmp_path / "plan.json"
    res = subprocess.run([str(BIN / "fingerpos"), "bench", "scale-model", "--terminals", "20000",
                          "--bench", str(bench), "--json", str(out)],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert "2,000 / 6,000 events/s" in res.stdout  # per worker = 6000 / 3
    plan = json.loads(out.read_text())
    assert plan["capacity"]["pg_events_s"] == 6000.0 and plan["plan"]["workers"] >= 2
    bad = subprocess.run([str(BIN / "fingerpos"), "bench", "scale-model", "--bench",
                          str(tmp_path / "missing.json")], capture_output=True, text=True,
                         timeout=60)
    assert bad.returncode == 2 and "missing.json" in bad.stderr
