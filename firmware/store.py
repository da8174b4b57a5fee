# Small JSON state files on flash, replaced atomically (write aside, then rename).
# SPDX-License-Identifier: MIT
#
# For state that changes rarely (failure count, last command seq, roster,
# catalogue, settings): a power loss leaves either the old or the new file.
# Events never go here; they go to the append-only outbox.
import json
import os


class Store:
    """Named JSON documents in one directory."""

    def __init__(self, path):
        self.path = path

    def load(self, name, default):
        """The saved document, or `default` when missing or unreadable."""
        try:
            with open(self.path + "/" + name + ".json") as f:
                value = json.load(f)
        except (OSError, ValueError):
            return default
        if type(value) is not type(default):
            return default  # a file from elsewhere: ignore rather than crash later
        return value

    def save(self, name, value, dump=json.dump):
        """Write `value` durably (dump(value, file) writes it); raises OSError if the
        flash refuses."""
        final = self.path + "/" + name + ".json"
        tmp = final + ".tmp"
        with open(tmp, "w") as f:
            dump(value, f)
        os.rename(tmp, final)  # atomic on littlefs and POSIX
