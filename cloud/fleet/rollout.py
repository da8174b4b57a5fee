"""A staged rollout's schedule: canary first, then an exponentially growing rate, stopped by
itself when too many terminals fail (issue #18 item 1, `fingerpos release rollout`).

Pure: the caller keeps a Rollout (JSON-able) and each terminal's execution state, and
calls `tick()` every few seconds; it says which terminals to start now and whether the
rollout has finished or aborted. The semantics follow AWS IoT Jobs, the reference users of
staged rollouts know (AWS IoT API reference: JobExecutionsRolloutConfig,
ExponentialRolloutRate, AbortCriteria, TimeoutConfig):
- `rate` terminals per minute at first (baseRatePerMinute); the rate is multiplied by
  `factor` (incrementFactor) each time as many terminals have succeeded since the last
  increase as the rate then was (rateIncreaseCriteria.numberOfSucceededThings), up to
  MAX_RATE per minute (maximumPerMinute's ceiling);
- abort when, once at least `min_executed` terminals have finished, more than
  `abort_above` percent of the finished ones failed (AbortCriteria thresholdPercentage,
  minNumberOfExecutedThings; failure types FAILED, ROLLED_BACK and TIMED_OUT all count).
  An abort starts no one else; terminals already updating finish on their own;
- an execution in progress longer than `timeout_s` counts as timed out (TimeoutConfig
  inProgressTimeoutInMinutes), so a terminal that went silent cannot stall the rollout.
Before the exponential stage, `canary` terminals update alone, and the rollout goes on
only when every one of them has finished without tripping the abort (Mender and ThingsBoard users stage a
canary by hand; here it is the default).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

MAX_RATE = 1000
QUEUED, STARTED, SUCCEEDED, FAILED, TIMED_OUT, CANCELLED = (
    "queued", "started", "succeeded", "failed", "timed_out", "cancelled")
DONE = (SUCCEEDED, FAILED, TIMED_OUT)
FAILURES = (FAILED, TIMED_OUT)


class RolloutError(ValueError):
    pass


@dataclass
class Execution:
    device: str
    state: str = QUEUED
    started_at: float | None = None
    reason: str = ""


@dataclass
class Rollout:
    rate: int                    # terminals per minute at first
    abort_above: float           # percent of finished executions that failed
    canary: int = 1
    factor: float = 2.0
    min_executed: int = 0        # 0: the canary count (at least 1)
    timeout_s: float = 1800.0
    state: str = "canary"        # canary | rolling | completed | aborted
    current_rate: float = 0.0
    tokens: float = 0.0
    succeeded_at_increase: int = 0
    last_tick: float | None = None
    reason: str = ""
    executions: list[Execution] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not 1 <= self.rate <= MAX_RATE:
            raise RolloutError(f"--rate must be 1 to {MAX_RATE} terminals per minute")
        if not 0 <= self.abort_above < 100:
            raise RolloutError("--abort-above must be a percentage from 0 to under 100")
        if self.canary < 0 or not 1.0 <= self.factor <= 5.0 or self.timeout_s <= 0:
            raise RolloutError("canary >= 0, factor 1.0 to 5.0, timeout > 0")
        if not self.current_rate:
            self.current_rate = float(self.rate)
        if not self.min_executed:
            self.min_executed = max(1, self.canary)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Rollout:
        d = dict(d)
        execs = [Execution(**e) for e in d.pop("executions", [])]
        return cls(**d, executions=execs)

    def counts(self) -> dict[str, int]:
        out = {s: 0 for s in (QUEUED, STARTED, SUCCEEDED, FAILED, TIMED_OUT, CANCELLED)}
        for e in self.executions:
            out[e.state] += 1
        return out

    def failure_percent(self) -> float:
        c = self.counts()
        done = c[SUCCEEDED] + c[FAILED] + c[TIMED_OUT]
        return 100.0 * (c[FAILED] + c[TIMED_OUT]) / done if done else 0.0


def new(devices: list[str], rate: int, abort_above: float, **kw: Any) -> Rollout:
    if not devices:
        raise RolloutError("the rollout has no terminals: check --to")
    if len(set(devices)) != len(devices):
        raise RolloutError("a terminal is listed twice")
    r = Rollout(rate=rate, abort_above=abort_above, **kw)
    r.executions = [Execution(d) for d in devices]
    return r


def report(r: Rollout, device: str, ok: bool, reason: str = "") -> None:
    """A terminal's outcome (fw_state updated, or failed / rolled_back)."""
    for e in r.executions:
        if e.device == device and e.state == STARTED:
            e.state, e.reason = (SUCCEEDED, "") if ok else (FAILED, reason)
            return


def tick(r: Rollout, now: float) -> list[str]:
    """Advance the schedule to `now`; returns the terminals to start (send the update to)."""
    if r.state in ("completed", "aborted"):
        return []
    for e in r.executions:
        if e.state == STARTED and e.started_at is not None and now - e.started_at > r.timeout_s:
            e.state, e.reason = TIMED_OUT, f"no result in {r.timeout_s:.0f} s"
    c = r.counts()
    done = c[SUCCEEDED] + c[FAILED] + c[TIMED_OUT]
    if done >= r.min_executed and r.failure_percent() > r.abort_above:
        r.state = "aborted"
        r.reason = (f"{c[FAILED] + c[TIMED_OUT]} of {done} finished terminals failed "
                    f"({r.failure_percent():.0f} % > {r.abort_above:g} %)")
        for e in r.executions:
            if e.state == QUEUED:
                e.state = CANCELLED
        return []
    queued = [e for e in r.executions if e.state == QUEUED]
    if not queued:
        if not c[STARTED]:
            r.state = "completed"
        return []
    start: list[Execution] = []
    if r.state == "canary":
        canaries = r.canary - (c[STARTED] + done)
        if canaries > 0:
            start = queued[:canaries]
        elif not c[STARTED]:     # every canary finished, and too few failed to abort
            r.state, r.last_tick, r.tokens = "rolling", now, 1.0
            r.succeeded_at_increase = c[SUCCEEDED]
    if r.state == "rolling":
        if c[SUCCEEDED] - r.succeeded_at_increase >= r.current_rate:
            r.current_rate = min(MAX_RATE, r.current_rate * r.factor)
            r.succeeded_at_increase = c[SUCCEEDED]
        dt = max(0.0, now - (r.last_tick if r.last_tick is not None else now))
        r.last_tick = now
        # a token bucket: current_rate per minute, at most a minute's worth at once
        r.tokens = min(r.current_rate, r.tokens + r.current_rate * dt / 60.0)
        n = min(len(queued), int(r.tokens))
        r.tokens -= n
        start = queued[:n]
    for e in start:
        e.state, e.started_at = STARTED, now
    return [e.device for e in start]
