# In-person sales: the sale being keyed in (loaded with the trade screens).
# SPDX-License-Identifier: MIT
#
# Prices come only from the catalogue the cloud sent (`catalog` command); the
# seller keys SKU, quantity and the cash handed over, all in minor units.


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
        cur = it.get("currency", "EUR")
        if self.currency is not None and cur != self.currency:
            raise SaleError("MIXED CURRENCY")
        if len(self.items) >= 20:
            raise SaleError("TOO MANY ITEMS")
        self.currency = cur
        self.items.append({"sku": sku, "qty": qty, "price": it["price"]})

    def total(self):
        return sum(i["qty"] * i["price"] for i in self.items)

    def data(self, ref, amount):
        if not self.items:
            raise SaleError("NO ITEMS")
        if amount < self.total():
            raise SaleError("NOT ENOUGH CASH")
        return {"ref": ref, "items": self.items,
                "payment": {"method": "cash", "amount": amount, "currency": self.currency}}
