# The terminal application: wiring, one asyncio task per concern, login and sale actions.
# SPDX-License-Identifier: MIT
#
# Tasks: sensor, keypad/UI, alarm pattern, MQTT link, outbox drain, heartbeat,
# Wi-Fi, watchdog. Each runs inside guard(): an OSError (or any other fault
# in one task) is logged and the task restarts after a back-off, so one bad
# peripheral never stops the others. The watchdog is fed only while the UI
# loop (the main loop) and the sensor loop keep ticking.
import asyncio
import gc
import sys
import time

import hal
from alarm import Alarm, Guard
from commands import CommandGate
from link import Link
from micropython import const
from outbox import Outbox, OutboxFull
from store import Store
from ui import UI

# RAM: private constants are const(): the compiler folds them in, so their names
# are never interned (each name costs a qstr entry for good; see firmware/README.md).
_VERSION = const("0.1.0")
_SENSOR_IDLE_MS = const(1500)
# shift_manager: a manager's finger may approve there (shift.py; the screen is drawn by ui.py)
_NO_TRADE = const(("idle", "pin", "menu", "shift_manager"))
# prompts.py's; roster is login.py's, catalog catalog.py's, the rest handlers.py's
_PROMPTS = const(("order_new", "order_update", "price_result"))
# RAM: collect every 8 KB of allocation, not only when the heap is full. Garbage left
# to the end scatters the long-lived blocks made meanwhile across the heap; then a
# 4 KB command or a 1 KB receipt found no free run with 20-30 KB free (issue #13).
_GC_EVERY = const(8192)
_diff = time.ticks_diff


