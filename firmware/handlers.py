# What the terminal does for the less frequent verified cloud commands
# (protocol/README.md, cmd types); the trade prompts' are in prompts.py.
# Loaded only while such a command is handled (RAM), see App.on_message; run
# through CommandGate.run, which counts data a command's type cannot take.
# SPDX-License-Identifier: MIT
import binascii

import hal


def _int(d, name):
    v = d.get(name)
    if type(v) is not int:
        raise ValueError("%s must be an integer" % name)
    return v


def ack(app, d):
    app.link.acked(_int(d, "upto"))


def time_(app, d):
    hal.set_time(_int(d, "now"))


def roster(app, d):
    sellers = d.get("sellers")
    if not isinstance(sellers, list):
        raise ValueError("sellers must be a list")
    app.roster.update(sellers)
    app.store.save("roster", {"sellers": app.roster.sellers})
    if app.seller is not None and app.roster.by_id(app.seller["id"]) is None:
        app.logout()  # removed from the roster: the session ends now


def catalog(app, d):
    items = d.get("items")
    if not isinstance(items, list):
        raise ValueError("items must be a list")
    app.catalog.update(items)
    app.store.save("catalog", {"items": app.catalog.as_list()})


def print_(app, d):
    try:
        raw = binascii.a2b_base64(d.get("escpos", ""))
    except ValueError:
        raise ValueError("escpos is not base64")
    ok = True
    try:
        hal.uart("printer").write(raw)
    except OSError as e:
        hal.log("printer: %s" % e)
        ok = False
    app.emit_quiet("printed", {"order": d.get("order"), "ok": ok})


def enrol_start(app, d):
    seller = d.get("seller")
    if not isinstance(seller, str):
        raise ValueError("enrol_start needs a seller")
    app.enrol_for = seller
    app.ui.notify("ENROL " + seller)


def lock(app, d):
    app.locked = True
    app.store.save("lock", {"locked": True})
    app.logout()
    app.ui.notify("LOCKED BY CLOUD")


def unlock(app, d):
    app.locked = False
    app.store.save("lock", {"locked": False})
    app.ui.notify("UNLOCKED")


def alarm_off(app, d):
    app.clear_alarm("cloud")


def config_(app, d):
    """Change settings live. All or nothing: an unknown name or a value that is not a
    non-negative integer refuses the whole command (counted as bad data)."""
    import config

    for k, v in d.items():
        if k not in config.DEFAULTS:
            raise ValueError("unknown setting %s" % k)
        if type(v) is not int or v < _MIN.get(k, 0):
            raise ValueError("setting %s must be an integer >= %d" % (k, _MIN.get(k, 0)))
    saved = app.store.load("settings", {})
    saved.update(d)
    new = config.settings(saved)
    app.store.save("settings", {k: new[k] for k in new if k in saved})
    app.s.update(new)
    app.guard.max_failures = new["max_failures"]
    app.guard.lockout_ms = new["lockout_s"] * 1000
    app.guard.cap_ms = new["lockout_cap_s"] * 1000
    app.outbox.limit = new["outbox_bytes"]


# Settings where 0 would disable a safety rule or stall the terminal.
_MIN = {"max_failures": 1, "session_s": 1, "outbox_bytes": 4096, "ack_wait_s": 1}


TABLE = {"ack": ack, "time": time_, "roster": roster, "catalog": catalog,
         "print": print_, "enrol_start": enrol_start, "lock": lock, "unlock": unlock,
         "alarm_off": alarm_off, "config": config_}

