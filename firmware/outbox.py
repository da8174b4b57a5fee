# The flash outbox: every event is signed-ready and on flash before it is published.
# SPDX-License-Identifier: MIT
#
# Layout: DIR/NNNNNNNNNN.seg segment files, named by the first seq they hold,
# each a run of records  0xA5 | len (2 bytes, big endian) | crc32 (4) | body.
# Files are only ever appended to, so a power loss at any instant leaves a
# readable prefix: the reader stops at the first short or CRC-bad record, and
# because the outbox never appends after a damaged tail (it opens a new
# segment instead), damage is only ever at the end of one segment.
#
# Flash wear: nothing is rewritten in place. The acknowledged mark is not
# stored at all; it is derived at boot as (first seq on flash) - 1, and whole
# segments are deleted once the cloud's `ack` covers their last record. A few
# acknowledged records may be published again after a reboot: the cloud
# treats them as duplicates and acknowledges again.
#
# The newest record is never deleted: after a reboot it tells where `seq` and
# `prev` continue, so a reboot never reuses nor skips a seq.
import os
import struct

from micropython import const

import protocol

try:
    from binascii import crc32
except ImportError:  # a port built without binascii.crc32
    def crc32(data, crc=0):  # type: ignore[misc]  # binascii.crc32(data, value=0)
        crc ^= 0xFFFFFFFF
        for b in data:
            crc ^= b
            for _ in range(8):
                crc = (crc >> 1) ^ (0xEDB88320 & -(crc & 1))
        return crc ^ 0xFFFFFFFF

_MAGIC = const(0xA5)
_HEAD = const(7)
_SEGMENT_BYTES = const(4096)
_MONEY = const(("sale", "price_change", "ack", "shift", "refund"))
_DROPPABLE = const(("heartbeat",))


class OutboxFull(OSError):
    """The outbox has no room for this event; the keypad shows the message."""

    def __init__(self, msg="OUTBOX FULL"):
        super().__init__(msg)
        self.msg = msg


