"""Operations on the whole firmware (flashed bundle, unix port, real Mosquitto, the test as
cloud): the watchdog resets a stalled main loop, sessions time out, the `config` command,
`order_update`, and the sensor-fault alarm (fails closed, recovers)."""

from __future__ import annotations

import contextlib
import time

from fingerpos import protocol

from tests.support.firmware import KEY, assert_healthy, enrol, provision, run_terminal, sell

session = contextlib.contextmanager(run_terminal)


def _flash_free(path) -> int:
    import os

    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def test_stalled_main_loop_is_reset_by_the_watchdog(tmp_path, broker, topic_prefix):
    with session(tmp_path, broker.port, topic_prefix + "w") as (t, cloud):
        t.wait_display("online", timeout=15)
        cloud.wait_event("boot")
        assert t.control.wait_for(lambda m: m.get("wdt") == "feed", 0, 10) is not None

        # A stall shorter than the 8 s timeout is survived: feeding resumes.
        start = t.control.end
        t.control.send({"hang": 2500})
        assert t.control.wait_for(lambda m: m.get("wdt") == "feed", start, 15) is not None
        time.sleep(1.5)
        assert t.running and not [m for m in t.watchdog if m["wdt"] == "starved"]

        # A main loop stuck past it is not fed: the guard resets the board (SIGKILL,
        # like the RP2040's watchdog: nothing gets flushed).
        start = t.control.end
        t.control.send({"hang": 20000})
        starved = t.control.wait_for(lambda m: m.get("wdt") == "starved", start, 30)
        assert starved is not None, t.watchdog[-3:]
        assert t.wait_exit(timeout=20) == -9
        feeds = [m["t"] for m in t.watchdog if m["wdt"] == "feed"]
        assert feeds, "never fed"

        # After the reset it boots again, and seq continues without a gap.
        t.mark()  # later waits see only the rebooted firmware
        t.restart()
        t.wait_display("online", timeout=20)
        cloud.wait(lambda: len(cloud.of_type("boot")) == 2, 20, "the second boot")
        seqs = sorted(cloud.events)
        assert seqs == list(range(1, seqs[-1] + 1))
        assert_healthy(t)


def test_session_times_out_and_the_sale_is_refused(tmp_path, broker, topic_prefix):
    with session(tmp_path, broker.port, topic_prefix + "s", session_s=2) as (t, cloud):
        provision(t, cloud)
        t.press("A1111#")
        t.wait_display("LOGIN OK")
        t.press("B101#")  # a sale started, then the seller walks away
        t.wait_display("qty:")
        t.wait_display("SESSION TIMED OUT", timeout=15)
        assert "Finger or A=PIN" in t.display
        t.press("2##1000#B")  # the rest of the sale: no seller, no sale screen
        time.sleep(1.0)
        assert not any("SKU" in line or "Total" in line for line in t.display), t.display
        t.press("*")
        assert not cloud.of_type("sale")
        assert cloud.wait_event("login", lambda d: d["ok"])["data"]["seller"] == "s1"
        assert_healthy(t)


def test_config_command_changes_settings_live_and_refuses_bad_values(tmp_path, broker,
                                                                      topic_prefix):
    with session(tmp_path, broker.port, topic_prefix + "c") as (t, cloud):
        provision(t, cloud)
        bad = [{"max_failures": 0}, {"max_failures": "5"}, {"colour": 1},
               {"max_failures": 5, "session_s": -1}, {"max_failures": True},
               # beyond what the filesystem holds (the host's own statvfs: the reference)
               {"outbox_bytes": _flash_free(tmp_path) + (1 << 30)}]
        for data in bad:  # each refused whole: nothing of it applies
            cloud.send("config", data)
        cloud.send("time", {"now": 1_800_000_000})  # after them: they were all handled
        t.wait_log("cmd time applied")
        assert sum("cmd config: bad data" in x for x in t.logs) == len(bad), t.logs[-8:]
        t.press("A9999#")
        t.wait_display("LOGIN FAILED 1/3")

        cloud.send("config", {"max_failures": 5})
        t.wait_log("cmd config applied")
        t.press("A9999#")
        t.wait_display("LOGIN FAILED 2/5")
        t.press("A9999#")
        t.wait_display("LOGIN FAILED 3/5")  # 3 failures no longer raise the alarm
        time.sleep(0.5)
        assert not cloud.of_type("alarm") and not t.gpio_history("strobe")

        t.mark()  # later waits see only the rebooted firmware
        t.restart()  # the setting (and the count) survive a power cycle
        t.wait_display("online", timeout=20)
        t.press("A9999#")
        t.wait_display("LOGIN FAILED 4/5")
        assert_healthy(t)


