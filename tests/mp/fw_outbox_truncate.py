# Power loss at every byte: writes N records, then for every byte offset of the
# newest segment recovers a copy cut there and checks what comes back.
# Usage: micropython fw_outbox_truncate.py REPO WORKDIR N
# Prints "FAIL offset: why" lines, then "checked K offsets, F failed".
import os
import sys

root, work, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
sys.path.insert(0, root + "/firmware")
sys.path.insert(0, root)

import outbox  # noqa: E402

import protocol  # noqa: E402

src = work + "/src"
ob = outbox.Outbox(src, "t1", limit=1 << 20, seg_bytes=1200)
sizes = []  # record end offsets in the newest segment
bodies = {}
for i in range(n):
    seq, body = ob.append("login", {"method": "pin", "seller": "s%d" % i, "ok": i % 2 == 0,
                                    "confidence": 0, "failures": i % 3}, 0)
    bodies[seq] = body
names = sorted(os.listdir(src))
last = names[-1]
data = open(src + "/" + last, "rb").read()
first_last = int(last[:10])
ends = []
off = 0
s = first_last
while off < len(data):
    off += 7 + len(bodies[s])
    ends.append((off, s))
    s += 1

failed = 0
dst = work + "/cut"
for cut in range(len(data) + 1):
    try:
        os.mkdir(dst)
    except OSError:
        pass
    for name in os.listdir(dst):
        os.remove(dst + "/" + name)
    for name in names[:-1]:
        open(dst + "/" + name, "wb").write(open(src + "/" + name, "rb").read())
    open(dst + "/" + last, "wb").write(data[:cut])
    want = first_last - 1
    for end, seq in ends:
        if end <= cut:
            want = seq
    r = outbox.Outbox(dst, "t1", limit=1 << 20, seg_bytes=1200)
    why = ""
    if r.seq != want:
        why = "recovered seq %d, expected %d" % (r.seq, want)
    elif r.prev != protocol.chain_hash(bodies[want]):
        why = "prev does not continue from seq %d" % want
    else:
        seq, body = r.append("heartbeat", {"uptime": cut}, 0)
        r2 = outbox.Outbox(dst, "t1", limit=1 << 20, seg_bytes=1200)
        got = [s for s, _ in r2.read_from(want)]
        if seq != want + 1 or r2.seq != want + 1 or got != [want, want + 1]:
            why = "after append: seq %d, reopened %d, records %r" % (seq, r2.seq, got)
    if why:
        failed += 1
        print("FAIL %d: %s" % (cut, why))
print("checked %d offsets, %d failed" % (len(data) + 1, failed))
