"""Receipts: one Receipt rendered as a PDF for the web and as ESC/POS bytes
for the terminal's thermal printer (python-escpos builds the byte stream,
fpdf2 the PDF). Both show the revision number, so a reprint after a price
change or a revision is never mistaken for the original.

Chinese on paper: the PDF embeds a subset of a CJK font from a Debian package
(`./run` installs fonts-wqy-microhei, 5 MB, where fonts-noto-cjk is 91 MB; Noto is
used when present). A thermal printer prints Chinese only when it is a CJK model
set to its Chinese character mode, so ESC/POS output depends on the printer's
`charset` (Device.printer_charset): "gb18030" selects that mode (FS &) and sends
the text in GB18030; "ascii" (the default, any ESC/POS printer) never sends
two-byte codes: a name it cannot print is replaced by the product's SKU.
"""

from __future__ import annotations

import io
import logging
import unicodedata
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import qrcode
from escpos.printer import Dummy
from fingerpos.cloud.orders.tax import TaxGroup
from fpdf import FPDF

from .money import format_amount, format_money

log = logging.getLogger(__name__)

# Fonts tried for the PDF, in order: CJK-capable first (Debian's fonts-noto-cjk,
# fonts-wqy-microhei), then DejaVu (Latin, Greek, Cyrillic, symbols: no Hanzi).
CJK_FONTS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
)
_FONT_CANDIDATES = (
    *CJK_FONTS,
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
)
WIDTH_58MM = 32  # characters per line in font A on a 58 mm (384-dot) printer
WIDTH_80MM = 48
CHARSETS = ("ascii", "gb18030")  # what a receipt printer can print (Device.printer_charset)
_FS_CHINESE_MODE = b"\x1c\x26"  # FS &: select Chinese (Kanji) character mode


@dataclass(frozen=True)
class ReceiptLine:
    sku: str
    name: str
    qty: int
    unit_price: int
    line_total: int


@dataclass(frozen=True)
class Receipt:
    shop: str
    order_id: int
    revision: int
    created_at: datetime
    currency: str
    lines: tuple[ReceiptLine, ...]
    total: int
    adjustments: tuple[tuple[str, int], ...] = ()
    payment_method: str = ""
    paid: int | None = None
    state: str = ""
    terminal: str = ""
    seller: str = ""
    pickup_code: str = ""  # shown to the buyer only; never printed at the counter
    reprint: bool = False
    notes: tuple[str, ...] = field(default_factory=tuple)
    address: str = ""      # the shop's, under its name
    tax_id: str = ""       # the shop's tax number (税号)
    taxes: tuple[TaxGroup, ...] = ()   # the tax in the total, per rate (orders/tax.py)
    zone: str = "UTC"      # the shop's time zone (IANA): the date is printed in it
    # A refund receipt (orders/refunds.py): its lines are what went back, its total and
    # taxes what was paid back, `payment_method` how.
    refund_id: int | None = None
    reason: str = ""


