"""ESC/POS bytes back to the text a printer puts on paper (the tests' reading of a print job).

Written here, not taken from python-escpos (which only encodes): the command lengths are
Epson's "ESC/POS Application Programming Guide" / command reference - ESC @ initialise,
ESC ! / E / - / a / t / d / M / G / { n, GS ! n, GS B n, GS V m [n] (m 65/66 take a
feed byte), FS & and FS . (Kanji/Chinese mode on, off), FS ! n, FS - n. A byte sequence
outside that table raises, so a printer command the cloud starts sending is noticed
rather than read as text. In Chinese mode the text is GB18030 (the printer's charset).
"""

from __future__ import annotations

ESC, GS, FS = 0x1B, 0x1D, 0x1C
_ONE_ARG = {ESC: set(b"!E-atdMG{J"), GS: set(b"!Bb"), FS: set(b"!-")}
_NO_ARG = {ESC: set(b"@"), FS: set(b"&.")}


def paper_text(raw: bytes, charset: str = "gb18030") -> str:
    """The printed text of `raw`: commands dropped, LF kept, text decoded strictly."""
    out = bytearray()
    i = 0
    while i < len(raw):
        b = raw[i]
        if b in (ESC, GS, FS):
            cmd = raw[i + 1] if i + 1 < len(raw) else -1
            if cmd in _NO_ARG.get(b, ()):
                i += 2
            elif cmd in _ONE_ARG.get(b, ()):
                i += 3
            elif b == GS and cmd == ord("V"):
                m = raw[i + 2]
                i += 4 if m in (65, 66) else 3
            else:
                raise ValueError(f"unknown ESC/POS command {raw[i:i + 3]!r} at {i}")
            continue
        if b < 0x20 and b not in (0x0A, 0x0D):
            raise ValueError(f"control byte {b:#x} at {i}")
        out.append(b)
        i += 1
    return out.decode(charset).replace("\r", "")
