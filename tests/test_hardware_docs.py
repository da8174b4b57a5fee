"""hardware_docs/ agrees with firmware/board.py (the pin table and the SVG are generated from it)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from fingerpos.tools import board_docs

from .conftest import REPO


def test_committed_docs_match_the_board_file():
    for path, text in board_docs.outputs().items():
        assert path.exists(), f"{path} missing: run python -m fingerpos.tools.board_docs"
        assert path.read_text() == text, f"{path.name} is stale: run python -m fingerpos.tools.board_docs"


def test_check_mode_fails_when_the_board_changes(tmp_path):
    board = tmp_path / "board.py"
    board.write_text(board_docs.BOARD_FILE.read_text().replace('"buzzer": 18', '"buzzer": 20'))
    rendered = board_docs.outputs(board, REPO / "hardware_docs")
    pins = rendered[REPO / "hardware_docs" / "pins.md"]
    assert "| buzzer | GP20 | 26 |" in pins
    assert pins != (REPO / "hardware_docs" / "pins.md").read_text()
    assert board_docs.main(["--check"]) == 0  # the committed docs are current


def test_every_board_pin_is_in_the_table_and_the_picture():
    b = board_docs.load_board()
    pins = (REPO / "hardware_docs" / "pins.md").read_text()
    svg = ET.fromstring((REPO / "hardware_docs" / "wiring.svg").read_text())
    texts = " ".join(t.text or "" for t in svg.iter("{http://www.w3.org/2000/svg}text"))
    for w in board_docs.wires(b):
        label = board_docs.pin_label(w.pin)
        assert f"| {w.signal} | {label} |" in pins
        assert f"{label} (pin {board_docs.header_label(w.pin)})" in texts
        assert f"{w.part_pin} ({w.signal})" in texts


def test_guides_exist_and_name_the_real_commands():
    docs = REPO / "hardware_docs"
    for name in ("README.md", "wiring.md", "bom.md", "bring-up.md", "safety.md"):
        assert (docs / name).exists(), name
    guide = (docs / "bring-up.md").read_text()
    assert "fingerpos device flash --port" in guide and "fingerpos device provision" in guide
    assert "flyback" in (docs / "safety.md").read_text()


def test_docs_name_the_micropython_version_the_flash_gate_enforces():
    """Issue #13: the flash gate said 1.22, README 1.22, firmware/README and hardware_docs 1.24."""
    import re

    from fingerpos.tools.device import board as board_mod

    want = ".".join(map(str, board_mod.MIN_MICROPYTHON))
    docs = [REPO / "README.md", REPO / "firmware" / "README.md",
            *sorted((REPO / "docs").glob("*.md")),  # the manuals README.md links (#17 item 6)
            *sorted((REPO / "hardware_docs").glob("*.md"))]
    seen = 0
    for path in docs:
        for m in re.finditer(r"MicroPython[^.\n]{0,40}?\b(1\.\d+)\b|\((1\.\d+)(?:\+| or newer)",
                             path.read_text()):
            assert (m.group(1) or m.group(2)) == want, f"{path.name}: {m.group(0)!r}"
            seen += 1
    assert seen >= 4


def test_docs_state_the_scenario_thresholds_the_test_enforces():
    from tests.support.firmware import HEAP_FREE_MIN, LIVE_PEAK_MAX

    text = (REPO / "firmware" / "README.md").read_text()
    assert f"passes {LIVE_PEAK_MAX // 1024} KB" in text
    assert f"under {HEAP_FREE_MIN // 1024} KB" in text


def test_bring_up_flash_command_is_one_the_cli_accepts():
    import re

    guide = (REPO / "hardware_docs" / "bring-up.md").read_text()
    flashes = re.findall(r"^fingerpos device flash [^\n#]*", guide, re.M)
    assert flashes
    for cmd in flashes:
        assert "--port" in cmd and ("--id" in cmd or "--bundle" in cmd), cmd