def _cols(text: str) -> int:
    """Printed width: East Asian wide characters take two columns."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _fit(text: str, width: int) -> str:
    out, used = "", 0
    for c in text:
        w = _cols(c)
        if used + w > width:
            break
        out, used = out + c, used + w
    return out


def _wrap(text: str, width: int) -> list[str]:
    """Text over as many lines as it needs, by printed width (no word breaks: a Chinese
    address has no spaces, and an address cut short is worse than one broken mid-word)."""
    out, cur, used = [], "", 0
    for c in " ".join(text.split()):
        w = _cols(c)
        if used + w > width:
            out.append(cur.rstrip())
            cur, used = "", 0
            if c == " ":
                continue
        cur, used = cur + c, used + w
    if cur.strip():
        out.append(cur.rstrip())
    return out


def _row(left: str, right: str, width: int) -> str:
    left = _fit(left, max(1, width - _cols(right) - 1))
    return left + " " * (width - _cols(left) - _cols(right)) + right


def shop_zone(name: str) -> ZoneInfo:
    """The shop's IANA zone for paper; UTC when this system does not know it (a receipt
    or a Z report still prints, in the time the database keeps, never in a guess)."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def when(at: datetime, zone: str) -> str:
    """The shop's local time with its UTC offset, in ASCII so a printer without a CJK code
    page prints it too: "2026-12-08 01:28 UTC+08:00" (a naive time is UTC)."""
    local = (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(shop_zone(zone))
    off = local.strftime("%z")
    return f"{local:%Y-%m-%d %H:%M} UTC{off[:3]}:{off[3:]}"


def text_lines(r: Receipt, width: int = WIDTH_58MM) -> list[str]:
    """The receipt body as fixed-width text lines (shared by ESC/POS and tests)."""
    out = _wrap(r.address, width) if r.address else []
    if r.tax_id:
        out.append(_row("Tax ID", r.tax_id, width))
    if r.refund_id is not None:
        out.append(_row("REFUND", f"#{r.refund_id}", width))
    out += [_row("Order", f"#{r.order_id} rev {r.revision}", width),
            _row("Date", when(r.created_at, r.zone), width)]
    if r.reason:
        out += _wrap("Reason: " + r.reason, width)
    if r.terminal:
        out.append(_row("Terminal", r.terminal, width))
    if r.seller:
        out.append(_row("Seller", r.seller, width))
    out.append("-" * width)
    for ln in r.lines:
        out.append(_fit(ln.name or ln.sku, width))
        out.append(_row(f"  {ln.qty} x {format_amount(ln.unit_price, r.currency)}",
                        format_amount(ln.line_total, r.currency), width))
    for label, amount in r.adjustments:
        out.append(_row(label, format_amount(amount, r.currency), width))
    out.append("-" * width)
    out.append(_row("TOTAL" if r.refund_id is None else "REFUNDED",
                    format_money(r.total, r.currency), width))
    for g in r.taxes:     # prices include tax: what of the total is tax, per rate
        if g.rate:
            out.append(_row(f"incl. VAT {g.percent} of {format_amount(g.gross, r.currency)}",
                            format_amount(g.tax, r.currency), width))
    if r.payment_method:
        paid = format_amount(r.paid if r.paid is not None else r.total, r.currency)
        out.append(_row(f"{'Paid' if r.refund_id is None else 'Paid back'} "
                        f"({r.payment_method})", paid, width))
    out.extend(_fit(n, width) for n in r.notes)
    return out


def _single_width(text: str) -> bool:
    return not any(unicodedata.east_asian_width(c) in "WF" for c in text)


def for_charset(r: Receipt, charset: str) -> Receipt:
    """The receipt as a printer of that charset can print it: on "ascii", a product
    name with wide (CJK) characters becomes its SKU, and such characters leave the
    other texts (python-escpos would send them as GB18030, garbage on such a printer)."""
    if charset not in CHARSETS:
        raise ValueError(f"unknown printer charset {charset!r} (one of {', '.join(CHARSETS)})")
    if charset == "gb18030":
        return r

    def strip(text: str) -> str:
        return "".join(c for c in text if unicodedata.east_asian_width(c) not in "WF").strip()

    lines = tuple(ln if _single_width(ln.name) else replace(ln, name=f"SKU {ln.sku}")
                  for ln in r.lines)
    return replace(r, shop=strip(r.shop) or "RECEIPT", seller=strip(r.seller), lines=lines,
                   notes=tuple(strip(n) for n in r.notes), address=strip(r.address),
                   tax_id=strip(r.tax_id), reason=strip(r.reason),
                   adjustments=tuple((strip(label) or "Adjustment", amount)
                                     for label, amount in r.adjustments))


def render_escpos(r: Receipt, width: int = WIDTH_58MM, charset: str = "ascii") -> bytes:
    """ESC/POS bytes for a TTL thermal printer: header, lines, total, cut. charset
    "gb18030": a CJK printer, put in its Chinese character mode (FS &), text in GB18030;
    "ascii": any printer (python-escpos picks a code page for accented Latin)."""
    r = for_charset(r, charset)
    p = Dummy()

    def text(t: str) -> None:
        if charset == "gb18030":  # one encoding for everything (no ESC t code page switches)
            p._raw(t.encode("gb18030", "replace"))
        else:
            p.text(t)

    if charset == "gb18030":
        p._raw(_FS_CHINESE_MODE)
    p.set(align="center", bold=True, double_height=True)
    text(_fit(r.shop, width // 2) + "\n")
    p.set(align="center", bold=False, normal_textsize=True)
    if r.reprint:
        text("*** REPRINT ***\n")
    if r.refund_id is not None:
        text("*** REFUND ***\n")
    p.set(align="left")
    for line in text_lines(r, width):
        text(line + "\n")
    text("\n")
    p.set(align="center")
    text("Thank you\n\n\n")
    p.cut()
    return bytes(p.output)


@cache
def _font_path() -> str | None:
    for cand in _FONT_CANDIDATES:
        if Path(cand).exists():
            if cand not in CJK_FONTS:
                log.warning("no CJK font (install fonts-wqy-microhei or fonts-noto-cjk): "
                            "Chinese text on PDF receipts will be missing")
            return cand
    log.warning("no TrueType font found: PDF receipts fall back to Latin-1")
    return None


def _ascii_fallback(text: str) -> str:
    return text.encode("latin-1", "replace").decode("latin-1")


def render_pdf(r: Receipt) -> bytes:
    """A one-page A6-ish PDF receipt with the pickup code as text and QR."""
    pdf = FPDF(format=(105, 148 + 5 * max(0, len(r.lines) - 8)))
    pdf.set_margins(8, 8, 8)
    pdf.set_auto_page_break(True, 8)
    pdf.add_page()
    font = _font_path()
    if font:
        pdf.add_font("receipt", fname=font)
        face, clean = "receipt", str
    else:  # no TTF on this machine: core font, characters outside Latin-1 become "?"
        face, clean = "helvetica", _ascii_fallback
    pdf.set_title(f"Receipt {r.order_id} rev {r.revision}" if r.refund_id is None
                  else f"Refund {r.refund_id} of order {r.order_id}")
    pdf.set_font(face, size=14)
    pdf.cell(0, 8, clean(r.shop), new_x="LMARGIN", new_y="NEXT", align="C")
    pdf.set_font(face, size=8)
    if r.reprint:
        pdf.cell(0, 5, "REPRINT", new_x="LMARGIN", new_y="NEXT", align="C")
    for line in text_lines(r, 44):
        pdf.cell(0, 4.5, clean(line), new_x="LMARGIN", new_y="NEXT")
    if r.state:
        pdf.cell(0, 5, clean(f"State: {r.state}"), new_x="LMARGIN", new_y="NEXT")
    if r.pickup_code:
        pdf.ln(2)
        pdf.set_font(face, size=11)
        pdf.cell(0, 6, f"Pickup code: {r.pickup_code}", new_x="LMARGIN", new_y="NEXT", align="C")
        img = qrcode.make(f"fingerpos:pickup:{r.order_id}:{r.pickup_code}", box_size=4, border=1)
        buf = io.BytesIO()
        img.save(buf, format="PNG")
        pdf.image(buf, x=(105 - 30) / 2, w=30, h=30)
    return bytes(pdf.output())
