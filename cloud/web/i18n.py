"""The language of a page (zh-CN or en) and its strings (so far the reset page's).

The language comes from `?lang=zh-CN|en` when given, else the browser's Accept-Language
(RFC 9110 §12.5.4: the tags in order of their q-values; the first one we speak wins),
else English. Strings are a plain table here rather than a gettext catalogue (Babel and
.mo files): two languages and a few dozen strings, on the page a person opens from a
link a manager handed them, and no build step to forget.
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
