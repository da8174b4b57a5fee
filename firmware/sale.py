# In-person sales: their screens (SKU, quantity, more, cash) and the sale being keyed.
# SPDX-License-Identifier: MIT
#
# Loaded by ui.py only while a sale is open (RAM, see ui.py); the web-order and
# price screens are in trade.py, so a screen loads only its own half.
#
# Prices come only from the catalogue the cloud sent (`catalog` command); the
# seller keys SKU, quantity and the cash handed over, all in minor units.
# The event's payment.amount is what was charged (the total, protocol contract);
# the cash handed over goes in payment.tendered when it differs, for the
# receipt's change line.
import sys

import hal
from outbox import OutboxFull
from ui import money


class SaleError(ValueError):
    """What the display should say (short)."""


class Sale:
    """Items of one sale; data() gives the `sale` event data."""

    def __init__(self, catalog):
        self.catalog = catalog
        self.items = []
        self.currency = None

    def add(self, sku, qty):
        it = self.catalog.get(sku)
        if it is None:
            raise SaleError("UNKNOWN SKU " + sku)
        if not 0 < qty <= 999:
            raise SaleError("BAD QUANTITY")
        price, cur = it
        if self.currency is not None and cur != self.currency:
            raise SaleError("MIXED CURRENCY")
        if len(self.items) >= 20:
            raise SaleError("TOO MANY ITEMS")
        self.currency = cur
        self.items.append({"sku": sku, "qty": qty, "price": price})

    def total(self):
        return sum(i["qty"] * i["price"] for i in self.items)

    def data(self, ref, tendered):
        """The `sale` event data for cash `tendered` (minor units, >= the total)."""
        if not self.items:
            raise SaleError("NO ITEMS")
        total = self.total()
        if tendered < total:
            raise SaleError("NOT ENOUGH CASH")
        pay = {"method": "cash", "amount": total, "currency": self.currency}
        if tendered != total:
            pay["tendered"] = tendered
        return {"ref": ref, "items": self.items, "payment": pay}


def start(ui):
    # RAM: catalog.py is in RAM only while this Sale (or a page collection) holds it.
    app = ui.app
    ui.sale = Sale(app.catalog or __import__("catalog").Catalog(hal.DATA_DIR, app.store))
    sys.modules.pop("catalog", None)
    ui.state = "sku"


def lines(ui):
    st = ui.state
    if st == "sku":
        return ["SKU:", ui.buf, "total " + money(ui.sale.total())]
    if st == "qty":
        return ["SKU " + ui.sku + " qty:", ui.buf]
    if st == "more":
        return ["%d items %s" % (len(ui.sale.items), money(ui.sale.total())),
                "B add  # pay  * cancel"]
    return ["Total " + money(ui.sale.total()), "Cash: " + ui.buf]


def key(ui, k):
    st = ui.state
    if st == "sku":
        if k == "#" and ui.buf:
            ui.sku = ui.take()
            ui.state = "qty"
    elif st == "qty":
        if k == "#":
            try:
                ui.sale.add(ui.sku, int(ui.take() or "1"))
                ui.state = "more"
            except SaleError as e:
                ui.note = e.args[0]
                ui.state = "sku"
    elif st == "more":
        if k == "B":
            ui.state = "sku"
        elif k == "#":
            ui.state = "cash"
    elif k == "#":  # cash
        app = ui.app
        tendered = int(ui.take() or "0")
        sale = ui.sale
        try:
            seq = app.emit("sale", sale.data("%s-%d" % (app.dev, app.outbox.seq + 1), tendered))
            app.cash(seq, sale.total())  # the open shift's tally
        except SaleError as e:
            ui.note = e.args[0]
            return
        except OutboxFull:
            ui.to("menu")
            ui.note = "OUTBOX FULL: NO SALE"
            return
        ui.to("menu")
        ui.note = "SALE #%d CHG %s" % (seq, money(tendered - sale.total()))
