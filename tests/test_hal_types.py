"""The Pico HAL type-checks against the micropython-rp2-rpi-pico-w-stubs (mypy).

The stubs install their .pyi files loose into site-packages, where mypy does not
look for untyped top-level modules, so they are copied to a stub dir for
MYPYPATH; their stdlib replacement is used as mypy's typeshed. Errors inside
the stubs themselves are not ours and are silenced per stub module.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from .conftest import REPO


def _stub_dir(tmp: Path) -> tuple[Path, Path]:
    typeshed = None
    modules = set()
    for dist in ("micropython-rp2-rpi-pico-w-stubs", "micropython-stdlib-stubs"):
        for f in metadata.files(dist) or ():
            src = Path(f.locate())
            if typeshed is None and f.parts[0] == "stdlib":
                typeshed = src.parents[len(f.parts) - 1]
            if f.suffix != ".pyi" or f.parts[0] in ("stdlib", "stubs"):
                continue
            dst = tmp / Path(*f.parts)
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(src, dst)
            modules.add(".".join(f.parts[:-1] + (f.parts[-1][:-4],)).removesuffix(".__init__"))
    assert typeshed is not None, "micropython-stdlib-stubs is not installed"
    config = tmp / "mypy.ini"
    stub_modules = ",".join(sorted(modules))
    config.write_text(f"[mypy]\n\n[mypy-{stub_modules}]\nignore_errors = True\n")
    return typeshed, config




def firmware_modules() -> list[str]:
    """Every module of firmware/ (top level and hal/) as mypy -m arguments."""
    mods = []
    for py in sorted((REPO / "firmware").rglob("*.py")):
        rel = py.relative_to(REPO / "firmware").with_suffix("")
        mods += ["-m", ".".join(rel.parts).removesuffix(".__init__")]
    return mods


def test_firmware_and_protocol_type_check_against_pico_w_stubs(tmp_path):
    """All of firmware/ and protocol/ (issue #13: it used to be hal and board only)."""
    stubs = tmp_path / "stubs"
    typeshed, config = _stub_dir(stubs)
    # the R30x driver ships no type information: its module is read, its errors are not ours
    config.write_text(config.read_text() + "\n[mypy-adafruit_fingerprint]\nignore_errors = True\n")
    driver = Path(__import__("adafruit_fingerprint").__file__).parent
    (stubs / "adafruit_fingerprint.py").write_text((driver / "adafruit_fingerprint.py").read_text())
    out = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(config),
         "--custom-typeshed-dir", str(typeshed), "--platform", "rp2", "--python-version", "3.11",
         "--check-untyped-defs", "--allow-untyped-globals", "--no-incremental",
         "--cache-dir", str(tmp_path / "cache"), *firmware_modules(), "-p", "protocol"],
        capture_output=True, text=True, timeout=240, cwd=REPO,
        env={"MYPYPATH": f"{REPO / 'firmware'}:{REPO}:{stubs}", "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Success" in out.stdout
