"""Receipts (PDF and ESC/POS), money formatting and validation before print."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest
from fingerpos import protocol
from fingerpos.cloud.commerce import money
from fingerpos.cloud.commerce.receipts import (
    CJK_FONTS,
    WIDTH_58MM,
    Receipt,
    ReceiptLine,
    _cols,
    render_escpos,
    render_pdf,
    text_lines,
)
from fingerpos.cloud.commerce.validation import Line, Revision, SourceEvent, validate
from fingerpos.protocol.host import seal
from pypdf import PdfReader

WHEN = datetime(2026, 11, 21, 14, 30)


def receipt(**kw) -> Receipt:
    base = dict(shop="Corner Tea", order_id=1042, revision=2, created_at=WHEN, currency="EUR",
                lines=(ReceiptLine("T-9", "Oolong 250g", 2, 1299, 2598),
                       ReceiptLine("C-1", "Cup", 1, 450, 450)),
                adjustments=(("Discount", -48),), total=3000, payment_method="cash",
                terminal="t1", seller="Zoë", pickup_code="731904")
    return Receipt(**(base | kw))


@pytest.mark.parametrize("minor, cur, text", [
    (1250, "EUR", "12.50"), (-5, "EUR", "-0.05"), (500, "JPY", "500"), (1234, "KWD", "1.234"),
    (0, "CNY", "0.00"),
])
def test_format_amount(minor, cur, text):
    assert money.format_amount(minor, cur) == text


@pytest.mark.parametrize("bad", ["eur", "EURO", "", None, "E1R"])
def test_bad_currency_is_a_clear_error(bad):
    with pytest.raises(money.MoneyError, match="ISO 4217"):
        money.format_money(100, bad)


def test_amount_must_be_integer_minor_units():
    with pytest.raises(money.MoneyError, match="minor units"):
        money.format_amount(12.5, "EUR")


def test_text_lines_fit_the_paper_and_add_up():
    lines = text_lines(receipt())
    assert all(_cols(line) <= WIDTH_58MM for line in lines)
    joined = "\n".join(lines)
    assert "#1042 rev 2" in joined and "30.00 EUR" in joined and "-0.48" in joined
    assert "731904" not in joined  # the pickup code is never printed at the counter


@pytest.mark.parametrize("at, zone, printed", [
    # IANA tz data: China keeps UTC+8 all year; Berlin is UTC+2 in summer, +1 in winter;
    # a naive time from the database is UTC; a zone unknown here prints as UTC.
    (datetime(2026, 12, 7, 17, 28, tzinfo=UTC), "Asia/Shanghai", "2026-12-08 01:28 UTC+08:00"),
    (datetime(2026, 7, 1, 23, 5), "Europe/Berlin", "2026-07-02 01:05 UTC+02:00"),
    (datetime(2026, 1, 1, 23, 5), "Europe/Berlin", "2026-01-02 00:05 UTC+01:00"),
    (datetime(2026, 1, 1, 9, 0), "America/St_Johns", "2026-01-01 05:30 UTC-03:30"),
    (datetime(2026, 1, 1, 9, 0), "Mars/Olympus", "2026-01-01 09:00 UTC+00:00"),
])
def test_the_date_is_the_shops_local_time_with_its_offset(at, zone, printed):
    lines = text_lines(receipt(created_at=at, zone=zone))
    assert any(ln.startswith("Date") and ln.endswith(printed) for ln in lines), lines


def test_wide_characters_are_counted_as_two_columns():
    lines = text_lines(receipt(lines=(ReceiptLine("T", "乌龙茶" * 20, 1, 100, 100),), total=100,
                               adjustments=()))
    assert all(_cols(line) <= WIDTH_58MM for line in lines)


def test_escpos_bytes():
    raw = render_escpos(receipt(reprint=True))
    assert raw.startswith(b"\x1b")  # starts with a formatting command
    assert b"rev 2" in raw and b"REPRINT" in raw
    assert b"\x1dV" in raw[-8:]  # ends with a cut


@pytest.mark.parametrize("name", ["<script>alert(1)</script>", "乌龙茶 ☕ 🍵", "\x00\x1b@", "é" * 500])
def test_escpos_never_crashes_on_odd_names(name):
    raw = render_escpos(receipt(lines=(ReceiptLine("X", name, 1, 1, 1),), total=1, adjustments=()))
    assert raw.rstrip(b"\n").endswith(raw[-4:])


def test_pdf_shows_revision_total_and_pickup_code():
    pdf = render_pdf(receipt())
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    assert "Corner Tea" in text and "rev 2" in text and "30.00 EUR" in text
    assert "Pickup code: 731904" in text


def test_pdf_with_many_lines_and_unicode():
    lines = tuple(ReceiptLine(f"S{i}", f"Ware {i} – café", 1, 100, 100) for i in range(60))
    pdf = render_pdf(receipt(lines=lines, total=6000 - 48))
    reader = PdfReader(io.BytesIO(pdf))
    assert "Ware 59" in "".join(p.extract_text() for p in reader.pages)


def _tea_house(**kw) -> Receipt:
    return receipt(shop="街角茶馆", currency="CNY", seller="王芳",
                   lines=(ReceiptLine("WL-250", "乌龙茶 250克", 2, 1890, 3780),
                          ReceiptLine("YB-1", "月饼", 1, 1220, 1220)),
                   adjustments=(), total=5000, **kw)


def test_a_pdf_receipt_keeps_its_chinese_text():
    """The issue's reference: a Shanghai shop's receipt, read back out of the PDF. Needs a
    CJK font from a Debian package (./run installs fonts-wqy-microhei)."""
    from pathlib import Path

    assert any(Path(f).exists() for f in CJK_FONTS), "no CJK font: ./run test installs one"
    pdf = render_pdf(_tea_house())
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    assert "街角茶馆" in text and "乌龙茶" in text and "月饼" in text and "王芳" in text
    assert len(pdf) < 60_000, len(pdf)  # the font goes in as a subset, not its 5 MB


def _text_of_gb18030(data: bytes) -> str:
    """The printable text of a Chinese-mode ESC/POS stream: its control sequences dropped
    (ESC !/a/E + 1 byte, GS ! + 1 byte, GS V + 2 bytes, FS &), the rest GB18030."""
    import re

    data = re.sub(rb"\x1b[!aEM-].|\x1d!.|\x1dV..|\x1c&|\x1b@", b"", data, flags=re.S)
    return data.decode("gb18030")


def test_a_gb18030_printer_gets_chinese_in_its_chinese_mode():
    out = render_escpos(_tea_house(), charset="gb18030")
    assert out.startswith(b"\x1c&")  # FS &: Chinese character mode, before any text
    assert "乌龙茶".encode("gb18030") in out and "街角茶馆".encode("gb18030") in out
    text = _text_of_gb18030(out)
    assert "街角茶馆" in text and "乌龙茶 250克" in text and "王芳" in text and "50.00 CNY" in text


def test_an_ascii_printer_never_gets_two_byte_codes():
    out = render_escpos(_tea_house(), charset="ascii")
    assert "乌".encode("gb18030") not in out and b"\x1c&" not in out
    assert b"SKU WL-250" in out and b"SKU YB-1" in out and b"50.00 CNY" in out
    assert b"RECEIPT" in out  # a shop name with nothing printable left
    latin = render_escpos(receipt(), charset="ascii")  # accented Latin keeps a code page
    assert b"Oolong 250g" in latin and b"Zo" in latin


@pytest.mark.parametrize("bad", ["utf-8", "", "GB18030 "])
def test_an_unknown_printer_charset_is_a_clear_error(bad):
    with pytest.raises(ValueError, match="unknown printer charset"):
        render_escpos(receipt(), charset=bad)


# --- validation before print ---------------------------------------------------

KEY = bytes(range(32))


def revision(**kw) -> Revision:
    topic, payload, _ = seal(KEY, "t1", protocol.EVT, 7, 0, "sale", "", {"ref": "x"})
    base = dict(order_id=1, version=3, current_version=3, currency="EUR",
                lines=(Line("A", "a", 2, 350, 700, "EUR"), Line("B", "b", 1, 1299, 1299, "EUR")),
                adjustments=(("Coupon", -99),), total=1900,
                sources=(SourceEvent(topic, payload, KEY),))
    return Revision(**(base | kw))


def test_a_consistent_revision_passes():
    assert validate(revision()) == []


@pytest.mark.parametrize("change, code", [
    (dict(total=1901), "order_total"),
    (dict(lines=(Line("A", "a", 2, 350, 701, "EUR"),), total=602), "line_total"),
    (dict(lines=(Line("A", "a", 0, 350, 0, "EUR"),), total=-99), "bad_qty"),
    (dict(lines=(Line("A", "a", 1, -5, -5, "EUR"),)), "bad_price"),
    (dict(lines=(Line("A", "a", 1, 100, 100, "USD"),), total=1), "currency"),
    (dict(currency="euro"), "currency"),
    (dict(version=2), "stale_version"),
    (dict(lines=(), total=-99), "no_lines"),
    (dict(adjustments=(("x", 1.5),)), "adjustment"),
])
def test_each_inconsistency_is_reported(change, code):
    assert code in {p.code for p in validate(revision(**change))}


def test_a_tampered_source_event_is_reported():
    good = revision().sources[0]
    bad = SourceEvent(good.topic, good.payload.replace(b'"seq":7', b'"seq":8'), good.key)
    problems = validate(revision(sources=(bad,)))
    assert [p.code for p in problems] == ["source_signature"]
    assert "bad_signature" in problems[0].message


def test_a_source_checked_with_the_wrong_key_is_reported():
    good = revision().sources[0]
    problems = validate(revision(sources=(SourceEvent(good.topic, good.payload, bytes(32)),)))
    assert [p.code for p in problems] == ["source_signature"]
