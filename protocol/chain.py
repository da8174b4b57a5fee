# fingerpos protocol v1: receiver-side sequence and hash-chain tracking.
# SPDX-License-Identifier: MIT
#
# Events may arrive twice (MQTT QoS 1), late, or out of order (several cloud
# workers), so the tracker classifies each one instead of rejecting it:
#   NEW       - the next seq, and its prev matches the body before it (or that
#               body is unknown, so nothing can be checked)
#   DUPLICATE - a seq already seen: acknowledge again, create nothing
#   GAP       - a seq beyond the next one: the seqs between are missing (for now)
#   BROKEN    - prev does not match the hash of the body before it
# GAP and BROKEN never block: the event is still stored; the receiver raises
# an alarm. A late event that fills a gap is NEW.

NEW = "new"
DUPLICATE = "duplicate"
GAP = "gap"
BROKEN = "broken"
_SLACK = 32  # dead hashes (below committed) kept before a trim


class SeqTracker:
    """Per-device state: the contiguous high-water mark plus what lies above.

    `committed` is the highest seq such that every seq up to it was seen;
    that is exactly the value an `ack` command may carry.
    """

    def __init__(self, committed: int = 0, last_hash: str = "", window: int = 4096):
        self.committed = committed
        self._hashes = {}  # seq -> chain hash, for seqs near the frontier
        if committed and last_hash:
            self._hashes[committed] = last_hash
        self._above = {}  # type: dict[int, str]  # seq -> prev, seen but above a hole
        self._window = window

    def missing(self) -> list:
        """The seqs not yet seen below the highest one seen."""
        if not self._above:
            return []
        top = max(self._above)
        return [s for s in range(self.committed + 1, top) if s not in self._above]

    def observe(self, seq: int, prev: str, body_hash: str) -> str:
        """Classify one event and remember it. Returns NEW, DUPLICATE, GAP or BROKEN."""
        if seq <= self.committed or seq in self._above:
            return DUPLICATE
        result = NEW
        before = self._hashes.get(seq - 1)
        if seq == 1 and prev != "":
            result = BROKEN
        elif before is not None and before != prev:
            result = BROKEN
        self._hashes[seq] = body_hash
        after_prev = self._above.get(seq + 1)
        if after_prev is not None and after_prev != body_hash:
            result = BROKEN  # the event already seen after this one disagrees
        if seq == self.committed + 1:
            self.committed = seq
            while self.committed + 1 in self._above:
                self.committed += 1
                del self._above[self.committed]
        else:
            self._above[seq] = prev
            if result == NEW:
                result = GAP
        self._trim()
        return result

    def _trim(self):
        # Only `committed` and the seqs above it are ever read (observe answers DUPLICATE
        # for anything at or below committed before it looks), so the hashes below it
        # go once they outnumber the live ones by _SLACK: a receiver tracking many
        # devices keeps a few entries each, not up to `window` of history.
        if len(self._hashes) > len(self._above) + _SLACK:
            floor = self.committed
            for s in [s for s in self._hashes if s < floor]:
                del self._hashes[s]
        if len(self._hashes) > self._window:
            floor = self.committed - self._window // 2
            for s in [s for s in self._hashes if s < floor]:
                del self._hashes[s]
