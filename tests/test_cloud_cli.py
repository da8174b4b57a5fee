"""`fingerpos migrate`, `user create`, `serve`: real processes, one-line errors, exit codes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request

import pytest
from fingerpos.tools.mosquitto import free_port

# Not marked `cloud`: these run real processes on SQLite files, so the PostgreSQL pass of
# ./run test would only repeat them.
FP = [sys.executable, "-m", "fingerpos.tools.cli"]


def run(*args: str, data_dir, stdin: str = "", timeout: float = 60) -> subprocess.CompletedProcess:
    env = {**os.environ, "FINGERPOS_DATA": str(data_dir)}
    return subprocess.run([*FP, *args], input=stdin, capture_output=True, text=True,
                          timeout=timeout, env=env)


def test_migrate_then_create_users(tmp_path):
    r = run("serve", "--port", "0", data_dir=tmp_path)
    assert r.returncode == 1 and "fingerpos migrate" in r.stderr
    assert r.stderr.count("\n") == 1
    r = run("migrate", data_dir=tmp_path)
    assert r.returncode == 0 and "up to date" in r.stdout
    assert (tmp_path / "fingerpos.sqlite3").exists()
    assert run("migrate", data_dir=tmp_path).stdout.startswith("0 migration(s)")
    r = run("user", "create", "--email", "a@example.com", "--role", "admin", "--password-stdin",
            "--token", data_dir=tmp_path, stdin="longpassword\n")
    assert r.returncode == 0 and r.stdout.startswith("fpt_") and len(r.stdout.strip()) > 40
    r = run("user", "create", "--email", "a@example.com", "--role", "admin", "--token",
            data_dir=tmp_path)
    assert r.returncode == 1 and "exists" in r.stderr
    r = run("user", "create", "--email", "s@example.com", "--role", "seller", "--token",
            data_dir=tmp_path)
    assert r.returncode == 1 and "needs a shop" in r.stderr
    r = run("user", "create", "--email", "x@example.com", "--role", "king", data_dir=tmp_path)
    assert r.returncode == 2


@pytest.mark.parametrize("args, words", [
    (["--db", "mysql://x/y"], "--db URL"),
    (["--db", "postgres://u@127.0.0.1:1/x"], "cannot reach the database"),
    (["--mqtt", "http://x"], "--mqtt URL"),
    (["--port", "99999"], "port"),
])
def test_serve_startup_errors_are_one_line(tmp_path, args, words):
    r = run("serve", *args, data_dir=tmp_path)
    assert r.returncode == 1, r.stderr
    assert words in r.stderr and r.stderr.count("\n") == 1, r.stderr


def test_serve_with_an_unreachable_broker_says_so(tmp_path):
    assert run("migrate", data_dir=tmp_path).returncode == 0
    r = run("serve", "--port", str(free_port()), "--mqtt", f"mqtt://127.0.0.1:{free_port()}",
            data_dir=tmp_path)
    assert r.returncode == 1 and "cannot reach the MQTT broker" in r.stderr, r.stderr
    assert r.stderr.count("\n") == 1


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


# SIGINT as from a terminal's Ctrl-C; SIGINT to a process started with it ignored, as bash
# starts a background job of a script (`nohup fingerpos serve &`: it never stopped before);
# SIGTERM as systemd and `docker stop` send it.
@pytest.mark.parametrize(("sig", "ignored", "code"), [
    (signal.SIGINT, False, 130), (signal.SIGINT, True, 130), (signal.SIGTERM, False, 143)])
def test_serve_runs_and_stops_cleanly(tmp_path, broker, sig, ignored, code):
    assert run("migrate", data_dir=tmp_path).returncode == 0
    port = free_port()
    env = {**os.environ, "FINGERPOS_DATA": str(tmp_path), "PYTHONFAULTHANDLER": "1"}
    proc = subprocess.Popen([*FP, "serve", "--port", str(port), "--mqtt", broker.url], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=_ignore_sigint if ignored else None)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                    assert r.status == 200
                    break
            except OSError:
                assert proc.poll() is None, proc.stderr.read()
                assert time.monotonic() < deadline, "serve did not answer in 30 s"
                time.sleep(0.2)
        proc.send_signal(sig)
        try:
            _, err = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGABRT)  # PYTHONFAULTHANDLER: every thread's stack
            _, err = proc.communicate(timeout=10)
            raise AssertionError(f"serve did not stop within 20 s of {sig!r}:\n{err[-6000:]}") from None
        assert proc.returncode == code, err[-3000:]
        assert "shutdown not finished" not in err, err[-8000:]  # names the part that hung
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