class Outbox:
    """Append-only event store with seq/prev continuity across reboots.

    Args: path (directory, created if missing), dev (device id),
    limit (bytes on flash, settings.outbox_bytes), seg_bytes (segment size).
    """

    def __init__(self, path, dev, limit=65536, seg_bytes=_SEGMENT_BYTES):
        self.path = path
        self.dev = dev
        self.limit = limit
        self.seg_bytes = seg_bytes
        self.on_step = None  # test hook: called before each flash write step
        self.seq = 0  # last seq written
        self.prev = ""  # chain hash of the last body written
        self.acked = 0  # every seq <= acked is committed by the cloud
        self.refused = 0
        self.dropped = 0
        self._segs = []  # [first_seq, last_seq, size] per segment, oldest first
        self._open_new = True  # next append starts a new segment
        try:
            os.mkdir(path)
        except OSError:
            pass  # exists
        self._recover()

    # -- boot -------------------------------------------------------------
    def _recover(self):
        names = sorted(n for n in os.listdir(self.path) if n.endswith(".seg"))
        last_body = None
        for name in names:
            name = self.path + "/" + name
            first = last = 0
            good = 0
            for off, body in self._records(name):
                seq = self._seq_of(body)
                if seq is None:
                    break
                if not first:
                    first = seq
                last = seq
                last_body = body
                good = off
            if not first:
                self._remove(name)  # empty or torn before its first record
                continue
            self._segs.append([first, last, good])
        if last_body is not None:
            self.seq = self._seq_of(last_body)
            self.prev = protocol.chain_hash(last_body)
        if self._segs:
            self.acked = self._segs[0][0] - 1
            # Append to the newest segment only if its tail is clean.
            try:
                size = os.stat(self._seg(self._segs[-1][0]))[6]
            except OSError:
                size = -1
            self._open_new = self._segs[-1][2] != size

    def _seg(self, first):
        """The path of the segment whose first record has seq `first`."""
        return "%s/%010d.seg" % (self.path, first)

    def _records(self, path):
        """Yield (offset after record, body) for the valid prefix of a segment."""
        try:
            f = open(path, "rb")
        except OSError:
            return
        try:
            off = 0
            while True:
                head = f.read(_HEAD)
                if not head or len(head) < _HEAD or head[0] != _MAGIC:
                    return
                n, crc = struct.unpack(">HI", head[1:])
                if n > protocol.MAX_BODY:
                    return
                body = f.read(n)
                if len(body) < n or crc32(body) & 0xFFFFFFFF != crc:
                    return
                off += _HEAD + n
                yield off, body
        finally:
            f.close()

    @staticmethod
    def _seq_of(body):
        # The seq sits at a fixed spot: '{"v":1,"dev":"<id>","seq":N,' (make_body's order).
        i = body.find(b'"seq":')
        if i < 0:
            return None
        j = body.find(b",", i)
        try:
            return int(body[i + 6:j])
        except ValueError:
            return None

    # -- size -------------------------------------------------------------
    def used(self):
        """Bytes on flash."""
        return sum(s[2] for s in self._segs)

    def pending(self):
        """Events written but not yet acknowledged by the cloud."""
        return self.seq - self.acked

    # -- append -----------------------------------------------------------
    def append(self, typ, data, ts):
        """Seal a new event body, put it on flash, return (seq, body).

        Raises: OutboxFull (money/other events over the limit; a dropped
        heartbeat raises it too, counted in `dropped`), OSError (flash error:
        the seq is not consumed), protocol errors for a bad body.
        """
        body = protocol.make_body(self.dev, self.seq + 1, ts, typ, self.prev, data)
        need = self.used() + _HEAD + len(body)
        # Heartbeats give way early; money events keep a reserve back so the
        # alarm and login audit trail still fits after sales stop.
        if typ in _DROPPABLE:
            cap = self.limit * 3 // 4
        elif typ in _MONEY:
            cap = self.limit - self.limit // 8
        else:
            cap = self.limit
        if need > cap:
            if typ in _DROPPABLE:
                self.dropped += 1
            else:
                self.refused += 1
            raise OutboxFull("OUTBOX FULL: %d events wait for the cloud" % self.pending())
        prev = protocol.chain_hash(body)  # before the write: nothing after it allocates,
        try:  # so a MemoryError cannot leave seq and prev apart
            self._write(self.seq + 1, body)
        except OSError as e:
            # A full filesystem (ENOSPC, 28 on littlefs and the unix port) is a full
            # outbox to the seller: the sale is refused with the OUTBOX FULL message,
            # the seq is not consumed, and the torn tail, if any, is never appended
            # to (_write set _open_new), so the reader stops before it.
            if e.errno != 28:
                raise
            self.refused += 1
            raise OutboxFull("FLASH FULL: %d events wait for the cloud" % self.pending())
        self.seq += 1
        self.prev = prev
        return self.seq, body

    def _write(self, seq, body):
        rec = struct.pack(">BHI", _MAGIC, len(body), crc32(body) & 0xFFFFFFFF) + body
        if self._open_new or self._segs[-1][2] + len(rec) > self.seg_bytes:
            self._step("create", b"")
            f = open(self._seg(seq), "wb")
            f.close()
            self._segs.append([seq, seq - 1, 0])
            self._open_new = False
            self._delete_acked()
        seg = self._segs[-1]
        f = open(self._seg(seg[0]), "ab")
        try:
            rec = self._step("write", rec)
            n = f.write(rec)
            if n is not None and n != len(rec):
                raise OSError("short write to the outbox")
        except BaseException:
            self._open_new = True  # never append after a possibly torn tail
            raise
        finally:
            f.close()
        seg[1] = seq
        seg[2] += len(rec)

    def _step(self, kind, buf):
        if self.on_step is not None:
            got = self.on_step(kind, buf)
            if got is not None:
                return got
        return buf

    # -- acknowledgement ---------------------------------------------------
    def ack(self, upto):
        """The cloud committed every seq <= upto: delete fully covered segments."""
        if upto > self.seq:
            upto = self.seq  # never trust an ack past what exists
        if upto <= self.acked:
            return 0
        self.acked = upto
        return self._delete_acked()

    def _delete_acked(self):
        gone = 0
        # Keep the newest segment: it carries the seq/prev continuation.
        while len(self._segs) > 1 and self._segs[0][1] <= self.acked:
            first = self._segs.pop(0)[0]
            self._remove(self._seg(first))
            gone += 1
        return gone

    def _remove(self, path):
        self._step("remove", b"")
        try:
            os.remove(path)
        except OSError:
            pass  # already gone

    # -- reading for the drain ---------------------------------------------
    def read_from(self, seq):
        """Yield (seq, body) of records with seq >= given, oldest first.

        Reads one record at a time, so the drain needs one body of RAM.
        Segments deleted meanwhile are skipped.
        """
        for first, last, _ in list(self._segs):
            if last < seq:
                continue
            for _, body in self._records(self._seg(first)):
                s = self._seq_of(body)
                if s is None or s > self.seq:
                    break
                if s >= seq:
                    yield s, body
