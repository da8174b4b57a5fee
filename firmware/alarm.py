# The sound-and-light alarm and the short beeps: patterns on the buzzer and strobe;
# Guard, the failed-login count and lockout that raise the alarm (pure logic).
# SPDX-License-Identifier: MIT
import asyncio

import hal
from micropython import const

# (buzzer, strobe, ms) steps, repeated while the alarm is on
_PATTERN = const(((1, 1, 200), (0, 1, 100), (1, 0, 200), (0, 0, 300)))


class Alarm:
    """Runs the pattern while `on`; beep(n) plays short buzzer chirps (trade prompts)."""

    def __init__(self):
        self.on = False
        self.reason = None
        self._wake = asyncio.Event()
        self._beeps = 0

    def start(self, reason):
        self.on = True
        self.reason = reason
        self._wake.set()

    def stop(self):
        self.on = False
        self._wake.set()

    def beep(self, n=2):
        self._beeps += n
        self._wake.set()

    async def run(self):
        while True:
            if self.on:
                for buzz, strobe, ms in _PATTERN:
                    hal.out("buzzer", buzz)
                    hal.out("strobe", strobe)
                    await asyncio.sleep_ms(ms)
                    if not self.on:
                        break
                hal.out("buzzer", 0)
                hal.out("strobe", 0)
                continue
            if self._beeps:
                self._beeps -= 1
                hal.out("buzzer", 1)
                await asyncio.sleep_ms(80)
                hal.out("buzzer", 0)
                await asyncio.sleep_ms(80)
                continue
            self._wake.clear()
            await self._wake.wait()


class Guard:
    """Failed-login counting with a lockout that doubles up to a cap.

    `failures` and `level` survive reboots through save(dict) (the caller's
    store); after max_failures failures each further failure (and the one that
    reaches it) starts a lockout of lockout_s * 2**level seconds, capped.
    """

    def __init__(self, settings, saved=None, save=None):
        self.max_failures = settings["max_failures"]
        self.lockout_ms = settings["lockout_s"] * 1000
        self.cap_ms = settings["lockout_cap_s"] * 1000
        saved = saved or {}
        self.failures = saved.get("failures", 0)
        self.level = saved.get("level", 0)
        self.save = save
        self.until = None  # (ticks when the lockout ends, its length), None when not locked

    def _persist(self):
        if self.save is not None:
            self.save({"failures": self.failures, "level": self.level})

    def start(self, now):
        """After a reboot: a terminal that was over the limit starts locked again."""
        if self.failures >= self.max_failures:
            self._lock(now, self.level - 1 if self.level else 0)

    def _lock(self, now, level):
        ms = self.lockout_ms << level
        if ms > self.cap_ms:
            ms = self.cap_ms
        self.until = (now + ms, ms)

    def locked(self, now, diff):
        """Milliseconds of lockout left (0 when free). diff is ticks_diff."""
        if self.until is None:
            return 0
        left = diff(self.until[0], now)
        if left <= 0:
            self.until = None
            return 0
        return left

    def fail(self, now):
        """Count a failure. Returns True when it raises the alarm (a lockout started)."""
        self.failures += 1
        alarm = self.failures >= self.max_failures
        if alarm:
            self._lock(now, self.level)
            self.level += 1
        self._persist()
        return alarm

    def succeed(self):
        if self.failures or self.level:
            self.failures = 0
            self.level = 0
            self._persist()
        self.until = None

    def clear(self):
        """Manager or cloud cleared the alarm: lockout ends, counting restarts."""
        self.succeed()
