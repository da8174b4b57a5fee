# Pin map of the fingerpos terminal on a Raspberry Pi Pico W: pure data. MIT licence.
# The Pico HAL reads it; tools/board_docs.py renders hardware_docs/pins.md and
# wiring.svg from it, and tests/test_hardware_docs.py checks the two agree.
# Numbers are GPIO numbers (GPn), not header pin numbers. "LED" is the Pico W's
# on-board LED, which hangs off the wireless chip, not a GPIO.
BOARD = "Raspberry Pi Pico W"

# R503 / R307 / AS608 fingerprint sensor: UART0 at 57600 8N1, touch (WAKEUP) line.
SENSOR_UART = {"id": 0, "tx": 0, "rx": 1, "baud": 57600}
# "active": the touch line's level while a finger is on the glass. The R503's WAKEUP
# is high with no finger and low while touched (R503 manual V1.2.2 "Hardware
# Connection"; R503S manual pin 5), the R307's Touch output is "low effective" (R307
# datasheet); both can be ordered with the other polarity (R503S manual: the output
# mode can be changed before delivery), which is then "active": 1 here.
SENSOR_TOUCH = {"pin": 2, "active": 0}

# TTL thermal receipt printer: UART1 at 9600 8N1.
PRINTER_UART = {"id": 1, "tx": 4, "rx": 5, "baud": 9600}

# SSD1306 OLED on I2C1.
DISPLAY_I2C = {"id": 1, "sda": 6, "scl": 7, "freq": 400000, "addr": 0x3C,
               "width": 128, "height": 32}

# 4x4 membrane keypad: rows driven low one at a time, columns read with pull-ups.
KEYPAD_ROWS = (10, 11, 12, 13)
KEYPAD_COLS = (14, 15, 16, 17)
KEYPAD_KEYS = ("123A", "456B", "789C", "*0#D")  # KEYPAD_KEYS[row][col]

# Outputs, 1 = on. buzzer: active buzzer through an NPN transistor; strobe: gate
# of a logic-level N-MOSFET switching the 12 V strobe; status_led: on-board LED.
OUTPUTS = {"buzzer": 18, "strobe": 19, "status_led": "LED"}
