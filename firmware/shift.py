# The cash drawer at the terminal: shifts (open with a float, cash in/out, X, blind close)
# and cash refund prompts (issue #16 items 3-4, contract /work/briefs/shift_protocol.md).
# SPDX-License-Identifier: MIT
#
# Loaded only while a shift screen is open, a refund_new/refund_update command runs, a
# manager approves, or at boot to catch the tally up; dropped after (RAM, see ui.py).
# The drawer's state is one small file, shift.json (store.py: written aside, then
# renamed): n (the last shift number opened), open, seller (who opened it), total (the
# terminal's own tally: float + cash sales + cash acks + cash in - cash out - cash
# refunds), seq (the last event folded into it), paid (the last refund ids paid out)
# and items (the refund prompts due). Every drawer event goes to the outbox first and
# is folded in after; boot() folds in what a power cut in between left out, from the
# outbox (an event written there is not acknowledged, so not deleted, before the fold
# that follows it in the same keypress: nothing awaits in between).
#
# The close is a BLIND count: no screen shows the tally or the difference. When the
# count differs from the tally by more than shift_diff_limit (the config command), a
# manager's finger or PIN approves on the manager screen (drawn by ui.py) and the close
# carries approved_by; so does a refund prompt with approval.
#
# RAM: the firmware's interned names must stay in five pools (firmware/README.md):
# names here are ones the firmware or MicroPython interns anyway, and words that would
# be new (a literal of up to 10 characters is interned for good) are split from longer
# strings when used.
import json

import hal
from micropython import const
from outbox import OutboxFull
from ui import money

# action words 0-2 of the shift event, then field and state words of refunds
_WORDS = const("cash_in cash_out x approval succeeded failed cancelled")
_REASONS = const("change bank expense other")  # keys 1-4 on the reason screen
_MAX_DUE = const(8)
_PAID_KEPT = const(16)  # a re-sent refund_new of one of these is not shown again
_MAX_INT = const(9007199254740991)  # 2^53-1: what the cloud's JSON keeps exact


def step(state, typ, data, seq):
    """Fold one event (its data as sent) into the drawer's state."""
    w = _WORDS.split()
    amount = data.get("amount", 0)
    if typ == "shift":
        action = data.get("action")
        if action == "open":
            state.update({"n": data["shift"], "open": True, "seller": data["seller"],
                          "total": amount})
            amount = 0
        elif action == "close":
            state["open"] = False
        if action == w[1]:
            amount = -amount
        elif action != w[0]:
            amount = 0
    elif typ == "refund":
        state["paid"] = state.get("paid", [])[1 - _PAID_KEPT:] + [data["refund"]]
        state["items"] = [p for p in state.get("items", []) if p["refund"] != data["refund"]]
        amount = -amount
    elif typ == "sale":
        pay = data.get("payment", {})
        amount = pay.get("amount", 0) if pay.get("method") == "cash" else 0
    elif not (typ == "ack" and data.get("action") == "cash"):
        amount = 0
    if state.get("open"):
        state["total"] = state.get("total", 0) + amount
    state["seq"] = seq


def boot(app):
    """Fold in the drawer events on flash after the last one folded (a power cut came
    between an event's write and shift.json's)."""
    st = app.store.load("shift", {})
    seq = st.get("seq", 0)
    for s, body in app.outbox.read_from(seq + 1):
        i = body.find(b',"typ":"') + 8
        typ = bytes(body[i:body.find(b'"', i)]).decode()
        if typ in ("shift", "refund") or st.get("open") and typ in ("sale", "ack"):
            step(st, typ, json.loads(body)["data"], s)
    if st.get("seq", 0) != seq:
        app.store.save("shift", st)
        hal.log("shift: tally caught up to event %d" % st["seq"])


def send(ui, typ, data):
    """Put a drawer event in the outbox and fold it in. False (the note says so) when the
    outbox is full: nothing is recorded."""
    app = ui.app
    try:
        seq = app.emit(typ, data)
    except OutboxFull:
        ui.note = "OUTBOX FULL: RETRY"
        return False
    st = app.store.load("shift", {})
    step(st, typ, data, seq)
    try:
        app.store.save("shift", st)
    except OSError as e:  # the event is out; the next boot folds it in
        hal.log("shift: state not saved: %s" % e)
    return True


