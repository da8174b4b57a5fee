"""`fingerpos device bundle`: the exact file set, compiled with mpy-cross, against the flash size."""

from __future__ import annotations

import hashlib
import json
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
from fingerpos.tools.cli import main
from fingerpos.tools.device import bundle as bundle_mod
from fingerpos.tools.device import driver_trim

from .conftest import REPO, run_micropython, tool

KEY = "ab" * 32


def write_config(path: Path, **settings: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({
        "v": 1, "id": "t1", "shop": "shop1", "key": KEY,
        "wifi": {"ssid": "", "password": ""},
        "broker": {"host": "127.0.0.1", "port": 1883, "tls": False}, "settings": settings}))
    return path


@pytest.fixture
def fixture_src(tmp_path) -> Path:
    """A small source tree shaped like the repo: firmware/ with sub-packages, protocol/."""
    src = tmp_path / "src"
    files = {
        "firmware/main.py": "import app.core\napp.core.run()\n",
        "firmware/boot.py": "# runs first at boot\n",
        "firmware/app/__init__.py": "",
        "firmware/app/core.py": "def run():\n    print('core ran')\n",
        "firmware/hal/__init__.py": "X = 1\n",
        "firmware/hal/pico.py": "def out(name, v):\n    pass\n",
        "firmware/README.md": "not code: stays out of the bundle\n",
        "firmware/app/__pycache__/core.cpython-311.pyc": "junk",
    }
    for rel, text in files.items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_text(text)
    shutil.copytree(REPO / "protocol", src / "protocol")
    return src


def protocol_entries() -> list[str]:
    return sorted("protocol/" + p.relative_to(REPO / "protocol").as_posix()[:-3] + ".mpy"
                  for p in (REPO / "protocol").rglob("*.py")
                  if p.relative_to(REPO / "protocol").as_posix() not in bundle_mod.CLOUD_ONLY)


def test_fixture_tree_bundle_has_the_exact_file_set(fixture_src, tmp_path):
    config = write_config(tmp_path / "devices" / "t1" / "config.json")
    out = tmp_path / "bundle"
    b = bundle_mod.build(fixture_src, config, out)
    want = sorted(["main.py", "boot.py", "app/__init__.mpy", "app/core.mpy", "hal/__init__.mpy",
                   "hal/pico.mpy", "adafruit_fingerprint.mpy", "config.json",
                   *protocol_entries()])
    assert sorted(f.path for f in b.files) == want
    on_disk = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert on_disk == sorted([*want, "manifest.json"])
    assert (out / "main.py").read_bytes() == (fixture_src / "firmware/main.py").read_bytes()
    for f in b.files:
        data = (out / f.path).read_bytes()
        assert hashlib.sha256(data).hexdigest() == f.sha256 and len(data) == f.size
        if f.path.endswith(".mpy"):
            assert data[:2] == b"M\x06", f.path  # mpy v6, what MicroPython 1.22+ loads
    assert stat.S_IMODE((out / "config.json").stat().st_mode) == 0o600
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["device"] == "t1"
    assert [e["path"] for e in manifest["files"]] == [f.path for f in b.files]
    assert bundle_mod.load_manifest(out) == b.files


def test_the_compiled_bundle_runs_on_micropython(fixture_src, tmp_path):
    """The .mpy files load on the unix port: main.py imports compiled app/core.mpy."""
    out = tmp_path / "bundle"
    bundle_mod.build(fixture_src, write_config(tmp_path / "c" / "config.json"), out)
    proc = run_micropython(out / "main.py", cwd=out, timeout=30)
    assert proc.returncode == 0 and proc.stdout.strip() == "core ran", proc.stderr


