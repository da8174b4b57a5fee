# The unix HAL twin's TLS: mbedtls's record buffers charged to the GC heap, as on rp2.
# MIT licence. Imported by hal/unix.py only when the broker link is TLS (RAM: the twin's
# resident part stays no bigger than hal/pico.py's, see firmware/README.md "RAM"); it
# holds nothing but the wrapper below.
import ssl

from micropython import const

from hal.unix import log

# TLS on the Pico W: MicroPython's rp2 port builds mbedtls bare-metal
# (ports/rp2/mbedtls/mbedtls_config_port.h: MICROPY_MBEDTLS_CONFIG_BARE_METAL), so its
# calloc is m_tracked_calloc, on the GC heap (extmod/mbedtls/mbedtls_config_common.h),
# and each connection holds record buffers of MBEDTLS_SSL_IN_CONTENT_LEN (16384) +
# MBEDTLS_SSL_OUT_CONTENT_LEN (4096) there. The unix port's mbedtls uses malloc, so a
# heap figure taken here would leave them out. So when the broker link is TLS, every
# wrapped socket holds the same bytes from the GC heap, on its context: a reconnect
# replaces them and the link's end (suspend, or a restart) frees them with the client.
# Stricter than the board, which frees them at close(), not at the next connect (the
# handshake's own short-lived allocations are not charged).
_TLS_IN = const(16384)
_TLS_OUT = const(4096)


_wrap = ssl.SSLContext.wrap_socket


# (names: wrap_socket, self, _buf are interned already)
def wrap_socket(self, sock, *args, **kw):
    self._buf = None  # the last connection's buffers go first, as its close() would
    self._buf = (bytearray(_TLS_IN), bytearray(_TLS_OUT))
    log("tls: %d B of record buffers held on the heap" % (_TLS_IN + _TLS_OUT))
    return _wrap(self, sock, *args, **kw)


ssl.SSLContext.wrap_socket = wrap_socket  # type: ignore[method-assign]  # the twin charges what mbedtls takes on the board
