"""The staged rollout's schedule (cloud/fleet/rollout.py) against the semantics AWS IoT Jobs
documents for staged rollouts (ExponentialRolloutRate, AbortCriteria, TimeoutConfig),
on a simulated fleet: terminals that succeed after a delay, fail, or go silent."""

from __future__ import annotations

import json

import pytest
from fingerpos.cloud.fleet import rollout as R


def run(r: R.Rollout, outcome, until: float = 3600, step: float = 1.0):
    """Tick every `step` s; outcome(device) -> (seconds to finish, ok) or None (silent).
    Returns {device: start time}."""
    started: dict[str, float] = {}
    finishing: list[tuple[float, str, bool]] = []
    t = 0.0
    while t <= until and r.state not in ("completed", "aborted"):
        for when, dev, ok in [f for f in finishing if f[0] <= t]:
            R.report(r, dev, ok, "" if ok else "rolled_back: no commit after 2 boots")
            finishing.remove((when, dev, ok))
        for dev in R.tick(r, t):
            assert dev not in started, f"{dev} started twice"
            started[dev] = t
            o = outcome(dev)
            if o is not None:
                finishing.append((t + o[0], dev, o[1]))
        t += step
    return started


def per_minute(started: dict[str, float]) -> list[int]:
    out = [0] * (int(max(started.values()) // 60) + 1)
    for t in started.values():
        out[int(t // 60)] += 1
    return out


def test_canary_then_a_rate_that_doubles_with_each_rates_worth_of_successes():
    devices = [f"t{i:03d}" for i in range(300)]
    r = R.new(devices, rate=10, abort_above=10, canary=1, factor=2.0)
    started = run(r, lambda d: (20.0, True))
    assert r.state == "completed" and len(started) == 300
    assert min(started, key=started.get) == "t000" and started["t000"] == 0.0
    rest = sorted(t for d, t in started.items() if d != "t000")
    assert rest[0] >= 20.0        # nobody before the canary succeeded
    minutes = per_minute({d: t - 20.0 for d, t in started.items() if d != "t000"})
    # baseRatePerMinute 10 then x2 each time 10, 20, 40... have succeeded: every full minute
    # starts no more than a minute of the rate allows, and the rate grows
    assert minutes[0] <= 11 and minutes[1] <= 21 + 1
    assert minutes[1] > minutes[0] and minutes[2] > minutes[1]
    assert all(m <= R.MAX_RATE for m in minutes)
    assert r.current_rate >= 80


def test_three_terminals_one_fails_and_the_rollout_aborts_without_starting_the_rest():
    devices = ["t1", "t2", "t3"] + [f"x{i}" for i in range(20)]
    r = R.new(devices, rate=60, abort_above=20, canary=1)
    started = run(r, lambda d: (10.0, d != "t3"))
    assert r.state == "aborted" and "failed" in r.reason and "> 20 %" in r.reason
    c = r.counts()
    assert c[R.FAILED] == 1 and c[R.CANCELLED] >= 1
    assert c[R.CANCELLED] + len(started) == len(devices)   # the cancelled were never started
    assert r.failure_percent() > 20


def test_a_failing_canary_aborts_at_once():
    r = R.new(["a", "b", "c"], rate=5, abort_above=50, canary=1)
    started = run(r, lambda d: (5.0, False))
    assert list(started) == ["a"] and r.state == "aborted"
    assert r.counts()[R.CANCELLED] == 2


def test_no_abort_before_min_executed_then_abort_above_the_threshold():
    """One terminal every 10 s, each done in 5 s. The first three fail (100 %), but fewer
    than min_executed have finished: go on. At 11 finished, 4 failed: 36 % > 30 %: abort."""
    r = R.new([f"t{i:02d}" for i in range(40)], rate=6, abort_above=30, canary=0,
              min_executed=10)
    fails = {"t00", "t01", "t02", "t10"}
    started = run(r, lambda d: (5.0, d not in fails))
    assert r.state == "aborted" and "4 of 11" in r.reason
    assert sorted(started) == [f"t{i:02d}" for i in range(11)]
    assert r.counts()[R.CANCELLED] == 29


def test_a_silent_terminal_times_out_and_counts_as_a_failure():
    r = R.new(["a", "b"], rate=60, abort_above=40, canary=1, timeout_s=120)
    started = run(r, lambda d: None)            # a never answers
    assert list(started) == ["a"] and r.state == "aborted"
    assert r.executions[0].state == R.TIMED_OUT and "120 s" in r.executions[0].reason


def test_the_schedule_survives_a_cloud_restart_mid_rollout():
    devices = [f"t{i}" for i in range(50)]
    a = R.new(devices, rate=20, abort_above=50, canary=2)
    b = R.new(devices, rate=20, abort_above=50, canary=2)
    t = 0.0
    while t < 400:
        sa, sb = R.tick(a, t), R.tick(b, t)
        assert sa == sb
        for d in sa:
            R.report(a, d, True), R.report(b, d, True)
        b = R.Rollout.from_json(json.loads(json.dumps(b.to_json())))   # stored and reloaded
        t += 3
    assert a.to_json() == b.to_json() and a.state == "completed"


@pytest.mark.parametrize("kw, msg", [
    ({"rate": 0}, "--rate"), ({"rate": 1001}, "--rate"), ({"abort_above": 100}, "--abort-above"),
    ({"abort_above": -1}, "--abort-above"), ({"factor": 0.5}, "factor"), ({"canary": -1}, "canary"),
])
def test_bad_settings_are_refused_with_the_option_named(kw, msg):
    args = {"rate": 10, "abort_above": 10, **kw}
    with pytest.raises(R.RolloutError, match=msg):
        R.new(["t1"], **args)


def test_an_empty_or_repeated_target_list_is_refused():
    with pytest.raises(R.RolloutError, match="no terminals"):
        R.new([], rate=1, abort_above=1)
    with pytest.raises(R.RolloutError, match="twice"):
        R.new(["t1", "t1"], rate=1, abort_above=1)