def test_repo_firmware_bundle(tmp_path):
    """Whatever the repo's firmware/ holds today is bundled; its protocol .mpy passes the vectors."""
    src = tmp_path / "src"
    if (REPO / "firmware").is_dir():
        shutil.copytree(REPO / "firmware", src / "firmware",
                        ignore=shutil.ignore_patterns("__pycache__"))
    (src / "firmware").mkdir(parents=True, exist_ok=True)
    shutil.copytree(REPO / "protocol", src / "protocol")
    if not (src / "firmware/main.py").exists():  # before the app lands: a boot script of our own
        (src / "firmware/main.py").write_text("print('main')\n")
    out = tmp_path / "bundle"
    b = bundle_mod.build(src, write_config(tmp_path / "c" / "config.json"), out)
    paths = {f.path for f in b.files}
    for py in (src / "firmware").rglob("*.py"):
        rel = py.relative_to(src / "firmware").as_posix()
        if rel in bundle_mod.HOST_ONLY:
            continue
        assert (rel if rel in ("main.py", "boot.py") else rel[:-3] + ".mpy") in paths
    assert set(protocol_entries()) <= paths
    assert b.fits, b.needed_bytes
    # The compiled protocol runs the shipped vectors byte for byte under MicroPython.
    shutil.copytree(REPO / "protocol" / "vectors", out / "protocol" / "vectors")
    assert not list((out / "protocol").glob("*.py"))
    proc = run_micropython(REPO / "tests" / "mp" / "run_vectors.py", str(out), timeout=60)
    assert proc.returncode == 0 and " 0 failed" in proc.stdout, proc.stdout + proc.stderr
    # The driver imports on MicroPython with a busio module present (the firmware's shim).
    if "busio.mpy" not in paths:
        (out / "busio.py").write_text("class UART:\n    pass\n")
    (out / "check_driver.py").write_text(
        "import adafruit_fingerprint\nprint(adafruit_fingerprint.Adafruit_Fingerprint.__name__)\n")
    proc = run_micropython(out / "check_driver.py", cwd=out, timeout=30)
    assert proc.stdout.strip() == "Adafruit_Fingerprint", proc.stderr


def test_cli_prints_sizes_and_total(fixture_src, tmp_path, capsys):
    write_config(tmp_path / "devices" / "t1" / "config.json")
    rc = main(["device", "bundle", "--id", "t1", "--devices", str(tmp_path / "devices"),
               "--src", str(fixture_src)])
    out = capsys.readouterr().out
    assert rc == 0
    assert (tmp_path / "devices" / "t1" / "bundle" / "manifest.json").exists()
    size = (tmp_path / "devices/t1/bundle/main.py").stat().st_size
    assert f"  main.py {' ' * 24} {size:>7} B" in out
    assert "KiB outbox reserve" in out and "of 848 KiB (Pico W filesystem)" in out


def test_over_capacity_fails_clearly(fixture_src, tmp_path, capsys):
    config = write_config(tmp_path / "t1" / "config.json", outbox_bytes=900 * 1024)
    rc = main(["device", "bundle", "--config", str(config), "--src", str(fixture_src),
               "--out", str(tmp_path / "b")])
    err = capsys.readouterr().err
    assert rc == 1
    assert "but a Pico W has 848 KiB" in err


def test_capacity_counts_whole_blocks(fixture_src, tmp_path):
    b = bundle_mod.build(fixture_src, write_config(tmp_path / "c" / "config.json"),
                         tmp_path / "b", capacity=64 * 1024)
    assert b.blocks >= len(b.files)  # every file takes at least one 4 KiB block
    assert b.needed_bytes == b.blocks * 4096 + 65536 and not b.fits


def test_syntax_error_names_the_file_and_keeps_the_old_bundle(fixture_src, tmp_path):
    config = write_config(tmp_path / "c" / "config.json")
    out = tmp_path / "bundle"
    bundle_mod.build(fixture_src, config, out)
    before = (out / "manifest.json").read_text()
    (fixture_src / "firmware/app/core.py").write_text("def run(:\n")
    with pytest.raises(bundle_mod.BundleError, match=r"mpy-cross failed on .*core\.py"):
        bundle_mod.build(fixture_src, config, out)
    assert (out / "manifest.json").read_text() == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".bundle-")]


