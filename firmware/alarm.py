# The sound-and-light alarm and the short beeps: patterns on the buzzer and strobe.
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
