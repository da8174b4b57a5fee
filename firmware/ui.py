# The keypad and display: a small state machine, one screen per state.
# SPDX-License-Identifier: MIT
#
# Keys (firmware/README.md): A PIN login (in the menu: shift and refunds, shift.py),
# B new sale, C handle the current web order, D price change, * cancel/back (logout
# from the menu), # enter.
# Digits fill the entry line. Amounts are keyed in minor units (250 = 2.50).
# RAM: the sale screens live in sale.py, the order and price screens in
# trade.py, each loaded when the seller opens one (B; C, D) and dropped on the
# way back to the menu, so they never share the heap with the fingerprint
# driver (loaded only while a finger is on the sensor, when nobody is keying).
import sys
import time

import hal
from micropython import const

_CORE = const(("idle", "pin", "menu"))
_SALE = const(("sku", "qty", "more", "cash"))  # sale.py's screens; the other trade screens trade.py's
# A manager's approval (shift.py) is drawn here: no screen module is loaded while a
# manager's finger (a sensor session, the driver's RAM) may come. The shift screens'
# names start with "shift" and are over 10 characters (not interned, see firmware/README.md).
_MANAGER = const("shift_manager")


def money(minor):
    """Minor units as display text: 1250 -> "12.50"."""
    return "%d.%02d" % (minor // 100, minor % 100)


class UI:
    def __init__(self, app):
        self.app = app
        self.display = hal.Display()
        self.state = "idle"
        self.buf = ""
        self.note = ""
        self.sale = None
        self.sku = ""
        self.order = None
        self.tendered = 0  # cash keyed for a web order paid at the counter
        self._shown = None
        self._drawn = 0
        self.busy = False  # a command handler is loaded: trade screens redraw on the next tick

    # -- output -------------------------------------------------------------
    def message(self, lines):
        self._put(lines)

    def notify(self, text):
        self.note = text
        self.show()

    def _put(self, lines):
        lines = [str(x)[:21] for x in lines]
        if lines != self._shown:
            self._shown = lines
            self.display.show(lines)

    def show(self):
        app = self.app
        st = self.state
        if st == "idle":
            left = app.lockout_left()
            top = "LOCKED %ds" % ((left + 999) // 1000) if left else (
                "ALARM" if app.alarm.on else "Finger or A=PIN")
            lines = [app.dev, top]
        elif st == "pin":
            lines = ["PIN:", "*" * len(self.buf)]
        elif st == "menu":
            lines = ["%-13s A shift" % ("Hi " + app.seller.get("name", app.seller["id"]))[:13],
                     "B sale C order D price"]
        elif st == _MANAGER:
            lines = ["MANAGER finger/PIN", "*" * len(self.buf)]
        elif self.busy:
            self._drawn = time.ticks_add(hal.ticks_ms(), -1000)  # RAM: not trade.py and
            return  # handlers.py at once: tick() draws it next
        else:
            lines = _screens(self.state).lines(self)
        lines.append(self.note)
        lines.append("%s out %d" % ("online" if app.link.online else "offline",
                                    app.outbox.pending()))
        self._put(lines)

    # -- session --------------------------------------------------------------
    def logged_in(self):
        self.to("menu")
        self.notify("LOGIN OK")

    def failed(self):
        app = self.app
        self.to("idle")
        self.notify("ALARM" if app.alarm.on else "LOGIN FAILED %d/%d" % (
            app.guard.failures, app.guard.max_failures))

    def to(self, state):
        """Change screen; leaving the trade screens drops their module."""
        self.state = state
        if state in _CORE or state == _MANAGER:
            if state in _CORE:
                self.sale = None
                self.order = None
            sys.modules.pop("trade", None)
            sys.modules.pop("sale", None)
            sys.modules.pop("shift", None)

    def tick(self):
        app = self.app
        if app.seller is not None and \
                time.ticks_diff(hal.ticks_ms(), app.session_at) > app.s["session_s"] * 1000:
            app.logout()
            self.notify("SESSION TIMED OUT")
        elif time.ticks_diff(hal.ticks_ms(), self._drawn) > 500:
            self._drawn = hal.ticks_ms()
            self.show()  # lockout countdown, online state, outbox count (sent if changed)

    # -- input ----------------------------------------------------------------
    def key(self, k):
        app = self.app
        if app.seller is not None:
            app.session_at = hal.ticks_ms()
        elif self.state not in ("idle", "pin"):
            self.to("idle")
        if k in "0123456789" and self.state not in ("idle", "menu", "more", "order", "shift",
                                                    "shift_reason", "shift_refund"):
            if len(self.buf) < 12:
                self.buf += k
        elif k == "*":
            self.back()
        else:
            self.note = ""
            if self.state in _CORE:
                getattr(self, "_" + self.state)(k)
            else:
                _screens(self.state).key(self, k)
        self.show()

    def back(self):
        self.buf = ""
        self.note = ""
        if self.state == "menu":
            self.app.logout()
        elif self.state in ("idle", "pin"):
            self.to("idle")
        else:
            self.to("menu")

    def take(self):
        text, self.buf = self.buf, ""
        return text

    def _idle(self, k):
        app = self.app
        if k == "A":
            if app.locked:
                self.note = "LOCKED BY CLOUD"
            elif app.lockout_left():
                self.note = "WAIT: LOCKED OUT"
            else:
                self.state = "pin"
        elif k in "0123456789":
            self.state = "pin"
            self.buf = k

    def _pin(self, k):
        if k != "#":
            return
        app = self.app
        if app.locked or app.lockout_left():  # refused before any PIN is checked or counted
            self.buf = ""
            self.to("idle")
            self.note = "LOCKED BY CLOUD" if app.locked else "WAIT: LOCKED OUT"
            return
        if app.pin_login(self.take()):
            self.logged_in()
        else:
            self.failed()

    def _menu(self, k):
        if k == "A":
            _screens("shift").start(self)
        elif k == "B":
            _screens("sku").start(self)
        elif k in "CD":
            _screens("order").start(self, k)


def _screens(state):
    """The module of a trade screen (loaded now if it is not)."""
    return __import__("sale" if state in _SALE else "shift" if state.startswith("shift") else
                      "trade")
