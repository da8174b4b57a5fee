# Minimal SSD1306 OLED driver over I2C (128x32 or 128x64): init, text lines, refresh.
# MIT licence. Hand-written because micropython-lib's ssd1306 is only installable
# through mip (unreachable in CI) and the terminal needs only whole-screen text.
import framebuf
from micropython import const

_SET_CONTRAST = const(0x81)
_DISPLAY_ON = const(0xAF)
_DISPLAY_OFF = const(0xAE)


class SSD1306:
    def __init__(self, i2c, addr=0x3C, width=128, height=32):
        self.i2c = i2c
        self.addr = addr
        self.width = width
        self.pages = height // 8
        self.buf = bytearray(width * self.pages)
        self.fb = framebuf.FrameBuffer(self.buf, width, height, framebuf.MONO_VLSB)
        self._cmd_buf = bytearray(2)
        self._cell = bytearray(8)
        self._glyph = framebuf.FrameBuffer(self._cell, 8, 8, framebuf.MONO_VLSB)
        for c in (
            _DISPLAY_OFF,
            0x20, 0x00,  # horizontal addressing
            0x40,  # start line 0
            0xA1, 0xC8,  # flip so the header pins are at the top
            0xA8, height - 1,  # multiplex
            0xD3, 0x00,  # no offset
            0xDA, 0x02 if height == 32 else 0x12,  # COM pins
            0xD5, 0x80,  # clock
            0xD9, 0xF1,  # pre-charge
            0xDB, 0x30,  # VCOM detect
            _SET_CONTRAST, 0xCF,
            0xA4, 0xA6,  # follow RAM, not inverted
            0x8D, 0x14,  # charge pump on (3.3 V supply)
            _DISPLAY_ON,
        ):
            self._cmd(c)

    def _cmd(self, c):
        self._cmd_buf[0] = 0x80
        self._cmd_buf[1] = c
        self.i2c.writeto(self.addr, self._cmd_buf)

    def _line(self, text, page):
        # 21 characters on 128 pixels need a 6-pixel pitch; framebuf's font is 8x8
        # with glyphs in columns 1-6. Each glyph is drawn into a scratch cell and
        # squeezed to 5 columns (the two middle ones OR-ed) plus a blank one.
        g, cell, buf = self._glyph, self._cell, self.buf
        o = page * self.width
        for ch in text[: self.width // 6]:
            g.fill(0)
            g.text(ch, 0, 0, 1)
            buf[o] = cell[1]
            buf[o + 1] = cell[2]
            buf[o + 2] = cell[3] | cell[4]
            buf[o + 3] = cell[5]
            buf[o + 4] = cell[6]
            o += 6

    def text_lines(self, lines):
        """Clear, draw up to `pages` lines of up to 21 characters, refresh."""
        self.fb.fill(0)
        for i, line in enumerate(lines[: self.pages]):
            self._line(line, i)
        for c in (0x21, 0, self.width - 1, 0x22, 0, self.pages - 1):
            self._cmd(c)
        self.i2c.writevto(self.addr, (b"\x40", self.buf))
