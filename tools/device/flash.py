"""Copy a bundle onto a Pico W, check every file's SHA-256 on the board, reset it.

Steps: probe (is it MicroPython?), disarm a running app (below), make directories and delete any stale
`X.py` that would shadow a flashed `X.mpy` (MicroPython imports .py first),
copy each file (progress n/total and bytes), hash every file on the board in
one snippet and compare with the manifest, then a hard reset.

Disarm: the app may have started the RP2040's hardware watchdog, which Ctrl-C
cannot stop and which would reboot the board in the middle of the copy. So
when the board has a main.py it is renamed to main.py.off and the board is
reset once: it comes back to the bare REPL with no app and no watchdog. An
interrupted flash therefore leaves a board that boots to the REPL; flashing
again completes it.

Files the bundle does not list are left alone: the terminal keeps its outbox
and sequence state on the same filesystem, and losing them would lose events.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from fingerpos.tools.device import bundle as bundle_mod
from fingerpos.tools.device.board import BoardError, Mpremote, probe, version_text, wait_ready

PREPARE = """
import os, json
def isdir(p):
    try:
        return os.stat(p)[0] & 0x4000 != 0
    except OSError:
        return False
for d in DIRS:
    if not isdir(ROOT + d):
        os.mkdir(ROOT + d)
removed = []
for p in SHADOWED + ['main.py.off']:
    try:
        os.remove(ROOT + p)
        removed.append(p)
    except OSError:
        pass
print('FPJSON:' + json.dumps({'removed': removed}))
"""

HASHES = """
import hashlib, binascii, json
out = {}
buf = bytearray(1024)
for p in PATHS:
    h = hashlib.sha256()
    try:
        with open(ROOT + p, 'rb') as f:
            while True:
                n = f.readinto(buf)
                if not n:
                    break
                h.update(memoryview(buf)[:n])
        out[p] = binascii.hexlify(h.digest()).decode()
    except OSError:
        out[p] = None
print('FPJSON:' + json.dumps(out))
"""


class FlashError(BoardError):
    pass


@dataclass
class FlashResult:
    board: dict
    files: int
    bytes: int
    removed: list[str]


def device_root(root: str) -> str:
    """The board path prefix every bundle path is joined to ("/" on a Pico W)."""
    return root if root.endswith("/") else root + "/"


def parent_dirs(paths: list[str]) -> list[str]:
    dirs: set[str] = set()
    for p in paths:
        for parent in PurePosixPath(p).parents:
            if str(parent) != ".":
                dirs.add(str(parent))
    return sorted(dirs, key=lambda d: (d.count("/"), d))


def flash(board: Mpremote, bundle_dir: Path, root: str = "/",
          say: Callable[[str], None] = print) -> FlashResult:
    files = bundle_mod.load_manifest(bundle_dir)
    root = device_root(root)
    info = probe(board, root)
    total = sum(f.size for f in files)
    say(f"board at {board.port}: {info.get('machine') or info.get('platform')}, "
        f"MicroPython {version_text(info)}")
    if isinstance(info.get("free"), int) and 0 <= info["free"] < total:
        say(f"warning: {info['free']} bytes free on the board, the bundle has {total}; "
            "files it replaces free their space as they are copied")
    if info.get("app"):
        board.exec_json(f"import os, json\nos.rename({root + 'main.py'!r}, "
                        f"{root + 'main.py.off'!r})\nprint('FPJSON:' + json.dumps(True))")
        board.reset()
        say("stopped the app (main.py -> main.py.off) and reset the board")
        wait_ready(board, root)
    paths = [f.path for f in files]
    shadowed = [p[:-4] + ".py" for p in paths if p.endswith(".mpy")]
    prepared = board.exec_json(f"ROOT = {root!r}\nDIRS = {parent_dirs(paths)!r}\n"
                               f"SHADOWED = {shadowed!r}\n" + PREPARE)
    removed = [r for r in (prepared.get("removed", []) if isinstance(prepared, dict) else [])
               if r.endswith(".py")]
    for p in removed:
        say(f"removed stale {p} (it would shadow {p[:-3]}.mpy)")
    done = 0
    for i, f in enumerate(files, 1):
        board.cp(str(Path(bundle_dir) / f.path), root + f.path)
        done += f.size
        say(f"[{i}/{len(files)}] {f.path:<32} {f.size:>7} B   {done:>8}/{total} B")
    hashes = board.exec_json(f"ROOT = {root!r}\nPATHS = {paths!r}\n" + HASHES, timeout=120)
    if not isinstance(hashes, dict):
        raise FlashError(f"the board at {board.port} returned no hashes")
    bad = [f.path for f in files if hashes.get(f.path) != f.sha256]
    if bad:
        raise FlashError(f"{len(bad)} file(s) differ on the board after copying: "
                         f"{', '.join(bad)}: flash again (check the USB cable)")
    say(f"verified {len(files)} files on the board (SHA-256)")
    board.reset()
    say("board reset: the terminal boots the new firmware")
    return FlashResult(info, len(files), total, removed)
