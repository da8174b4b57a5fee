# The catalogue the cloud sent (`catalog` pages): the only source of prices, kept on flash.
# SPDX-License-Identifier: MIT
#
# RAM: the catalogue lives in a file of fixed-width records, not in a dict: 500
# products as (price, currency) tuples took ~40 KB of a 128 KB heap on the unix
# port, and even 65 of them (one 4 KB command) ~5 KB. A lookup scans the file in
# 8-record chunks (640 bytes of buffer, 40 KB read for 500 products: a few ms on
# the Pico's flash, once per item keyed) with bytearray.find, so nothing is
# allocated per record. A scan, not a binary search: it needs no order, so pages
# are written as they arrive, and an old cloud's unsorted single command works.
# The `catalog` command is handled here (TABLE, loaded by App.on_message like
# handlers.py), not in handlers.py: a page then needs only this module in RAM, not
# both (5.3 KB on the unix port, more than a 96 KiB heap had left once online).
# Names (RAM): each new one is interned for good (firmware/README.md), so this
# module reuses names the firmware has anyway (commit, pending, _fill, ".tmp").
#
# Pages (protocol/README.md, `catalog`): the pages of one version are appended to
# catalog.bin.tmp in order; when the last one is in, that file is renamed over
# catalog.bin (atomic on littlefs and POSIX), then the version is saved, so a
# power loss leaves the old catalogue or the new one, never a mix. A page of
# another version starts over; pages of the version in use are ignored (the cloud
# re-sends the catalogue on every connect: no flash write for an unchanged one).
import os
import struct

import hal
from micropython import const

# Record: sku length, sku (UTF-8, zero padded), currency (3 ASCII letters),
# 4 spare bytes, price (minor units, unsigned 64-bit big-endian).
_FMT = const(">B64s3s4xQ")
_REC = const(80)
_SKU_MAX = const(64)
_CHUNK = const(8)  # records per read
_MAX_PAGES = const(64)


class Catalog:
    """get(sku) -> (price, currency) or None; page(data) takes one `catalog` command."""

    def __init__(self, path, store):
        self.path = path + "/catalog.bin"
        self.store = store
        doc = store.load("catalog", {})
        self.version = doc.get("version")
        self.count = doc.get("n", 0)
        self.pending = None  # (version, pages, pages got, records) while collecting
        if isinstance(doc.get("items"), list):  # an older firmware's (or a preload's) JSON
            self.commit(None, self._fill(doc["items"], "wb"))

    def get(self, sku):
        key = sku.encode()
        if not 0 < len(key) <= _SKU_MAX:
            return None
        needle = bytes((len(key),)) + key + bytes(_SKU_MAX - len(key))
        buf = bytearray(_REC * _CHUNK)
        try:
            f = open(self.path, "rb")
        except OSError:
            return None  # no catalogue yet
        with f:
            while True:
                n = f.readinto(buf)
                if not n:
                    return None
                at = buf.find(needle, 0, n)
                while at >= 0 and at % _REC:  # a match inside another record's bytes
                    at = buf.find(needle, at + 1, n)
                if at >= 0:
                    _, _, cur, price = struct.unpack_from(_FMT, buf, at)
                    return price, cur.decode()

    def page(self, data):
        """One `catalog` command; True when it completed a catalogue (now in use).

        Raises ValueError for data the protocol does not allow, OSError if the flash fails.
        """
        items = data.get("items")
        if not isinstance(items, list):
            raise ValueError("items must be a list")
        if "pages" not in data and "page" not in data and "version" not in data:
            self.commit(None, self._fill(items, "wb"))  # one page (an older cloud)
            return True
        v, p, n = data.get("version"), data.get("page"), data.get("pages")
        if not isinstance(v, str) or not 0 < len(v) <= 32 or type(p) is not int or \
                type(n) is not int or not 1 <= p <= n <= _MAX_PAGES:
            raise ValueError("catalog page needs version (string), 1 <= page <= pages <= 64")
        pend = self.pending
        if p == 1:
            if v == self.version:
                self.pending = None
                return False  # the catalogue in use, sent again: nothing to write
            pend = (v, n, 0, 0)
        elif pend is None or pend[0] != v or pend[1] != n or p != pend[2] + 1:
            if v == self.version or (pend is not None and pend[0] == v and p <= pend[2]):
                return False  # a page of the catalogue in use, or one we have (redelivered)
            self.pending = None  # a page went missing: wait for the cloud's next sending
            raise ValueError("catalog page %d of %s out of order" % (p, v))
        self.pending = None  # until this page is on flash
        pend = (v, n, p, pend[3] + self._fill(items, "wb" if p == 1 else "ab"))
        if p < n:
            self.pending = pend
            return False
        self.commit(v, pend[3])
        return True

    def _fill(self, items, mode):
        """Write items' records to catalog.bin.tmp; returns how many, skipping items the
        terminal cannot sell (no SKU or one over 64 bytes, a bad price or currency)."""
        got = 0
        with open(self.path + ".tmp", mode) as f:
            for it in items:
                if not isinstance(it, dict):
                    continue
                sku, price, cur = it.get("sku"), it.get("price"), it.get("currency", "EUR")
                if not isinstance(sku, str) or type(price) is not int or \
                        not 0 <= price < 1 << 63 or not isinstance(cur, str):
                    continue
                sku = sku.encode()
                cur = cur.encode()
                if 0 < len(sku) <= _SKU_MAX and len(cur) == 3:
                    f.write(struct.pack(_FMT, len(sku), sku, cur, price))
                    got += 1
        return got

    def commit(self, version, count):
        os.rename(self.path + ".tmp", self.path)
        self.version = version
        self.count = count
        self.store.save("catalog", {"version": version, "n": count})


def catalog(app, data):
    # A page, or a whole catalogue from an older cloud: written to flash. RAM: App.on_message
    # drops the module after the command; the Catalog (and so its code) stays in
    # app.catalog only while the pages of a version are being collected.
    c = app.catalog or Catalog(hal.DATA_DIR, app.store)
    try:
        if c.page(data):
            hal.log("catalog %s: %d items" % (c.version, c.count))
    finally:
        app.catalog = c if c.pending else None


TABLE = {"catalog": catalog}
