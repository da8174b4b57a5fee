# Runs the UNMODIFIED adafruit_fingerprint driver on the MicroPython unix port,
# through firmware/busio.py and the unix HAL's sensor UART, then the checked
# subclass against injected faults. The simulator's control port comes from
# <device_dir>/config.json {"sim_control": port}. Prints one "R name value" line
# per check and "DONE" at the end.
import json
import socket
import sys
import time

import adafruit_fingerprint as af
from busio import UART
from fingerprint import CheckedFingerprint, Sensor, SensorError

with open(sys.argv[1] + "/config.json") as f:
    port = json.load(f)["sim_control"]
ctl = socket.socket()
ctl.connect(socket.getaddrinfo("127.0.0.1", port)[0][-1])


def sim(**req):
    ctl.send(json.dumps(req).encode() + b"\n")
    line = b""
    while not line.endswith(b"\n"):
        line += ctl.recv(1)
    return json.loads(line)


def r(name, value):
    print("R", name, json.dumps(value))


uart = UART()
d = af.Adafruit_Fingerprint(uart)
r("capacity", d.library_size)
r("security", d.security_level)
r("nofinger", d.get_image())
sim(cmd="place", finger="alice-1")
codes = [d.get_image(), d.image_2_tz(1), d.get_image(), d.image_2_tz(2), d.create_model(), d.store_model(11)]
r("enrol", codes)
r("search", [d.finger_fast_search(), d.finger_id, d.confidence])
d.count_templates()
r("count", d.template_count)

c = CheckedFingerprint(uart)
sim(cmd="corrupt", n=1)
try:
    c.count_templates()
    r("corrupt", "accepted")
except SensorError as e:
    r("corrupt", str(e))
r("after", c.count_templates())

s = Sensor(uart)
r("start", s.start())
for fault in ("garbage", "silent", "disconnect"):
    if fault == "silent":
        sim(cmd="silent", on=True)
    else:
        sim(cmd=fault)
    t0 = time.ticks_ms()
    try:
        s.identify()
        r(fault, "no error")
    except SensorError as e:
        r(fault, [str(e), time.ticks_diff(time.ticks_ms(), t0)])
    sim(cmd="silent", on=False)
r("recovered", s.identify())
print("DONE")
