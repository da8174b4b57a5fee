"""Order query (filters, keyset pages) and the streamed CSV export of any filter."""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web
from fingerpos.cloud.accounts import auth
from fingerpos.cloud.api import schemas_commerce as sc
from fingerpos.cloud.api.validation import query
from fingerpos.cloud.commerce import orderquery
from fingerpos.cloud.core.errors import Invalid


def _check(f: sc.OrderQuery) -> None:
    # A time without a zone is UTC (the database keeps UTC): naive and aware never mix.
    for name in ("since", "until"):
        value = getattr(f, name)
        if value is not None and value.tzinfo is None:
            setattr(f, name, value.replace(tzinfo=UTC))
    if f.since and f.until and f.since >= f.until:
        raise Invalid("since must be before until")
    if f.min_total is not None and f.max_total is not None and f.min_total > f.max_total:
        raise Invalid("min_total must not be above max_total")


async def list_(request: web.Request) -> web.Response:
    user = await auth.require(request)
    f = query(request, sc.OrderQuery)
    _check(f)
    return web.json_response(await orderquery.page(user, f))


async def export_csv(request: web.Request) -> web.StreamResponse:
    user = await auth.require(request)
    f = query(request, sc.ExportQuery)
    _check(f)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    response = web.StreamResponse(headers={
        "Content-Type": "text/csv; charset=utf-8",
        "Content-Disposition": f'attachment; filename="orders-{stamp}.csv"',
        "X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store"})
    if request.method == "HEAD":   # the headers only: a streamed body would follow them
        await response.prepare(request)
        return response
    response.enable_chunked_encoding()
    await response.prepare(request)
    async for chunk in orderquery.csv_chunks(user, f, excel=f.excel):
        await response.write(chunk)
    await response.write_eof()
    return response
