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
from protocol import equal


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
    # RAM: each screen's action is written out here, not in a function of its own;
    # every function name is interned on the terminal for good.
    st = ui.state
    app = ui.app
    o = ui.order
    if st == "order":
        if cash_due(o) and k != "#":
            if k == "4" and o.get("cash_sent") is None:
                ui.state = "cpickup"
            else:
                ui.note = "NOT PAID YET"
        elif k in ("1", "2"):
            _ack(ui, {"order": o["order"], "action": "accept" if k == "1" else "ship"})
        elif k == "3":
            ui.state = "pickup"
        elif k == "#":  # next open order
            i = app.orders.index(o) if o in app.orders else -1
            if app.orders:
                ui.order = app.orders[(i + 1) % len(app.orders)]
            else:
                ui.to("menu")
    elif k != "#":
        pass  # the other screens act on # only
    elif st == "pickup":
        code = ui.take()
        if _pickup_ok(ui, code):
            _ack(ui, {"order": o["order"], "action": "handover", "pickup": code})
    elif st == "cpickup":
        if _pickup_ok(ui, ui.take()):
            ui.state = "ccash"
    elif st == "ccash":
        tendered = int(ui.take() or "0")
        if tendered < o["total"]:
            ui.note = "NOT ENOUGH CASH"
        else:
            ui.tendered = tendered
            ui.state = "cconfirm"
    elif st == "cconfirm":
        data = {"order": o["order"], "action": "cash", "version": o.get("version", 0),
                "amount": o["total"], "tendered": ui.tendered}
        try:
            app.cash(app.emit("ack", data), data["amount"])  # the open shift's tally
        except OutboxFull:
            ui.note = "OUTBOX FULL: RETRY"
            ui.state = "order"
            return
        o["cash_sent"] = data["version"]  # until the cloud's order_update answers
        ui.to("menu")
        ui.note = "CASH %s SENT CHG %s" % (o["order"], money(ui.tendered - data["amount"]))
    elif not ui.buf:
        pass  # price screens: nothing keyed yet
    elif st == "porder":
        text = ui.take()
        for o in app.orders:
            if str(o["order"]) == text:
                ui.order = o
                break
        else:
            ui.order = {"order": int(text), "total": 0, "version": 0}
        ui.state = "ptotal"
    else:  # ptotal
        data = {"order": o["order"], "version": o.get("version", 0),
                "total": int(ui.take()), "reason": "counter"}
        try:
            app.emit("price_change", data)
        except OutboxFull:
            ui.note = "OUTBOX FULL: RETRY"
            return
        ui.to("menu")
        ui.note = "PRICE SENT %s" % o["order"]


def cash_due(order):
    """True while a pay-at-the-counter web order waits for its cash."""
    return order.get("pay") == "cash" and order.get("state", "pending_payment") == "pending_payment"


def _pickup_ok(ui, code):
    o = ui.order
    want = o.get("pickup_hash")
    got = protocol.pickup_hash(ui.app.key, o["order"], code)
    if not isinstance(want, str) or not equal(got.encode(), want.encode()):
        ui.note = "WRONG PICKUP CODE"
        ui.state = "order"
        return False
    return True


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
