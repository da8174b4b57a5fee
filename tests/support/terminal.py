"""The test harness for whole simulated terminals: a thin user of tools/fleet/terminal.py.

    with Terminal(tmp_path, config) as t:      # sensor simulator + control server + micropython
        t.wait_display("Ready", timeout=10)
        t.place("alice-1"); t.press("1234#")
        t.wait_gpio("buzzer", 1, timeout=5)

The class lives in fingerpos.tools.fleet.terminal because `fingerpos device sim`
and `fingerpos demo` run the same terminals; tests import it from here.
"""

from __future__ import annotations

from fingerpos.tools.fleet.control import ControlServer
from fingerpos.tools.fleet.terminal import SOURCE_ROOT, Terminal, micropython_binary

REPO = SOURCE_ROOT
MICROPYTHON = micropython_binary()

__all__ = ["MICROPYTHON", "REPO", "ControlServer", "Terminal"]
