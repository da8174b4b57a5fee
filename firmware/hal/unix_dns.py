# The unix HAL twin's name lookups, off the loop. MIT licence. Loaded by hal/unix.py only
# when hal.json plays a slow DNS server or a broker is named rather than numbered (RAM:
# the twin's resident part stays no bigger than hal/pico.py's, which the twin stands
# for in every heap figure; see firmware/README.md "RAM").
import _thread
import socket
import sys
import time

from micropython import const

from hal.unix import _conf

# -- name resolution ---------------------------------------------------------
# socket.getaddrinfo blocks (glibc here, lwIP on the board): a DNS server that does not
# answer stalls the whole loop past the watchdog. So a numeric address is used as is
# (hal/unix.py), a name is looked up on a thread the loop polls for at most _DNS_MS
# (< the 8 s watchdog), and the last answer is kept, so a lookup is made once, not per
# reconnect. hal.json "dns_hang_ms" plays a resolver that answers only after that long.
_DNS_MS = const(4000)
_dns = {}  # host -> address string, or None while its lookup runs
if _conf.get("dns_hang_ms"):
    class _SlowResolver:
        # `socket` for everyone who imports it from now on (asyncio's open_connection
        # too): a builtin module's attributes cannot be replaced on MicroPython.
        def __getattr__(self, name):
            return getattr(socket, name)

        def getaddrinfo(self, host, *args):
            if host and not host[0].isdigit():
                time.sleep_ms(_conf["dns_hang_ms"])
            return socket.getaddrinfo(host, *args)

    sys.modules["socket"] = _SlowResolver()  # type: ignore[assignment]


def _lookup(host):
    try:
        ai = sys.modules.get("socket", socket).getaddrinfo(host, 0, socket.AF_INET,
                                                             socket.SOCK_STREAM)[0][-1]
        _dns[host] = "%d.%d.%d.%d" % tuple(ai[4:8])  # the unix port's sockaddr_in bytes
    except Exception as e:  # noqa: BLE001 - on a thread: say it, the caller times out
        print("hal: dns %s: %s" % (host, e))
        _dns.pop(host, None)


async def resolve(host):
    """A name's numeric address, waiting without blocking the loop. Raises OSError when
    the lookup has not answered within _DNS_MS (it goes on meanwhile)."""
    import asyncio

    if host not in _dns:
        _dns[host] = None
        _thread.start_new_thread(_lookup, (host,))
    for _ in range(_DNS_MS // 50):
        if _dns.get(host, 0) != None:  # noqa: E711 - None while pending, gone on failure
            break
        await asyncio.sleep_ms(50)
    addr = _dns.get(host)
    if addr is None:
        raise OSError("dns: no answer for %s within %d ms" % (host, _DNS_MS))
    return addr

