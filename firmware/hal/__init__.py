# The terminal's hardware layer: the only package that touches machine/network/rp2.
# MIT licence. On the Pico W it is hal/pico.py; on the MicroPython unix port the
# socket twin hal/unix.py (see that file for hal.json and the control channel).
# Both export exactly the names below; the app imports `hal` and nothing else.
import sys

if sys.platform == "rp2":
    from hal.pico import (
        DATA_DIR,
        Display,
        Keypad,
        Watchdog,
        Wlan,
        log,
        mem_free,
        now,
        out,
        reset,
        resolve,
        set_time,
        ticks_ms,
        touch,
        uart,
    )
else:
    from hal.unix import (
        DATA_DIR,
        Display,
        Keypad,
        Watchdog,
        Wlan,
        log,
        mem_free,
        now,
        out,
        reset,
        resolve,
        set_time,
        ticks_ms,
        touch,
        uart,
    )

__all__ = ["DATA_DIR", "Display", "Keypad", "Watchdog", "Wlan", "log", "mem_free", "now", "out",
           "reset", "resolve", "set_time", "ticks_ms", "touch", "uart"]
