"""Render the terminal's pin map from firmware/board.py: hardware_docs/pins.md and wiring.svg.

    python -m fingerpos.tools.board_docs           # rewrite both files
    python -m fingerpos.tools.board_docs --check   # exit 1 if they differ from the board file

The board file is the single source; tests/test_hardware_docs.py fails when the
committed documents are stale. Hand-written SVG: a dozen lines and boxes do not
justify a drawing library.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from xml.sax.saxutils import escape

REPO = Path(__file__).resolve().parent.parent
BOARD_FILE = REPO / "firmware" / "board.py"
DOCS = REPO / "hardware_docs"

# Pico / Pico W 40-pin header: GPIO number -> physical pin.
HEADER_PIN = {0: 1, 1: 2, 2: 4, 3: 5, 4: 6, 5: 7, 6: 9, 7: 10, 8: 11, 9: 12, 10: 14, 11: 15,
              12: 16, 13: 17, 14: 19, 15: 20, 16: 21, 17: 22, 18: 24, 19: 25, 20: 26, 21: 27,
              22: 29, 26: 31, 27: 32, 28: 34}


@dataclass(frozen=True)
class Wire:
    signal: str
    pin: int | str  # GPIO number, or "LED" for the Pico W's on-board LED
    part: str
    part_pin: str
    note: str = ""


def load_board(path: Path = BOARD_FILE) -> SimpleNamespace:
    """The board file's names, executed as plain data (it imports nothing)."""
    names: dict[str, object] = {}
    exec(compile(path.read_text(), str(path), "exec"), names)
    return SimpleNamespace(**{k: v for k, v in names.items() if k.isupper()})


def wires(b: SimpleNamespace) -> list[Wire]:
    s, p, d = b.SENSOR_UART, b.PRINTER_UART, b.DISPLAY_I2C
    level = "high" if b.SENSOR_TOUCH["active"] else "low"
    out = [
        Wire("sensor TX", s["tx"], "R503 sensor", "RX", f"UART{s['id']} {s['baud']} 8N1"),
        Wire("sensor RX", s["rx"], "R503 sensor", "TX", f"UART{s['id']}"),
        Wire("sensor touch", b.SENSOR_TOUCH["pin"], "R503 sensor", "WAKEUP",
             f"active {level} while a finger is on the glass"),
        Wire("printer TX", p["tx"], "thermal printer", "RX", f"UART{p['id']} {p['baud']} 8N1"),
        Wire("printer RX", p["rx"], "thermal printer", "TX", f"UART{p['id']} (status, optional)"),
        Wire("display SDA", d["sda"], "SSD1306 display", "SDA",
             f"I2C{d['id']} {d['freq'] // 1000} kHz, address 0x{d['addr']:02X}"),
        Wire("display SCL", d["scl"], "SSD1306 display", "SCL", f"I2C{d['id']}"),
    ]
    for i, pin in enumerate(b.KEYPAD_ROWS):
        out.append(Wire(f"keypad row {i + 1}", pin, "4x4 keypad", f"R{i + 1}",
                        f"keys {' '.join(b.KEYPAD_KEYS[i])}; driven low to scan"))
    for i, pin in enumerate(b.KEYPAD_COLS):
        out.append(Wire(f"keypad col {i + 1}", pin, "4x4 keypad", f"C{i + 1}",
                        "input, internal pull-up"))
    notes = {"buzzer": ("buzzer driver", "NPN base via 1 kΩ"),
             "strobe": ("strobe MOSFET", "gate via 100 Ω, 100 kΩ pull-down"),
             "status_led": ("on-board LED", "on the wireless chip, not a GPIO")}
    for name, pin in b.OUTPUTS.items():
        part, note = notes.get(name, (name, ""))
        out.append(Wire(name, pin, part, "gate" if name == "strobe" else "in", note))
    return out


def pin_label(pin: int | str) -> str:
    return f"GP{pin}" if isinstance(pin, int) else str(pin)


def header_label(pin: int | str) -> str:
    return str(HEADER_PIN[pin]) if isinstance(pin, int) and pin in HEADER_PIN else "on board"


