"""`fingerpos demo` and `fingerpos device sim` as a user runs them: subprocesses, Ctrl-C
(SIGINT), exit code 0 and no process of theirs left behind."""

from __future__ import annotations

import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import psutil
from fingerpos.tools.device import terminal_config as tc
from fingerpos.tools.mosquitto import free_port

FINGERPOS = str(Path(sys.executable).parent / "fingerpos")


def _start(*argv: str, log: Path) -> subprocess.Popen:
    # its own session, so the SIGINT below reaches it alone, as Ctrl-C reaches a foreground job
    return subprocess.Popen([FINGERPOS, *argv], stdout=open(log, "wb"), stderr=subprocess.STDOUT,
                            start_new_session=True)


def _descendants(proc: subprocess.Popen, seen: dict[int, str]) -> None:
    try:
        for child in psutil.Process(proc.pid).children(recursive=True):
            try:
                seen[child.pid] = " ".join(child.cmdline())
            except psutil.Error:
                pass
    except psutil.NoSuchProcess:
        pass


def _leftovers(seen: dict[int, str], marker: str) -> list[str]:
    """Processes still alive that were children of the command, or that run in its dirs."""
    left = [f"{pid} {cmd}" for pid, cmd in seen.items()
            if psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE]
    for p in psutil.process_iter(["pid", "cmdline"]):
        cmd = " ".join(p.info["cmdline"] or [])
        if marker in cmd and p.info["pid"] not in seen:
            left.append(f"{p.info['pid']} {cmd}")
    return left


def _terminals(seen: dict[int, str]) -> set[str]:
    """Terminal ids of the firmware processes seen (a console-script wrapper, the binary,
    and a new pair after each simulated reboot all count once)."""
    return {m.group(1) for cmd in seen.values() if "micropython" in cmd
            for m in [re.search(r"/(\w+)/sim/device$", cmd)] if m}


def _interrupt(proc: subprocess.Popen, timeout: float = 40) -> int:
    proc.send_signal(signal.SIGINT)
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise


def _orders(db: Path) -> dict[str, int]:
    if not db.exists():
        return {}
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as c:
        try:
            return dict(c.execute("select source, count(*) from orders group by source").fetchall())
        except sqlite3.OperationalError:  # not migrated yet, or busy
            return {}


