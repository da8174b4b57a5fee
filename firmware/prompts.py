# What the terminal does for the trade prompts' commands: order_new, order_update and
# price_result (protocol/README.md). Kept apart from handlers.py so the commands
# a busy shop gets all day load about half the code (RAM, see App.on_message).
# SPDX-License-Identifier: MIT
from micropython import const
from ui import money

_MAX_ORDERS = const(8)
# The cloud's end states (cloud/orders/states.py): the prompt for such an order goes away.
_DONE = const(("completed", "cancelled", "expired"))
# What an open order keeps of its order_new (trade.py reads these, and cash_sent).
_KEEP = const(("order", "total", "version", "pay", "pickup_hash"))


def order_new(app, data):
    """A trade prompt. `pay` "cash": the buyer pays at the counter (CASH DUE until paid);
    absent: already paid. `version` is the order version the total belongs to."""
    if "order" not in data or type(data.get("total")) is not int or data["total"] < 0:
        raise ValueError("order_new needs order and total")
    pay = data.get("pay")
    if pay is not None and pay != "cash":
        raise ValueError("order_new pay must be \"cash\" or absent")
    if "version" in data and type(data["version"]) is not int:
        raise ValueError("order_new version must be an integer")
    ph = data.get("pickup_hash")
    if ph is not None and not (isinstance(ph, str) and len(ph) == 64):
        raise ValueError("order_new pickup_hash must be 64 hex digits")
    if not (type(data["order"]) is int or (isinstance(data["order"], str) and len(data["order"]) <= 32)):
        raise ValueError("order_new order must be an id")
    # RAM: keep what the counter uses, not the items and names (up to ~4 KB each).
    o = {k: data[k] for k in _KEEP if k in data}
    for x in app.orders:  # the cloud re-sends open prompts on connect: shown once
        if x["order"] == o["order"] and x.get("version") == o.get("version"):
            return
    if pay == "cash":
        o["state"] = "pending_payment"
    app.orders = [x for x in app.orders if x["order"] != o["order"]][-(_MAX_ORDERS - 1):]
    app.orders.append(o)
    app.alarm.beep(3)
    app.ui.notify(("CASH ORDER %s" if pay else "NEW ORDER %s") % data["order"])


def order_update(app, data):
    """New state / version / total of an open order. For a cash order whose payment
    the terminal sent, `paid` makes it a normal paid prompt; anything else means
    the cloud refused that payment (stale version or amount): say so, show the
    current total, and let the seller take the cash again."""
    for k in ("version", "total"):
        if k in data and type(data[k]) is not int:
            raise ValueError("order_update %s must be an integer" % k)
    if "state" in data and not isinstance(data["state"], str):
        raise ValueError("order_update state must be a string")
    for o in app.orders:
        if o["order"] == data.get("order"):
            was = o.get("state")
            for k in ("state", "version", "total"):
                if k in data:
                    o[k] = data[k]
            sent = o.pop("cash_sent", None)
            if o.get("pay") == "cash":
                if o.get("state") == "paid":
                    if was != "paid":  # not again for a re-sent update
                        app.ui.notify("PAID %s" % o["order"])
                        app.alarm.beep(1)
                elif sent is not None:
                    app.ui.notify("CASH REFUSED %s %s" % (o["order"], money(o["total"])))
    app.orders = [o for o in app.orders if o.get("state") not in _DONE]


def price_result(app, data):
    ok = data.get("ok") is True
    app.ui.notify(("PRICE OK %s" if ok else "PRICE REFUSED %s") % data.get("order"))
    if ok:
        order_update(app, data)


TABLE = {"order_new": order_new, "order_update": order_update, "price_result": price_result}
