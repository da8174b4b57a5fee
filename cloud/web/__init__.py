"""The browser pages: the buyer shop and the seller/operator monitor.

Server-rendered with aiohttp-jinja2 (autoescaping on, so a product named
`<script>` renders as text) plus a little plain JavaScript in static/ for the
live parts (WebSocket feeds) and nothing else: no framework, no build step.
`setup(app)` is the one call create_app makes.
"""

from __future__ import annotations

from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web
from fingerpos.cloud.api import policy as P
from fingerpos.cloud.web import (
    forms,
    views_auth,
    views_devices,
    views_orders,
    views_pay,
    views_people,
    views_products,
    views_reports,
    views_reset,
    views_review,
    views_shifts,
    views_shop,
    views_staff,
)
from fingerpos.cloud.web.page import page, page_user

HERE = Path(__file__).parent
STATIC = HERE / "static"

PAGES = [
    ("GET", "/", views_shop.shop, P.PUBLIC),
    ("GET", "/product/{shop}/{sku}", views_shop.product, P.PUBLIC),
    ("GET", "/cart", views_shop.cart, P.PUBLIC),
    ("POST", "/cart", views_shop.cart_update, P.PUBLIC),
    ("POST", "/checkout", views_shop.checkout, P.PUBLIC),
    ("GET", "/login", views_auth.login_form, P.PUBLIC),
    ("POST", "/login", views_auth.login, P.PUBLIC),
    ("GET", "/register", views_auth.register_form, P.PUBLIC),
    ("POST", "/register", views_auth.register, P.PUBLIC),
    ("POST", "/logout", views_auth.logout, P.PUBLIC),
    # A one-time reset link (cloud/accounts/passwords.py): the token is the credential.
    ("GET", "/reset/{token}", views_reset.reset_form, P.PUBLIC),
    ("POST", "/reset/{token}", views_reset.reset_submit, P.PUBLIC),
    ("GET", "/orders", views_orders.order_list, P.SIGNED_IN),
    ("GET", "/orders/{order}", views_orders.order_page, P.SIGNED_IN),
    ("POST", "/orders/{order}/pay", views_orders.pay, P.BUYER),
    ("POST", "/orders/{order}/cancel", views_orders.cancel, P.SIGNED_IN),
    ("POST", "/orders/{order}/price", views_staff.change_price, P.STAFF),
    ("POST", "/orders/{order}/hold", views_staff.hold, P.STAFF),
    ("POST", "/orders/{order}/cash", views_staff.take_cash, P.STAFF),
    ("POST", "/orders/{order}/refund", views_orders.refund, P.STAFF),
    ("POST", "/orders/{order}/release", views_staff.release, P.STAFF),
    ("POST", "/orders/{order}/validate", views_review.validate, P.STAFF),
    ("POST", "/orders/{order}/print", views_review.print_receipt, P.STAFF),
    ("POST", "/orders/{order}/revise", views_review.revise, P.STAFF),
    ("GET", "/pay/sandbox/{intent}", views_pay.pay_page, P.BUYER),
    ("POST", "/pay/sandbox/{intent}", views_pay.pay_submit, P.BUYER),
    ("GET", "/shop/products", views_products.product_list, P.STAFF),
    ("POST", "/shop/categories", views_products.add_category, P.STAFF),
    ("GET", "/shop/products/new", views_products.new_form, P.STAFF),
    ("POST", "/shop/products/new", views_products.create, P.STAFF),
    ("GET", "/shop/products/{sku}/edit", views_products.edit_form, P.STAFF),
    ("POST", "/shop/products/{sku}/edit", views_products.save, P.STAFF),
    ("POST", "/shop/products/{sku}/delete", views_products.delete, P.STAFF),
    ("POST", "/shop/products/{sku}/stock", views_products.adjust_stock, P.MANAGERS),
    # A shop's people (cloud/accounts/users.py): managers their own shop's, admins every shop's.
    ("GET", "/shop/people", views_people.people_list, P.MANAGERS),
    ("POST", "/shop/people", views_people.invite, P.MANAGERS),
    ("GET", "/shop/people/{user}", views_people.person, P.MANAGERS),
    ("POST", "/shop/people/{user}", views_people.save, P.MANAGERS),
    ("POST", "/shop/people/{user}/disable", views_people.disable, P.MANAGERS),
    ("POST", "/shop/people/{user}/enable", views_people.enable, P.MANAGERS),
    ("POST", "/shop/people/{user}/pin", views_people.set_pin, P.MANAGERS),
    ("POST", "/shop/people/{user}/reset-link", views_people.reset_link, P.MANAGERS),
    ("GET", "/monitor", views_staff.monitor, P.STAFF),
    ("GET", "/devices", views_staff.devices, P.STAFF),
    # One terminal and its actions (cloud/fleet/actions.py): staff see it, managers act.
    ("GET", "/devices/{device}", views_devices.device_page, P.STAFF),
    ("POST", "/devices/{device}/rename", views_devices.rename, P.MANAGERS),
    ("POST", "/devices/{device}/config", views_devices.push_config, P.MANAGERS),
    ("POST", "/devices/{device}/enrol", views_devices.enrol, P.MANAGERS),
    ("POST", "/devices/{device}/rotate", views_devices.rotate, P.MANAGERS),
    ("POST", "/devices/{device}/revoke", views_devices.revoke, P.MANAGERS),
    ("POST", "/devices/{device}/move", views_devices.move, P.ADMIN),
    ("GET", "/alarms", views_staff.alarm_list, P.STAFF),
    # Sales reports (cloud/orders/reports.py): staff their shop, admins any (?shop=).
    ("GET", "/reports", views_reports.report_page, P.STAFF),
    ("GET", "/reports.csv", views_reports.report_csv, P.STAFF),
    # Shifts and their X/Z reports (cloud/orders/shiftreport.py): staff their shop's, admins all.
    ("GET", "/shifts", views_shifts.shift_list, P.STAFF),
    ("GET", r"/shifts/{shift:\d+}", views_shifts.shift_page, P.STAFF),
    ("GET", r"/shifts/{shift:\d+}.pdf", views_shifts.shift_pdf, P.STAFF),
]


def setup(app: web.Application) -> None:
    """Templates, static files and the page routes."""
    env = aiohttp_jinja2.setup(
        app, loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True,
        undefined=jinja2.StrictUndefined,
        # gettext in templates: {{ _("text") }}, {{ _("%(n)s left", n=3) }}, {% trans %}.
        extensions=["jinja2.ext.i18n"],
        # Templates ship with the code: no stat() of every template file on every page.
        auto_reload=False)
    env.install_null_translations(newstyle=True)  # type: ignore[attr-defined]
    env.filters["money"] = forms.money
    env.filters["amount"] = forms.amount
    env.filters["when"] = forms.when
    P.declare_static(app, "/static/", STATIC)
    for method, path, handler, policy in PAGES:
        P.declare(app, method, path, handler, policy, page_user, wrap=page)
