"""The power-safe switch between app versions for over-the-air updates (issue #18 item 2).

The RP2040 has no A/B boot in ROM and MicroPython no rp2 OTA API, so an update replaces
the app's files. It must survive a power cut at any moment across many files, which a
copy in place cannot (mip's "Package may be partially installed";
olivergregorius/micropython_ota#17). So versions live in whole directories under the
filesystem root, and only renames switch them: LittleFS, the rp2 port's filesystem,
commits a rename atomically (littlefs DESIGN.md, "metadata pairs": a rename is one
metadata commit).

    app/        the version that runs
    app.new/    a release being downloaded and checked (release.py)
    app.old/    the version before, kept until the new one commits
    ota.json    {"state", "version", "prev", "boots", "old", "reason"}, replaced atomically
                (written to ota.tmp, then renamed over ota.json)

States: idle -> (install) pending -> trial -> (commit) idle, or, when a trial version
boots MAX_TRIAL_BOOTS times without committing, rollback -> rolled_back -> (reported)
idle. `boot()` runs first at every start and finishes whatever step a power cut
interrupted, looking at which directories exist; every step it takes can itself be
cut and redone. The outbox, seq, roster and shift state live outside these
directories, so no update or rollback touches them.

Every mutation of the filesystem goes through `_op`, so a test can cut the power
before each one in turn (tests/test_ota.py).
"""

import json
import os

MAX_TRIAL_BOOTS = 2
APP, NEW, OLD, BAD = "app", "app.new", "app.old", "app.bad"
_STATE, _TMP = "ota.json", "ota.tmp"
_DIR = 0x4000


def _op(fn, *args):
    """Perform one filesystem mutation (the tests replace this to cut the power)."""
    fn(*args)


def _exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


def _rmtree(path):
    if not _exists(path):
        return
    for entry in os.ilistdir(path):
        child = path + "/" + entry[0]
        if entry[1] == _DIR:
            _rmtree(child)
        else:
            _op(os.remove, child)
    _op(os.rmdir, path)


def _write(root, d):
    tmp = root + "/" + _TMP
    with open(tmp, "w") as f:
        json.dump(d, f)
    _op(os.rename, tmp, root + "/" + _STATE)


def _write_state(root, d):
    _op(_write, root, d)


def state(root):
    """ota.json's dict; {"state": "idle"} when there is none or it cannot be read."""
    try:
        with open(root + "/" + _STATE) as f:
            d = json.load(f)
        if isinstance(d, dict) and isinstance(d.get("state"), str):
            return d
    except (OSError, ValueError):
        pass
    return {"state": "idle"}


def begin(root):
    """Make an empty staging directory for a download and return its path. A previous
    version kept from an update that has committed (state idle) is removed first."""
    st = state(root)["state"]
    if st not in ("idle", "rolled_back"):
        raise OSError("update in progress: " + st)
    _rmtree(root + "/" + OLD)
    _rmtree(root + "/" + BAD)
    if not _exists(root + "/" + NEW):
        _op(os.mkdir, root + "/" + NEW)
    return root + "/" + NEW


def install(root, version, prev):
    """Switch to the checked release in app.new (release.check first). The caller then
    resets the board; the new version runs on trial until it calls commit()."""
    if state(root)["state"] not in ("idle", "rolled_back") or _exists(root + "/" + OLD):
        raise OSError("call begin() first")
    # "old": whether app/ holds a version now, which app.old will keep for a rollback
    _write_state(root, {"state": "pending", "version": version, "prev": prev, "boots": 0,
                        "old": _exists(root + "/" + APP)})
    _switch(root, state(root))


def _swap(root, incoming, outgoing):
    """app/ -> outgoing, then incoming -> app/; redone after a cut, each rename only if
    its own result is not there yet."""
    app, inc, out = root + "/" + APP, root + "/" + incoming, root + "/" + outgoing
    if _exists(inc):
        if _exists(app) and not _exists(out):
            _op(os.rename, app, out)
        if not _exists(app):
            _op(os.rename, inc, app)


def _switch(root, st):
    _swap(root, NEW, OLD)
    st["state"], st["boots"] = "trial", 0
    _write_state(root, st)


def _rollback(root, st):
    if st.get("old"):
        _swap(root, OLD, BAD)
    elif _exists(root + "/" + APP) and not _exists(root + "/" + BAD):
        # the first update: app/ is the new version and nothing was before it in app/, so
        # the factory copy at the root runs again
        _op(os.rename, root + "/" + APP, root + "/" + BAD)
    _rmtree(root + "/" + BAD)
    st["state"] = "rolled_back"
    _write_state(root, st)


def boot(root):
    """Run at every start before the app is imported: finish an interrupted step, count a
    trial boot, roll back a trial that never committed. Returns the state dict."""
    st = state(root)
    s = st["state"]
    if s == "pending":
        _switch(root, st)
        st = state(root)
        s = st["state"]
    if s == "trial":
        st["boots"] = st.get("boots", 0) + 1
        if st["boots"] > MAX_TRIAL_BOOTS:
            st["state"] = "rollback"
            st["reason"] = "no commit after %d boots" % MAX_TRIAL_BOOTS
        _write_state(root, st)
        s = st["state"]
    if s == "rollback":
        _rollback(root, st)
        st = state(root)
    return st


def commit(root):
    """The trial version booted, reached the broker and had its boot event acknowledged:
    it is now the version. The one before is removed at the next update's begin()."""
    st = state(root)
    if st["state"] == "trial":
        _write_state(root, {"state": "idle", "version": st.get("version")})
        return True
    return False


def reported(root):
    """The rollback has been reported to the cloud (fw_state rolled_back)."""
    st = state(root)
    if st["state"] == "rolled_back":
        _write_state(root, {"state": "idle", "version": st.get("prev")})
