# Entry point: micropython main.py <device_dir> on the unix port; on the Pico, main.py at /.
# SPDX-License-Identifier: MIT
#
# A missing or corrupt config.json shows NOT PROVISIONED and idles (no
# watchdog, no reset), so a fresh board never enters a crash loop (config.boot()).
# RAM: this file is compiled on the board's heap and stays there while the app runs,
# so it holds only the start; the rest is in config.mpy, dropped once the app runs.
import sys

# RAM: every module's __file__ is an interned string, never freed. On the board
# modules import from "" (the flash root); under the unix port, started in the
# bundle directory, import the same way so those names stay short ("app.mpy",
# not the bundle's full path).
if sys.platform != "rp2":
    import os

    if sys.path[0] == os.getcwd():
        sys.path[0] = ""
    del os

try:
    import protocol  # noqa: F401
except ImportError:  # run from a repo checkout: protocol/ sits next to firmware/
    sys.path.append((__file__.rpartition("/")[0] or ".") + "/..")

import os  # noqa: E402

# Over-the-air updates (ota.py): a version installed over the air runs from app/, ahead
# of the factory copy at the root. ota.boot() first finishes a switch a power cut
# interrupted, counts a trial boot, or rolls a version that never committed back.
_ota = None
try:
    os.stat("ota.json")
    import ota

    _ota = ota.boot(".")
    del ota
    sys.modules.pop("ota", None)
except OSError:
    pass
try:
    os.stat("app")
    sys.path.insert(0, "app")
except OSError:
    pass
del os

import asyncio  # noqa: E402
import gc  # noqa: E402
import time  # noqa: E402

import config  # noqa: E402
import hal  # noqa: E402

cfg = config.boot()
cfg["ota"] = _ota  # a version on trial commits, or resets, from the app (App.ota_check)
del _ota
del config  # the module: only needed at boot
sys.modules.pop("config", None)  # RAM: only needed at boot
gc.collect()
try:
    # inside the try: a version that fails to import resets like any crash, so a trial
    # version's boots are counted and it is rolled back (on the board an exception out of
    # main.py would leave it at the REPL, with no watchdog yet to reset it)
    from app import App

    asyncio.run(App(cfg).run())
except MemoryError as e:
    sys.print_exception(e)
    hal.log("MemoryError: resetting")
    hal.reset()
except Exception as e:  # a bug: say it on the screen, wait, then reboot (not a tight loop)
    sys.print_exception(e)
    hal.log("fatal: %s %s" % (type(e).__name__, e))
    try:  # the error must reach the reset even when the screen is what failed
        hal.Display().show(["TERMINAL ERROR", str(e)[:21], "restarting..."])
    except Exception as e2:
        hal.log("display: %s %s" % (type(e2).__name__, e2))
    time.sleep(10)
    hal.reset()
