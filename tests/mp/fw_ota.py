# Drives firmware/ota.py (the bundle's ota.mpy) as a terminal would, cutting the power
# before the N-th filesystem mutation when N is given.
# Usage: micropython fw_ota.py BUNDLE ROOT ACTION [CUT_AT]; ACTION: begin | install | boot |
# commit | reported. Prints "CUT <n>" and exits 3 at the cut, else "DONE <ops> <state json>".
import json
import sys

bundle, root, action = sys.argv[1:4]
cut_at = int(sys.argv[4]) if len(sys.argv) > 4 else 0
sys.path.insert(0, bundle)

import ota  # noqa: E402

ops = [0]


def cut(fn, *args):
    ops[0] += 1
    if ops[0] == cut_at:
        print("CUT", ops[0])
        sys.exit(3)
    fn(*args)


ota._op = cut
if action == "begin":
    ota.begin(root)
elif action == "install":
    ota.install(root, "2", "1")
elif action == "boot":
    ota.boot(root)
elif action == "commit":
    ota.commit(root)
elif action == "reported":
    ota.reported(root)
print("DONE", ops[0], json.dumps(ota.state(root)))