def render_markdown(b: SimpleNamespace) -> str:
    rows = ["| signal | GPIO | header pin | connects to | notes |", "|---|---|---|---|---|"]
    for w in wires(b):
        rows.append(f"| {w.signal} | {pin_label(w.pin)} | {header_label(w.pin)} | "
                    f"{w.part} {w.part_pin} | {w.note} |")
    return (f"# Pin map: {b.BOARD}\n\n"
            "Generated from `firmware/board.py` by `python -m fingerpos.tools.board_docs`;\n"
            "do not edit by hand (a test fails when this file and the board file differ).\n\n"
            + "\n".join(rows) + "\n\n"
            "Power and ground are not in the board file: see [wiring.md](wiring.md).\n")


def render_svg(b: SimpleNamespace) -> str:
    ws = wires(b)
    row, top, pico_x, pico_w, part_x, part_w = 22, 60, 20, 190, 470, 230
    parts: list[str] = []
    for w in ws:
        if w.part not in parts:
            parts.append(w.part)
    height = top + row * (len(ws) + 2 * len(parts)) + 50
    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="720" height="{height}" '
           'font-family="monospace" font-size="12">',
           '<rect width="100%" height="100%" fill="white"/>',
           f'<text x="20" y="30" font-size="16">{escape(b.BOARD)} terminal wiring '
           '(generated from firmware/board.py)</text>',
           f'<rect x="{pico_x}" y="{top - 20}" width="{pico_w}" height="{row * len(ws) + 30}" '
           'fill="#e8f5e9" stroke="black"/>',
           f'<text x="{pico_x + 8}" y="{top - 4}" font-weight="bold">Pico W</text>']
    y_part = top
    part_rows: dict[str, int] = {}
    for part in parts:
        members = [w for w in ws if w.part == part]
        svg.append(f'<rect x="{part_x}" y="{y_part - 4}" width="{part_w}" '
                   f'height="{row * (len(members) + 1) + 6}" fill="#e3f2fd" stroke="black"/>')
        svg.append(f'<text x="{part_x + 8}" y="{y_part + 12}" font-weight="bold">'
                   f'{escape(part)}</text>')
        part_rows[part] = y_part + row
        y_part += row * (len(members) + 2)
    for i, w in enumerate(ws):
        y = top + 14 + i * row
        py = part_rows[w.part]
        part_rows[w.part] += row
        svg.append(f'<text x="{pico_x + 8}" y="{y + 4}">{escape(pin_label(w.pin))} '
                   f'(pin {header_label(w.pin)})</text>')
        svg.append(f'<line x1="{pico_x + pico_w}" y1="{y}" x2="{part_x}" y2="{py + 12}" '
                   'stroke="#555"/>')
        svg.append(f'<text x="{part_x + 8}" y="{py + 16}">{escape(w.part_pin)} '
                   f'({escape(w.signal)})</text>')
    svg.append(f'<text x="20" y="{height - 24}">Power: 3V3(OUT) (pin 36) to R503 V+ and 3.3VT, '
               'and to the display.</text>')
    svg.append(f'<text x="20" y="{height - 8}">ONE common GND for all parts; '
               '12 V and 5 V rails: see wiring.md.</text>')
    svg.append("</svg>")
    return "\n".join(svg) + "\n"


def outputs(board_file: Path = BOARD_FILE, docs: Path = DOCS) -> dict[Path, str]:
    b = load_board(board_file)
    return {docs / "pins.md": render_markdown(b), docs / "wiring.svg": render_svg(b)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m fingerpos.tools.board_docs",
                                description="Render hardware_docs/pins.md and wiring.svg "
                                            "from firmware/board.py.")
    p.add_argument("--check", action="store_true",
                   help="do not write; exit 1 when a document differs from the board file")
    args = p.parse_args(argv)
    stale = [path for path, text in outputs().items()
             if not path.exists() or path.read_text() != text]
    if args.check:
        for path in stale:
            print(f"stale: {path.relative_to(REPO)} (run python -m fingerpos.tools.board_docs)",
                  file=sys.stderr)
        return 1 if stale else 0
    for path, text in outputs().items():
        path.write_text(text)
        print(f"wrote {path.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
