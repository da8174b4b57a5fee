"""The pickup code as a QR code: an SVG made on the server (the `qrcode` package),
so the page needs no script and no image request to show it."""

from __future__ import annotations

import qrcode
import qrcode.image.svg


def svg(text: str) -> str:
    """An inline <svg> element encoding `text` (medium error correction, 4-module border)."""
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=10, border=4,
                         image_factory=qrcode.image.svg.SvgPathImage)
    code.add_data(text)
    code.make(fit=True)
    out = code.make_image().to_string(encoding="unicode")
    # Drop the XML declaration: the element is placed inside the HTML page.
    return out[out.index("<svg"):] if "<svg" in out else out
