"""The flash outbox under power loss: SIGKILL at every write step, and a cut at every byte.

Runs the real firmware/outbox.py under the MicroPython unix port (128 KiB heap).
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess

import pytest

from .conftest import REPO, run_micropython, tool

MP = REPO / "tests" / "mp"
RECORDS = 14


def crash_at(path, step: int, cut: int) -> tuple[list[str], bool]:
    """Run the writer until write step `step`, then SIGKILL it. Returns (stdout lines, killed)."""
    proc = subprocess.Popen([tool("micropython"), "-X", "heapsize=128k", str(MP / "fw_outbox_crash.py"),
                             str(REPO), str(path), str(RECORDS), str(step), str(cut)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = []
    killed = False
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line.strip())
            if line.startswith("DYING"):
                proc.send_signal(signal.SIGKILL)
                killed = True
                break
    finally:
        proc.wait(timeout=30)
        if proc.poll() is None:
            proc.kill()
    return lines, killed


def check(path, more: int = 3) -> dict:
    out = run_micropython(MP / "fw_outbox_check.py", str(REPO), str(path), str(more), timeout=30)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def total_steps(tmp_path) -> int:
    lines, killed = crash_at(tmp_path / "count", 10**6, 0)
    assert not killed and lines[-1].startswith("DONE"), lines
    return int(lines[-1].split()[1])


def test_sigkill_at_every_write_step(tmp_path):
    steps = total_steps(tmp_path)
    assert steps > RECORDS  # creates, writes and removes
    for step in range(1, steps + 1):
        for cut in (0, 1, 8, 40):
            path = tmp_path / f"s{step}c{cut}"
            lines, killed = crash_at(path, step, cut)
            assert killed, lines
            written = [int(x.split()[1]) for x in lines if x.startswith("W ")]
            acks = [int(x.split()[1]) for x in lines if x.startswith("A ")]
            last = written[-1] if written else 0
            got = check(path)
            assert got["ok"], (step, cut, got)
            # A torn write never surfaces as a record: no seq beyond what completed.
            assert got["seq"] == last, (step, cut, got, last)
            # Nothing the cloud had not acknowledged was dropped.
            if last:
                assert got["first"] <= (acks[-1] if acks else 0) + 1, (step, cut, got, acks)
            assert got["after"] == last + 3
            shutil.rmtree(path, ignore_errors=True)


def test_power_cut_at_every_byte_of_the_newest_segment(tmp_path):
    out = run_micropython(MP / "fw_outbox_truncate.py", str(REPO), str(tmp_path), "30", timeout=60)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert lines[-1].endswith(", 0 failed"), "\n".join(lines[-10:])
    assert int(lines[-1].split()[1]) > 500  # really many offsets


OUTBOX_LIMITS = r"""
import sys
sys.path.insert(0, "{repo}/firmware"); sys.path.insert(0, "{repo}")
import outbox
ob = outbox.Outbox("{path}", "t1", limit=4096, seg_bytes=1024)
sale = {{"ref": "r1", "items": [{{"sku": "A1", "qty": 2, "price": 250}}],
        "payment": {{"method": "cash", "amount": 500, "currency": "EUR"}}}}
n = 0
while True:
    try:
        ob.append("sale", sale, 1700000000)
        n += 1
    except outbox.OutboxFull as e:
        print("FULL", n, ob.used(), e.msg)
        break
per = ob.used() // n
hb = 0
try:
    ob.append("heartbeat", {{"uptime": 1}}, 0)
except outbox.OutboxFull:
    hb = ob.dropped
ob.append("alarm", {{"reason": "login", "level": 1, "on": True}}, 0)
print("BYTES", per, "HB_DROPPED", hb, "SEQ", ob.seq)
ob.ack(ob.seq - 3)
print("AFTER_ACK", ob.used(), ob.acked)
ob.append("sale", sale, 0)
ob2 = outbox.Outbox("{path}", "t1", limit=4096, seg_bytes=1024)
print("REOPEN", ob2.seq, ob2.acked, [s for s, _ in ob2.read_from(0)][:1])
"""


def test_full_outbox_refuses_money_drops_heartbeats_and_ack_frees_space(tmp_path):
    script = tmp_path / "limits.py"
    script.write_text(OUTBOX_LIMITS.format(repo=REPO, path=tmp_path / "ob"))
    out = run_micropython(script, timeout=30)
    assert out.returncode == 0, out.stderr
    lines = dict((ln.split(" ", 1)[0], ln.split()[1:]) for ln in out.stdout.splitlines())
    n = int(lines["FULL"][0])
    assert n > 5 and "OUTBOX FULL" in " ".join(lines["FULL"])
    assert int(lines["FULL"][1]) <= 4096 - 4096 // 8
    per_event = int(lines["BYTES"][0])
    print(f"outbox bytes per sale event: {per_event}")
    assert per_event < 300
    assert lines["BYTES"][2] == "1"  # heartbeat dropped when money is already refused
    seq = int(lines["BYTES"][4])
    assert seq == n + 1  # the alarm still fits in the reserve; nothing skipped
    assert int(lines["AFTER_ACK"][0]) < int(lines["FULL"][1])  # whole segments deleted
    # After a reboot: seq continues; acked derives from the oldest record kept.
    assert int(lines["REOPEN"][0]) == seq + 1
    assert int(lines["REOPEN"][1]) <= seq - 3


@pytest.mark.parametrize("garbage", [b"\x00" * 50, b"\xa5\xff\xff\x00\x00\x00\x00", b"\xa5\x00\x05junk!"])
def test_garbage_tail_is_ignored_and_not_appended_after(tmp_path, garbage):
    path = tmp_path / "ob"
    assert check(path, more=2)["after"] == 2
    seg = sorted(path.iterdir())[-1]
    with open(seg, "ab") as f:
        f.write(garbage)
    got = check(path, more=2)
    assert got["ok"] and got["seq"] == 2 and got["after"] == 4, got
