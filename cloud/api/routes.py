"""Every HTTP route of the cloud core, in one table that also feeds the OpenAPI document."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web
from fingerpos.cloud.api import schemas as s
from fingerpos.cloud.api import schemas_commerce as sc
from fingerpos.cloud.api import views_auth as va
from fingerpos.cloud.api import views_catalog as vcat
from fingerpos.cloud.api import views_devices as vd
from fingerpos.cloud.api import views_export as vx
from fingerpos.cloud.api import views_monitor as vm
from fingerpos.cloud.api import views_orders as vo
from fingerpos.cloud.api import views_payments as vp
from fingerpos.cloud.api import views_receipts as vr
from fingerpos.cloud.api import views_revisions as vrev
from pydantic import BaseModel

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: Handler
    summary: str
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    ok: int = 200
    auth: bool = True           # needs a session cookie or bearer token
    errors: tuple[int, ...] = field(default=(400, 401, 403, 404))
    content: str = "application/json"


V1 = "/api/v1"
ROUTES: list[Route] = [
    Route("POST", V1 + "/auth/register", va.register, "Register a buyer account", s.Register,
          ok=201, auth=False, errors=(400, 413, 429)),
    Route("POST", V1 + "/auth/login", va.login, "Log in; sets the session cookie, returns the CSRF token",
          s.Login, auth=False, errors=(400, 401, 413, 429)),
    Route("POST", V1 + "/auth/logout", va.logout, "Log out (ends the session)", errors=(401, 403)),
    Route("GET", V1 + "/auth/me", va.me, "The current user and the session's CSRF token",
          errors=(401,)),
    Route("GET", V1 + "/devices", vd.list_, "Terminals of the caller's shop (all for admins)"),
    Route("POST", V1 + "/devices", vd.register, "Register a terminal and its key (admin, manager)",
          s.DeviceIn, ok=201, errors=(400, 401, 403, 409, 413)),
    Route("POST", V1 + "/devices/{device}/revoke", vd.revoke, "Revoke a terminal"),
    Route("POST", V1 + "/devices/{device}/rotate", vd.rotate, "Replace a terminal's key",
          s.RotateKey, errors=(400, 401, 403, 404, 413)),
    Route("POST", V1 + "/shops", vd.create_shop, "Create a shop (admin)", s.ShopIn, ok=201,
          errors=(400, 401, 403, 409, 413)),
    Route("GET", V1 + "/shops/{shop}/products", vd.products, "A shop's products", query=s.NoQuery,
          auth=False, errors=(400,)),
    Route("POST", V1 + "/shops/{shop}/products", vcat.put_product,
          "Create or update a product by sku (the shop's sellers and managers, admins)",
          sc.ProductFull, errors=(400, 401, 403, 404, 413)),
    Route("GET", V1 + "/orders", vx.list_,
          "Orders the caller may see, filtered; `next` is the keyset cursor for `before`",
          query=sc.OrderQuery),
    Route("POST", V1 + "/orders", vo.create, "Place an order from a cart (buyer)", s.CartIn, ok=201,
          errors=(400, 401, 403, 404, 413)),
    # Before /orders/{order}: routes match in this order.
    Route("GET", V1 + "/orders/export.csv", vx.export_csv,
          "CSV export of the orders matching the filter, streamed (formula cells escaped)",
          query=sc.ExportQuery, content="text/csv"),
    Route("GET", V1 + "/orders/ws", vm.buyer_feed,
          "WebSocket feed of the caller's own orders: {kind: hello|order, data}", ok=101,
          errors=(400, 401, 403)),
    Route("GET", V1 + "/orders/{order}", vo.get, "One order with lines, revisions and events"),
    Route("POST", V1 + "/orders/{order}/price", vo.change_price,
          "Change an unpaid order's total (seller with the right, manager)", s.PriceChangeIn,
          errors=(400, 401, 403, 404, 409, 413)),
    Route("POST", V1 + "/orders/{order}/pay", vo.pay,
          "Record a counter (cash) payment: staff of the order's shop; amount, currency and "
          "version must match (buyers pay through /payments)", s.PayIn,
          errors=(400, 401, 403, 404, 409, 413)),
    Route("POST", V1 + "/orders/{order}/cancel", vo.cancel, "Cancel an order",
          errors=(400, 401, 403, 404, 409)),
    Route("POST", V1 + "/orders/{order}/hold", vo.hold, "Hold an unpaid order for revision (staff)",
          errors=(400, 401, 403, 404, 409)),
    Route("POST", V1 + "/orders/{order}/release", vo.release,
          "Release a held order back to pending_payment (staff)", errors=(400, 401, 403, 404, 409)),
    Route("GET", V1 + "/audit", vm.audit_log, "The audit trail, newest first (admin)",
          query=s.AuditFilter),
    Route("GET", V1 + "/alarms", vm.list_alarms, "Alarms, newest first", query=s.AlarmFilter),
    Route("POST", V1 + "/alarms/{alarm}/ack", vm.ack_alarm, "Acknowledge an alarm"),
    Route("POST", V1 + "/alarms/{alarm}/clear", vm.clear_alarm, "Clear an alarm"),
    Route("GET", V1 + "/monitor", vm.snapshot, "Order state counts, open alarms, devices"),
    Route("GET", V1 + "/monitor/ws", vm.feed,
          "WebSocket live feed: JSON messages {kind, data}; kind snapshot|order|alarm|counts|device|ingest",
          ok=101, errors=(400, 401, 403)),
    # Commerce (cloud/commerce): catalogue, payments, receipts, validation and revision.
    Route("GET", V1 + "/products/search", vcat.search,
          "Search products: full text ranked, filters, paginated", query=sc.SearchQuery,
          auth=False, errors=(400,)),
    Route("GET", V1 + "/shops/{shop}/products/{sku}", vcat.get_product, "One product",
          auth=False, errors=(404,)),
    Route("DELETE", V1 + "/shops/{shop}/products/{sku}", vcat.delete_product,
          "Delete a product (the shop's sellers and managers, admins)"),
    Route("GET", V1 + "/shops/{shop}/categories", vcat.categories, "A shop's categories",
          auth=False, errors=(404,)),
    Route("POST", V1 + "/shops/{shop}/categories", vcat.add_category, "Add a category",
          sc.CategoryIn, ok=201, errors=(400, 401, 403, 404, 409, 413)),
    Route("POST", V1 + "/orders/{order}/payments", vp.create_intent,
          "Payment intent for one order version (buyer; Idempotency-Key honoured): provider "
          "sandbox (card, hosted page) or cash (paid at the shop's terminal)", sc.IntentIn,
          ok=201, errors=(400, 401, 403, 404, 409, 413)),
    Route("GET", V1 + "/pay/sandbox/{intent}", vp.get_intent,
          "A sandbox payment as its hosted page shows it (the paying buyer)"),
    Route("POST", V1 + "/pay/sandbox/{intent}", vp.sandbox_pay,
          "The sandbox hosted page's card submission (card checked, never stored; "
          "Idempotency-Key honoured; throttled)", sc.SandboxPayIn,
          errors=(400, 401, 403, 404, 409, 413, 429)),
    Route("POST", V1 + "/payments/sandbox/callback", vp.sandbox_callback,
          "Provider callback, signed: Fingerpos-Signature t=<unix>,v1=<HMAC-SHA256>",
          auth=False, errors=(400, 409, 413)),
    Route("GET", V1 + "/orders/{order}/receipt.pdf", vr.receipt_pdf,
          "PDF receipt (the order's buyer, the shop's staff)", content="application/pdf"),
    Route("POST", V1 + "/orders/{order}/print", vr.print_,
          "Validate, then print the receipt on a terminal of the shop (reprints marked)",
          sc.PrintIn, errors=(400, 401, 403, 404, 409, 413)),
    Route("POST", V1 + "/orders/{order}/validate", vrev.validate,
          "Validation before print; a failing order is held with its reasons",
          errors=(400, 401, 403, 404, 409)),
    Route("POST", V1 + "/orders/{order}/revise", vrev.revise,
          "Revise a held order: a new revision, validated again", sc.ReviseIn,
          errors=(400, 401, 403, 404, 409, 413)),
    Route("GET", "/healthz", vm.healthz, "Liveness", auth=False, errors=()),
    Route("GET", "/metrics", vm.metrics, "Prometheus text format", auth=False, errors=(),
          content="text/plain"),
]


def add_routes(app: web.Application) -> None:
    from fingerpos.cloud.api.openapi import document
    for r in ROUTES:
        app.router.add_route(r.method, r.path, r.handler)
    app.router.add_get(V1 + "/openapi.json", document)
