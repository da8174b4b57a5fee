"""Catalogue search query building, on a real SQLite FTS5 index."""

from __future__ import annotations

import sqlite3

import pytest
from fingerpos.cloud.commerce.search import fts5_query, index_text, pg_tsquery, tokens
from hypothesis import given, settings
from hypothesis import strategies as st

PRODUCTS = [
    (1, "Oolong tea 250g", "Taiwanese high-mountain oolong"),
    (2, "乌龙茶 250g", "台湾高山乌龙"),
    (3, "Café crème beans", "Dark roast coffee"),
    (4, "Teapot", "Cast iron"),
    (5, "<script>alert(1)</script>", "markup in a name"),
]


@pytest.fixture
def db():
    c = sqlite3.connect(":memory:")
    c.execute("CREATE VIRTUAL TABLE p USING fts5(body, tokenize='unicode61')")
    for pid, name, desc in PRODUCTS:
        c.execute("INSERT INTO p(rowid, body) VALUES (?, ?)", (pid, index_text(name, desc)))
    return c


def search(db, text):
    q = fts5_query(text)
    if q is None:
        return None
    return [r[0] for r in db.execute("SELECT rowid FROM p WHERE p MATCH ? ORDER BY bm25(p)", (q,))]


@pytest.mark.parametrize("text, want", [
    ("oolong", [1]), ("OOLONG Tea", [1]), ("tea", [1, 4]), ("cafe", [3]), ("café", [3]),
    ("creme bea", [3]), ("乌龙", [2]), ("高山", [2]), ("龙乌", []), ("250g", [1, 2]),
    ("script", [5]), ("teapot iron", [4]), ("nothing-here", []),
])
def test_search_finds(db, text, want):
    assert sorted(search(db, text)) == sorted(want)


def test_ranking_prefers_the_better_match(db):
    assert search(db, "oolong")[0] == 1
    assert search(db, "tea")[0] in (1, 4)


@pytest.mark.parametrize("text", ["", "   ", "***", '"', "AND OR NOT", "(", "a:b", "^", "-", "NEAR(a b)"])
def test_syntax_characters_never_reach_the_engine(db, text):
    # Either nothing searchable (None) or a query that runs without an error.
    assert search(db, text) is None or isinstance(search(db, text), list)


@given(st.text(max_size=300))
@settings(max_examples=300)
def test_any_input_makes_a_valid_query(text):
    c = sqlite3.connect(":memory:")
    c.execute("CREATE VIRTUAL TABLE p USING fts5(body)")
    c.execute("INSERT INTO p(body) VALUES (?)", (index_text("x"),))
    q = fts5_query(text)
    if q is not None:
        c.execute("SELECT rowid FROM p WHERE p MATCH ?", (q,)).fetchall()
        assert pg_tsquery(text)


def test_tokens_split_cjk_and_fold_latin():
    assert tokens("Café 乌龙茶x") == [["cafe"], ["乌", "龙", "茶"], ["x"]]
    assert pg_tsquery("oolong 乌龙") == "oolong:* & (乌 <-> 龙)"


def test_query_length_is_bounded():
    assert fts5_query("a " * 1000).count('"') <= 2 * 12