def test_order_update_changes_the_prompt_and_closes_it(tmp_path, broker, topic_prefix):
    with session(tmp_path, broker.port, topic_prefix + "u") as (t, cloud):
        provision(t, cloud)
        cloud.send("order_new", {"order": 61, "total": 1000, "currency": "EUR", "version": 1,
                                 "items": [{"sku": "101", "qty": 4, "price": 250}],
                                 "pickup_hash": protocol.pickup_hash(KEY, 61, "1234")})
        t.wait_display("NEW ORDER 61")
        t.press("A2222#")
        t.wait_log("login pin ok")
        t.press("C")
        t.wait_display("Order 61 10.00")
        t.press("*")
        cloud.send("order_update", {"order": 61, "state": "paid", "version": 2, "total": 800})
        t.wait_log("cmd order_update applied")
        t.press("C")
        t.wait_display("Order 61 8.00")
        t.press("*")
        cloud.send("order_update", {"order": 61, "total": "9.00"})  # bad: total kept
        t.wait_log("cmd order_update: bad data")
        t.press("C")
        t.wait_display("Order 61 8.00")
        t.press("*")
        cloud.send("order_update", {"order": 61, "state": "cancelled", "version": 3})
        t.wait_log("cmd order_update applied")
        t.press("C")
        t.wait_display("NO ORDERS")
        # An unpaid cash order the buyer never came for expires: its prompt goes too.
        cloud.send("order_new", {"order": 62, "total": 500, "currency": "EUR", "version": 1,
                                 "pay": "cash", "items": [{"sku": "101", "qty": 2, "price": 250}],
                                 "pickup_hash": protocol.pickup_hash(KEY, 62, "1234")})
        t.wait_display("CASH ORDER 62")
        cloud.send("order_update", {"order": 62, "state": "expired", "version": 1})
        t.wait_log("cmd order_update applied")
        t.press("C")
        t.wait_display("NO ORDERS")
        assert not cloud.of_type("ack")
        assert_healthy(t)


def test_sensor_fault_fails_closed_with_an_alarm_and_recovers(tmp_path, broker, topic_prefix):
    with session(tmp_path, broker.port, topic_prefix + "f") as (t, cloud):
        provision(t, cloud)
        enrol(t, cloud, "s1", "ana-1")
        for n, fault in enumerate(("garbage", "silent", "disconnect")):
            if fault == "garbage":
                t.sim.garbage(1000)  # every reply is noise
            elif fault == "silent":
                t.sim.silent(True)  # a hung sensor
            else:
                t.sim.disconnect()  # a pulled cable: the HAL reconnects (re-plugged)
            t.mark()
            seen = len(t.logs)
            t.place("ana-1")
            t.wait_log("sensor fault", timeout=15)
            if fault != "disconnect":
                time.sleep(1.5)  # the finger stays on a broken sensor: nobody logs in
                assert not any(x.startswith("login finger") for x in t.logs[seen:]), \
                    t.logs[seen:]
                t.lift()
                alarm = cloud.wait_event("alarm", lambda d: d["reason"] == "sensor" and d["on"])
                assert alarm["data"]["level"] == 1
                t.sim.garbage(0)
                t.sim.silent(False)
                t.place("ana-1")  # the sensor is back
            t.wait_log("login finger ok", timeout=15)
            t.lift()  # events go out once the sensor session ends (the link waits for it)
            want = 2 * n + 2
            cloud.wait(lambda: len(cloud.of_type("alarm")) == want, 20, "alarm off")  # noqa: B023
            t.press("*")  # log out for the next round
            time.sleep(0.5)
        alarms = [(e["data"]["reason"], e["data"]["on"]) for e in cloud.of_type("alarm")]
        assert alarms == [("sensor", True), ("sensor", False)] * 3, alarms
        assert not [e for e in cloud.of_type("login") if not e["data"]["ok"]]
        assert_healthy(t)


