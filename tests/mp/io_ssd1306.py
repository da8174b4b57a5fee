# Renders text with firmware/hal/ssd1306.py on the unix port (framebuf is built in)
# over a recording I2C bus; prints the commands and the frame buffer as hex.
# Usage: micropython io_ssd1306.py FIRMWARE_DIR
import sys

sys.path.insert(0, sys.argv[1])
import binascii  # noqa: E402

from hal.ssd1306 import SSD1306  # noqa: E402


class RecordingI2C:
    def __init__(self):
        self.cmds = []
        self.data = b""

    def writeto(self, addr, buf):
        self.cmds.append(buf[1])

    def writevto(self, addr, bufs):
        self.data = b"".join(bufs)


bus = RecordingI2C()
oled = SSD1306(bus, 0x3C, 128, 32)
print("init", " ".join("%02x" % c for c in bus.cmds))
bus.cmds = []
oled.text_lines(["HELLO WORLD 123456789xyz", "", "MW mw #", "ok", "never shown"])
print("refresh", " ".join("%02x" % c for c in bus.cmds))
print("data", binascii.hexlify(bus.data).decode())
