# What the terminal does for the less frequent verified cloud commands
# (protocol/README.md, cmd types); the trade prompts' are in prompts.py, `roster`
# in login.py, `catalog` in catalog.py.
# Loaded only while such a command is handled (RAM), see App.on_message; run
# through CommandGate.run, which counts data a command's type cannot take.
# SPDX-License-Identifier: MIT
import binascii

import hal


def ack(app, data):
    # App.on_message takes every ack whose upto is an integer: what comes here is bad.
    raise ValueError("upto must be an integer")


def time_(app, data):
    now = data.get("now")
    if type(now) is not int:
        raise ValueError("now must be an integer")
    hal.set_time(now)


def print_(app, data):
    # The cloud re-sends unanswered jobs on connect: a part at or below the last
    # (job, part) printed was printed (its `printed` event is in the outbox).
    job = [data.get("job"), data.get("part", 1)]
    mark = type(job[0]) is int and type(job[1]) is int
    if mark and job <= app.store.load("printjob", [0, 0]):
        return
    try:
        raw = binascii.a2b_base64(data.get("escpos", ""))
    except ValueError:
        raise ValueError("escpos is not base64")
    ok = True
    try:
        hal.uart("printer").write(raw)
    except OSError as e:
        hal.log("printer: %s" % e)
        ok = False
    if ok and mark:
        app.store.save("printjob", job)
    app.emit_quiet("printed", {"order": data.get("order"), "ok": ok})


def enrol_start(app, data):
    seller = data.get("seller")
    if not isinstance(seller, str):
        raise ValueError("enrol_start needs a seller")
    app.enrol_for = seller
    app.ui.notify("ENROL " + seller)


def lock(app, data):
    app.locked = True
    app.store.save("lock", {"locked": True})
    app.logout()
    app.ui.notify("LOCKED BY CLOUD")


def unlock(app, data):
    app.locked = False
    app.store.save("lock", {"locked": False})
    app.ui.notify("UNLOCKED")


def alarm_off(app, data):
    app.clear_alarm("cloud")


def config_(app, data):
    """Change settings live. All or nothing: an unknown name or a value that is not a
    non-negative integer refuses the whole command (counted as bad data)."""
    import config

    # Settings where 0 would disable a safety rule or stall the terminal.
    least = {"max_failures": 1, "session_s": 1, "outbox_bytes": 4096, "ack_wait_s": 1}
    for k, v in data.items():
        if k not in config.DEFAULTS:
            raise ValueError("unknown setting %s" % k)
        if type(v) is not int or v < least.get(k, 0):
            raise ValueError("setting %s must be an integer >= %d" % (k, least.get(k, 0)))
    room = config.outbox_room(app.outbox.path, app.outbox.used())
    if data.get("outbox_bytes", 0) > room:  # the flash could not hold it: ENOSPC mid-sale
        raise ValueError("setting outbox_bytes %d is beyond the flash (at most %d)" % (
            data["outbox_bytes"], room))
    saved = app.store.load("settings", {})
    saved.update(data)
    new = config.settings(saved)
    app.store.save("settings", {k: new[k] for k in new if k in saved})
    app.s.update(new)
    app.guard.max_failures = new["max_failures"]
    app.guard.lockout_ms = new["lockout_s"] * 1000
    app.guard.cap_ms = new["lockout_cap_s"] * 1000
    app.outbox.limit = new["outbox_bytes"]


TABLE = {"ack": ack, "time": time_, "print": print_, "enrol_start": enrol_start, "lock": lock,
         "unlock": unlock, "alarm_off": alarm_off, "config": config_}

