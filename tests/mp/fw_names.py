# Interned names of the whole firmware, as a run on the unix port loads it.
# Usage: micropython -X heapsize=512k fw_names.py BUNDLE_DIR  (run with BUNDLE_DIR as cwd)
# Imports every module a unix-port run loads (sensor driver included, as a boot does)
# and prints micropython.qstr_info(): the names are interned for good, so what
# counts is every module ever loaded, not the ones in RAM at one moment. A larger
# heap than the terminal's: this counts names, it does not measure the heap.
import sys

import micropython

sys.path[0] = ""
for m in ("asyncio", "protocol", "hal", "app", "mqtt", "link", "outbox", "login", "alarm", "ui",
          "sale", "prompts", "handlers", "trade", "config", "busio", "adafruit_fingerprint",
          "fingerprint", "sensor", "catalog", "store", "commands", "session", "shift"):
    __import__(m)
micropython.qstr_info()
