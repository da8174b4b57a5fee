"""X and Z reports on paper: ESC/POS for the terminal's printer (the ordinary `print`
command, job "x:<shift id>" / "z:<shift id>", order 0) and a PDF for the staff page
(issue #16 item 4). Both print the same text lines, made from one ShiftReport
(cloud/orders/shiftreport.py), in the shop's time zone.

The printer side follows receipts.py: python-escpos builds the bytes, a "gb18030"
printer gets its Chinese mode (FS &) and GB18030 text, an "ascii" one never gets a
two-byte code (names in Chinese drop their wide characters, an empty name becomes the
seller id); the PDF embeds the CJK font receipts.py finds in Debian's font packages.
"""

from __future__ import annotations

import base64
import unicodedata
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from escpos.printer import Dummy
from fingerpos.cloud.commerce import receipts
from fingerpos.cloud.commerce.money import format_amount
from fingerpos.cloud.commerce.printing import CHUNK
from fingerpos.cloud.commerce.receipts import _fit, _row, _wrap
from fingerpos.cloud.models.devices import Device
from fingerpos.cloud.orders import notify
from fingerpos.cloud.orders.shiftreport import ShiftReport
from fpdf import FPDF

METHOD_LABELS = {"cash": "Cash", "card": "Card"}


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _local(at: datetime | None, tz: ZoneInfo) -> str:
    return at.astimezone(tz).strftime("%Y-%m-%d %H:%M") if at else "-"


def _narrow(text: str) -> str:
    return "".join(c for c in text if unicodedata.east_asian_width(c) not in "WF").strip()


def job_of(r: ShiftReport) -> str:
    return f"{r.kind.lower()}:{r.shift.id}"


def text_lines(r: ShiftReport, width: int = receipts.WIDTH_58MM, wide: bool = True
               ) -> list[str]:
    """The report as fixed-width lines; `wide` False: no CJK characters (ascii printer)."""
    tz = _zone(r.shop.timezone)
    cur = r.currency or "XXX"

    def money(n: int) -> str:
        return format_amount(n, cur)

    def who(seller: str) -> str:
        name = r.names.get(seller, "")
        name = name if wide else _narrow(name)
        return f"{name} ({seller})" if name else seller or "-"

    out = [_row(f"{r.kind} REPORT", f"shift {r.shift.number}", width),
           _row("Terminal", r.shift.device_id, width),
           _row("Opened", _local(r.shift.opened_at, tz), width),
           _row("By", who(r.opened_by), width)]
    if r.kind == "Z":
        out += [_row("Closed", _local(r.closed_at, tz), width), _row("By", who(r.closed_by), width)]
    else:
        out.append(_row("Printed", _local(datetime.now(tz), tz), width))
    out.append(_row("Time zone", r.shop.timezone, width))
    out.append("-" * width)
    out.append("SALES")
    for method, s in sorted(r.sales.items()):
        out.append(_row(f"  {METHOD_LABELS.get(method, method)} x{s.count}", money(s.amount),
                        width))
    total = r.sales_total
    out.append(_row(f"  Total x{total.count}", money(total.amount), width))
    out.append(_row(f"Refunds (cash) x{r.refunds.count}", money(-r.refunds.amount), width))
    if r.refused.count:
        out.append(_row(f"Refunds refused x{r.refused.count}", money(r.refused.amount), width))
    out.append("-" * width)
    out.append("CASH DRAWER")
    out += [_row("  Opening float", money(r.float), width),
            _row("  Cash sales", money(r.sales.get("cash").amount if "cash" in r.sales else 0),
                 width),
            _row(f"  Cash in x{r.cash_in.count}", money(r.cash_in.amount), width),
            _row(f"  Cash out x{r.cash_out.count}", money(-r.cash_out.amount), width),
            _row("  Cash refunds", money(-r.refunds.amount), width),
            _row("  Expected", money(r.expected), width)]
    if r.counted is not None and r.difference is not None:
        out += [_row("  Counted", money(r.counted), width),
                _row("  Difference", ("+" if r.difference > 0 else "") + money(r.difference),
                     width)]
        if r.approved_by:
            out.append(_row("  Approved by", who(r.approved_by), width))
    if r.flags:
        out.append("-" * width)
        for flag in r.flags:
            out += _wrap("! " + flag, width)
    for e in r.anomalies:
        out += _wrap(f"  seq {e.seq}: {e.note if wide else _narrow(e.note)}", width)
    return out


def render_escpos(r: ShiftReport, width: int = receipts.WIDTH_58MM,
                  charset: str = "ascii") -> bytes:
    if charset not in receipts.CHARSETS:
        raise ValueError(f"unknown printer charset {charset!r}")
    wide = charset == "gb18030"
    p = Dummy()

    def text(t: str) -> None:
        if wide:
            p._raw(t.encode("gb18030", "replace"))
        else:
            p.text(t)

    if wide:
        p._raw(b"\x1c\x26")   # FS &: Chinese character mode (receipts.py)
    shop = r.shop.name or r.shop.id
    p.set(align="center", bold=True, double_height=True)
    text(_fit(shop if wide else (_narrow(shop) or r.shop.id), width // 2) + "\n")
    p.set(align="center", bold=False, normal_textsize=True)
    text(f"*** {r.kind} REPORT ***\n")
    p.set(align="left")
    for line in text_lines(r, width, wide):
        text(line + "\n")
    text("\n\n\n")
    p.cut()
    return bytes(p.output)


def render_pdf(r: ShiftReport) -> bytes:
    lines = text_lines(r, 44)
    pdf = FPDF(format=(105, max(148, 30 + 4.5 * len(lines))))
    pdf.set_margins(8, 8, 8)
    pdf.set_auto_page_break(True, 8)
    pdf.add_page()
    font = receipts._font_path()
    if font:
        pdf.add_font("receipt", fname=font)
        face, clean = "receipt", str
    else:
        face, clean = "helvetica", receipts._ascii_fallback
    pdf.set_title(f"{r.kind} report, shift {r.shift.number} of {r.shift.device_id}")
    pdf.set_font(face, size=14)
    pdf.cell(0, 8, clean(r.shop.name or r.shop.id), new_x="LMARGIN", new_y="NEXT", align="C")
    pdf.set_font(face, size=8)
    for line in lines:
        pdf.cell(0, 4.5, clean(line), new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


async def send(r: ShiftReport) -> bool:
    """Print the report on the shift's terminal, in `print` parts; False if not all sent."""
    device = await Device.get_or_none(id=r.shift.device_id, revoked=False)
    if device is None:
        return False
    data = render_escpos(r, charset=device.printer_charset)
    parts = [data[i:i + CHUNK] for i in range(0, len(data), CHUNK)]
    sent = True
    for n, part in enumerate(parts, 1):
        sent &= await notify.send_command(device.id, "print", {
            "order": 0, "version": 0, "job": job_of(r), "part": n, "parts": len(parts),
            "escpos": base64.b64encode(part).decode()})
    return sent
