# A tiny stand-in firmware that exercises the HAL and the fingerprint module,
# so the harness and the unix HAL are tested without the real app (fw-core's main.py).
# Keys: digits echo; A enrol; B buzzer on; C buzzer off; D start a 500 ms watchdog
# and stop feeding it; * print a receipt; # reset. A touch runs a 1:N identify.
import asyncio
import time

import hal
from fingerprint import SensorError, describe, open_sensor

disp = hal.Display()
keys = hal.Keypad()
time.sleep_ms(300)  # a board boots slower than the sensor's power-on delay (R503 ~50 ms)
sensor = open_sensor()
if sensor.ok:
    disp.show(["ready", "level %d" % sensor.security_level, "cap %d" % sensor.capacity])
else:
    disp.show(["SENSOR ERROR", sensor.error])
hal.log("boot mem %d" % hal.mem_free())


async def main():
    touched = False
    dog = None
    while True:
        k = keys.get()
        try:
            if k == "A":
                code, slot = await sensor.enrol(None, lambda t: disp.show([t]), 5000, 50)
                disp.show(["enrol %s slot %s" % (describe(code), slot)])
            elif k == "B":
                hal.out("buzzer", 1)
            elif k == "C":
                hal.out("buzzer", 0)
            elif k == "D":
                dog = hal.Watchdog(500)
                dog.feed()
            elif k == "*":
                hal.uart("printer").write(b"\x1b@receipt\n")
            elif k == "#":
                hal.reset()
            elif k:
                disp.show(["key " + k])
            t = hal.touch()
            if t and not touched:
                found = sensor.identify()
                if found:
                    disp.show(["match %d %d" % found])
                else:
                    disp.show(["no match " + sensor.reason])
            touched = t
        except SensorError as e:
            disp.show(["SENSOR ERROR", str(e)])
            touched = t
        await asyncio.sleep_ms(20)


asyncio.run(main())
