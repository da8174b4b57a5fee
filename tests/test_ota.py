"""The power-safe version switch (firmware/ota.py, issue #18 item 2) under the MicroPython
unix port, with the power cut before every filesystem mutation in turn: of the install,
of the recovery at the next boot, and of a rollback. The reference is what a power cut
does to LittleFS (a rename commits whole or not at all): after any cut and the boots
that follow, exactly one whole version is in app/, the terminal's own state files are
untouched, and a version that never commits goes back to the one before after
MAX_TRIAL_BOOTS boots."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import run_micropython
from tests.support.firmware import mpy_bundle

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "tests" / "mp" / "fw_ota.py"

V1 = {"main.mpy": b"v1 main" * 50, "sale.mpy": b"v1 sale", "hal/pico.mpy": b"v1 hal"}
V2 = {"main.mpy": b"v2 main" * 70, "trade.mpy": b"v2 trade", "hal/pico.mpy": b"v2 hal" * 3,
      "hal/extra/deep.mpy": b"v2 deep"}
TERMINAL_STATE = {"outbox.bin": b"\x01\x02" * 300, "seq.json": b'{"seq": 41}',
                  "roster.json": "{\"s1\": \"王芳\"}".encode()}


def tree(d: Path) -> dict[str, bytes] | None:
    if not d.is_dir():
        return None
    return {p.relative_to(d).as_posix(): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


def write(d: Path, files: dict[str, bytes]) -> None:
    for name, data in files.items():
        (d / name).parent.mkdir(parents=True, exist_ok=True)
        (d / name).write_bytes(data)


def ota(root: Path, action: str, cut: int = 0) -> tuple[str, int, dict]:
    p = run_micropython(SCRIPT, str(mpy_bundle()), str(root), action, str(cut), timeout=30)
    out = p.stdout.strip()
    if out.startswith("CUT"):
        assert p.returncode == 3, p.stderr
        return "cut", int(out.split()[1]), {}
    assert p.returncode == 0 and out.startswith("DONE"), (p.stdout, p.stderr)
    _, ops, st = out.split(" ", 2)
    return "done", int(ops), json.loads(st)


def staged(tmp: Path) -> Path:
    """A terminal running v1 with v2 downloaded and checked in app.new."""
    root = tmp / "fs"
    if root.exists():
        shutil.rmtree(root)
    root.mkdir()
    write(root / "app", V1)
    write(root, TERMINAL_STATE)
    assert ota(root, "begin")[0] == "done"
    write(root / "app.new", V2)
    return root


def fresh_copy(src: Path, dest: Path) -> Path:
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(src, dest)
    return dest


def assert_nothing_lost(root: Path, keep: tuple[dict[str, bytes], ...] = (V1, V2)) -> None:
    """Right after a cut app/ may be missing (between the two renames), but neither version
    is damaged: each is whole in one of the directories, for the next boot to finish."""
    trees = [tree(root / d) for d in ("app", "app.new", "app.old", "app.bad")]
    assert all(v in trees for v in keep), [sorted(t) if t else t for t in trees]
    for name, data in TERMINAL_STATE.items():
        assert (root / name).read_bytes() == data, name


def assert_whole(root: Path) -> dict[str, bytes]:
    app = tree(root / "app")
    assert app in (V1, V2), f"app/ is neither version: {sorted(app or {})}"
    for name, data in TERMINAL_STATE.items():
        assert (root / name).read_bytes() == data, name
    return app


def test_install_then_boot_then_commit_runs_v2(tmp_path):
    root = staged(tmp_path)
    assert ota(root, "install")[2]["state"] == "trial"
    _, _, st = ota(root, "boot")
    assert st["state"] == "trial" and st["boots"] == 1
    assert assert_whole(root) == V2 and tree(root / "app.old") == V1
    assert ota(root, "commit")[2] == {"state": "idle", "version": "2"}
    assert ota(root, "boot")[2]["state"] == "idle"
    assert assert_whole(root) == V2
    ota(root, "begin")                       # the next update clears the kept version
    assert tree(root / "app.old") is None


def test_a_power_cut_before_any_step_of_the_install_or_the_recovery_leaves_a_whole_version(
        tmp_path):
    _, n_install, _ = ota(staged(tmp_path), "install")
    assert n_install >= 4
    for cut in range(1, n_install + 1):
        root = staged(tmp_path)
        assert ota(root, "install", cut)[0] == "cut"
        assert_nothing_lost(root)
        # the next boot may be cut too, at any of its steps, then the one after runs through
        n_boot = ota(fresh_copy(root, tmp_path / "count"), "boot")[1]
        for cut2 in range(1, n_boot + 1):
            r2 = fresh_copy(root, tmp_path / "again")
            assert ota(r2, "boot", cut2)[0] == "cut"
            assert_nothing_lost(r2)
            _, _, st = ota(r2, "boot")
            app = assert_whole(r2)
            assert (st["state"], app) in (("trial", V2), ("idle", V1)), (cut, cut2, st)
        st = ota(root, "boot")[2]
        app = assert_whole(root)
        # before "pending" was written nothing happened: v1 runs, v2 is still staged
        assert (st["state"], app) in (("trial", V2), ("idle", V1)), (cut, st)
        if st["state"] == "idle":
            assert tree(root / "app.new") == V2


@pytest.mark.parametrize("crash_boots", [3])
def test_a_version_that_never_commits_rolls_back_after_two_boots_even_with_cuts(tmp_path,
                                                                            crash_boots):
    """A v2 that crashes on import, or boots but never reaches the broker, never calls
    commit(): each start counts a trial boot; the third start restores v1."""
    root = staged(tmp_path)
    ota(root, "install")
    assert ota(root, "boot")[2]["boots"] == 1        # 1st boot of v2: crashes
    assert ota(root, "boot")[2]["boots"] == 2        # 2nd: crashes again
    snapshot = tmp_path / "before-rollback"
    shutil.copytree(root, snapshot)
    _, n, st = ota(root, "boot")                     # 3rd start: back to v1
    assert st["state"] == "rolled_back" and "2 boots" in st["reason"]
    assert assert_whole(root) == V1 and tree(root / "app.bad") is None
    for cut in range(1, n + 1):                      # the rollback itself cut at each step
        r = fresh_copy(snapshot, tmp_path / "cut")
        assert ota(r, "boot", cut)[0] == "cut"
        assert_nothing_lost(r, keep=(V1,))   # v2 is being discarded: only v1 must survive
        st = ota(r, "boot")[2]
        # a cut before the boot counter was written repeats the 2nd boot: still on trial
        assert (st["state"], tree(r / "app")) in (("rolled_back", V1), ("trial", V2)), (cut, st)
        if st["state"] == "trial":
            st = ota(r, "boot")[2]
        assert st["state"] == "rolled_back" and assert_whole(r) == V1
    assert ota(root, "commit")[0] == "done" and ota(root, "boot")[2]["state"] == "rolled_back"
    assert ota(root, "reported")[2] == {"state": "idle", "version": "1"}


def test_install_refuses_to_start_over_an_unfinished_update(tmp_path):
    root = staged(tmp_path)
    ota(root, "install")
    p = run_micropython(SCRIPT, str(mpy_bundle()), str(root), "begin", timeout=30)
    assert "update in progress: trial" in p.stdout + p.stderr
    assert assert_whole(root) == V2 and tree(root / "app.old") == V1   # nothing removed


def test_a_corrupt_state_file_is_read_as_idle_and_removes_nothing(tmp_path):
    root = staged(tmp_path)
    (root / "ota.json").write_bytes(b"\xff\x00{not json")
    assert ota(root, "boot")[2] == {"state": "idle"}
    assert assert_whole(root) == V1 and tree(root / "app.new") == V2


def test_the_first_update_rolls_back_to_the_factory_copy_at_the_root_even_with_cuts(tmp_path):
    """No app/ yet: the board runs the flashed files at the root. A first over-the-air
    version that never commits is removed, and the root's files run again."""
    root = staged(tmp_path)
    shutil.rmtree(root / "app")
    ota(root, "install")
    assert tree(root / "app") == V2 and tree(root / "app.old") is None
    ota(root, "boot"), ota(root, "boot")
    snapshot = fresh_copy(root, tmp_path / "snap")
    _, n, st = ota(root, "boot")
    assert st["state"] == "rolled_back" and tree(root / "app") is None
    for cut in range(1, n + 1):
        r = fresh_copy(snapshot, tmp_path / "cut")
        assert ota(r, "boot", cut)[0] == "cut"
        st = ota(r, "boot")[2]
        if st["state"] == "trial":           # cut before the boot counter was written
            st = ota(r, "boot")[2]
        assert st["state"] == "rolled_back" and tree(r / "app") is None, cut
        assert tree(r / "app.bad") is None
        for name, data in TERMINAL_STATE.items():
            assert (r / name).read_bytes() == data
