"""Receipts: the PDF for the web, printing at the shop's terminal (validated first)."""

from __future__ import annotations

from aiohttp import web
from fingerpos.cloud.accounts import auth
from fingerpos.cloud.api import schemas_commerce as sc
from fingerpos.cloud.api.validation import body, path_int, query
from fingerpos.cloud.commerce import printing
from fingerpos.cloud.models.users import Role


async def receipt_pdf(request: web.Request) -> web.Response:
    user = await auth.require(request)
    order_id = path_int(request, "order")
    refund = query(request, sc.ReceiptQuery).refund
    pdf = await printing.pdf_for(order_id, user, refund)
    name = f"receipt-{order_id}" + (f"-refund-{refund}" if refund else "")
    return web.Response(body=pdf, content_type="application/pdf", headers={
        "Content-Disposition": f'inline; filename="{name}.pdf"',
        "X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store"})


async def print_(request: web.Request) -> web.Response:
    user = await auth.require(request, Role.SELLER, Role.MANAGER, Role.ADMIN)
    order_id = path_int(request, "order")
    data = await body(request, sc.PrintIn)
    return web.json_response(await printing.print_order(order_id, user, data.device))
