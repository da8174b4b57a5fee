"""Every HTTP route of the cloud core, in one table that also feeds the OpenAPI document."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web
from fingerpos.cloud.accounts import auth
from fingerpos.cloud.api import policy as P
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
from fingerpos.cloud.api import views_refunds as vref
from fingerpos.cloud.api import views_revisions as vrev
from fingerpos.cloud.api import views_users as vu
from fingerpos.cloud.models.users import User
from pydantic import BaseModel

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: Handler
    policy: P.Policy            # who may call it and which shop's data they see
    summary: str
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    ok: int = 200
    errors: tuple[int, ...] = field(default=(400, 401, 403, 404))
    content: str = "application/json"

    @property
    def auth(self) -> bool:
        """Needs a session cookie or bearer token."""
        return not self.policy.public


V1 = "/api/v1"
ROUTES: list[Route] = [
    Route("POST", V1 + "/auth/register", va.register, P.PUBLIC, "Register a buyer account", s.Register,
          ok=201, errors=(400, 413, 429)),
    Route("POST", V1 + "/auth/login", va.login, P.PUBLIC, "Log in; sets the session cookie, returns the CSRF token",
          s.Login, errors=(400, 401, 413, 429)),
    Route("POST", V1 + "/auth/logout", va.logout, P.SIGNED_IN, "Log out (ends the session)", errors=(401, 403)),
    Route("POST", V1 + "/auth/password", va.change_password, P.SIGNED_IN,
          "Change your own password (the current one first); your other sessions and API "
          "tokens end", s.PasswordChange, errors=(400, 401, 403, 413)),
    Route("POST", V1 + "/auth/reset", va.reset_password, P.PUBLIC,
          "Set a new password with a one-time reset link's token", s.PasswordReset,
          errors=(400, 413, 429)),
    Route("POST", V1 + "/users/{user}/reset-link", va.reset_link, P.MANAGERS,
          "Issue a one-time password reset link (24 h) for one of your shop's people "
          "(managers) or anyone (admins)", ok=201, errors=(401, 403, 404)),
    Route("GET", V1 + "/users", vu.list_, P.MANAGERS,
          "The people (sellers, managers) of your shop (managers) or of every shop or `shop` "
          "(admins), with disabled and whether a terminal PIN is set", query=s.PeopleFilter),
    Route("POST", V1 + "/users", vu.create, P.MANAGERS,
          "Invite a seller or manager to your shop (admins: any shop); without a password "
          "the answer carries a one-time reset link for them to set theirs", s.PersonIn,
          ok=201, errors=(400, 401, 403, 409, 413)),
    Route("PATCH", V1 + "/users/{user}", vu.patch, P.MANAGERS,
          "Change one of your people: role, the price-change right, disabled (logs them out "
          "everywhere), name; the shop's terminals get a new roster", s.PersonPatch,
          errors=(400, 401, 403, 404, 409, 413)),
    Route("PUT", V1 + "/users/{user}/pin", vu.set_pin, P.MANAGERS,
          "Set one of your people's terminal PIN (4-8 digits; kept sealed, sent to the shop's "
          "terminals as a keyed hash in their roster)", s.PinIn,
          errors=(400, 401, 403, 404, 413)),
    Route("GET", V1 + "/auth/me", va.me, P.SIGNED_IN, "The current user and the session's CSRF token",
          errors=(401,)),
    Route("GET", V1 + "/devices", vd.list_, P.STAFF, "Terminals of the caller's shop (all for admins)"),
    Route("POST", V1 + "/devices", vd.register, P.MANAGERS, "Register a terminal and its key (admin, manager)",
          s.DeviceIn, ok=201, errors=(400, 401, 403, 409, 413)),
    Route("POST", V1 + "/devices/{device}/revoke", vd.revoke, P.MANAGERS, "Revoke a terminal"),
    Route("POST", V1 + "/devices/{device}/rotate", vd.rotate, P.MANAGERS, "Replace a terminal's key",
          s.RotateKey, errors=(400, 401, 403, 404, 413)),
    Route("PATCH", V1 + "/devices/{device}", vd.rename, P.MANAGERS,
          "Rename a terminal (what people call it at the counter; Chinese welcome)", s.DeviceRename,
          errors=(400, 401, 403, 404, 413)),
    Route("POST", V1 + "/devices/{device}/move", vd.move, P.ADMIN,
          "Move a terminal to another shop (admin); it gets that shop's roster", s.DeviceMove,
          errors=(400, 401, 403, 404, 413)),
    Route("POST", V1 + "/devices/{device}/config", vd.push_config, P.MANAGERS,
          "Push settings to a terminal (checked against its own rules; re-sent on every connect)",
          s.DeviceConfig, errors=(400, 401, 403, 404, 413)),
    Route("POST", V1 + "/devices/{device}/enrol", vd.enrol, P.MANAGERS,
          "Ask a terminal to enrol a seller of its shop (enrol_start)", s.DeviceEnrol,
          errors=(400, 401, 403, 404, 413)),
    Route("GET", V1 + "/devices/{device}/history", vd.history, P.STAFF,
          "A terminal's history: people's actions on it and its boots with their firmware"),
    Route("POST", V1 + "/devices/{device}/printer", vd.printer, P.MANAGERS,
          "Set what the terminal's receipt printer prints: ascii, or gb18030 for a CJK printer",
          s.PrinterIn, errors=(400, 401, 403, 404, 413)),
    Route("POST", V1 + "/shops", vd.create_shop, P.ADMIN, "Create a shop (admin)", s.ShopIn, ok=201,
          errors=(400, 401, 403, 409, 413)),
    Route("PATCH", V1 + "/shops/{shop}", vd.shop_settings, P.MANAGERS,
          "A shop's settings: name, time zone (IANA), cash-at-the-counter expiry in seconds "
          "(its managers, admins; audited)", s.ShopSettingsIn,
          errors=(400, 401, 403, 404, 413)),
    Route("GET", V1 + "/shops/{shop}/products", vd.products, P.PUBLIC, "A shop's products", query=s.NoQuery,
          errors=(400,)),
    Route("POST", V1 + "/shops/{shop}/products", vcat.put_product, P.STAFF,
          "Create or update a product by sku (the shop's sellers and managers, admins)",
          sc.ProductFull, errors=(400, 401, 403, 404, 413)),
    Route("GET", V1 + "/orders", vx.list_, P.SIGNED_IN,
          "Orders the caller may see, filtered; `next` is the keyset cursor for `before`",
          query=sc.OrderQuery),
    Route("POST", V1 + "/orders", vo.create, P.BUYER, "Place an order from a cart (buyer)", s.CartIn, ok=201,
          errors=(400, 401, 403, 404, 413)),
    # Before /orders/{order}: routes match in this order.
    Route("GET", V1 + "/orders/export.csv", vx.export_csv, P.SIGNED_IN,
          "CSV export of the orders matching the filter, streamed (formula cells escaped)",
          query=sc.ExportQuery, content="text/csv"),
    Route("GET", V1 + "/orders/ws", vm.buyer_feed, P.SIGNED_IN,
          "WebSocket feed of the caller's own orders: {kind: hello|order, data}", ok=101,
          errors=(400, 401, 403)),
    Route("GET", V1 + "/orders/{order}", vo.get, P.SIGNED_IN, "One order with lines, its version's adjustments (price changes), revisions and events"),
    Route("POST", V1 + "/orders/{order}/price", vo.change_price, P.STAFF,
          "Change an unpaid order's total (seller with the right, manager)", s.PriceChangeIn,
          errors=(400, 401, 403, 404, 409, 413)),
    Route("POST", V1 + "/orders/{order}/pay", vo.pay, P.STAFF,
          "Record a counter (cash) payment: staff of the order's shop; amount, currency and "
          "version must match (buyers pay through /payments)", s.PayIn,
          errors=(400, 401, 403, 404, 409, 413)),
    Route("POST", V1 + "/orders/{order}/cancel", vo.cancel, P.SIGNED_IN, "Cancel an order",
          errors=(400, 401, 403, 404, 409)),
    Route("POST", V1 + "/orders/{order}/hold", vo.hold, P.STAFF, "Hold an unpaid order for revision (staff)",
          errors=(400, 401, 403, 404, 409)),
    Route("POST", V1 + "/orders/{order}/release", vo.release, P.STAFF,
          "Release a held order back to pending_payment (staff)", errors=(400, 401, 403, 404, 409)),
    Route("GET", V1 + "/audit", vm.audit_log, P.ADMIN, "The audit trail, newest first (admin)",
          query=s.AuditFilter),
    Route("GET", V1 + "/alarms", vm.list_alarms, P.STAFF, "Alarms, newest first", query=s.AlarmFilter),
    Route("POST", V1 + "/alarms/{alarm}/ack", vm.ack_alarm, P.MANAGERS, "Acknowledge an alarm"),
    Route("POST", V1 + "/alarms/{alarm}/clear", vm.clear_alarm, P.MANAGERS, "Clear an alarm"),
    Route("GET", V1 + "/monitor", vm.snapshot, P.STAFF, "Order state counts, open alarms, devices"),
    Route("GET", V1 + "/monitor/ws", vm.feed, P.STAFF,
          "WebSocket live feed: JSON messages {kind, data}; kind snapshot|order|alarm|counts|device|ingest",
          ok=101, errors=(400, 401, 403)),
    # Commerce (cloud/commerce): catalogue, payments, receipts, validation and revision.
    Route("GET", V1 + "/products/search", vcat.search, P.PUBLIC,
          "Search products: full text ranked, filters, paginated", query=sc.SearchQuery,
          errors=(400,)),
    Route("GET", V1 + "/shops/{shop}/products/{sku}", vcat.get_product, P.PUBLIC, "One product",
          errors=(404,)),
    Route("DELETE", V1 + "/shops/{shop}/products/{sku}", vcat.delete_product, P.STAFF,
          "Delete a product (the shop's sellers and managers, admins)"),
    Route("POST", V1 + "/shops/{shop}/products/{sku}/stock", vcat.adjust_stock, P.MANAGERS,
          "Adjust a product's stock with a reason: count, damage or delivery (the shop's "
          "managers, admins; audited; turns stock tracking on)", sc.StockAdjustIn,
          errors=(400, 401, 403, 404, 413)),
    Route("GET", V1 + "/shops/{shop}/products/{sku}/stock", vcat.stock_moves, P.STAFF,
          "The product's latest stock moves: reservations, sales, adjustments (the shop's staff)"),
    Route("GET", V1 + "/shops/{shop}/categories", vcat.categories, P.PUBLIC, "A shop's categories",
          errors=(404,)),
    Route("POST", V1 + "/shops/{shop}/categories", vcat.add_category, P.STAFF, "Add a category",
          sc.CategoryIn, ok=201, errors=(400, 401, 403, 404, 409, 413)),
    Route("POST", V1 + "/orders/{order}/payments", vp.create_intent, P.BUYER,
          "Payment intent for one order version (buyer; Idempotency-Key honoured): provider "
          "sandbox (card, hosted page) or cash (paid at the shop's terminal)", sc.IntentIn,
          ok=201, errors=(400, 401, 403, 404, 409, 413)),
    Route("GET", V1 + "/pay/sandbox/{intent}", vp.get_intent, P.BUYER,
          "A sandbox payment as its hosted page shows it (the paying buyer)"),
    Route("POST", V1 + "/pay/sandbox/{intent}", vp.sandbox_pay, P.BUYER,
          "The sandbox hosted page's card submission (card checked, never stored; "
          "Idempotency-Key honoured; throttled)", sc.SandboxPayIn,
          errors=(400, 401, 403, 404, 409, 413, 429)),
    Route("POST", V1 + "/payments/sandbox/callback", vp.sandbox_callback, P.PUBLIC,
          "Provider callback, signed: Fingerpos-Signature t=<unix>,v1=<HMAC-SHA256>",
          errors=(400, 409, 413)),
    Route("POST", V1 + "/orders/{order}/refunds", vref.create, P.STAFF,
          "Refund lines of a paid order, full or partial, with a reason and an optional "
          "restock (the shop's staff; audited): through the provider when a card paid it "
          "(pending until its signed callback), else in cash. Above the shop's approval "
          "amount or outside its refund window a seller needs the refund right (403); never "
          "more than what is left (409)", sc.RefundIn, ok=201,
          errors=(400, 401, 403, 404, 409, 413)),
    Route("GET", V1 + "/orders/{order}/refunds", vref.list_, P.STAFF,
          "The order's refunds: lines, amount, tax, method, status (the shop's staff)"),
    Route("POST", V1 + "/payments/sandbox/refund-callback", vref.callback, P.PUBLIC,
          "Provider refund callback, signed like the payment callback: settles a pending "
          "refund (succeeded or failed); replayed, badly signed or unknown ones are refused",
          errors=(400, 409, 413)),
    Route("GET", V1 + "/orders/{order}/receipt.pdf", vr.receipt_pdf, P.SIGNED_IN,
          "PDF receipt (the order's buyer, the shop's staff); `refund`: one of its refunds' "
          "receipt", query=sc.ReceiptQuery, content="application/pdf"),
    Route("POST", V1 + "/orders/{order}/print", vr.print_, P.STAFF,
          "Validate, then print the receipt on a terminal of the shop (reprints marked)",
          sc.PrintIn, errors=(400, 401, 403, 404, 409, 413)),
    Route("POST", V1 + "/orders/{order}/validate", vrev.validate, P.STAFF,
          "Validation before print; a failing order is held with its reasons",
          errors=(400, 401, 403, 404, 409)),
    Route("POST", V1 + "/orders/{order}/revise", vrev.revise, P.STAFF,
          "Revise a held order: a new revision, validated again", sc.ReviseIn,
          errors=(400, 401, 403, 404, 409, 413)),
    Route("GET", "/healthz", vm.healthz, P.PUBLIC, "Liveness", errors=()),
    Route("GET", "/metrics", vm.metrics, P.PUBLIC, "Prometheus text format", errors=(),
          content="text/plain"),
]


async def api_user(request: web.Request) -> User | None:
    """The API's caller: a bearer token, or the session cookie (with its CSRF header)."""
    who = await auth.identify(request)
    return who.user if who is not None else None


def add_routes(app: web.Application) -> None:
    from fingerpos.cloud.api.openapi import document
    for r in ROUTES:
        # A WebSocket upgrade has no HEAD form.
        P.declare(app, r.method, r.path, r.handler, r.policy, api_user, head=r.ok != 101)
    P.declare(app, "GET", V1 + "/openapi.json", document, P.PUBLIC, api_user)
