"""The language of a page (zh-CN or en) and its strings: the reset page, the people
pages, a cart's shortage and an unpaid order's deadline (other domain error messages
stay English: the API shares them).

The language comes from `?lang=zh-CN|en` when given, else the browser's Accept-Language
(RFC 9110 §12.5.4: the tags in order of their q-values; the first one we speak wins),
else English. Strings are a plain table here rather than a gettext catalogue (Babel and
.mo files): two languages and under a hundred strings, and no build step to forget.
A key missing from a language falls back to English, never to an error.
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

LANGS = ("en", "zh-CN")

TEXT: dict[str, dict[str, str]] = {
    "en": {
        "reset.title": "Set a new password",
        "reset.for": "For the account {email}.",
        "reset.password": "New password",
        "reset.password2": "The new password again",
        "reset.submit": "Set the password",
        "reset.hint": "At least 8 characters. Setting it logs this account out everywhere else.",
        "reset.differ": "the two passwords differ",
        "reset.short": "the password must be 8 to 200 characters",
        "reset.unknown": "This reset link is not valid: check that you copied all of it, or "
                         "ask your manager for a new one.",
        "reset.used": "This reset link has already been used. Ask your manager for a new one "
                      "if you need to set the password again.",
        "reset.expired": "This reset link expired at {at} (links work for 24 hours). Ask your "
                         "manager for a new one.",
        "reset.done": "Your new password is set: log in with it.",
        "reset.bad_title": "This link does not work",
        "reset.throttled": "too many wrong reset links from your address; try again later",
        "login": "Log in",
        "people.title": "People",
        "people.of": "People of {shop}",
        "people.invited": "{email} is invited as {role}. Give them this link to set their "
                          "password: it works once, for {hours} hours, and is shown only now.",
        "people.link": "one-time link",
        "people.none": "Nobody yet.",
        "people.name": "Name", "people.email": "Email", "people.shop": "Shop",
        "people.role": "Role", "people.price": "Price change", "people.pin": "Terminal PIN",
        "people.status": "Status", "people.you": "(you)",
        "people.yes": "yes", "people.no": "no", "people.set": "set", "people.not_set": "not set",
        "people.active": "active", "people.disabled": "disabled",
        "people.invite": "Invite someone", "people.invite_button": "Invite",
        "people.may_price": "May change the price of unpaid orders (改价)",
        "people.may_price_manager": "May change the price of unpaid orders (改价; managers "
                                    "always may)",
        "role.seller": "seller", "role.manager": "manager",
        "person.back": "← People",
        "person.pin_state": "terminal PIN {state}",
        "person.reset_issued": "Give {email} this link to set a new password: it works once, "
                               "for {hours} hours, and is shown only now.",
        "person.rights": "Role and rights", "person.save": "Save",
        "person.pin_title": "Terminal PIN", "person.pin_new": "New PIN (4 to 8 digits)",
        "person.pin_again": "The PIN again", "person.pin_set": "Set the PIN",
        "person.pin_differ": "the two PINs differ",
        "person.access": "Access", "person.make_link": "Make a password reset link",
        "person.disable": "Disable", "person.enable": "Enable",
        "person.disable_q": "Disable {email}? They are logged out at once.",
        "person.history": "History", "person.when": "When (UTC)", "person.who": "Who",
        "person.what": "What", "person.details": "Details",
        "done.saved": "Saved.",
        "done.disabled": "Disabled: they are logged out everywhere and their terminals no "
                         "longer accept them.",
        "done.enabled": "Enabled again.",
        "done.pin": "PIN set: the shop's terminals have been sent it.",
        "done.nothing": "Nothing changed.",
        "stock.short": "Only {left} of {name} left; you asked for {asked}. Change the "
                       "quantity in your cart and place the order again.",
        "order.pay_by": "Pay by {at} ({zone}), or the order expires.",
        "order.cash_by": "Bring the cash to the counter by {at} ({zone}), or the order "
                         "expires.",
        "error.title": "Something is wrong",
        "error.403.title": "Not allowed",
        "error.404.title": "Page not found",
        "error.404.text": "There is no page at this address. Check the link, or start again "
                          "from the shop.",
        "error.405.title": "Not possible here",
        "error.405.text": "This address does not take that kind of request.",
        "error.500.title": "Something went wrong on our side",
        "error.500.text": "The error has been logged. Try again in a moment; if it keeps "
                          "happening, tell the shop this reference: {ref}",
        "error.back": "Back to the shop",
        "other_lang": "中文",
    },
    "zh-CN": {
        "reset.title": "设置新密码",
        "reset.for": "账户：{email}",
        "reset.password": "新密码",
        "reset.password2": "再次输入新密码",
        "reset.submit": "设置密码",
        "reset.hint": "至少 8 个字符。设置后，此账户在其他地方的登录都会退出。",
        "reset.differ": "两次输入的密码不一致",
        "reset.short": "密码长度必须为 8 到 200 个字符",
        "reset.unknown": "此重置链接无效：请检查是否完整复制，或请店长重新生成。",
        "reset.used": "此重置链接已经使用过。如需再次设置密码，请店长重新生成。",
        "reset.expired": "此重置链接已于 {at} 过期（链接有效期为 24 小时）。请店长重新生成。",
        "reset.done": "新密码已设置，请用它登录。",
        "reset.bad_title": "此链接无法使用",
        "reset.throttled": "来自您地址的错误重置链接过多，请稍后再试",
        "login": "登录",
        "people.title": "人员",
        "people.of": "{shop} 的人员",
        "people.invited": "已邀请 {email} 担任{role}。请把此链接交给对方设置密码：链接只能使用一次，"
                          "{hours} 小时内有效，且只显示这一次。",
        "people.link": "一次性链接",
        "people.none": "还没有人员。",
        "people.name": "姓名", "people.email": "邮箱", "people.shop": "店铺",
        "people.role": "角色", "people.price": "改价", "people.pin": "终端 PIN",
        "people.status": "状态", "people.you": "（你）",
        "people.yes": "可以", "people.no": "不可以", "people.set": "已设置",
        "people.not_set": "未设置", "people.active": "启用", "people.disabled": "已停用",
        "people.invite": "邀请人员", "people.invite_button": "邀请",
        "people.may_price": "可以修改未付款订单的价格（改价）",
        "people.may_price_manager": "可以修改未付款订单的价格（改价；店长始终可以）",
        "role.seller": "店员", "role.manager": "店长",
        "person.back": "← 人员",
        "person.pin_state": "终端 PIN {state}",
        "person.reset_issued": "请把此链接交给 {email} 设置新密码：链接只能使用一次，{hours} 小时内有效，"
                               "且只显示这一次。",
        "person.rights": "角色与权限", "person.save": "保存",
        "person.pin_title": "终端 PIN", "person.pin_new": "新 PIN（4 到 8 位数字）",
        "person.pin_again": "再次输入 PIN", "person.pin_set": "设置 PIN",
        "person.pin_differ": "两次输入的 PIN 不一致",
        "person.access": "访问", "person.make_link": "生成密码重置链接",
        "person.disable": "停用", "person.enable": "启用",
        "person.disable_q": "停用 {email}？对方会立即退出登录。",
        "person.history": "记录", "person.when": "时间（UTC）", "person.who": "操作人",
        "person.what": "操作", "person.details": "详情",
        "done.saved": "已保存。",
        "done.disabled": "已停用：对方在所有地方都已退出登录，终端也不再接受其登录。",
        "done.enabled": "已重新启用。",
        "done.pin": "PIN 已设置，并已发送到本店的终端。",
        "done.nothing": "没有变化。",
        "stock.short": "{name} 只剩 {left} 件，您要了 {asked} 件。请修改购物车中的数量后重新下单。",
        "order.pay_by": "请在 {at}（{zone}）之前付款，否则订单将失效。",
        "order.cash_by": "请在 {at}（{zone}）之前到柜台付现金，否则订单将失效。",
        "error.title": "出错了",
        "error.403.title": "无权访问",
        "error.404.title": "页面不存在",
        "error.404.text": "此地址没有页面。请检查链接，或从商店首页重新开始。",
        "error.405.title": "无法在此操作",
        "error.405.text": "此地址不接受这种请求。",
        "error.500.title": "服务器出错了",
        "error.500.text": "错误已记录。请稍后再试；如果问题持续出现，请把此编号告诉店家：{ref}",
        "error.back": "返回商店",
        "other_lang": "English",
    },
}


def _from_header(header: str) -> str | None:
    ranked: list[tuple[float, int, str]] = []
    for n, part in enumerate(header.split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        primary = tag.strip().lower().split("-")[0]
        if q > 0 and primary in ("zh", "en"):
            ranked.append((-q, n, "zh-CN" if primary == "zh" else "en"))
    return min(ranked)[2] if ranked else None


def lang_of(request: web.Request) -> str:
    asked = request.query.get("lang", "")
    if asked in LANGS:
        return asked
    return _from_header(request.headers.get("Accept-Language", "")) or "en"


def translator(lang: str) -> Callable[..., str]:
    """t(key, **values) for one language."""
    table = TEXT.get(lang, TEXT["en"])

    def t(key: str, **values: object) -> str:
        text = table.get(key) or TEXT["en"].get(key, key)
        return text.format(**values) if values else text
    return t


def context(request: web.Request) -> dict[str, object]:
    """What a translated template needs: lang, t, and the link to the other language."""
    lang = lang_of(request)
    other = "en" if lang == "zh-CN" else "zh-CN"
    return {"lang": lang, "t": translator(lang), "other_lang": other}
