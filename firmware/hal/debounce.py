# Keypad debouncing: one key report per press, whatever the contacts do. MIT licence.
# Pure logic (no machine import) so it runs on the unix port's tests too.


class Debounce:
    """Feed one matrix scan at a time (a key or None); returns a key once per press.

    A press ends only after `release_scans` empty scans in a row, so contact
    bounce (key, None, key) while a key goes down or up is not a second press.
    """

    def __init__(self, release_scans=3):
        self.release_scans = release_scans
        self._held = None
        self._empty = 0

    def feed(self, key):
        if key is None:
            self._empty += 1
            if self._empty >= self.release_scans:
                self._held = None
            return None
        self._empty = 0
        if key == self._held:
            return None
        self._held = key
        return key
