"""The whole firmware (flashed bundle, unix port): no or bad config shows NOT PROVISIONED and
idles; a full outbox refuses a sale at the keypad and loses nothing."""

from __future__ import annotations

import time

import pytest
from fingerpos.tools.mosquitto import Mosquitto

from tests.support.firmware import Cloud, assert_healthy, make_config, mpy_bundle, provision
from tests.support.terminal import Terminal


@pytest.mark.parametrize("config", [None, "{not json", '{"v": 1, "id": "bad id!"}'])
def test_not_provisioned_shows_it_and_idles(tmp_path, config):
    t = Terminal(tmp_path, None, firmware_dir=mpy_bundle())
    (tmp_path / "device").mkdir(parents=True)
    if config is not None:
        (tmp_path / "device" / "config.json").write_text(config)
    with t:
        t.wait_display("NOT PROVISIONED", timeout=15)
        time.sleep(1.5)
        assert t.proc is not None and t.proc.poll() is None  # idles: no crash, no reset loop
        assert "Traceback" not in t.output()


def test_full_outbox_refuses_the_sale_at_the_keypad(tmp_path, topic_prefix):
    dev = topic_prefix + "f"
    b = Mosquitto().start()
    cloud = Cloud(b.port, dev, ack=False)  # nothing is ever acknowledged
    t = Terminal(tmp_path, make_config(dev, b.port, outbox_bytes=4096, heartbeat_s=600),
                 firmware_dir=mpy_bundle())
    t.start()
    try:
        provision(t, cloud)
        t.press("A1111#")
        t.wait_log("login pin ok")
        refused = False
        for _ in range(40):
            t.press("B101#1##250#", gap=0)
            deadline = time.monotonic() + 10
            while not any("SALE #" in x or "OUTBOX FULL" in x for x in t.display):
                assert time.monotonic() < deadline, t.display
                time.sleep(0.02)
            if any("OUTBOX FULL: NO SALE" in x for x in t.display):
                refused = True
                break
            t.press("B*")  # clear the confirmation before the next sale
            time.sleep(0.05)
        assert refused
        # Nothing was lost: every sale keyed before the refusal reached the cloud.
        stored = sum(e["typ"] == "sale" for e in cloud.events.values())
        seq_top = max(cloud.events)
        cloud.wait(lambda: max(cloud.events) >= seq_top, 5, "all events")
        assert 5 < stored < 40
        assert_healthy(t)
    finally:
        t.stop()
        cloud.close()
        b.stop()
