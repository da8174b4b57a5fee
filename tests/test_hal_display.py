"""Pico HAL parts that run on the unix port: the SSD1306 text renderer and keypad debouncing."""

from __future__ import annotations

from .conftest import REPO, run_micropython


def _render():
    out = run_micropython(REPO / "tests" / "mp" / "io_ssd1306.py", str(REPO / "firmware"), timeout=30)
    assert out.returncode == 0, out.stderr
    return dict(line.split(" ", 1) for line in out.stdout.splitlines())


def test_init_turns_the_panel_on_with_charge_pump():
    cmds = _render()["init"].split()
    assert cmds[0] == "ae" and cmds[-1] == "af"
    assert "8d 14" in " ".join(cmds) and "a8 1f" in " ".join(cmds)  # 32 rows


def test_text_is_21_characters_a_line_in_6_pixel_cells():
    r = _render()
    assert r["refresh"].split() == ["21", "00", "7f", "22", "00", "03"]
    data = bytes.fromhex(r["data"])
    assert data[0] == 0x40 and len(data) == 1 + 128 * 32 // 8
    fb = data[1:]
    line0 = fb[0:128]
    for i, ch in enumerate("HELLO WORLD 123456789"):
        cell = line0[i * 6:i * 6 + 6]
        assert cell[5] == 0, f"no gap after {ch!r}"  # characters never touch
        assert any(cell[:5]) == (ch != " "), ch
    assert not any(line0[126:])  # "xyz" past 21 characters is cut, not wrapped
    assert not any(fb[128:256])  # empty second line
    line2 = fb[256:384]
    assert all(any(line2[i * 6:i * 6 + 5]) for i in (0, 1, 3, 4, 6))  # M W m w #
    assert any(fb[384:512])  # 4th line drawn; a 5th has no room on 32 rows


def _keys(scans: str) -> str:
    out = run_micropython(REPO / "tests" / "mp" / "io_debounce.py", str(REPO / "firmware"), scans,
                          timeout=30)
    assert out.returncode == 0, out.stderr
    return out.stdout.splitlines()[-1].strip() if out.stdout.strip() else ""


def test_keypad_debounce_one_report_per_press():
    assert _keys("1111....") == "1"
    assert _keys("1.1.11..1...2.2222") == "12"  # bounce on press and release: once each
    assert _keys("1...1...") == "11"  # a real second press
    assert _keys("12..2...") == "12"  # rolled to another key
    assert _keys("........") == ""
