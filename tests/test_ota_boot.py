"""The real firmware's boot with an over-the-air version on trial (issue #18 item 2): a v2
that crashes on import resets, its boots are counted by main.py through ota.py, and the
third start rolls it back, so the factory version at the root comes online again
(under the unix port, against Mosquitto, with the flashed bundle)."""

from __future__ import annotations

import json
import shutil

from fingerpos.tools.device import bundle as bundle_mod
from fingerpos.tools.fleet.terminal import Terminal

from tests.support.firmware import Cloud, make_config, mpy_bundle


def test_a_version_that_crashes_on_import_is_rolled_back_after_two_boots(tmp_path, broker,
                                                                        topic_prefix):
    fw = tmp_path / "flash"
    shutil.copytree(mpy_bundle(), fw)
    app = fw / "app"
    shutil.copytree(mpy_bundle(), app, ignore=shutil.ignore_patterns("config.json",
                                                                    "manifest.json"))
    crash = tmp_path / "app.py"
    crash.write_text("raise RuntimeError('v2 crashes on import')\n")
    bundle_mod.compile_one(bundle_mod.find_mpy_cross(), crash, "app.mpy", app / "app.mpy")
    (fw / "ota.json").write_text(json.dumps({"state": "trial", "version": "2", "prev": "1",
                                             "boots": 0, "old": False}))
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
