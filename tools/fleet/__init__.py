"""Simulated terminals: the fleet of real firmware processes and the CPython stand-in.

- terminal.py: one terminal = the firmware under the MicroPython unix port + its sensor
  simulator + the control channel (control.py: keypad, touch, display, GPIO)
- provisioning.py: terminals provisioned and bundled the technician's way
- staffdesk.py, shop.py, buyer.py, demo.py: `fingerpos demo`; sim.py: `fingerpos device sim`
- seller.py: a scripted seller working one terminal's keypad and sensor
- fleet.py: N terminals with their sellers, progress lines, clean shutdown
- simterminal.py: SimTerminal, a CPython MQTT stand-in for the ingestion tests and the bench
"""

from __future__ import annotations

from typing import Any

__all__ = ["SimTerminal", "heartbeat", "new_key", "sale"]


def __getattr__(name: str) -> Any:
    # Lazy: SimTerminal pulls in paho and the cloud's MQTT link, which the
    # firmware fleet (terminal.py, seller.py) does not need.
    if name in __all__:
        from fingerpos.tools.fleet import simterminal
        return getattr(simterminal, name)
    raise AttributeError(name)
