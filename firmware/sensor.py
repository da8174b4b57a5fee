# The sensor task: fingerprint logins and enrolment, failing closed.
# SPDX-License-Identifier: MIT
#
# A missing, silent or garbling sensor never logs anyone in: the fault raises
# one `alarm` event (reason "sensor") and the keypad PIN stays available.
import asyncio
import gc
import time

import hal
from fingerprint import OK, SensorError, describe, open_sensor
from outbox import OutboxFull


class SensorTask:
    def __init__(self, app):
        self.app = app
        # self.sensor: the Sensor, from run() on (open_sensor)

    def fault(self, msg):
        app = self.app
        if not app.sensor_fault:
            app.sensor_fault = True
            hal.log("sensor fault: %s" % msg)
            app.emit_quiet("alarm", {"reason": "sensor", "level": 1, "on": True})

    def healthy(self):
        app = self.app
        if app.sensor_fault:
            app.sensor_fault = False
            app.emit_quiet("alarm", {"reason": "sensor", "level": 0, "on": False})

    async def run(self, idle_ms):
        """Serve fingers and enrolments until nothing happened for idle_ms, or a key
        was pressed (app.sensor_stop)."""
        app = self.app
        self.sensor = s = open_sensor()
        if not s.ok and not idle_ms:
            # The boot check (idle_ms 0) may come before the module has initialised
            # (R503 manual "Power-on delay time": ~50 ms, during which commands are
            # ignored; the unix port boots faster than that): one more try.
            await asyncio.sleep_ms(300)
            s.start()
        if s.ok:
            hal.log("sensor: security level %s, %s slots" % (s.security_level, s.capacity))
            self.healthy()
            # An enrolment the terminal did not finish (reset between the sensor's Store
            # and the outbox): if its template is on the sensor (LoadChar works), send
            # the event now (the cloud takes a repeated enrol of a slot as one), else
            # forget it. Inline, not a method: RAM (one interned name fewer).
            note = app.store.load("enrol", {})
            seller, slot = note.get("seller"), note.get("slot")
            if isinstance(seller, str) and type(slot) is int:
                try:
                    if s._call("load_model", slot, 2) == OK:
                        hal.log("enrol: finishing %s slot %d after a reset" % (seller, slot))
                        self.finish(seller, slot)
                    else:
                        app.store.save("enrol", {})
                except SensorError as e:
                    self.fault(e)
        else:
            self.fault(s.error)
        busy = hal.ticks_ms()
        while time.ticks_diff(hal.ticks_ms(), busy) < idle_ms and not app.sensor_stop:
            app.alive["sensor"] = hal.ticks_ms()
            gc.collect()  # the heap is nearly full while the driver is in: keep it tidy
            try:
                if app.enrol_for is not None:
                    await self.enrol()
                    busy = hal.ticks_ms()
                elif hal.touch():
                    await self.identify()
                    busy = hal.ticks_ms()
            except SensorError as e:
                self.fault(e)
                await asyncio.sleep_ms(1000)
            await asyncio.sleep_ms(100)

    async def wait_lift(self):
        for _ in range(50):  # up to 5 s
            if not hal.touch() or self.app.sensor_stop:
                return
            await asyncio.sleep_ms(100)

    async def identify(self):
        app = self.app
        if app.locked:
            app.ui.notify("LOCKED BY CLOUD")
            await self.wait_lift()
            return
        found = self.sensor.identify(app.s["match_threshold"])
        self.healthy()
        if found is None and self.sensor.reason == "no_finger":
            return
        # RAM: the login itself (the roster's module, login.py) waits until the driver
        # is out: the session ends now (App.sensor_session then calls App.finger_login),
        # and sensor_stop makes the finger still on the glass wait for its lift.
        app.found = found or (None, 0)
        app.sensor_stop = True

    async def enrol(self):
        app = self.app
        seller = app.enrol_for
        app.enrol_for = None

        def prompt(text):
            # Each step (place, lift, place again) may take its whole timeout, so the
            # watchdog's sensor check is fed when a step starts, not once per session.
            app.alive["sensor"] = hal.ticks_ms()
            app.ui.message(["ENROL " + seller, text])

        # The roster is the authority on used slots; taking the first slot it does
        # not use spares the sensor's template-table read (RAM spike of ~3 KB). A
        # stale template there belongs to nobody, so overwriting it is right. RAM:
        # App.sensor_session took them before the driver loaded (app.used), so the
        # roster's module (login.py) and the driver are not in RAM together.
        used = app.used
        if used is None:
            used = app.roster().used_slots()
        slot = 0
        while slot in used:
            slot += 1
        if self.sensor.capacity and slot >= self.sensor.capacity:
            app.ui.notify("ENROL FAILED: sensor full")
            return
        # Written before the template can exist, cleared once the event is in the
        # outbox: a reset in between leaves this note, and run() finishes the job.
        app.store.save("enrol", {"seller": seller, "slot": slot})
        try:
            self.sensor.delete(slot)  # a stale template must not pass for this one later
            code, slot = await self.sensor.enrol(slot=slot, prompt=prompt)
        except SensorError:
            app.ui.notify("ENROL FAILED: sensor")
            raise  # run() raises the sensor alarm; the note is resolved at the next start
        if code != OK:
            app.store.save("enrol", {})
            app.ui.notify("ENROL FAILED: " + describe(code))
        elif self.finish(seller, slot):
            app.ui.notify("ENROLLED %s SLOT %d" % (seller, slot))
        # a finger left on the glass after any outcome is not read as a login
        await self.wait_lift()

    def finish(self, seller, slot):
        """The template is stored: emit the enrol event; the slot goes into the roster
        as the session ends (App.sensor_session). If the event cannot be written, the slot is freed (DeleteChar) and
        nothing of the enrolment is left. Returns True when it is done."""
        app = self.app
        try:
            app.emit("enrol", {"seller": seller, "slot": slot})
        except (OutboxFull, OSError) as e:
            hal.log("enrol: event not written (%s): slot %d freed" % (e, slot))
            self.sensor.delete(slot)
            app.store.save("enrol", {})
            app.ui.notify("ENROL FAILED: " + ("outbox full" if isinstance(e, OutboxFull)
                                              else "flash error"))
            return False
        # RAM: the slot goes into the roster once the driver is out (App.sensor_session);
        # until then enrol.json stays, so a reset in between finishes it at the next start.
        app.enrolled.append((seller, slot))
        return True
