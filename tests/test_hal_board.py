"""firmware/board.py: every pin valid for a Pico W, used once, and on a pin that has the function."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter

import pytest
from fingerpos.tools import board_docs

from .conftest import REPO

B = board_docs.load_board()
# GPIOs a Pico W exposes; 23, 24, 25 and 29 belong to the wireless chip.
PICO_W_GPIO = set(range(0, 23)) | {26, 27, 28}
UART_TX = {0: {0, 12, 16}, 1: {4, 8}}
UART_RX = {0: {1, 13, 17}, 1: {5, 9}}
I2C_SDA = {0: {0, 4, 8, 12, 16, 20}, 1: {2, 6, 10, 14, 18, 26}}
I2C_SCL = {0: {1, 5, 9, 13, 17, 21}, 1: {3, 7, 11, 15, 19, 27}}


def all_pins():
    return [w.pin for w in board_docs.wires(B)]


def test_no_pin_is_used_twice():
    twice = [p for p, n in Counter(all_pins()).items() if n > 1]
    assert twice == []


def test_every_pin_exists_on_a_pico_w():
    for pin in all_pins():
        assert pin in PICO_W_GPIO or pin == "LED", pin


@pytest.mark.parametrize("cfg", [B.SENSOR_UART, B.PRINTER_UART], ids=["sensor", "printer"])
def test_uart_pins_carry_that_uart(cfg):
    assert cfg["tx"] in UART_TX[cfg["id"]] and cfg["rx"] in UART_RX[cfg["id"]]
    assert cfg["baud"] in (9600, 19200, 38400, 57600, 115200)


def test_two_uarts_are_distinct_peripherals():
    assert B.SENSOR_UART["id"] != B.PRINTER_UART["id"]


def test_display_pins_carry_that_i2c():
    d = B.DISPLAY_I2C
    assert d["sda"] in I2C_SDA[d["id"]] and d["scl"] in I2C_SCL[d["id"]]
    assert d["addr"] in (0x3C, 0x3D) and (d["width"], d["height"]) in ((128, 32), (128, 64))


def test_keypad_is_4x4_with_the_hal_keys():
    assert len(B.KEYPAD_ROWS) == 4 and len(B.KEYPAD_COLS) == 4
    assert len(B.KEYPAD_KEYS) == 4 and all(len(r) == 4 for r in B.KEYPAD_KEYS)
    assert sorted("".join(B.KEYPAD_KEYS)) == sorted("0123456789ABCD*#")


def test_outputs_are_the_hal_contract_names():
    assert set(B.OUTPUTS) == {"buzzer", "strobe", "status_led"}
    assert B.SENSOR_TOUCH["active"] in (0, 1)


def test_doc_renderer_cli_check_and_help():
    out = subprocess.run([sys.executable, "-m", "fingerpos.tools.board_docs", "--help"],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0 and "--check" in out.stdout
    out = subprocess.run([sys.executable, "-m", "fingerpos.tools.board_docs", "--check"],
                         capture_output=True, text=True, timeout=30, cwd=REPO)
    assert out.returncode == 0, out.stderr
