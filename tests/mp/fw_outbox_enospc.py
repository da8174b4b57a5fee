# A full flash (OSError ENOSPC) mid-append: OutboxFull, seq kept, nothing lost after.
# Usage: micropython fw_outbox_enospc.py REPO DIR. Prints OK or raises.
import sys

root, path = sys.argv[1], sys.argv[2]
sys.path.insert(0, root + "/firmware")
sys.path.insert(0, root)

import outbox  # noqa: E402

SALE = {"ref": "r", "items": [{"sku": "A1", "qty": 1, "price": 250}],
        "payment": {"method": "cash", "amount": 250, "currency": "EUR"}}
ob = outbox.Outbox(path, "t1", limit=1 << 20, seg_bytes=700)
for _ in range(3):
    ob.append("sale", SALE, 0)


def full(kind, buf):
    if kind == "write":  # the flash takes a few bytes, then has no room (littlefs: ENOSPC)
        f = open(ob._seg(ob._segs[-1][0]), "ab")
        f.write(buf[:5])
        f.close()
    raise OSError(28)


ob.on_step = full
try:
    ob.append("sale", SALE, 0)
    raise SystemExit("no error on a full flash")
except outbox.OutboxFull as e:
    print("refused:", e.msg)
assert ob.seq == 3, ob.seq
ob.on_step = None
seq, _ = ob.append("sale", SALE, 0)
assert seq == 4, seq
again = outbox.Outbox(path, "t1", limit=1 << 20, seg_bytes=700)
seqs = [s for s, _ in again.read_from(1)]
assert seqs == [1, 2, 3, 4], seqs
assert again.seq == 4 and again.prev == ob.prev
print("OK")
