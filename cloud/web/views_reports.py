"""The sales report page (/reports) and its CSV tables, for a shop's staff; admins pick the shop.

Every figure comes from cloud/orders/reports.py; the seller split names the shop's people. Charts are pygal's server-rendered SVG
(a well-kept library; no JavaScript, nothing from a CDN): each is put in the page as an
<img> with a data: URI, because an SVG image is its own document, so pygal's <style>
element inside it needs no 'unsafe-inline' in the pages' Content-Security-Policy. Every
chart has its table beside it and a CSV link with the same filters.
"""

from __future__ import annotations

import base64
import csv
import io
from datetime import UTC, datetime

import pygal
from aiohttp import web
from fingerpos.cloud.api.policy import scope
from fingerpos.cloud.commerce.orderquery import safe_cell
from fingerpos.cloud.core.errors import Forbidden, Invalid, NotFound
from fingerpos.cloud.models.shops import Shop
from fingerpos.cloud.models.users import User
from fingerpos.cloud.orders import reports as R
from fingerpos.cloud.web import forms
from fingerpos.cloud.web.page import render
from tortoise import connections

TABLES = (*R.SPLITS, "method", "terminal", "seller", "product")
# The seller split's two keys that are not people (reports.seller_label).
NOT_A_SELLER = {"web": "web (no seller)", "none": "not known (no login before the sale)"}
KNOWN = {"shop", "from", "to", "table"}


async def _load(request: web.Request) -> tuple[Shop, list[Shop], R.Report, R.Report]:
    s = scope(request)
    unknown = set(request.query) - KNOWN
    if unknown:
        raise Invalid(f"unknown filter {sorted(unknown)[0][:40]!r}: use shop, from, to")
    wanted = request.query.get("shop") or s.shop
    if s.admin:
        shops = await Shop.all().order_by("id")
        wanted = wanted or (shops[0].id if shops else None)
    else:
        if wanted != s.shop:
            raise Forbidden(f"you work for shop {s.shop}, not {str(wanted)[:32]}")
        shops = await Shop.filter(id=s.shop or "")
    shop = next((x for x in shops if x.id == wanted), None)
    if shop is None:
        raise NotFound(f"no shop {str(wanted)[:32]}")
    tz = R.zone(shop.timezone)
    period = R.parse_period(request.query.get("from"), request.query.get("to"), tz,
                            datetime.now(UTC).astimezone(tz).date())
    conn = connections.get("default")
    now = await R.report(conn, shop.id, period, shop.tax_rounding)
    before = await R.report(conn, shop.id, period.previous(), shop.tax_rounding)
    return shop, shops, now, before


async def seller_names(shop: str, reps: tuple[R.Report, ...]) -> dict[str, str]:
    """The seller split's labels: "name (#id)" of the shop's own people only (a seller id
    of anyone else, or of someone deleted, stays "#id": nothing of another shop shows)."""
    keys = {k for rep in reps for _c, k in rep.splits["seller"]}
    ids = [int(k) for k in keys if k.isdigit() and len(k) < 10]
    people = {str(u.id): u.name for u in await User.filter(id__in=ids, shop_id=shop)} if ids else {}
    out = dict(NOT_A_SELLER)
    for k in keys - set(NOT_A_SELLER):
        out[k] = f"{people[k]} (#{k})" if people.get(k) else f"#{k}"
    return out


def _rows(rep: R.Report, table: str, names: dict[str, str] | None = None
          ) -> list[tuple[str, str, dict[str, int]]]:
    """(currency, label, figures) for one table of a report (sellers by their name)."""
    if table == "product":
        return [(p["currency"], f"{p['sku']} {p['name']}".strip(),
                 {"qty": p["qty"], "gross": p["gross"], "tax": p["tax"]}) for p in rep.products]
    rows = rep.splits[table].items()
    if table == "seller":
        return sorted((c, (names or {}).get(k, k), f.as_dict()) for (c, k), f in rows)
    return [(c, label, f.as_dict()) for (c, label), f in sorted(rows)]


def _columns(table: str) -> tuple[str, ...]:
    return ("qty", "gross", "tax") if table == "product" else (
        "sales", "gross", "adjustments", "net", "tax", "average", "refunds", "refund_tax",
        "net_after_refunds")


def _chart(title: str, rows: list[tuple[str, str, dict[str, int]]], value: str) -> str:
    chart = pygal.Bar(width=720, height=300, show_legend=False, x_label_rotation=30,
                      js=[], disable_xml_declaration=True, title=title)
    rows = rows[-48:] if value == "net" else rows[:12]
    chart.x_labels = [label for _, label, _f in rows]
    chart.add(value, [f[value] / 100 for _c, _l, f in rows])
    svg = chart.render(is_unicode=True)
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


async def report_page(request: web.Request) -> web.Response:
    shop, shops, now, before = await _load(request)
    split = request.query.get("table", "day")
    if split not in R.SPLITS:
        raise Invalid(f"table must be one of {', '.join(R.SPLITS)}")
    query = {"shop": shop.id, "from": str(now.period.first), "to": str(now.period.last)}
    sections = []
    names = await seller_names(shop.id, (now,))
    for table in (split, "method", "terminal", "seller", "product"):
        rows = _rows(now, table, names)
        value = "gross" if table == "product" else "net"
        sections.append({"table": table, "rows": rows, "columns": _columns(table),
                         "chart": _chart(f"{table}: {value}", rows, value) if rows else "",
                         "csv": "/reports.csv?" + "&".join(
                             f"{k}={v}" for k, v in {**query, "table": table}.items())})
    totals = sorted({*now.totals, *before.totals})
    return await render(request, "reports.html", {
        "shop": shop, "shops": shops, "period": now.period, "previous": before.period,
        "split": split, "splits": R.SPLITS, "sections": sections, "currencies": totals,
        "now": {c: now.totals.get(c, R.Figures()).as_dict() for c in totals},
        "before": {c: before.totals.get(c, R.Figures()).as_dict() for c in totals},
        "figures": ("sales", "gross", "adjustments", "net", "tax", "average", "refunds",
                    "net_after_refunds"),
        "money": forms.amount, "states": ", ".join(R.SALE_STATES)})


async def report_csv(request: web.Request) -> web.Response:
    shop, _shops, now, before = await _load(request)
    table = request.query.get("table", "day")
    if table not in TABLES:
        raise Invalid(f"table must be one of {', '.join(TABLES)}")
    out = io.StringIO()
    w = csv.writer(out)
    cols = _columns(table)
    w.writerow(["period", "currency", table, *cols])
    names = await seller_names(shop.id, (now, before)) if table == "seller" else {}
    for label, rep in (("current", now), ("previous", before)):
        for currency, key, f in _rows(rep, table, names):
            w.writerow([label, currency, safe_cell(key),
                        *(f[c] if c in ("sales", "qty") else forms.amount(f[c], currency)
                          for c in cols)])
    name = f"report-{shop.id}-{table}-{now.period.first}-{now.period.last}.csv"
    return web.Response(text=out.getvalue(), content_type="text/csv", charset="utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})

