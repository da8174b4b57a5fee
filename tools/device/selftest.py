"""An on-board hardware check: sensor handshake, alarm GPIO, Wi-Fi; prints a report.

The snippet runs on the Pico W with the flashed firmware's own modules (hal,
fingerprint), so it tests the wiring exactly as the app will use it. Each
check reports ok/detail instead of stopping at the first fault, so one run
shows everything that is wrong.
"""

from __future__ import annotations

from collections.abc import Callable

from fingerpos.tools.device.board import BoardError, Mpremote, probe

WIFI_WAIT_MS = 15000
PULSE_MS = 150

CHECKS = """
import json, time
R = []
def rep(name, ok, detail):
    R.append({'check': name, 'ok': ok, 'detail': detail})
def err(e):
    return '%s: %s' % (type(e).__name__, e)
try:
    import hal
    rep('firmware', True, 'hal loaded, data in %s' % hal.DATA_DIR)
except Exception as e:
    hal = None
    rep('firmware', False, 'the firmware is not flashed (%s)' % err(e))
if hal:
    # The app's watchdog (machine.WDT, at most 8388 ms on the RP2040) keeps running after
    # mpremote's Ctrl-C: it cannot be stopped once started. Feed it through every check,
    # or a slow Wi-Fi join resets the board mid-report. Without a running app this
    # starts it, so the board restarts into the app a few seconds after the report.
    try:
        wdt = hal.Watchdog(8000) if hasattr(hal, 'Watchdog') else None
    except Exception as e:
        wdt = None
        rep('watchdog', False, err(e))
    def feed():
        if wdt:
            wdt.feed()
    feed()
    try:
        import fingerprint
        s = fingerprint.open_sensor()
        if s.ok:
            rep('sensor', True, 'handshake ok (VfyPwd, ReadSysPara): %d slots, security level %s'
                % (s.capacity, s.security_level))
        else:
            rep('sensor', False, s.error or 'no answer')
    except Exception as e:
        rep('sensor', False, err(e))
    feed()
    for pin in ('buzzer', 'strobe'):
        try:
            hal.out(pin, 1)
            time.sleep_ms(PULSE_MS)
            hal.out(pin, 0)
            rep(pin, True, 'pulsed %d ms: did you hear/see it?' % PULSE_MS)
        except Exception as e:
            rep(pin, False, err(e))
    try:
        d = hal.DATA_DIR
        with open(d + ('' if d.endswith('/') else '/') + 'config.json') as f:
            wifi = json.load(f).get('wifi') or {}
        seen = None
        feed()
        try:
            import network
            seen = [n[0].decode() for n in network.WLAN(network.STA_IF).scan()]
        except (ImportError, AttributeError):
            pass
        if not wifi.get('ssid'):
            rep('wifi', False, 'no Wi-Fi network in config.json')
        else:
            w = hal.Wlan()
            w.connect(wifi['ssid'], wifi.get('password', ''))
            t = time.ticks_ms()
            while not w.isconnected() and time.ticks_diff(time.ticks_ms(), t) < WIFI_MS:
                feed()
                time.sleep_ms(200)
            feed()
            scan = '' if seen is None else ('; %s in scan of %d networks' % (
                'seen' if wifi['ssid'] in seen else 'NOT seen', len(seen)))
            if w.isconnected():
                rep('wifi', True, 'connected to %s, RSSI %s dBm%s' % (wifi['ssid'], w.rssi(), scan))
            else:
                rep('wifi', False, 'not connected to %s after %d s%s' % (
                    wifi['ssid'], WIFI_MS // 1000, scan))
    except Exception as e:
        rep('wifi', False, err(e))
print('FPJSON:' + json.dumps(R))
"""


def run(board: Mpremote, root: str = "/", say: Callable[[str], None] = print) -> bool:
    """Run the checks on the board; print one line per check; True when all passed."""
    info = probe(board, root)
    say(f"board at {board.port}: {info.get('machine') or info.get('platform')}")
    # The firmware's modules import relative to the board's working directory.
    code = (f"import os\nos.chdir({root!r})\nWIFI_MS = {WIFI_WAIT_MS}\nPULSE_MS = {PULSE_MS}\n"
            + CHECKS)
    report = board.exec_json(code, timeout=WIFI_WAIT_MS / 1000 + 45)
    if not isinstance(report, list):
        raise BoardError(f"the board at {board.port} returned no report")
    for r in report:
        say(f"{'PASS' if r.get('ok') else 'FAIL'}  {r.get('check', '?'):<9} {r.get('detail', '')}")
    passed = sum(1 for r in report if r.get("ok"))
    say(f"{passed} of {len(report)} checks passed")
    return passed == len(report)
