# In-person sales: the sale being keyed in (loaded with the trade screens).
# SPDX-License-Identifier: MIT
#
# Prices come only from the catalogue the cloud sent (`catalog` command); the
# seller keys SKU, quantity and the cash handed over, all in minor units.
# The event's payment.amount is what was charged (the total, protocol contract);
# the cash handed over goes in payment.tendered when it differs, for the
# receipt's change line.


class SaleError(ValueError):
    """What the display should say (short)."""


def money(minor):
    """Minor units as display text: 1250 -> "12.50"."""
    return "%d.%02d" % (minor // 100, minor % 100)


class Sale:
    """Items of one sale; data() gives the `sale` event data."""

    def __init__(self, catalog):
        self.catalog = catalog
        self.items = []
        self.currency = None

    def add(self, sku, qty):
        it = self.catalog.items.get(sku)
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
