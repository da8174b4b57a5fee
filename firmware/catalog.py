# The catalogue the cloud sent (`catalog` command): the only source of prices.
# SPDX-License-Identifier: MIT


# RAM: each item is kept as (price, currency), not the cloud's dict with its name:
# a catalogue command can carry ~4 KB of JSON, and the dicts took ~300 bytes an
# item on the heap. Nothing on the terminal shows product names.


class Catalog:
    def __init__(self, items=None):
        self.items = {}
        self.update(items or [])

    def update(self, items):
        table = {}
        for it in items:
            if (isinstance(it, dict) and isinstance(it.get("sku"), str)
                    and type(it.get("price")) is int and it["price"] >= 0):
                cur = it.get("currency", "EUR")
                table[it["sku"]] = (it["price"], cur if isinstance(cur, str) else "EUR")
        self.items = table

    def as_list(self):
        """The items as the `catalog` command spelled them (for catalog.json)."""
        return [{"sku": k, "price": v[0], "currency": v[1]} for k, v in self.items.items()]
