# The web-order screens (accept/ship/handover, cash at the counter) and price change.
# SPDX-License-Identifier: MIT
#
# Loaded by ui.py only while one of these screens is open (RAM, see ui.py); the
# in-person sale's screens are in sale.py. key(ui, k) handles a non-digit key on
# one of these screens, lines(ui) draws it.
#
# A web order the buyer chose to pay in cash at the counter (order_new with
# pay "cash") shows CASH DUE until the cloud reports it paid: the seller keys
# 4, the buyer's pickup code (checked like a handover), the cash received
# (>= total) and confirms with #; that sends ack action "cash" with the order
# version and total on screen. Accept, ship and handover wait for `paid`.
from outbox import OutboxFull
from ui import money

import protocol
from protocol.hmac256 import equal

_ACTIONS = {"1": "accept", "2": "ship"}


def start(ui, k):
    app = ui.app
    if k == "C":
        if app.orders:
            ui.order = app.orders[0]
            ui.state = "order"
        else:
            ui.note = "NO ORDERS"
    elif k == "D":
        s = app.seller
        if s.get("price") or s.get("manager"):
            ui.state = "porder"
        else:
            ui.note = "NOT AUTHORISED"


def lines(ui):
    st = ui.state
    if st == "order":
        o = ui.order
        if cash_due(o):
            if o.get("cash_sent") is not None:
                return ["Order %s CASH SENT" % o["order"], "wait for the cloud"]
            return ["Order %s CASH DUE" % o["order"], money(o["total"]) + " 4 cash # next"]
        return ["Order %s %s" % (o["order"], money(o["total"])), "1 acc 2 ship 3 hand"]
    if st in ("pickup", "cpickup"):
        return ["Pickup code:", ui.buf]
    if st == "ccash":
        return ["Cash due " + money(ui.order["total"]), "Cash: " + ui.buf]
    if st == "cconfirm":
        total = ui.order["total"]
        return ["Cash %s CHG %s" % (money(ui.tendered), money(ui.tendered - total)),
                "# confirm  * cancel"]
    if st == "porder":
        return ["Price: order no", ui.buf]
    return ["Order %s new total" % ui.order["order"], ui.buf]


def key(ui, k):
    st = ui.state
    if st == "order":
        _order(ui, k)
    elif st == "pickup":
        if k == "#":
            _pickup(ui)
    elif st == "cpickup":
        if k == "#":
            _cash_pickup(ui)
    elif st == "ccash":
        if k == "#":
            _cash_amount(ui)
    elif st == "cconfirm":
        if k == "#":
            _cash_confirm(ui)
    elif st == "porder":
        if k == "#" and ui.buf:
            _porder(ui)
    elif k == "#" and ui.buf:  # ptotal
        _ptotal(ui)


def cash_due(o):
    """True while a pay-at-the-counter web order waits for its cash."""
    return o.get("pay") == "cash" and o.get("state", "pending_payment") == "pending_payment"


def _order(ui, k):
    app = ui.app
    if cash_due(ui.order) and k != "#":
        if k == "4" and ui.order.get("cash_sent") is None:
            ui.state = "cpickup"
        else:
            ui.note = "NOT PAID YET"
    elif k in _ACTIONS:
        _ack(ui, {"order": ui.order["order"], "action": _ACTIONS[k]})
    elif k == "3":
        ui.state = "pickup"
    elif k == "#":  # next open order
        i = app.orders.index(ui.order) if ui.order in app.orders else -1
        if app.orders:
            ui.order = app.orders[(i + 1) % len(app.orders)]
        else:
            ui.to("menu")


def _pickup_ok(ui, code):
    o = ui.order
    want = o.get("pickup_hash")
    got = protocol.pickup_hash(ui.app.key, o["order"], code)
    if not isinstance(want, str) or not equal(got.encode(), want.encode()):
        ui.note = "WRONG PICKUP CODE"
        ui.state = "order"
        return False
    return True


def _pickup(ui):
    code = ui.take()
    if _pickup_ok(ui, code):
        _ack(ui, {"order": ui.order["order"], "action": "handover", "pickup": code})


def _cash_pickup(ui):
    if _pickup_ok(ui, ui.take()):
        ui.state = "ccash"


def _cash_amount(ui):
    tendered = int(ui.take() or "0")
    if tendered < ui.order["total"]:
        ui.note = "NOT ENOUGH CASH"
        return
    ui.tendered = tendered
    ui.state = "cconfirm"


def _cash_confirm(ui):
    o = ui.order
    data = {"order": o["order"], "action": "cash", "version": o.get("version", 0),
            "amount": o["total"], "tendered": ui.tendered}
    try:
        ui.app.emit("ack", data)
    except OutboxFull:
        ui.note = "OUTBOX FULL: RETRY"
        ui.state = "order"
        return
    o["cash_sent"] = data["version"]  # until the cloud's order_update answers
    ui.to("menu")
    ui.note = "CASH %s SENT CHG %s" % (o["order"], money(ui.tendered - data["amount"]))


def _ack(ui, data):
    app = ui.app
    try:
        app.emit("ack", data)
    except OutboxFull:
        ui.note = "OUTBOX FULL: RETRY"
        return
    if data["action"] == "handover":
        app.orders = [o for o in app.orders if o is not ui.order]
    ui.to("menu")
    ui.note = "%s %s OK" % (data["action"].upper(), data["order"])


def _porder(ui):
    text = ui.take()
    for o in ui.app.orders:
        if str(o["order"]) == text:
            ui.order = o
            break
    else:
        ui.order = {"order": int(text), "total": 0, "version": 0}
    ui.state = "ptotal"


def _ptotal(ui):
    o = ui.order
    data = {"order": o["order"], "version": o.get("version", 0),
            "total": int(ui.take()), "reason": "counter"}
    try:
        ui.app.emit("price_change", data)
    except OutboxFull:
        ui.note = "OUTBOX FULL: RETRY"
        return
    ui.to("menu")
    ui.note = "PRICE SENT %s" % o["order"]
