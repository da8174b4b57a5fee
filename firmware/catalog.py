# The catalogue the cloud sent (`catalog` command): the only source of prices.
# SPDX-License-Identifier: MIT


class Catalog:
    def __init__(self, items=None):
        self.items = {}
        self.update(items or [])

    def update(self, items):
        table = {}
        for it in items:
            if (isinstance(it, dict) and isinstance(it.get("sku"), str)
                    and type(it.get("price")) is int and it["price"] >= 0):
                table[it["sku"]] = it
        self.items = table

    def as_list(self):
        return list(self.items.values())
