"""Catalogue search: turn what a buyer types into a safe full-text query for
SQLite FTS5 or PostgreSQL, and the text to index for a product.

Why hand-written: neither engine accepts raw user text safely (FTS5 has its
own query syntax, to_tsquery raises on stray operators), and both tokenise
Chinese/Japanese runs as one word. So user text is reduced to plain tokens,
CJK characters are indexed and queried one character per token (a phrase
keeps them adjacent), and every token but a CJK one is a prefix match.
"""

from __future__ import annotations

import unicodedata

MAX_QUERY_CHARS = 200
MAX_TOKENS = 12


def _is_cjk(c: str) -> bool:
    o = ord(c)
    return (0x3040 <= o <= 0x30FF or 0x3400 <= o <= 0x4DBF or 0x4E00 <= o <= 0x9FFF
            or 0xAC00 <= o <= 0xD7AF or 0xF900 <= o <= 0xFAFF or 0x20000 <= o <= 0x2FA1F)


def _fold(text: str) -> str:
    """Lower case without diacritics: "Café" -> "cafe"."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def tokens(text: str) -> list[list[str]]:
    """Words of text as lists of tokens: a Latin word is one token, a CJK
    run is one token per character (kept together as a phrase)."""
    words: list[list[str]] = []
    cur: list[str] = []
    latin = ""

    def flush_latin() -> None:
        nonlocal latin
        if latin:
            words.append([latin])
            latin = ""

    for c in _fold(text[:MAX_QUERY_CHARS * 50]):
        if _is_cjk(c):
            flush_latin()
            cur.append(c)
            continue
        if cur:
            words.append(cur)
            cur = []
        if c.isalnum():
            latin += c
        else:
            flush_latin()
    flush_latin()
    if cur:
        words.append(cur)
    return words


def index_text(*fields: str) -> str:
    """What to store in the full-text column: folded, CJK spaced out."""
    return " ".join(" ".join(w) for f in fields if f for w in tokens(f))


def fts5_query(user_text: str) -> str | None:
    """An FTS5 MATCH expression: every word must match, Latin words as prefixes.

    Returns None when nothing searchable is left (the caller lists instead).
    """
    words = tokens(user_text[:MAX_QUERY_CHARS])[:MAX_TOKENS]
    parts = []
    for w in words:
        if len(w) == 1 and not _is_cjk(w[0][0]):
            parts.append('"' + w[0] + '"*')
        else:
            parts.append('"' + " ".join(w) + '"')
    return " ".join(parts) or None


def pg_tsquery(user_text: str) -> str | None:
    """A to_tsquery('simple', ...) expression with the same meaning as fts5_query."""
    words = tokens(user_text[:MAX_QUERY_CHARS])[:MAX_TOKENS]
    parts = []
    for w in words:
        if len(w) == 1 and not _is_cjk(w[0][0]):
            parts.append(w[0] + ":*")
        else:
            parts.append("(" + " <-> ".join(w) + ")")
    return " & ".join(parts) or None
