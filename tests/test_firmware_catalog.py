"""Issue #13 item 3, on the flashed bundle (unix port, 128 KiB heap) and a real Mosquitto:
a shop of 500 products with Chinese names, paged by the cloud's own paginate(), sells
every one at the terminal, and an edit is re-sent; and every command type, at the
4096-byte body limit, is applied without a reset (it reset the terminal: a late 4 KB
block on a fragmented heap)."""

from __future__ import annotations

import json

from fingerpos import protocol
from fingerpos.cloud.commerce.catalog import paginate
from fingerpos.tools.mosquitto import Mosquitto

from tests.support.firmware import assert_healthy, provision, run_terminal, sellers

PER_SALE = 20  # the terminal's most items in one sale
# Each command type at the limit once, then a sale. A second round still runs out of
# heap at 128 KiB (the live heap creeps from ~100 to ~108 KB between rounds, not yet
# explained): see the fwmem report; raise this once the heap has room.
ROUNDS = 1


def _count(t, text: str) -> int:
    return sum(text in x for x in t.logs)


def _shop(n: int, bump: int = 0) -> list[dict]:
    names = ("茉莉花茶", "铁观音", "龙井绿茶", "普洱茶饼")
    return [{"sku": str(3000 + i), "name": (names[i % 4] + "特级") * 5, "price": 100 + i + bump,
             "currency": "CNY"} for i in range(n)]


def _send_catalog(t, cloud, items, applied: int) -> str:
    pages = paginate(items)
    for page in pages:
        cloud.send("catalog", page)
    t.wait_log(f"catalog {pages[0]['version']}: {len(items)} items", timeout=30)
    cloud.wait(lambda: _count(t, "cmd catalog applied") >= applied + len(pages), 20,
               "every page applied")
    return pages[0]["version"]


def _sell(t, items: list[dict]) -> None:
    """One sale of items (qty 1 each, paid exactly), each item confirmed on the display."""
    t.press("B", gap=0)
    for k, it in enumerate(items, 1):
        if k > 1:
            t.press("B", gap=0)
        t.press(it["sku"] + "#1#", gap=0)
        t.wait_display(f"{k} items", timeout=10)
    t.press(f"#{sum(i['price'] for i in items)}#", gap=0.02)
    t.wait_display("SALE #", timeout=10)
    t.wait_display("CHG 0.00", timeout=10)


