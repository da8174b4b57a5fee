"""A fleet of simulated terminals on this machine, each with its own sensor and scripted seller.

    fleet = Fleet([FleetMember(config, firmware_dir, run_dir), ...]).start()
    fleet.wait_online(60)
    fleet.start_sellers(staff_of, catalogue, rate)
    print(fleet.status_lines())
    fleet.stop()          # sellers first, then every firmware process group, bounded

Each terminal's firmware runs in its own process group (see terminal.py), so
stop() ends them all however they were started, and a Ctrl-C aimed at the
fleet's owner never races the owner's own orderly shutdown.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fingerpos.tools.fleet.seller import Seller, Staff
from fingerpos.tools.fleet.terminal import Terminal

MAX_EVENTS = 4000  # control-channel messages kept per terminal (a long demo)


@dataclass
class FleetMember:
    config: dict[str, Any]
    firmware_dir: Path     # a bundle (fingerpos device bundle) or the repo's firmware/
    run_dir: Path          # state: outbox, store files, logs

    @property
    def id(self) -> str:
        return str(self.config["id"])


def preload(device_dir: Path, roster: list[dict] | None = None,
            catalogue: list[dict] | None = None) -> None:
    """Write the store files the firmware reads at boot (as if the cloud had sent them).

    For a fleet with no cloud on the broker; a cloud's `roster`/`catalog` commands replace them.
    """
    device_dir.mkdir(parents=True, exist_ok=True)
    if roster is not None:
        (device_dir / "roster.json").write_text(json.dumps({"sellers": roster}))
    if catalogue is not None:
        (device_dir / "catalog.json").write_text(json.dumps({"items": catalogue}))


class Fleet:
    def __init__(self, members: list[FleetMember]) -> None:
        self.members = members
        self.terminals: dict[str, Terminal] = {}
        self.sellers: dict[str, Seller] = {}
        self.started_at = time.monotonic()
        self.reboots: dict[str, int] = {}
        self.exits: dict[str, list[int]] = {}
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._supervisor = threading.Thread(target=self._supervise, name="fleet-supervisor",
                                            daemon=True)

    def _supervise(self) -> None:
        """A firmware that exited is a board that rebooted: hal.reset() (exit 3), the
        watchdog (SIGKILL) or a crash. Power it up again, as the board's own reset would."""
        while not self._stopping.wait(1.0):
            for dev, t in list(self.terminals.items()):
                if t.proc is not None and t.proc.poll() is not None and not self._stopping.is_set():
                    self.exits.setdefault(dev, []).append(t.proc.returncode)
                    self.reboots[dev] = self.reboots.get(dev, 0) + 1
                    t.restart()

    def start(self) -> Fleet:
        """Start every terminal; a stop() from another thread meanwhile wins (none is left)."""
        try:
            for m in self.members:
                with self._lock:
                    if self._stopping.is_set():
                        break
                    t = Terminal(m.run_dir, m.config, firmware_dir=m.firmware_dir,
                                 device_dir=m.run_dir / "device", max_events=MAX_EVENTS)
                    self.terminals[m.id] = t
                    t.start()
        except BaseException:
            self.stop()
            raise
        if not self._stopping.is_set():
            self._supervisor.start()
        return self

    def wait_online(self, timeout: float = 60.0) -> list[str]:
        """Ids of the terminals that showed `online` within timeout (all of them, normally)."""
        deadline = time.monotonic() + timeout
        online = []
        for dev, t in list(self.terminals.items()):
            if self._stopping.is_set():
                break
            try:
                t.wait_display("online", timeout=max(deadline - time.monotonic(), 0.1))
                online.append(dev)
            except TimeoutError:
                pass
        return online

    def start_sellers(self, staff_of: Callable[[str], list[Staff]], catalogue: list[dict],
                      rate_per_min: float, fail_ratio: float = 0.1) -> None:
        """One scripted seller per terminal; rate is sales per minute per terminal."""
        count = len(self.terminals)
        for n, (dev, t) in enumerate(self.terminals.items()):
            self.sellers[dev] = Seller(t, staff_of(dev), catalogue, rate_per_min, fail_ratio,
                                       seed=n, owns=lambda order, n=n: order % count == n).start()

    def status_lines(self) -> list[str]:
        lines = []
        for dev, t in self.terminals.items():
            s = self.sellers.get(dev)
            screen = " | ".join(x for x in t.display[1:4] if x) or "(no display yet)"
            alive = "up" if t.running else "down"
            if self.reboots.get(dev):
                alive += f" (rebooted {self.reboots[dev]}x, exit {self.exits[dev][-1]})"
            if s is None:
                lines.append(f"{dev:<6} {alive:<4} {screen}")
                continue
            st = s.stats
            lines.append(f"{dev:<6} {alive:<4} sales {st.sales:>3}  logins {st.logins:>3} "
                         f"(failed {st.failed_logins})  web orders shipped {st.shipped}"
                         f"  {st.state:<12} [{screen}]")
        return lines

    def totals(self) -> dict[str, int]:
        out = {"sales": 0, "logins": 0, "failed_logins": 0, "shipped": 0, "misses": 0}
        for s in self.sellers.values():
            for k in out:
                out[k] += getattr(s.stats, k)
        return out

    def stop(self, wait: float = 5.0) -> None:
        with self._lock:  # no terminal is half-started while we stop them
            self._stopping.set()
        if self._supervisor.is_alive():
            self._supervisor.join(timeout=5)
        for s in self.sellers.values():
            s.stop_event.set()
        for t in self.terminals.values():
            t.stop(wait)  # SIGTERM to its group, bounded wait, then SIGKILL
        for s in self.sellers.values():
            s.stop(timeout=2.0)

    def __enter__(self) -> Fleet:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
