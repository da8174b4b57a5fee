# The unix HAL with no hal.json and no harness: it must still run, printing its output.
# Usage: micropython io_probe.py DEVICE_DIR FIRMWARE_DIR
import sys

sys.path.insert(0, sys.argv[2])
import hal  # noqa: E402

print("now", hal.now())
hal.set_time(1700000000)
print("set", hal.now())
hal.out("strobe", 1)
print("key", hal.Keypad().get(), "touch", hal.touch())
w = hal.Wlan()
w.connect("shop", "pw")
print("wlan", w.isconnected(), w.rssi())
print("read", hal.uart("sensor").read(4))
try:
    hal.out("laser", 1)
except ValueError as e:
    print("err", e)
