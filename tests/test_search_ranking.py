"""Search ranking with a bounded window (cloud/commerce/fulltext.py RANK_WINDOW), on the
app's own migrated database: SQLite FTS5 bm25, PostgreSQL ts_rank.

Hand-worked expectations: the window (set to 3 here) holds the three newest matches,
ranked by how often the word occurs (both engines' rankings agree on that for these
one-field texts); older matches follow newest first, even when one of them would rank
best; ties go newest first. Pages of every size put together give every match exactly
once, in that order. Chinese text goes through the same window.
"""

from __future__ import annotations

import pytest
from fingerpos.cloud.commerce import fulltext, search
from fingerpos.cloud.core import db
from fingerpos.cloud.core.sql import dialect, q

pytestmark = pytest.mark.cloud

# id (insertion order), name, price. "tea" occurs 4, 1, 3, 1, 2 times in 1..5.
PRODUCTS = [
    (1, "tea tea tea tea", 100),
    (2, "tea cup", 100),
    (3, "tea tea tea", 100),
    (4, "tea pot", 100),
    (5, "tea tea", 900),
    (6, "coffee", 100),
    (7, "绿茶 jasmine", 100),
    (8, "绿茶 绿茶 绿茶", 100),
    (9, "绿茶", 100),
    (10, "绿茶 绿茶", 100),
]


@pytest.fixture
async def products(cloud_db_url, monkeypatch):
    monkeypatch.setattr(fulltext, "RANK_WINDOW", 3)
    ctx = await db.open_context(cloud_db_url)
    try:
        with ctx:
            conn = ctx.db()
            d = dialect(conn)
            await conn.execute_query("INSERT INTO shops (id, name, created_at) VALUES"
                                     " ('s1', 'Shop', CURRENT_TIMESTAMP)")
            for pid, name, price in PRODUCTS:
                await conn.execute_query(q(d, (
                    "INSERT INTO products (id, shop_id, sku, name, price, currency, stock,"
                    " description, image_url, search_text) VALUES (?, 's1', ?, ?, ?, 'EUR', 1,"
                    " '', '', ?)")), [pid, f"p{pid}", name, price, search.index_text(name)])
            yield ctx
    finally:
        await ctx.close_connections()


async def _ids(text, limit=50, offset=0, **filters):
    rows = await fulltext.find(text, fulltext.Filters(**filters), limit, offset)
    return [r["id"] for r in rows]


async def test_the_newest_matches_are_ranked_and_older_ones_follow_newest_first(products):
    # window = 5, 4, 3 ranked by occurrences (3 > 5 > 4); then 2, 1 - although 1 ranks best
    assert await _ids("tea") == [3, 5, 4, 2, 1]
    assert await _ids("te") == [3, 5, 4, 2, 1]          # a prefix, the same window


async def test_pages_of_any_size_give_every_match_once_in_order(products):
    whole = await _ids("tea")
    for size in range(1, 7):
        pages = [await _ids("tea", limit=size, offset=o) for o in range(0, 7, size)]
        assert [i for page in pages for i in page] == whole, size
    assert await _ids("tea", limit=2, offset=2) == [4, 2]    # across the window's end
    assert await _ids("tea", limit=5, offset=4) == [1]
    assert await _ids("tea", limit=5, offset=5) == []


async def test_filters_choose_the_window_among_what_they_keep(products):
    # without 5 (price 900) the newest three matches are 4, 3, 2: 3 ranks first
    assert await _ids("tea", max_price=500) == [3, 4, 2, 1]
    assert await _ids("tea", max_price=500, limit=1, offset=3) == [1]
    assert await _ids("tea", min_price=500) == [5]


async def test_a_window_that_is_not_full_is_the_plain_ranking_with_ties_newest_first(
        products, monkeypatch):
    monkeypatch.setattr(fulltext, "RANK_WINDOW", 1000)
    assert await _ids("tea") == [1, 3, 5, 4, 2]          # 4 and 2 tie: the newer first
    assert await _ids("tea cup") == [2]


async def test_chinese_text_is_ranked_in_the_window(products):
    # 绿茶 in 7..10; window = 10, 9, 8: 8 (three times) > 10 (twice) > 9; then 7
    assert await _ids("绿茶") == [8, 10, 9, 7]
    assert await _ids("红茶") == []
    assert await _ids("绿茶 jas") == [7]


async def test_text_without_words_lists_by_name(products):
    assert await _ids("***", limit=3) == [6, 2, 4]       # coffee, tea cup, tea pot
