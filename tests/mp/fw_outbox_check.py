# Recovers a firmware Outbox from DIR, checks it, appends M more, recovers again.
# Usage: micropython fw_outbox_check.py REPO DIR M
# Prints one JSON line: {"ok": bool, "why": str, "seq": last seq at recovery,
#  "first": first seq on flash, "after": last seq after appending M}.
import json
import sys

root, path, m = sys.argv[1], sys.argv[2], int(sys.argv[3])
sys.path.insert(0, root + "/firmware")
sys.path.insert(0, root)

import outbox  # noqa: E402

import protocol  # noqa: E402


def check(ob):
    """Every record on flash: contiguous seqs, intact chain, ends at ob.seq."""
    want = None
    prev = None
    first = 0
    for seq, body in ob.read_from(0):
        b = json.loads(body)
        if want is not None and seq != want:
            return "seq %d follows %d" % (seq, want - 1), first
        if prev is not None and b["prev"] != prev:
            return "broken chain at %d" % seq, first
        if not first:
            first = seq
        want = seq + 1
        prev = protocol.chain_hash(body)
    if want is not None and want - 1 != ob.seq:
        return "last record %d but outbox says %d" % (want - 1, ob.seq), first
    if prev is not None and prev != ob.prev:
        return "prev does not continue from the newest record", first
    return "", first


ob = outbox.Outbox(path, "t1", limit=1 << 20, seg_bytes=700)
why, first = check(ob)
seq = ob.seq
if not why:
    for i in range(m):
        ob.append("heartbeat", {"uptime": i}, 0)
    ob2 = outbox.Outbox(path, "t1", limit=1 << 20, seg_bytes=700)
    why, _ = check(ob2)
    if not why and ob2.seq != seq + m:
        why = "after %d appends seq is %d, expected %d" % (m, ob2.seq, seq + m)
print(json.dumps({"ok": not why, "why": why, "seq": seq, "first": first, "after": seq + m}))
