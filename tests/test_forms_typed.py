"""A refused form gives back what was typed (issue #16 item 6: "every form keeps what was
typed when it shows an error"), for the buyer's quantity fields: the product page's
"add to cart" and the cart's per-line quantity. The reference is the browser's own
behaviour on a form it refuses (constraint validation keeps the value): a server that
refuses must not do worse than that. The order page's forms: tests/test_price_changes.py.
"""

from __future__ import annotations

import pytest

from tests.support.pages import post

pytestmark = pytest.mark.cloud


async def test_a_refused_add_to_cart_keeps_the_quantity_on_the_product_page(cloud):
    await cloud.product("shop1", "tea", 250)
    page = "/product/shop1/tea"
    r = await post(cloud.client, "/cart", {"action": "add", "shop": "shop1", "sku": "tea",
                                           "qty": "二"}, page=page)
    html = await r.text()
    assert r.status == 400 and 'data-field="qty">enter a quantity from 1' in html
    assert 'id="f-qty" name="qty" type="number" min="1" max="10000" value="二"' in html
    assert 'name="sku" value="tea"' in html          # it is the product page again
    html = await (await cloud.client.get(page)).text()
    assert 'value="1"' in html.split('id="f-qty"')[1][:80]   # a fresh page starts at 1


async def test_a_refused_cart_quantity_keeps_what_was_typed_for_that_line(cloud):
    await cloud.product("shop1", "tea", 250)
    await cloud.product("shop1", "cake", 400)
    for sku in ("tea", "cake"):
        r = await post(cloud.client, "/cart", {"action": "add", "shop": "shop1", "sku": sku,
                                               "qty": "2"}, page="/")
        assert r.status == 303
    r = await post(cloud.client, "/cart", {"action": "set", "sku": "cake", "qty": "-3"},
                   page="/cart")
    html = await r.text()
    assert r.status == 400 and 'data-field="qty">enter a quantity from 0' in html
    tea, cake = html.split('name="sku" value="tea"')[1], html.split('name="sku" value="cake"')[1]
    assert 'value="2"' in tea.split("</form>")[0]      # the other line as it is
    assert 'value="-3"' in cake.split("</form>")[0]    # this line as typed
