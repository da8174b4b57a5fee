"""`fingerpos screenshots`: a clear error without Chromium, and a full run that writes one
PNG per main page (the command the README's screenshots come from)."""

from __future__ import annotations

import struct

from fingerpos.tools.cli import main


def test_missing_chromium_is_one_clear_line(tmp_path, capsys):
    code = main(["screenshots", "--out", str(tmp_path), "--chromium", str(tmp_path / "nope")])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "chromium" in err and err.count("\n") == 1


def test_screenshots_of_every_main_page(tmp_path, capsys):
    out = tmp_path / "shots"
    code = main(["screenshots", "--out", str(out)])
    assert code == 0
    names = {p.stem for p in out.glob("*.png")}
    assert {"shop", "search", "product", "cart", "pay", "order", "orders", "shop-phone",
            "monitor", "devices", "alarms", "order-staff", "catalogue", "product-edit",
            "people", "person", "reset", "reports", "receipt"} <= names
    for png in out.glob("*.png"):
        head = png.read_bytes()[:24]
        assert head[:8] == b"\x89PNG\r\n\x1a\n"
        width, height = struct.unpack(">II", head[16:24])
        if png.stem == "receipt":   # PDFium's page at 2x: wider than tall would be wrong
            assert 400 <= width < height, (png.name, width, height)
        else:
            assert width in (390, 1280) and height >= 600, png.name   # full-page, no overflow
    captured = capsys.readouterr()
    assert "screenshots in" in captured.out
    assert "warning" not in captured.err   # a font with Chinese glyphs was found


def test_a_font_with_chinese_glyphs_is_installed():
    """What Chromium draws 街角茶馆 with: fontconfig must have a family covering every
    character (./run installs fonts-wqy-microhei); a plane-15 private-use character,
    which no Debian font covers, finds none, so the check can fail."""
    from fingerpos.tools.cmd_screenshots import CJK_PROBE, cjk_fonts

    fonts = cjk_fonts(CJK_PROBE)
    assert fonts, "no font covers " + CJK_PROBE
    assert cjk_fonts("\U000F0001") == []