class App:
    def __init__(self, cfg):
        self.cfg = cfg
        self.dev = cfg["id"]
        self.key = cfg["key"]
        self.s = cfg["settings"]
        self.ota = cfg.get("ota")  # ota.py's state when main.py booted through it
        self.boot_seq = 0
        self.store = store = Store(hal.DATA_DIR)
        self.outbox = Outbox(hal.DATA_DIR + "/outbox", self.dev, limit=self.s["outbox_bytes"])
        __import__("shift").boot(self)  # the drawer's tally catches up after a power cut
        sys.modules.pop("shift", None)
        self.gate = CommandGate(self.key, self.dev, store)
        self.sellers = []  # the roster's packed records (login.py), see roster()
        self.sellers = self.roster(store.load("roster", {"sellers": []}).get("sellers", [])).sellers
        # RAM: catalog.py is not resident (2.2 KB on the unix port): a sale (sale.py) and
        # a `catalog` page (catalog.py's TABLE) load it; this holds the Catalog only while a
        # version's pages are being collected.
        self.catalog = None
        self.guard = Guard(self.s, store.load("guard", {}), lambda data: store.save("guard", data))
        self.guard.start(hal.ticks_ms())
        self.locked = store.load("lock", {"locked": False}).get("locked", False)
        self.alarm = Alarm()
        self.link = Link(cfg, self.outbox, self.on_message, hal.ticks_ms, _diff)
        self.seller = None
        self.orders = []  # open trade prompts (order_new data), oldest first
        self.enrol_for = None
        self.sensor = None
        self.sensor_fault = False
        self.sensor_on = False  # a sensor session (the driver's RAM) runs
        self.used = None  # the roster's used slots, taken for an enrolment before the driver loads
        self.found = None  # (slot, confidence) a session's finger search gave (login.session_over)
        self.enrolled = []  # (seller, slot) enrolled in this session: into the roster after it
        self.session_base = 1 << 29  # heap in use as the last session ended (none yet)
        self.sensor_stop = False  # ui_loop holds a key until the session has ended
        self.alive = {}
        self.heap_peak = 0
        self.ooms = []  # ticks of recent MemoryErrors (guard_task)
        self.started = hal.ticks_ms()
        self.ui = UI(self)

    # -- events -----------------------------------------------------------
    def emit(self, typ, data):
        """Put an event in the outbox (durable) and wake the drain. Returns its seq.

        Raises OutboxFull: the caller tells the seller (money) or drops it.
        """
        seq, _ = self.outbox.append(typ, data, hal.now())
        self.link.kick.set()
        self.sample_heap()
        return seq

    def cash(self, seq, amount):
        """Cash that event `seq` put in the drawer (a sale, a web order's cash): into the
        open shift's tally on flash (shift.py keeps it). Saved after the event is in the
        outbox; shift.boot() folds in what a power cut in between left out."""
        st = self.store.load("shift", {})
        if st.get("open"):
            st["total"] += amount
            st["seq"] = seq
            try:
                self.store.save("shift", st)
            except OSError as e:
                hal.log("shift: tally not saved: %s" % e)

    def emit_quiet(self, typ, data):
        """emit() for events nobody keyed in: a full outbox is logged, not shown."""
        try:
            return self.emit(typ, data)
        except OutboxFull as e:
            hal.log("outbox: %s dropped: %s" % (typ, e.msg))
            return 0

    def sample_heap(self):
        used = gc.mem_alloc()
        if used > self.heap_peak:
            self.heap_peak = used

    def on_message(self, topic, payload):
        # The seq is committed only after the command was carried out: a MemoryError
        # on the way ends the MQTT session before the PUBACK (see guard_task), and the
        # broker's redelivery is then taken, not refused as a replay.
        body = self.gate.verify(topic, payload, False)
        if body is None:
            return
        typ, data = body["typ"], body["data"]
        if typ == "ack" and type(data.get("upto")) is int:
            self.link.acked(data["upto"])  # the hot path: one per event, kept resident
            self.gate.commit(body)
            return
        # RAM: the other handlers are loaded for the command and dropped after, the
        # trade prompts' (a busy shop's usual commands) apart from the rest. The
        # trade screens' module goes first (ui.py imports it again on the next key:
        # the screen's state is in ui), so the two are never in RAM together; so
        # does sale.py unless a sale is open (its Sale holds that module's classes).
        name = "prompts" if typ in _PROMPTS else "login" if typ == "roster" else \
            "catalog" if typ == "catalog" else "shift" if typ.startswith("refund") else "handlers"
        sys.modules.pop("trade", None)
        sys.modules.pop("shift", None)
        if self.ui.sale is None:
            sys.modules.pop("sale", None)
        self.ui.busy = True
        try:
            fn = __import__(name).TABLE.get(typ)
            if fn is not None:
                self.gate.run(self, typ, fn, data)
        except MemoryError:
            raise
        except Exception as e:  # a command must never take the link down with it
            hal.log("cmd %s failed: %s %s" % (typ, type(e).__name__, e))
        finally:
            self.ui.busy = False
            fn = None
            sys.modules.pop(name, None)
        self.gate.commit(body)

    # -- login ------------------------------------------------------------
    def roster(self, sellers=None):
        """login.py's Roster over self.sellers, or built from a `roster` command's
        sellers when given. RAM: login.py is not resident (3.9 KB on the unix port):
        it is loaded for the caller and lives only as long as the Roster it returns."""
        r = __import__("login").Roster(sellers)
        sys.modules.pop("login", None)
        if sellers is None:
            r.sellers = self.sellers
        return r

    def lockout_left(self):
        return self.guard.locked(hal.ticks_ms(), _diff)

    def pin_login(self, pin):
        if self.locked or self.lockout_left():
            return False
        r = self.roster()
        seller = r.by_pin(self.key, pin)
        return r.login(self, "pin", seller, seller is not None)

    def clear_alarm(self, by):
        was = self.alarm.on
        self.alarm.stop()
        self.guard.clear()
        if was:
            self.emit_quiet("alarm", {"reason": "cleared by " + by, "level": 0, "on": False})

    def logout(self):
        self.seller = None
        self.ui.to("idle")

    # -- tasks ------------------------------------------------------------
    async def guard_task(self, name, fn, backoff_ms=1000):
        while True:
            try:
                await fn()
                continue  # a task that returns (the link, per session) runs again at once
            except asyncio.CancelledError:
                raise
            except MemoryError as e:
                # No free block was big enough (the heap fragments): what the task was
                # doing is dropped (a key press; or the MQTT session, whose unacked
                # command the broker sends again; events wait in the outbox), and
                # the task starts again. Three within a minute: the heap is not
                # recovering, so reset, as the watchdog would.
                gc.collect()
                sys.print_exception(e)
                now = hal.ticks_ms()
                self.ooms = [t for t in self.ooms if _diff(now, t) < 60000]
                self.ooms.append(now)
                if len(self.ooms) >= 3:
                    raise
                hal.log("%s: MemoryError, heap free %d; restart" % (name, hal.mem_free()))
            except Exception as e:  # one peripheral's fault must not stop the rest
                hal.log("%s: %s %s; restart in %d ms" % (name, type(e).__name__, e, backoff_ms))
            await asyncio.sleep_ms(backoff_ms)
            backoff_ms = min(backoff_ms * 2, 30000)

    async def sensor_loop(self):
        # RAM: the R30x driver and its wrapper take ~28 KB (unix port), a fifth of
        # the heap, so they are resident only while the sensor is in use: at boot
        # (security level, slots), while a finger is on the glass or an enrolment
        # runs, and for _SENSOR_IDLE_MS after. Then the modules are dropped again.
        # An enrolment waits until the seller has left any trade screen. While
        # the driver is resident the MQTT link is suspended (commands wait at
        # the broker, events in the outbox): the heap has no room for both. Nor
        # for the trade screens: a key pressed during a session ends it first
        # (ui_loop), and a finger still down then is not read again until lifted.
        lift = False
        while True:
            self.alive["sensor"] = hal.ticks_ms()
            touch = hal.touch()
            lift = lift and touch
            if (self.enrol_for is not None or (touch and not lift)) and \
                    self.ui.state in _NO_TRADE:
                await self.sensor_session(_SENSOR_IDLE_MS)
                lift, self.sensor_stop = self.sensor_stop, False
            await asyncio.sleep_ms(100)

    def sensor_session(self, idle_ms):
        # RAM: a session's steps (link suspended, driver loaded, served, unloaded) are
        # session.py's, loaded for the session only (1.2 KB less while online). A plain
        # function that returns the coroutine: no long-lived frame holds the module.
        run = __import__("session").run
        sys.modules.pop("session", None)
        return run(self, idle_ms)

    async def ui_loop(self):
        kp = hal.Keypad()
        self.ui.show()
        k = None
        while True:
            self.alive["ui"] = hal.ticks_ms()
            if k is None:
                k = kp.get()
            if k is not None and self.sensor_on:
                self.sensor_stop = True  # RAM: the key may open a trade screen; driver out first
            else:
                while k is not None:
                    self.ui.key(k)
                    k = kp.get()
            self.ui.tick()
            await asyncio.sleep_ms(20)

    async def housekeeping_loop(self):
        # Watchdog, Wi-Fi and heartbeat share one task (RAM: every task keeps a
        # coroutine chain alive, ~0.6-1 KB each on the unix port). Ticks once a second.
        wdt = self.wdt  # made once in run(): a restarted task must not start a second one
        w = self.cfg["wifi"]
        tick = 0
        beat_at = hal.ticks_ms()
        while True:
            now = hal.ticks_ms()
            if _diff(now, self.alive.get("ui", now)) < 5000 and \
                    _diff(now, self.alive.get("sensor", now)) < 30000:
                wdt.feed()
            if tick % 5 == 0 and not self.wlan.isconnected() and not self.wlan.joining():
                self.wlan.connect(w.get("ssid", ""), w.get("password", ""))
            if _diff(now, beat_at) >= 0:
                beat_at = time.ticks_add(now, (self.s["heartbeat_s"] or 60) * 1000)
                self.heartbeat()
            if self.ota and tick % 5 == 0:
                self.ota_check(now)
            self.sample_heap()
            tick += 1
            await asyncio.sleep_ms(1000)

    def ota_check(self, now):
        # A version on trial commits once its boot event is acknowledged: it booted, reached
        # the broker and the cloud (Mender's rule). One that has not within ota_trial_s
        # resets; main.py counts the boot and ota.py rolls it back after two.
        st = self.ota
        if st.get("state") != "trial":
            self.ota = None
        elif self.boot_seq and self.outbox.acked >= self.boot_seq:
            import ota

            ota.commit(".")
            sys.modules.pop("ota", None)
            hal.log("ota: version %s committed" % st.get("version"))
            self.ota = None
        elif _diff(now, self.started) > self.s["ota_trial_s"] * 1000:
            hal.log("ota: version %s not committed in %d s: resetting" % (
                st.get("version"), self.s["ota_trial_s"]))
            hal.reset()

    def heartbeat(self):
        self.sample_heap()
        gc.collect()
        up = _diff(hal.ticks_ms(), self.started) // 1000
        free = hal.mem_free()
        self.emit_quiet("heartbeat", {"uptime": up, "heap_free": free,
                                      "rssi": self.wlan.rssi(), "outbox": self.outbox.pending(),
                                      "heap_peak": self.heap_peak})
        hal.log("heap peak %d live %d free %d outbox %d sent %d" % (
            self.heap_peak, gc.mem_alloc(), free, self.outbox.pending(), self.link.sent))

    async def run(self):
        gc.threshold(_GC_EVERY)
        self.wlan = hal.Wlan()
        self.boot_seq = self.emit_quiet("boot", {"fw": _VERSION, "reset": "power"})
        if self.guard.failures >= self.guard.max_failures:
            self.alarm.start("failed_logins")  # the alarm survives a reboot too
        try:  # boot check (security level, slots) before the link takes RAM
            await self.sensor_session(0)
        except Exception as e:
            hal.log("sensor check: %s %s" % (type(e).__name__, e))
        self.wdt = hal.Watchdog(8000)
        g = self.guard_task
        tasks = [g("alarm", self.alarm.run), g("mqtt", self.link.run),
                 g("drain", self.link.drain), g("ui", self.ui_loop),
                 g("sensor", self.sensor_loop), g("housekeeping", self.housekeeping_loop)]
        await asyncio.gather(*tasks)