def test_a_key_during_a_finger_session_ends_it_before_a_trade_screen_opens(tmp_path, broker,
                                                                            topic_prefix):
    """RAM: the fingerprint driver (a fifth of the heap) and the trade screens never share
    the heap. A seller who logs in by finger and keys B with the finger still down gets
    the sale screen once the session has ended, and that finger is not read again."""
    with session(tmp_path, broker.port, topic_prefix + "k") as (t, cloud):
        provision(t, cloud)
        enrol(t, cloud, "s1", "ana-1")
        time.sleep(2.0)  # the enrolment's session ends
        t.mark()
        start = t.control.end
        t.place("ana-1")
        t.wait_log("login finger ok", timeout=15)
        t.press("B")
        t.wait_display("SKU:", timeout=10)
        time.sleep(2.5)  # finger still down, past app._SENSOR_IDLE_MS: no second reading
        msgs = [t.control.get(i) for i in range(start, t.control.end)]
        over = [i for i, m in enumerate(msgs) if "sensor session over" in str(m.get("log"))]
        sale = [i for i, m in enumerate(msgs) if "SKU:" in m.get("display", [])]
        assert over and sale and over[0] < sale[0], msgs
        logins = [m for m in msgs if str(m.get("log", "")).startswith("login finger")]
        assert len(logins) == 1, logins
        assert "SKU:" in t.display  # the sale screen stays: nothing logged the seller out
        t.lift()
        t.press("101#2##1000#", gap=0)
        t.wait_display("CHG 5.00")
        assert cloud.wait_event("sale")["data"]["payment"]["amount"] == 500
        assert_healthy(t)


def test_events_the_cloud_never_got_are_sent_again_while_newer_ones_flow(
        tmp_path, broker, topic_prefix):
    """The broker may take (PUBACK) events that no subscriber gets: after a broker restart
    the cloud's subscription can come back after the terminal. The cloud's acks then stop
    at the gap while newer events (heartbeats, every second here) keep arriving. With no
    ack progress for ack_wait_s after the oldest unacked event went out, the terminal sends
    again from there, though newer events keep going out meanwhile."""
    dev = topic_prefix + "r"
    with session(tmp_path, broker.port, dev, heartbeat_s=1, ack_wait_s=3) as (t, cloud):
        provision(t, cloud)
        t.press("A1111#")
        t.wait_display("LOGIN OK")
        cloud.c.unsubscribe(protocol.evt_topic(dev))
        time.sleep(0.5)
        sell(t, 3)
        time.sleep(1.5)  # published and acknowledged by the broker, to nobody
        assert not cloud.of_type("sale")
        cloud.c.subscribe(protocol.evt_topic(dev), 1)
        cloud.wait(lambda: len(cloud.of_type("sale")) == 3
                   and cloud.tracker.committed == max(cloud.events), 30,
                   "the 3 sales and every event before the newest, sent again")
        assert "no ack for 3000 ms; resending" in t.output()
        assert_healthy(t)


def test_resending_to_a_cloud_that_never_acks_backs_off(tmp_path, broker, topic_prefix):
    """The broker is up but the cloud does not ack (its ingestion is down): each resend
    that brings no ack doubles the wait (1, 2, 4 s here), and an ack starts it over."""
    dev = topic_prefix + "b"

    def waits() -> list[int]:
        return [int(x.split("no ack for ")[1].split()[0])
                for x in t.output().splitlines() if "no ack for " in x]

    def wait_for(n: int) -> None:
        deadline = time.monotonic() + 20
        while len(waits()) < n and time.monotonic() < deadline:
            time.sleep(0.2)

    with session(tmp_path, broker.port, dev, ack=False, heartbeat_s=60, ack_wait_s=1) as (t, cloud):
        t.wait_display("online", timeout=15)
        cloud.wait_event("boot")
        wait_for(3)
        assert waits()[:3] == [1000, 2000, 4000], waits()
        cloud.send("ack", {"upto": cloud.tracker.committed})
        t.wait_display("out 0", timeout=10)
        n = len(waits())
        t.press("A9999#")  # a failed login: a new event, never acked
        wait_for(n + 1)
        assert waits()[n:n + 1] == [1000], waits()
        assert_healthy(t)


def test_ack_and_time_commands_with_bad_values_are_counted_and_change_nothing(
        tmp_path, broker, topic_prefix):
    with session(tmp_path, broker.port, topic_prefix + "v", ack=False) as (t, cloud):
        t.wait_display("online", timeout=15)
        cloud.wait_event("boot")
        for upto in ("99", None, 2.0, True):
            cloud.send("ack", {"upto": upto})
        for now in ("1800000000", None, 1.8e9):
            cloud.send("time", {"now": now})
        cloud.send("unlock", {})  # after them: they were all handled
        t.wait_log("cmd unlock applied")
        assert sum("cmd ack: bad data" in x for x in t.logs) == 4, t.logs[-10:]
        assert sum("cmd time: bad data" in x for x in t.logs) == 3, t.logs[-10:]
        t.wait_display("out ")
        assert "out 0" not in " ".join(t.display)  # nothing acked: the events still wait
        t.press("A9999#")  # a new event: the clock is still unset
        assert cloud.wait_event("login")["ts"] == 0
        assert_healthy(t)
