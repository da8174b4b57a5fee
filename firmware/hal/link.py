# Unix-port HAL: the control channel to the test harness / simulator. MIT licence.
#
# Newline-delimited JSON over TCP. HAL -> harness: {"gpio": name, "v": 0|1, "t": ms},
# {"display": [lines]}, {"log": text}, {"printer": base64}, {"wdt": ...}.
# Harness -> HAL: {"key": "5"}, {"touch": true|false}, {"wlan": true|false},
# {"hang": ms} (a fault: the app's next HAL call blocks for ms, like a peripheral
# holding the bus, so the main loop stalls and the watchdog must reset the board).
# Without a harness (no "control" in hal.json, or it went away) messages go to
# stdout, so the firmware still runs; the link retries the harness at most every
# second instead of failing the caller.
import json
import select
import socket
import time

_RETRY_MS = 1000


def parse_addr(text):
    """"host:port" -> (host, port); ValueError on anything else."""
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError("bad address %r (want host:port)" % text)
    return host, int(port)


def connect(addr, timeout_s=2):
    """A blocking TCP socket to (host, port) with a timeout, or OSError."""
    ai = socket.getaddrinfo(addr[0], addr[1], 0, socket.SOCK_STREAM)[0]
    sock = socket.socket(ai[0], socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout_s)
        sock.connect(ai[-1])
    except OSError:
        sock.close()
        raise
    return sock


class Link:
    def __init__(self, addr):
        self.addr = addr  # (host, port) or None
        self.keys = []
        self.touch = False
        self.wlan = True
        self.hang_ms = 0
        self._sock = None
        self._poll = None
        self._buf = b""
        self._next_try = time.ticks_ms()
        self._open()

    def _open(self):
        if self.addr is None or time.ticks_diff(self._next_try, time.ticks_ms()) > 0:
            return None
        self._next_try = time.ticks_add(time.ticks_ms(), _RETRY_MS)
        try:
            self._sock = connect(self.addr)
        except OSError:
            self._sock = None
            return None
        self._poll = select.poll()
        self._poll.register(self._sock, select.POLLIN)
        return self._sock

    def _drop(self):
        if self._sock:
            self._sock.close()
        self._sock = None
        self._poll = None

    def send(self, msg):
        line = json.dumps(msg) + "\n"
        sock = self._sock or self._open()
        if sock is None:
            print("hal:", line, end="")
            return
        try:
            sock.sendall(line.encode())
        except OSError:
            self._drop()
            print("hal:", line, end="")

    def pump(self):
        """Take in whatever the harness sent, without blocking."""
        sock = self._sock or self._open()
        poll = self._poll
        if sock is None or poll is None:
            return
        try:
            while poll.poll(0):
                data = sock.recv(128)  # RAM: small blocks; control lines are short
                if not data:
                    self._drop()
                    break
                self._buf += data
        except OSError:
            self._drop()
        while b"\n" in self._buf:
            line, self._buf = self._buf.split(b"\n", 1)
            self._take(line)
        if self.hang_ms:
            ms, self.hang_ms = self.hang_ms, 0
            time.sleep_ms(ms)  # blocks the app's thread; the watchdog's guard thread runs on

    def _take(self, line):
        try:
            msg = json.loads(line)
        except ValueError:
            print("hal: ignored bad control line", line)
            return
        if not isinstance(msg, dict):
            return
        key = msg.get("key")
        # a real keypad holds no queue: drop keys beyond a short buffer
        if isinstance(key, str) and len(key) == 1 and key in "0123456789ABCD*#" and len(self.keys) < 32:
            self.keys.append(key)
        if "touch" in msg:
            self.touch = bool(msg["touch"])
        if "wlan" in msg:
            self.wlan = bool(msg["wlan"])
        hang = msg.get("hang")
        if type(hang) is int and 0 < hang <= 60000:
            self.hang_ms = hang