def finish(ui, seller):
    """Carry out what ui.order holds (a close's count, or a refund prompt). One that needs
    a manager (a refund with approval; a count off the tally by more than
    shift_diff_limit, compared here and never shown: a blind count) goes to the manager
    screen first; there `seller` (the roster's dict of the finger or PIN, None if
    unknown) must be a manager, and the event carries approved_by."""
    app = ui.app
    p = ui.order
    d = app.store.load("shift", {})
    by = None
    if "refund" in p:
        need = p.get(_WORDS.split()[3])
    else:
        need = abs(p["amount"] - d.get("total", 0)) > app.s["shift_diff_limit"]
    if ui.state == "shift_manager":
        if seller is None or not seller.get("manager"):
            ui.note = "NOT A MANAGER"
            return
        by = seller["id"]
    elif need:
        ui.to("shift_manager")
        ui.order = p
        ui.note = "MANAGER MUST APPROVE"
        return
    if "refund" in p:
        typ = "refund"
        data = {"refund": p["refund"], "amount": p["amount"], "seller": app.seller["id"]}
        note = "REFUND %d PAID %s" % (p["refund"], money(p["amount"]))
    else:
        typ = "shift"
        n = d.get("n", 0)
        data = {"shift": n, "action": "close", "seller": app.seller["id"], "amount": p["amount"]}
        note = "SHIFT %d CLOSED" % n
    if by is not None:
        data["approved_by"] = by
    if send(ui, typ, data):
        ui.to("menu")
        ui.note = note


# -- screens (ui.py: lines draws one, key takes a key that is not a digit of an entry) --
def start(ui):
    ui.state = "shift"
    ui.order = None


def lines(ui):
    st = ui.state
    if st == "shift":
        d = ui.app.store.load("shift", {})
        due = len(d.get("items", []))
        if d.get("open"):
            return ["Shift %d  5 refund %d" % (d["n"], due), "1in 2out 3X 4close"]
        return ["No shift  5 refund %d" % due, "1 open a shift"]
    if st == "shift_float":
        return ["Opening float:", ui.buf]
    if st == "shift_amount":
        return [ui.order["action"].upper().replace("_", " ") + ": key amount", ui.buf]
    if st == "shift_reason":
        return ["Why? 1 change 2 bank", "3 expense 4 other"]
    if st == "shift_count":
        return ["Count the cash:", ui.buf]
    p = ui.order  # shift_refund
    return ["REFUND DUE " + money(p["amount"]), "#pay 0 next: %s" % p["order"]]


