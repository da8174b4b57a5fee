# Wi-Fi stand-in: up after connect(), down when the harness sends {"wlan": false}.
import time

import hal

w = hal.Wlan()
w.connect("shop", "pw")
hal.Display().show(["up %s" % w.isconnected()])
while w.isconnected():
    time.sleep_ms(20)
hal.Display().show(["down %s" % w.rssi()])
