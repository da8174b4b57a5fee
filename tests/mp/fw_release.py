# Checks a staged release the way a terminal does, with the bundle's compiled release.mpy.
# Usage: micropython -X heapsize=128k fw_release.py BUNDLE STAGED_ROOT MANIFEST SIG PUB TARGET
# Prints "OK <version> verify_us=<n> check_ms=<n> retained=<bytes>" or "ERR <reason>".
import gc
import sys
import time

bundle, root, manifest_path, sig_path, pub_path, target = sys.argv[1:7]
sys.path.insert(0, bundle)

import release  # noqa: E402


def read(path):
    with open(path, "rb") as f:
        return f.read()


raw, sig, pub = read(manifest_path), read(sig_path), read(pub_path)
gc.collect()
before = gc.mem_alloc()
try:
    n, k = release.load_key(pub)
    t0 = time.ticks_us()
    good = release.verify(raw, sig, n, k)
    verify_us = time.ticks_diff(time.ticks_us(), t0)
    t0 = time.ticks_ms()
    m = release.check(root, raw, sig, pub, target)
    check_ms = time.ticks_diff(time.ticks_ms(), t0)
    print("OK", m["fw_version"], "verify_us=%d" % verify_us, "check_ms=%d" % check_ms,
          "retained=%d" % (gc.collect() or gc.mem_alloc() - before), "sig_ok=%s" % good)
except release.ReleaseError as e:
    print("ERR", e.args[0] if e.args else "")