@pytest.mark.parametrize("problem, message", [
    ("no-main", "main.py not found"),
    ("bad-config", "not a readable JSON config"),
    ("no-config", "no such file"),
    ("short-key", "key must be 64 lowercase hex"),
    ("foreign-out", "is not a bundle"),
])
def test_bad_input_is_refused(fixture_src, tmp_path, capsys, problem, message):
    config = write_config(tmp_path / "c" / "config.json")
    out = tmp_path / "out"
    if problem == "no-main":
        (fixture_src / "firmware/main.py").unlink()
    elif problem == "bad-config":
        config.write_text("{not json")
    elif problem == "no-config":
        config.unlink()
    elif problem == "short-key":
        config.write_text(config.read_text().replace(KEY, "abcd"))
    elif problem == "foreign-out":
        out.mkdir()
        (out / "notes.txt").write_text("mine")
    rc = main(["device", "bundle", "--config", str(config), "--src", str(fixture_src),
               "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 1 and message in err, err
    if problem == "foreign-out":
        assert (out / "notes.txt").read_text() == "mine"


def test_manifest_check_catches_a_changed_file(fixture_src, tmp_path):
    out = tmp_path / "b"
    bundle_mod.build(fixture_src, write_config(tmp_path / "c" / "config.json"), out)
    (out / "app" / "core.mpy").write_bytes(b"M\x06tampered")
    with pytest.raises(bundle_mod.BundleError, match="changed since the bundle was built"):
        bundle_mod.load_manifest(out)


def test_pico_bundle_ships_only_what_the_board_runs(tmp_path):
    """Issue #13: hal/unix.mpy and the cloud-only protocol modules were on the Pico."""
    config = write_config(tmp_path / "c" / "config.json")
    pico = {f.path for f in bundle_mod.build(REPO, config, tmp_path / "pico").files}
    assert "hal/pico.mpy" in pico and "protocol/__init__.mpy" in pico
    assert not {"hal/unix.mpy", "hal/unix_tls.mpy", "hal/unix_dns.mpy"} & pico
    assert not {"protocol/chain.mpy", "protocol/subscriptions.mpy"} & pico
    unix = {f.path for f in bundle_mod.build(REPO, config, tmp_path / "unix", target="unix").files}
    assert unix - pico == {"hal/unix.mpy", "hal/unix_tls.mpy", "hal/unix_dns.mpy"}
    with pytest.raises(bundle_mod.BundleError, match="unknown bundle target"):
        bundle_mod.plan(REPO, "esp32")


def test_every_module_the_firmware_loads_per_use_is_in_the_pico_bundle(tmp_path):
    """RAM: screens and command handlers (sale, trade, shift, prompts, login, catalog, ...)
    are imported by name while in use (`__import__("shift")`), which no import statement
    shows; each such name must be a module the board gets (issue #16: shift.py)."""
    import ast

    def branches(e: ast.expr) -> set[str]:  # the names an expression can give
        if isinstance(e, ast.IfExp):
            return branches(e.body) | branches(e.orelse)
        return {e.value} if isinstance(e, ast.Constant) and isinstance(e.value, str) else set()

    names: set[str] = set()
    for py in (REPO / "firmware").glob("*.py"):
        for node in ast.walk(ast.parse(py.read_text())):
            # __import__("x") and App.on_message's `name = "prompts" if ... else ...`
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "__import__":
                what = node.args[0]
            elif isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "name":
                what = node.value
            else:
                continue
            names |= branches(what)
    assert {"sale", "trade", "shift", "prompts", "login", "catalog", "handlers"} <= names
    config = write_config(tmp_path / "c" / "config.json")
    pico = {f.path for f in bundle_mod.build(REPO, config, tmp_path / "pico").files}
    assert {n + ".mpy" for n in names} <= pico, sorted(n for n in names if n + ".mpy" not in pico)


def test_the_terminal_never_imports_a_cloud_only_protocol_module():
    """What makes leaving them out safe: no firmware file imports protocol.chain/subscriptions."""
    import ast
    names = {"protocol." + n[:-3] for n in bundle_mod.CLOUD_ONLY}
    for py in [*(REPO / "firmware").rglob("*.py"), REPO / "protocol" / "__init__.py"]:
        for node in ast.walk(ast.parse(py.read_text())):
            if isinstance(node, ast.Import):
                used = {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                mod = node.module or "protocol"  # `from . import chain` inside protocol/
                used = {mod} | {f"{mod}.{a.name}" for a in node.names}
            else:
                continue
            assert not used & names, (py, used)


def test_the_drivers_typing_only_imports_are_left_out_and_nothing_else(tmp_path):
    """Adafruit's driver (the installed package, an outside source) imports typing and
    pyserial for type checkers only; on the board that block fails and does nothing, but
    its 6 names would be interned for good. Only such a block goes; a try that does
    something, or catches more than ImportError, stays."""
    src = bundle_mod.find_driver().read_text()
    spans = driver_trim.typing_only_imports(src)
    assert len(spans) == 1, spans
    first, last = spans[0]
    removed = "".join(src.splitlines(keepends=True)[first - 1:last])
    assert "from typing import" in removed and "class " not in removed
    kept = ("try:\n    from typing import List\nexcept (ImportError, OSError):\n    pass\n"
            "try:\n    from typing import List\n    X = 1\nexcept ImportError:\n    pass\n"
            "try:\n    import os\nexcept ImportError:\n    pass\n")
    assert driver_trim.typing_only_imports(kept) == []
    text = driver_trim.driver_source(bundle_mod.find_driver(), tmp_path).read_text()
    assert "typing" not in text.split('"""', 2)[2] and "Serial" not in text.split("class ")[0]
    assert text.count("\n") == src.count("\n")  # tracebacks keep the driver's line numbers


def test_the_driver_keeps_every_method_the_firmware_can_reach(tmp_path):
    """The trimmed driver (tools/device/driver_trim.py) against the firmware's sources:
    every driver method fingerprint.py calls by name (_call("get_image")) or as an
    attribute stays, with what those call in turn; template upload/download and the
    0x1B HiSpeedSearch the R503 lacks (adafruit #20) go."""
    import ast
    import re

    src = bundle_mod.find_driver()
    firmware = REPO / "firmware"
    text = driver_trim.driver_source(src, tmp_path, firmware).read_text()
    kept = {n.name for n in ast.walk(ast.parse(text)) if isinstance(n, ast.FunctionDef)}
    called = set(re.findall(r'_call\("(\w+)"', (firmware / "fingerprint.py").read_text()))
    assert called and called <= kept, called - kept
    assert {"_send_packet", "_get_packet", "__init__", "verify_password", "read_sysparam"} <= kept
    assert not {"get_fpdata", "send_fpdata", "_get_data", "_send_data",
                "finger_fast_search"} & kept
    # a firmware that names a method only in a string keeps it (and what it calls)
    (tmp_path / "fw").mkdir()
    (tmp_path / "fw" / "x.py").write_text('f = getattr(d, "get_fpdata")\n')
    (tmp_path / "out").mkdir()
    text = driver_trim.driver_source(src, tmp_path / "out", tmp_path / "fw").read_text()
    kept = {n.name for n in ast.walk(ast.parse(text)) if isinstance(n, ast.FunctionDef)}
    assert {"get_fpdata", "_get_data", "__init__"} <= kept and "send_fpdata" not in kept


def test_the_terminals_protocol_keeps_every_check_and_code_without_the_texts(tmp_path):
    """tools/device/protocol_trim.py against protocol/__init__.py as the cloud runs it:
    every ProtocolError raise stays (same class, so the same `code` the shipped vectors
    expect; test_bundle_... runs them on the compiled copy), only its message goes; a
    ValueError or a class outside the family keeps its text. The copy is smaller on the
    MicroPython heap, measured by importing both."""
    import ast

    from fingerpos.tools.device import protocol_trim

    src = (REPO / "protocol" / "__init__.py").read_text()
    family = protocol_trim.error_classes(ast.parse(src))
    assert {"Malformed", "TooLarge", "BadSignature", "Unsigned", "WrongDevice",
            "Replayed", "ProtocolError"} <= family and "ValueError" not in family

    def raises(text: str) -> list[ast.Call]:
        return [n.exc for n in ast.walk(ast.parse(text)) if isinstance(n, ast.Raise)
                and isinstance(n.exc, ast.Call) and isinstance(n.exc.func, ast.Name)]

    text, count = protocol_trim.silenced(src)
    before, after = raises(src), raises(text)
    assert count >= 25 and [c.func.id for c in before] == [c.func.id for c in after]  # type: ignore[attr-defined]
    for c in after:
        assert bool(c.args) == (c.func.id not in family), ast.unparse(c)  # type: ignore[attr-defined]
    odd = "class Other(Exception):\n    pass\nraise Other('kept')\nraise ValueError('kept')\n"
    assert protocol_trim.silenced(odd) == (ast.unparse(ast.parse(odd)) + "\n", 0)
    # the heap: the terminal's copy against the original, each as a compiled .mpy
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "p.py").write_text(src)
    (tmp_path / "trim").mkdir()
    (tmp_path / "trim" / "p.py").write_text(text)
    cost = {}
    for d in ("full", "trim"):
        subprocess.run([tool("mpy-cross"), "-O3", str(tmp_path / d / "p.py")], check=True)
        (tmp_path / d / "p.py").unlink()
        (tmp_path / d / "m.py").write_text(
            "import gc, json, hashlib, binascii\ngc.collect()\na = gc.mem_alloc()\nimport p\n"
            "gc.collect()\nprint(gc.mem_alloc() - a)\n")
        out = run_micropython(tmp_path / d / "m.py", cwd=tmp_path / d, timeout=30)
        cost[d] = int(out.stdout.split()[-1])
    assert cost["full"] - cost["trim"] >= 1500, cost
