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
from fingerpos.cloud.web import (
    forms,
    views_auth,
    views_orders,
    views_pay,
    views_products,
    views_review,
    views_shop,
    views_staff,
)
from fingerpos.cloud.web.page import page

HERE = Path(__file__).parent
STATIC = HERE / "static"

PAGES = [
    ("GET", "/", views_shop.shop),
    ("GET", "/product/{shop}/{sku}", views_shop.product),
    ("GET", "/cart", views_shop.cart),
    ("POST", "/cart", views_shop.cart_update),
    ("POST", "/checkout", views_shop.checkout),
    ("GET", "/login", views_auth.login_form),
    ("POST", "/login", views_auth.login),
    ("GET", "/register", views_auth.register_form),
    ("POST", "/register", views_auth.register),
    ("POST", "/logout", views_auth.logout),
    ("GET", "/orders", views_orders.order_list),
    ("GET", "/orders/{order}", views_orders.order_page),
    ("POST", "/orders/{order}/pay", views_orders.pay),
    ("POST", "/orders/{order}/cancel", views_orders.cancel),
    ("POST", "/orders/{order}/price", views_staff.change_price),
    ("POST", "/orders/{order}/hold", views_staff.hold),
    ("POST", "/orders/{order}/release", views_staff.release),
    ("POST", "/orders/{order}/validate", views_review.validate),
    ("POST", "/orders/{order}/print", views_review.print_receipt),
    ("POST", "/orders/{order}/revise", views_review.revise),
    ("GET", "/pay/sandbox/{intent}", views_pay.pay_page),
    ("POST", "/pay/sandbox/{intent}", views_pay.pay_submit),
    ("GET", "/shop/products", views_products.product_list),
    ("POST", "/shop/categories", views_products.add_category),
    ("GET", "/shop/products/new", views_products.new_form),
    ("POST", "/shop/products/new", views_products.create),
    ("GET", "/shop/products/{sku}/edit", views_products.edit_form),
    ("POST", "/shop/products/{sku}/edit", views_products.save),
    ("POST", "/shop/products/{sku}/delete", views_products.delete),
    ("GET", "/monitor", views_staff.monitor),
    ("GET", "/devices", views_staff.devices),
    ("GET", "/alarms", views_staff.alarm_list),
]


def setup(app: web.Application) -> None:
    """Templates, static files and the page routes."""
    env = aiohttp_jinja2.setup(
        app, loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True,
        undefined=jinja2.StrictUndefined,
        # Templates ship with the code: no stat() of every template file on every page.
        auto_reload=False)
    env.filters["money"] = forms.money
    env.filters["when"] = forms.when
    app.router.add_static("/static/", STATIC, name="static")
    for method, path, handler in PAGES:
        app.router.add_route(method, path, page(handler))
