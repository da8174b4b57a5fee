# Appends events to a firmware Outbox and dies (waits for SIGKILL) at write step K.
# Usage: micropython fw_outbox_crash.py REPO DIR N K CUT
#   At step K: a "write" writes only CUT bytes of its record first; every kind
#   then prints DYING and sleeps until the test kills the process.
# Prints "W seq" after each completed append and "A upto" before each ack.
import sys
import time

root, path, n, kill, cut = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
sys.path.insert(0, root + "/firmware")
sys.path.insert(0, root)

import outbox  # noqa: E402

ob = outbox.Outbox(path, "t1", limit=1 << 20, seg_bytes=700)
steps = [0]


def die(kind, buf):
    steps[0] += 1
    if steps[0] != kill:
        return None
    if kind == "write" and cut:
        f = open(ob._seg(ob._segs[-1][0]), "ab")
        f.write(buf[:cut])
        f.close()
    print("DYING", kind)
    sys.stdout.flush() if hasattr(sys.stdout, "flush") else None
    time.sleep(60)
    print("NOT KILLED")
    sys.exit(1)


ob.on_step = die
for i in range(n):
    seq, _ = ob.append("sale", {"ref": "r%d" % i, "items": [{"sku": "A1", "qty": 1, "price": 250}],
                               "payment": {"method": "cash", "amount": 250, "currency": "EUR"}}, 0)
    print("W", seq)
    if seq % 5 == 0:
        print("A", seq - 2)
        ob.ack(seq - 2)
print("DONE", steps[0])
