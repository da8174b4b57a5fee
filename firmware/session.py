# A sensor session: the link suspended, the fingerprint driver loaded, fingers served,
# the driver dropped, the link resumed. SPDX-License-Identifier: MIT
#
# RAM: loaded for the session only (App.sensor_session), never while the terminal is
# online and selling: this code is 1.2 KB of the unix port's heap that the driver's
# session has room for and the online terminal does not (firmware/README.md "RAM").
import asyncio
import gc
import sys

import hal
from micropython import const

_SLACK = const(6144)  # a session waits for the heap to settle to its last base + this
_LOAD_ORDER = const(("busio", "adafruit_fingerprint", "fingerprint", "sensor"))


def _driver(load):
    # Loads (or drops) the driver's modules. A plain function, not part of the
    # coroutine: a module reference left in a coroutine frame's stale stack slots
    # would keep the driver in RAM after the session (MicroPython's GC scans a
    # live frame's whole value stack, including slots already popped).
    for name in _LOAD_ORDER:
        if load:
            __import__(name)
            gc.collect()
        else:
            sys.modules.pop(name, None)


async def run(app, idle_ms):
    app.sensor_on = True  # ui_loop holds keys from now on
    every = gc.threshold()  # the app's collection interval, restored after
    try:  # whatever fails in here, the link and the keys come back (finally)
        await app.link.suspend()  # the link's RAM is the driver's for now
        # Objects of the last session or link can stay pinned for a moment by stale
        # references in running frames; give the other tasks a few turns to let go.
        # (Measured: the last MQTT client stays for ~0.3 s after the link let go of
        # it, 12 KB.) Settled means within _SLACK of the heap as the last session
        # ended, not a fixed figure: the same code runs in 96 KB and 128 KB.
        for _ in range(20):
            gc.collect()
            if gc.mem_alloc() < app.session_base + _SLACK:
                break
            await asyncio.sleep_ms(100)
        before = gc.mem_alloc()
        # Collect often while the driver is in (and while it loads): the heap is
        # nearly full, and short-lived packets would otherwise fragment what little
        # is left. The modules load one at a time, smallest first, with a
        # collection after each, so each .mpy's code lands in a heap cleared of
        # the last one's loader garbage (a MemoryError used to hit here now and then).
        gc.threshold(2048)
        if app.sensor_stop:
            return  # a key came first: the seller is typing
        if app.enrol_for is not None:  # RAM: login.py now, not beside the driver
            app.used = app.roster().used_slots()
        _driver(True)
        import sensor

        hal.log("sensor session: heap live %d (%d without the driver), mqtt client left %s" % (
            gc.mem_alloc(), before, app.link.mqtt is not None))
        await sensor.SensorTask(app).run(idle_ms)
    finally:
        sensor = None  # type: ignore[assignment]  # the module goes with the session (RAM)
        _driver(False)
        app.sensor_on = False
        gc.threshold(every)
        app.used = None
        gc.collect()
        app.link.resume()
        if app.found is not None or app.enrolled:  # RAM: login.py now, the driver is out
            __import__("login").session_over(app)
            sys.modules.pop("login", None)
            sys.modules.pop("shift", None)  # a manager's approval loads it
        app.session_base = gc.mem_alloc()
        hal.log("sensor session over: heap live %d" % app.session_base)