def test_demo_runs_orders_flow_and_ctrl_c_leaves_nothing(tmp_path):
    data, log = tmp_path / "demo-data", tmp_path / "demo.log"
    proc = _start("demo", "--port", str(free_port()), "--data-dir", str(data),
                  "--terminals", "3", "--rate", "20", "--buyer-every", "3", log=log)
    seen: dict[int, str] = {}
    counts: dict[str, int] = {}
    try:
        # 30 s, and longer (bounded) on a slow machine until both kinds of order showed up
        start = time.monotonic()
        while proc.poll() is None and time.monotonic() - start < 75:
            _descendants(proc, seen)
            counts = _orders(data / "fingerpos.sqlite3")
            if time.monotonic() - start > 30 and counts.get("terminal") and counts.get("web"):
                break
            time.sleep(0.5)
        assert proc.poll() is None, "the demo exited by itself:\n" + log.read_text()
        rc = _interrupt(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
    out = log.read_text()
    assert rc == 0, out
    assert counts.get("terminal", 0) >= 1 and counts.get("web", 0) >= 1, (counts, out)
    assert _terminals(seen) == {"t1", "t2", "t3"}, seen
    assert _leftovers(seen, str(data)) == []
    lines = out.splitlines()
    assert lines[0] == f"fingerpos demo: data in {data}"
    assert any("buyer@demo.fingerpos.test" in x for x in lines)
    assert any(x.startswith("  open  http://127.0.0.1:") for x in lines)
    assert lines[-1] == "stopped"
    assert "Traceback" not in out
    # the second shop, as in Shanghai: yuan, its own zone, VAT in the prices (issue #17)
    assert "shop sh1 (静安茶铺 Jing'an Tea Shop): 4 products, CNY, Asia/Shanghai" in lines
    with sqlite3.connect(f"file:{data / 'fingerpos.sqlite3'}?mode=ro", uri=True) as c:
        assert c.execute("select timezone, tax_id from shops where id = 'sh1'").fetchone() == (
            "Asia/Shanghai", "91310106MA1FY0XX0X")
        assert c.execute("select currency, tax_rate from products where shop_id = 'sh1'"
                         " and sku = '203'").fetchone() == ("CNY", 1300)


def test_demo_refuses_a_used_data_dir(tmp_path):
    (tmp_path / "old.txt").write_text("x")
    res = subprocess.run([FINGERPOS, "demo", "--data-dir", str(tmp_path)], capture_output=True,
                         text=True, timeout=60)
    assert res.returncode == 1
    assert res.stderr.startswith("error: ") and "not empty" in res.stderr
    assert res.stderr.count("\n") == 1


def _device(devices: Path, dev: str, port: int) -> None:
    (devices / dev).mkdir(parents=True)
    tc.write_new(devices / dev / tc.CONFIG_NAME,
                 tc.build(dev, "shop1", bytes([len(dev)]) * 32, tc.check_wifi(None, None),
                          tc.parse_broker(f"mqtt://127.0.0.1:{port}")))


def _sales(out: str) -> int:
    """The latest fleet total from the status lines ("[  5s] sales 3, logins 4 ...")."""
    found = re.findall(r"\] sales (\d+),", out)
    return int(found[-1]) if found else 0


def test_device_sim_sells_on_a_bare_broker_and_ctrl_c_leaves_nothing(tmp_path, broker):
    devices, log = tmp_path / "devices", tmp_path / "sim.log"
    for dev in ("simA", "simB"):
        _device(devices, dev, broker.port)
    proc = _start("device", "sim", "--count", "2", "--devices-dir", str(devices),
                  "--broker", broker.url, "--rate", "30", log=log)
    seen: dict[int, str] = {}
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            _descendants(proc, seen)
            if _sales(log.read_text()) >= 2:
                break
            time.sleep(0.5)
        rc = _interrupt(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
    out = log.read_text()
    assert rc == 0, out
    assert _sales(out) >= 2, out  # sales confirmed on the terminals' displays
    assert _terminals(seen) == {"simA", "simB"}, seen
    assert _leftovers(seen, str(devices)) == []
    assert out.splitlines()[-1] == "stopped"


def test_device_sim_bad_input_is_one_line(tmp_path):
    for argv, words in ((["--count", "0"], "--count"),
                        (["--count", "1", "--devices-dir", str(tmp_path / "none")], "not a directory"),
                        (["--count", "1", "--devices-dir", str(tmp_path), "--broker", "http://x"],
                         "mqtt"),
                        (["--count", "1", "--staff", "seller:12"], "USER_ID:PIN")):
        res = subprocess.run([FINGERPOS, "device", "sim", *argv], capture_output=True, text=True,
                             timeout=60)
        assert res.returncode == 1, res
        assert res.stderr.startswith("error: ") and words in res.stderr, res.stderr


def test_demo_ctrl_c_during_start_up_leaves_nothing(tmp_path):
    """Ctrl-C while terminals are provisioned and booting: start-up is cancelled, all stops."""
    data, log = tmp_path / "demo-data", tmp_path / "demo.log"
    proc = _start("demo", "--port", str(free_port()), "--data-dir", str(data), log=log)
    seen: dict[int, str] = {}
    try:
        deadline = time.monotonic() + 60
        while proc.poll() is None and time.monotonic() < deadline:
            _descendants(proc, seen)
            if _terminals(seen):  # the first firmware started: the demo is mid start-up
                break
            time.sleep(0.1)
        rc = _interrupt(proc, timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    out = log.read_text()
    assert rc == 0, out
    assert _terminals(seen), out
    assert "sellers are selling" not in out
    assert _leftovers(seen, str(data)) == []
    assert out.splitlines()[-1] == "stopped"