def key(ui, k):
    app = ui.app
    st = ui.state
    d = app.store.load("shift", {})
    w = _WORDS.split()
    n = "0123456789".find(k)  # RAM: digits as numbers, no new literals
    if st == "shift":
        if n == 5:
            if d.get("items"):
                ui.order = d["items"][0]
                ui.state = "shift_refund"
            else:
                ui.note = "NO REFUNDS DUE"
        elif not d.get("open"):
            if n == 1:
                ui.state = "shift_float"
            elif 1 < n < 5:
                ui.note = "NO SHIFT OPEN"
        elif 0 < n < 3:
            ui.order = {"action": w[n - 1]}
            ui.state = "shift_amount"
        elif n == 3:
            if send(ui, "shift", {"shift": d["n"], "action": w[2], "seller": app.seller["id"]}):
                ui.to("menu")
                ui.note = "X REPORT ASKED"
        elif n == 4:
            ui.state = "shift_count"
    elif st == "shift_reason":
        if 0 < n < 5:
            data = {"shift": d["n"], "action": ui.order["action"], "seller": app.seller["id"],
                    "amount": ui.tendered, "reason": _REASONS.split()[n - 1]}
            if send(ui, "shift", data):
                ui.to("menu")
                ui.note = "%s %s OK" % (data["action"].upper().replace("_", " "),
                                        money(data["amount"]))
    elif st == "shift_refund":
        items = d.get("items", [])
        ids = [p["refund"] for p in items]
        rid = ui.order["refund"]
        if rid not in ids:  # refund_update took it meanwhile
            ui.to("menu")
            ui.note = "REFUND %d CLOSED" % rid
        elif n == 0:
            ui.order = items[(ids.index(rid) + 1) % len(items)]
        elif k == "#":
            finish(ui, None)
    elif k != "#":
        pass  # the entry screens act on # only
    elif st == "shift_float":
        amount = int(ui.take() or "0")
        if d.get("open"):
            ui.to("menu")
            ui.note = "SHIFT %d IS OPEN" % d["n"]
            return
        n = d.get("n", 0) + 1  # the next shift's number
        if send(ui, "shift", {"shift": n, "action": "open", "seller": app.seller["id"],
                              "amount": amount}):
            ui.to("menu")
            ui.note = "SHIFT %d OPEN" % n
    elif st == "shift_amount":
        amount = int(ui.take() or "0")
        if amount < 1:
            ui.note = "KEY AN AMOUNT > 0"
        else:
            ui.tendered = amount
            ui.state = "shift_reason"
    elif st == "shift_count":
        ui.order = {"amount": int(ui.take() or "0")}  # blind: finish() compares it
        finish(ui, None)
    else:  # shift_manager: a manager's PIN (a finger comes through login.session_over)
        if app.locked or app.lockout_left():
            ui.buf = ""
            ui.note = "WAIT: LOCKED OUT"
            return
        r = app.roster()
        seller = r.by_pin(app.key, ui.take())
        who = app.seller
        ok = r.login(app, "pin", seller, seller is not None)
        app.seller = who  # an approval, not a new session
        finish(ui, seller if ok else None)


# -- commands (App.on_message loads this module for them) --
def refund_new(app, data):
    """A cash refund to pay out: refund (id), order, amount (> 0), currency, approval (a
    manager must approve). One already due or paid out is not shown again (the cloud
    re-sends open prompts on every connect)."""
    w = _WORDS.split()
    rid, amount, approval = data.get("refund"), data.get("amount"), data.get(w[3])
    if type(rid) is not int or not 0 < rid <= _MAX_INT:
        raise ValueError("refund_new refund must be an id")
    if type(amount) is not int or not 0 < amount <= _MAX_INT:
        raise ValueError("refund_new amount must be an integer > 0")
    o = data.get("order")
    if not (type(o) is int or isinstance(o, str) and 0 < len(o) <= 32):
        raise ValueError("refund_new order must be an id")
    c = data.get("currency")
    if not (isinstance(c, str) and len(c) == 3):
        raise ValueError("refund_new currency must be an ISO 4217 code")
    if type(approval) is not bool:
        raise ValueError("refund_new approval must be true or false")
    st = app.store.load("shift", {})
    items = st.get("items", [])
    if rid in st.get("paid", []) or rid in [p["refund"] for p in items]:
        hal.log("refund %d: already due or paid" % rid)
        return
    if len(items) >= _MAX_DUE:
        raise ValueError("refund_new: %d refunds due already" % len(items))
    st["items"] = items + [{"refund": rid, "order": o, "amount": amount, w[3]: approval}]
    app.store.save("shift", st)
    app.alarm.beep(3)
    app.ui.notify("REFUND DUE " + money(amount))


def update(app, data):
    """refund_update: refund, state (succeeded, failed, cancelled), reason: the prompt
    goes; a refused one says so."""
    w = _WORDS.split()
    rid, state = data.get("refund"), data.get("state")
    if type(rid) is not int or state not in w[4:]:
        raise ValueError("refund_update needs refund and state")
    st = app.store.load("shift", {})
    items = st.get("items", [])
    st["items"] = [p for p in items if p["refund"] != rid]
    if len(st["items"]) != len(items):
        app.store.save("shift", st)
    ui = app.ui
    if ui.state == "shift_refund" and ui.order["refund"] == rid:
        ui.to("menu")
    if state == w[5]:
        hal.log("refund %d refused: %s" % (rid, data.get("reason")))
        ui.notify("REFUND %d REFUSED" % rid)
    elif state == w[6] and len(st["items"]) != len(items):
        ui.notify("REFUND %d CANCELLED" % rid)


TABLE = {"refund_new": refund_new, "refund_update": update}
