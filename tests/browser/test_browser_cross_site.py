"""A hostile page in a real browser: login CSRF and cross-site registration are refused.

The attacker's page is a second aiohttp server on its own 127.0.0.1 port, reached two ways:
- as http://127.0.0.1:<its port>: another origin but the SAME site (a site ignores the
  port, and so do cookies, RFC 6265 §8.5). Such a page can plant its own pre-session
  cookie on the victim's browser, so the form's double-submit token is the attacker's
  own valid pair and only the Origin / `Sec-Fetch-Site: same-site` check stops the login;
- as http://evil.test:<its port> (Chromium's --host-resolver-rules maps the name to
  127.0.0.1, so no traffic leaves the machine): a truly cross-site page.
Either way the page auto-submits a login form into the attacker's account and fires
no-cors fetch POSTs at the JSON login and registration; every one is answered 403 before
any handler runs, and the victim's browser ends up without a session cookie.
"""

from __future__ import annotations

import re

import pytest
from aiohttp import ClientSession, web
from fingerpos.cloud.accounts.auth import SESSION_COOKIE
from playwright.async_api import async_playwright

from tests.conftest import in_app

from .conftest import CHROMIUM, CHROMIUM_ARGS, WAIT_MS

pytestmark = pytest.mark.cloud
REFUSED = "cross-site requests are refused"


async def _attacker_pair(url: str) -> tuple[str, str]:
    """The attacker's own valid (pre-session cookie, form token) pair from the login page."""
    async with ClientSession() as http, http.get(url + "/login") as r:
        html = await r.text()
        return r.cookies["fp_pre"].value, re.search(r'name="csrf" value="([^"]+)"', html)[1]


def _attack_page(cloud: str, email: str, pre: str, token: str, plant: bool) -> web.Application:
    form = f"""<!doctype html><title>win a prize</title>
<form id="f" method="post" action="{cloud}/login">
<input name="email" value="{email}"><input name="password" value="attacker-pw-1">
<input name="csrf" value="{token}"><input name="next" value="/"></form>"""
    script = f"""<!doctype html><script>
var login = JSON.stringify({{email: "{email}", password: "attacker-pw-1"}});
var reg = JSON.stringify({{email: "planted@example.com", password: "attacker-pw-1"}});
function post(path, body) {{
  return fetch("{cloud}" + path, {{method: "POST", mode: "no-cors", credentials: "include",
    headers: {{"Content-Type": "text/plain"}}, body: body}});
}}
Promise.all([post("/api/v1/auth/login", login), post("/api/v1/auth/register", reg)])
  .then(function () {{ document.title = "sent"; }});
</script>"""

    async def login_form(request: web.Request) -> web.Response:
        response = web.Response(text=form + "<script>document.getElementById('f').submit()"
                                "</script>", content_type="text/html")
        if plant:   # cookie tossing: a same-site page may set the cloud host's cookies
            response.set_cookie("fp_pre", pre, path="/", httponly=True, samesite="Strict")
        return response

    async def fetches(request: web.Request) -> web.Response:
        return web.Response(text=script, content_type="text/html")

    app = web.Application()
    app.router.add_get("/form", login_form)
    app.router.add_get("/fetch", fetches)
    return app


@pytest.mark.parametrize("attacker_host", ["127.0.0.1", "evil.test"])
async def test_a_page_of_another_origin_cannot_sign_the_victim_in_or_register(
        site, aiohttp_server, attacker_host):
    from fingerpos.cloud.models.users import Session, User
    attacker = await site.user("buyer", password="attacker-pw-1")
    pre, token = await _attacker_pair(site.url)
    evil = await aiohttp_server(_attack_page(site.url, attacker, pre, token,
                                             plant=attacker_host == "127.0.0.1"),
                                host="127.0.0.1")
    evil_url = f"http://{attacker_host}:{evil.port}"
    async with async_playwright() as p:
        browser = await p.chromium.launch(
            executable_path=str(CHROMIUM), headless=True,
            args=CHROMIUM_ARGS + ["--host-resolver-rules=MAP evil.test 127.0.0.1"])
        try:
            victim = await browser.new_context()
            victim.set_default_timeout(WAIT_MS)
            page = await victim.new_page()
            # The victim has been to the shop before (a pre-session cookie of their own).
            await page.goto(site.url + "/login")
            # 1. The auto-submitted form: the browser lands on the cloud's refusal.
            async with page.expect_response(site.url + "/login") as answer:
                await page.goto(evil_url + "/form")
            assert (await answer.value).status == 403
            assert REFUSED in await page.content()
            # 2. no-cors fetch POSTs (text/plain needs no preflight): both refused.
            seen: dict[str, int] = {}
            page.on("response", lambda r: seen.__setitem__(r.url, r.status))
            await page.goto(evil_url + "/fetch")
            await page.wait_for_function("document.title === 'sent'")
            assert seen.get(site.url + "/api/v1/auth/login") == 403
            assert seen.get(site.url + "/api/v1/auth/register") == 403
            cookies = await victim.cookies(site.url)
            assert SESSION_COOKIE not in {c["name"] for c in cookies}
            # The victim is not signed in as anyone: the shop offers to log in.
            await page.goto(site.url + "/")
            assert await page.locator("a", has_text="Log in").count() == 1
        finally:
            await browser.close()
    with in_app(site.app):
        assert await Session.filter(user__email=attacker).count() == 0
        assert not await User.filter(email="planted@example.com").exists()
