# Runs protocol/vectors/*.json under MicroPython (the unix port).
# Usage: micropython -X heapsize=128k tests/mp/run_vectors.py REPO_ROOT
# Prints "PASS name" / "FAIL name: why" per vector, then "N passed, M failed".
import binascii
import gc
import json
import os
import sys

root = sys.argv[1]
sys.path.insert(0, root)

import protocol  # noqa: E402


def check(v):
    payload = binascii.unhexlify(v["payload_hex"])
    # As bytes, and as the terminal's MQTT client hands it over: a view into its
    # receive buffer (parsed in place, no copy): both must give the same outcome.
    return check_one(v, payload) or check_one(v, memoryview(bytearray(payload)), "view: ")


def check_one(v, payload, how=""):
    key = binascii.unhexlify(v["key"])
    want = v["expect"]
    try:
        body = protocol.verify(key, v["topic"], payload)
        rec = v.get("receiver")
        if rec and "last_seq" in rec:
            protocol.check_fresh(body["seq"], rec["last_seq"])
    except protocol.ProtocolError as e:
        if want.get("error") == e.code:
            return None
        return how + "raised %s (%s), expected %s" % (e.code, e, want)
    if not want.get("ok"):
        return how + "accepted, expected error %s" % want.get("error")
    if body != want["body"]:
        return how + "parsed body differs"
    raw, _ = protocol.split(payload)
    if protocol.sign(key, v["topic"], bytes(raw)) != bytes(payload):
        return how + "re-signing the body does not give the same payload"
    return None


vdir = root + "/protocol/vectors"
names = sorted(n for n in os.listdir(vdir) if n.endswith(".json"))
passed = failed = 0
for n in names:
    with open(vdir + "/" + n, "rb") as f:
        v = json.loads(f.read().decode())
    try:
        why = check(v)
    except Exception as e:  # report, keep going: one bad vector must not hide the rest
        why = "crashed: %r" % (e,)
    if why:
        failed += 1
        print("FAIL %s: %s" % (v["name"], why))
    else:
        passed += 1
        print("PASS %s" % v["name"])
    v = None
    gc.collect()
print("vectors: %d passed, %d failed" % (passed, failed))
