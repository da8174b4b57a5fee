"""A scripted seller working one simulated terminal's keypad and fingerprint sensor.

The script only presses keys, places and lifts fingers and reads the display,
as a person at the counter would (firmware/ui.py and trade.py: A PIN login,
B sale, C web order, * back/logout). Every wait is bounded; when the screen
is not what the script expects (a reboot, a session timeout, an alarm) it
backs out with `*` and starts its next round, counting the miss.
"""

from __future__ import annotations

import random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fingerpos.tools.fleet.terminal import Terminal

_NEW_ORDER = re.compile(r"NEW ORDER (\d+)")
_ORDER_LINE = re.compile(r"^Order (\d+) ")
STEP_S = 15.0  # the longest one screen change may take (a sensor session suspends the link)


@dataclass
class Staff:
    """One seller as the script knows them: cloud user id, PIN, finger name, sensor slot."""

    id: str
    name: str
    pin: str
    finger: str
    enrolled: bool = False


@dataclass
class SellerStats:
    logins: int = 0
    failed_logins: int = 0
    sales: int = 0
    accepted: int = 0
    shipped: int = 0
    misses: int = 0
    state: str = "starting"
    last: str = ""
    orders_seen: set[int] = field(default_factory=set)


class Seller:
    """Runs rounds on `terminal` until stopped: log in, sell, handle web orders, log out."""

    def __init__(self, terminal: Terminal, staff: list[Staff], catalogue: list[dict[str, Any]],
                 rate_per_min: float = 6.0, fail_ratio: float = 0.1,
                 seed: int | None = None, owns: Callable[[int], bool] | None = None) -> None:
        self.t = terminal
        # Every terminal of the shop gets each web order's prompt; `owns` says which
        # ones this seller handles, so two counters never both accept the same order.
        self.owns = owns or (lambda order: True)
        self.staff = staff
        self.catalogue = [p for p in catalogue if str(p["sku"]).isdigit()]
        self.rate = max(rate_per_min, 0.1)
        self.fail_ratio = fail_ratio
        self.rng = random.Random(seed)
        self.stats = SellerStats()
        self.stop_event = threading.Event()
        self.thread: threading.Thread | None = None
        self._orders_done: set[int] = set()
        self._scan_from = 0

    # ----- lifecycle
    def start(self) -> Seller:
        self.thread = threading.Thread(target=self.run, name=f"seller-{id(self)}", daemon=True)
        self.thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self.stop_event.set()
        if self.thread:
            self.thread.join(timeout)

    def run(self) -> None:
        self.stats.state = "booting"
        try:
            self.t.wait_display("Finger or A=PIN", timeout=60)
            self.t.wait_display("online", timeout=60)
        except TimeoutError:
            self.stats.state = "no boot"
        while not self.stop_event.is_set():
            started = time.monotonic()
            try:
                self.round()
            except (TimeoutError, OSError) as e:
                self.stats.misses += 1
                self.stats.last = f"missed: {str(e).splitlines()[0][:60]}"
                self._recover()
            # one sale per round: pace rounds to the wanted rate
            self._sleep(60.0 / self.rate - (time.monotonic() - started))

    def _sleep(self, seconds: float) -> None:
        self.stop_event.wait(max(seconds, 0.2))

    def _recover(self) -> None:
        if self.stop_event.is_set() or not self.t.running:
            return
        try:
            self.t.lift()
            self.t.press("***")
        except (TimeoutError, OSError):
            pass

    # ----- one round
    def round(self) -> None:
        who = self.rng.choice(self.staff)
        if self.rng.random() < self.fail_ratio:
            self.failed_login(who)
        self.login(who)
        try:
            self.sell()
            for _ in range(3):
                if not self.handle_order():
                    break
        finally:
            self.stats.state = "idle"
            self.t.press("*")  # log out

    def _await_login(self, since: int, timeout: float = STEP_S) -> bool:
        """True on LOGIN OK, False on a failure screen (shown after event index `since`)."""
        i = self.t.control.wait_for(
            lambda m: "display" in m and any(
                "LOGIN OK" in x or "LOGIN FAILED" in x or x == "ALARM" or "LOCKED" in x
                for x in m["display"]), since, timeout)
        if i is None:
            raise TimeoutError("no login result on the display")
        return any("LOGIN OK" in x for x in self.t.control.get(i)["display"])

    def failed_login(self, who: Staff) -> None:
        """A wrong PIN or a finger the sensor does not know: one failed attempt."""
        self.stats.state = f"wrong login ({who.name})"
        if self.rng.random() < 0.5 or not who.enrolled:
            wrong = "".join(self.rng.choice("0123456789") for _ in range(len(who.pin)))
            if wrong == who.pin:
                wrong = wrong[:-1] + str((int(wrong[-1]) + 1) % 10)
            since = self.t.control.end
            self.t.press("A" + wrong + "#")
            ok = self._await_login(since)
        else:
            since = self.t.control.end
            self.t.place(f"stranger-{self.rng.randrange(1000)}")
            try:
                ok = self._await_login(since)
            finally:
                self.t.lift()
        if not ok:
            self.stats.failed_logins += 1
        time.sleep(0.5)

    def login(self, who: Staff) -> None:
        self.stats.state = f"login {who.name}"
        since = self.t.control.end
        if who.enrolled and self.rng.random() < 0.6:
            self.t.place(who.finger)
            try:
                ok = self._await_login(since)
            finally:
                self.t.lift()
            how = "finger"
        else:
            self.t.press("A" + who.pin + "#")
            ok = self._await_login(since)
            how = "PIN"
        if not ok:
            raise TimeoutError(f"{who.name} could not log in by {how}")
        self.stats.logins += 1
        self.stats.last = f"{who.name} logged in ({how})"

    def sell(self) -> None:
        if not self.catalogue:
            return
        picks = self.rng.sample(self.catalogue, k=min(len(self.catalogue), self.rng.randint(1, 3)))
        self.stats.state = "selling"
        keys = ""
        total = 0
        for n, p in enumerate(picks):
            qty = self.rng.randint(1, 3)
            keys += ("" if n == 0 else "B") + f"{p['sku']}#{qty}#"
            total += qty * int(p["price"])
        self.t.mark()
        self.t.press("B" + keys + "#" + f"{total}#", gap=0.03)
        lines = self.t.wait_display("SALE #", timeout=STEP_S)
        self.stats.sales += 1
        self.stats.last = next((x for x in lines if "SALE #" in x), "sale")

    def _new_orders(self) -> list[int]:
        """Order ids announced on the display (NEW ORDER n) since the last look."""
        c = self.t.control
        with c._cond:
            start = max(self._scan_from, c.dropped)
            found = [int(m.group(1)) for _, msg in c.events[start - c.dropped:]
                     for line in msg.get("display", ()) for m in [_NEW_ORDER.search(line)] if m]
            self._scan_from = c.end
        self.stats.orders_seen.update(found)
        return found

    def _order_on_screen(self, timeout: float = STEP_S) -> int | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.t.display:
                m = _ORDER_LINE.match(line)
                if m:
                    return int(m.group(1))
            time.sleep(0.1)
        return None

    def _open_order(self, order: int) -> bool:
        """From the menu: C, then `#` through the terminal's open orders until `order` shows."""
        self.t.press("C")
        visited: set[int] = set()
        while (shown := self._order_on_screen()) is not None and shown not in visited:
            if shown == order:
                return True
            visited.add(shown)
            self.t.press("#")
            time.sleep(0.3)
        self.t.press("*")
        return False

    def handle_order(self) -> bool:
        """Accept, then ship, one web order announced here and owned by this seller."""
        for order in self._new_orders():
            if not self.owns(order):
                self._orders_done.add(order)  # another terminal's seller takes it
        todo = sorted(self.stats.orders_seen - self._orders_done)
        if not todo:
            return False
        order = todo[0]
        self.stats.state = "web order"
        self._orders_done.add(order)  # one try: a prompt that vanished is not retried forever
        if not self._open_order(order):
            return True
        self.t.mark()
        self.t.press("1")
        self.t.wait_display(f"ACCEPT {order} OK", timeout=STEP_S)
        self.stats.accepted += 1
        if not self._open_order(order):
            return True
        self.t.mark()
        self.t.press("2")
        self.t.wait_display(f"SHIP {order} OK", timeout=STEP_S)
        self.stats.shipped += 1
        self.stats.last = f"order {order} accepted and shipped"
        return True


def enrol(t: Terminal, who: Staff, timeout: float = 30.0) -> None:
    """Give a finger to an enrolment the cloud started (enrol_start): place, lift, place again."""
    t.wait_display("Place finger", timeout=timeout)
    t.place(who.finger)
    t.wait_display("Lift finger", timeout=STEP_S)
    t.lift()
    t.wait_display("Same finger again", timeout=STEP_S)
    t.place(who.finger)
    try:
        t.wait_display("ENROLLED " + who.id, timeout=STEP_S)
    finally:
        t.lift()
    who.enrolled = True
