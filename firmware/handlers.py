# What the terminal does for each verified cloud command (protocol/README.md, cmd types).
# Loaded only while a command is handled (RAM), see App.on_message.
# SPDX-License-Identifier: MIT
#
# Called after CommandGate accepted the command. A command whose data is not
# what its type needs is logged and counted (app.gate.bad["bad_data"]), never
# allowed to raise into the MQTT loop.
import binascii

import hal
from outbox import OutboxFull

MAX_ORDERS = 8
# The cloud's end states (cloud/orders/states.py): the prompt for such an order goes away.
_DONE = ("completed", "cancelled", "expired")
# What an open order keeps of its order_new (trade.py reads these, and cash_sent).
_KEEP = ("order", "total", "version", "pay", "pickup_hash")


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


def order_new(app, d):
    """A trade prompt. `pay` "cash": the buyer pays at the counter (CASH DUE until paid);
    absent: already paid. `version` is the order version the total belongs to."""
    if "order" not in d or type(d.get("total")) is not int or d["total"] < 0:
        raise ValueError("order_new needs order and total")
    pay = d.get("pay")
    if pay is not None and pay != "cash":
        raise ValueError("order_new pay must be \"cash\" or absent")
    if "version" in d and type(d["version"]) is not int:
        raise ValueError("order_new version must be an integer")
    ph = d.get("pickup_hash")
    if ph is not None and not (isinstance(ph, str) and len(ph) == 64):
        raise ValueError("order_new pickup_hash must be 64 hex digits")
    if not (type(d["order"]) is int or (isinstance(d["order"], str) and len(d["order"]) <= 32)):
        raise ValueError("order_new order must be an id")
    # RAM: keep what the counter uses, not the items and names (up to ~4 KB each).
    o = {k: d[k] for k in _KEEP if k in d}
    if pay == "cash":
        o["state"] = "pending_payment"
    app.orders = [x for x in app.orders if x["order"] != o["order"]][-(MAX_ORDERS - 1):]
    app.orders.append(o)
    app.alarm.beep(3)
    app.ui.notify(("CASH ORDER %s" if pay else "NEW ORDER %s") % d["order"])


def order_update(app, d):
    """New state / version / total of an open order. For a cash order whose payment
    the terminal sent, `paid` makes it a normal paid prompt; anything else means
    the cloud refused that payment (stale version or amount): say so, show the
    current total, and let the seller take the cash again."""
    for k in ("version", "total"):
        if k in d and type(d[k]) is not int:
            raise ValueError("order_update %s must be an integer" % k)
    if "state" in d and not isinstance(d["state"], str):
        raise ValueError("order_update state must be a string")
    for o in app.orders:
        if o["order"] == d.get("order"):
            for k in ("state", "version", "total"):
                if k in d:
                    o[k] = d[k]
            sent = o.pop("cash_sent", None)
            if o.get("pay") == "cash":
                if o.get("state") == "paid":
                    app.ui.notify("PAID %s" % o["order"])
                    app.alarm.beep(1)
                elif sent is not None:
                    app.ui.notify("CASH REFUSED %s %s" % (o["order"], _money(o["total"])))
    app.orders = [o for o in app.orders if o.get("state") not in _DONE]


def _money(minor):
    return "%d.%02d" % (minor // 100, minor % 100)


def price_result(app, d):
    ok = d.get("ok") is True
    app.ui.notify(("PRICE OK %s" if ok else "PRICE REFUSED %s") % d.get("order"))
    if ok:
        order_update(app, d)


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
         "order_new": order_new, "order_update": order_update, "price_result": price_result,
         "print": print_, "enrol_start": enrol_start, "lock": lock, "unlock": unlock,
         "alarm_off": alarm_off, "config": config_}


def dispatch(app, typ, data):
    fn = TABLE.get(typ)
    if fn is None:
        return
    try:
        fn(app, data)
        hal.log("cmd %s applied" % typ)
    except (ValueError, TypeError, KeyError, OutboxFull) as e:
        app.gate.bad["bad_data"] = app.gate.bad.get("bad_data", 0) + 1
        hal.log("cmd %s: bad data: %s" % (typ, e))
    except OSError as e:  # flash full or failing: the command is lost, say so
        hal.log("cmd %s: flash: %s" % (typ, e))
