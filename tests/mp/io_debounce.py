# Feeds keypad scans through firmware/hal/debounce.py; prints the reported keys.
# Usage: micropython io_debounce.py FIRMWARE_DIR SCANS   (SCANS: one char per scan, "." = none)
# (importing the hal package loads the unix HAL, which may print a line first)
import sys

sys.path.insert(0, sys.argv[1])
from hal.debounce import Debounce  # noqa: E402

d = Debounce()
out = []
for c in sys.argv[2]:
    k = d.feed(None if c == "." else c)
    if k:
        out.append(k)
print("".join(out))
