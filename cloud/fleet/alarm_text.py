"""What an alarm is called for people, in en and zh-CN, and the page it is about.

An alarm keeps its machine `kind` (`unaccepted:shop1`, `low_stock`, `terminal:tamper`)
and the message its source wrote; this module turns the two into a title a seller
understands ("Order 1042 not accepted for 5 min") and a link to its order, product or
terminal. The order, SKU or figures are read back from the message each source writes
(cloud/orders/lifecycle.py, cloud/orders/stock.py, cloud/orders/sales.py, ...), so no
column or migration is needed; a message that does not match still gets a plain title
from its kind, never an error.
"""

from __future__ import annotations

import re
from urllib.parse import quote

_ORDER = re.compile(r"\border (\d{1,10})\b")
_MINUTES = re.compile(r"\bfor (\d{1,6}) min\b")
_SKU = re.compile(r"^([^:\s]{1,64}):")
_COUNT = re.compile(r"^(\d{1,9}) failed\b")
_WAITING = re.compile(r"has (\d{1,9}) order")

# kind -> (English, Chinese); the fields come from describe()'s reading of the message.
TITLES: dict[str, tuple[str, str]] = {
    "unaccepted": ("Order {order} not accepted for {minutes} min",
                   "订单 {order} 已付款 {minutes} 分钟仍未接单"),
    "unaccepted_any": ("Order {order} paid but not accepted", "订单 {order} 已付款但未接单"),
    "pickup_mismatch": ("Wrong pickup code for order {order} at {device}",
                        "终端 {device} 上订单 {order} 的取货码错误"),
    "sale_mismatch": ("Order {order} held: paid amount differs from its items",
                      "订单 {order} 已暂停：付款金额与商品总额不符"),
    "order_invalid": ("Order {order} fails validation", "订单 {order} 未通过校验"),
    "stock_negative": ("Stock of {sku} below zero: count it", "{sku} 库存为负，请盘点"),
    "low_stock": ("Low stock: {sku}", "库存不足：{sku}"),
    "login_failures": ("{count} failed logins on terminal {device}",
                       "终端 {device} 登录失败 {count} 次"),
    "offline_open_orders": ("Terminal {device} offline with {waiting} order(s) waiting",
                            "终端 {device} 离线，仍有 {waiting} 个订单待处理"),
    "seq_gap": ("Events missing from terminal {device}", "终端 {device} 的事件缺失"),
    "web_login": ("{count} failed web logins", "网页登录失败 {count} 次"),
    "web_login_account": ("{count} failed web logins for one account",
                          "同一账户网页登录失败 {count} 次"),
    "terminal": ("Terminal {device}: {reason}", "终端 {device}：{reason}"),
    "other": ("{kind} on terminal {device}", "终端 {device}：{kind}"),
    "other_shop": ("{kind}", "{kind}"),
}


def describe(kind: str, device: str | None, message: str) -> tuple[str, str, str | None]:
    """(English title, Chinese title, link) for one alarm; link None when no page fits."""
    base, _, rest = kind.partition(":")
    order = _ORDER.search(message)
    fields: dict[str, str] = {"device": device or "-", "kind": kind.replace("_", " "),
                              "order": "?"}
    link: str | None = f"/devices#device-{quote(device, safe='')}" if device else None
    key = base if base in TITLES else ("other" if device else "other_shop")
    if order:
        fields["order"] = order.group(1)
        if base in ("unaccepted", "pickup_mismatch", "sale_mismatch", "order_invalid"):
            link = f"/orders/{order.group(1)}"
    if base == "unaccepted":
        minutes = _MINUTES.search(message)
        if minutes:
            fields["minutes"] = minutes.group(1)
        else:
            key = "unaccepted_any"
    elif base in ("low_stock", "stock_negative"):
        sku = _SKU.match(message)
        fields["sku"] = sku.group(1) if sku else "?"
        link = f"/shop/products/{quote(sku.group(1), safe='')}/edit" if sku else "/shop/products"
    elif base in ("login_failures", "web_login", "web_login_account"):
        count = _COUNT.match(message)
        fields["count"] = count.group(1) if count else "several"
    elif base == "offline_open_orders":
        waiting = _WAITING.search(message)
        fields["waiting"] = waiting.group(1) if waiting else "some"
    elif base == "terminal":
        fields["reason"] = rest.replace("_", " ") or "alarm"
    en, zh = TITLES[key]
    try:
        return en.format(**fields), zh.format(**fields), link
    except KeyError:   # a message of another shape: the kind is the title
        return (TITLES["other" if device else "other_shop"][0].format(**fields),
                TITLES["other" if device else "other_shop"][1].format(**fields), link)