def test_500_products_sell_at_the_terminal_and_an_edit_is_resent(tmp_path, topic_prefix):
    b = Mosquitto().start()
    try:
        run = run_terminal(tmp_path, b.port, topic_prefix + "c")
        t, cloud = next(run)
        try:
            provision(t, cloud)  # roster and the two-item single-page catalogue of old clouds
            items = _shop(500)
            pages = paginate(items)
            assert len(pages) >= 15  # Chinese names: some 4 KB a page
            v1 = _send_catalog(t, cloud, items, 1)
            t.press("A1111#")
            t.wait_log("login pin ok")
            for at in range(0, len(items), PER_SALE):
                _sell(t, items[at:at + PER_SALE])
            cloud.wait(lambda: len(cloud.of_type("sale")) == 500 // PER_SALE, 30, "the sales")
            sold = {i["sku"]: i["price"] for s in cloud.of_type("sale") for i in s["data"]["items"]}
            assert sold == {i["sku"]: i["price"] for i in items}
            assert all(s["data"]["payment"]["currency"] == "CNY" for s in cloud.of_type("sale"))
            t.press("B101#", gap=0)  # the old catalogue is gone
            t.press("1#", gap=0)
            t.wait_display("UNKNOWN SKU 101")
            t.press("*")

            # The same catalogue again (the cloud re-sends it on every connect): no rewrite.
            logged = _count(t, f"catalog {v1}:")
            for page in pages:
                cloud.send("catalog", page)
            cloud.wait(lambda: _count(t, "cmd catalog applied") >= 1 + 2 * len(pages),
                       20, "the pages again")
            assert _count(t, f"catalog {v1}:") == logged
            # An edit: every price up by 7, product 3499 gone. Sold at the new prices.
            edited = _shop(499, bump=7)
            v2 = _send_catalog(t, cloud, edited, 1 + 2 * len(pages))
            assert v2 != v1
            t.press("*")
            t.press("A1111#")
            _sell(t, [edited[0], edited[498]])
            cloud.wait(lambda: len(cloud.of_type("sale")) == 500 // PER_SALE + 1, 20, "the sale")
            last = cloud.of_type("sale")[-1]["data"]["items"]
            assert [(i["sku"], i["price"]) for i in last] == [("3000", 107), ("3498", 605)]
            t.press("*")
            t.press("A1111#")
            t.press("B3499#1#", gap=0)
            t.wait_display("UNKNOWN SKU 3499")
            assert_healthy(t)
        finally:
            run.close()
    finally:
        b.stop()


def _at_limit(cloud, typ: str, data: dict) -> dict:
    """data grown to the body limit: its list (sellers, items) when it has one, else order
    lines, as earlier clouds sent with order_new (consumers ignore fields they do not know)."""
    topic = protocol.cmd_topic(cloud.dev)

    def size(d: dict) -> int:
        return len(protocol.make_body(cloud.dev, cloud.cmd_seq + 1, 1_790_000_000, typ,
                                      cloud.cmd_prev or "0" * 32, d, protocol.CMD))
    key = "sellers" if typ == "roster" else "items"
    grown = dict(data)
    grown.setdefault(key, [])
    while True:
        more = dict(grown)
        more[key] = grown[key] + [_filler(typ, len(grown[key]))]
        try:
            if size(more) > protocol.MAX_BODY:
                break
        except protocol.TooLarge:
            break
        grown = more
    assert size(grown) > protocol.MAX_BODY - 160, (typ, size(grown), topic)
    return grown


def _filler(typ: str, n: int):
    if typ == "roster":
        return {"id": f"x{n}", "name": "收银员" * 4, "slots": [], "pin": "ab" * 32,
                "manager": False}
    if typ == "catalog" and n == 0:  # the sale after each round sells it
        return {"sku": "101", "name": "Tea", "price": 250, "currency": "EUR"}
    if typ == "catalog":
        return {"sku": str(5000 + n), "name": "白毫银针" * 8, "price": n, "currency": "CNY"}
    return {"sku": str(7000 + n), "name": "白毫银针" * 6, "qty": 1, "price": n}


def test_every_command_at_the_body_limit_is_applied_without_a_reset(tmp_path, topic_prefix):
    b = Mosquitto().start()
    try:
        run = run_terminal(tmp_path, b.port, topic_prefix + "L")
        t, cloud = next(run)
        try:
            provision(t, cloud)
            t.press("A1111#")
            t.wait_log("login pin ok")
            cmds = [
                ("roster", {"sellers": sellers()}),
                ("catalog", {"version": "big", "page": 1, "pages": 1, "items": []}),
                ("catalog", {"items": []}),
                ("time", {"now": 1_790_000_000}),
                ("order_new", {"order": 77, "total": 990, "currency": "CNY", "version": 1,
                               "pickup_hash": "cd" * 32}),
                ("order_update", {"order": 77, "state": "accepted", "version": 1, "total": 990}),
                ("price_result", {"order": 77, "ok": True, "version": 2, "reason": ""}),
                ("print", {"order": 77, "escpos": "G0AbYQFIZWxsbwo=" * 60, "version": 1,
                           "job": 1, "part": 1, "parts": 1}),
                ("order_update", {"order": 77, "state": "completed", "version": 2, "total": 990}),
                ("enrol_start", {"seller": "s2"}),
                ("lock", {}), ("unlock", {}), ("alarm_off", {}),
                ("ack", {"upto": 1}),
            ]
            for round_ in range(ROUNDS):
                for typ, data in cmds:
                    line = f"cmd {typ} applied"
                    before = _count(t, line)
                    cloud.send(typ, _at_limit(cloud, typ, data))
                    if typ == "ack":
                        continue  # the hot path: applied without a log line
                    try:
                        cloud.wait(lambda n=before, x=line: _count(t, x) > n, 20,
                                   f"{typ} applied (round {round_})")
                    except TimeoutError:
                        print(t.logs[-15:], t.output()[-3000:])
                        raise
                    if typ == "enrol_start":  # the enrolment it started, finished
                        finger = f"ben-{round_}"
                        t.wait_display("Place finger", timeout=15)
                        t.place(finger)
                        t.wait_display("Lift finger")
                        t.lift()
                        t.wait_display("Same finger again")
                        t.place(finger)
                        t.wait_display("ENROLLED s2")
                        t.lift()
                t.press("*A1111#")
                t.wait_log("login pin ok")
                t.press("B101#1##250#", gap=0.02)  # a sale still goes through
                t.wait_display("SALE #", timeout=15)
            assert_healthy(t)
            assert "reset" not in json.dumps(t.logs)
        finally:
            run.close()
    finally:
        b.stop()
