"""The page language from Accept-Language (RFC 9110 §12.5.4 examples and real browsers'
headers) and the two string tables: every English string has its Chinese one, with the
same {placeholders}."""

from __future__ import annotations

import string

import pytest
from aiohttp.test_utils import make_mocked_request
from fingerpos.cloud.web import i18n


@pytest.mark.parametrize("header, query, lang", [
    ("zh-CN,zh;q=0.9,en;q=0.8", "", "zh-CN"),           # Chrome set to Simplified Chinese
    ("en-US,en;q=0.9,zh-CN;q=0.8", "", "en"),
    ("fr-CH, fr;q=0.9, en;q=0.8, de;q=0.7, *;q=0.5", "", "en"),   # RFC 9110's example
    ("fr, zh-TW;q=0.3", "", "zh-CN"),                    # the only Chinese we have
    ("en;q=0, zh", "", "zh-CN"),                         # q=0 means "not acceptable"
    ("en;q=0.2, zh;q=0.7", "", "zh-CN"),                 # by weight, not by order
    ("*", "", "en"), ("", "", "en"), ("q=abc;;,,;zh;q=x", "", "en"),
    ("zh-CN", "lang=en", "en"), ("en", "lang=zh-CN", "zh-CN"), ("en", "lang=xx", "en"),
])
def test_the_language_of_a_request(header, query, lang):
    request = make_mocked_request("GET", "/reset/x?" + query, headers={"Accept-Language": header})
    assert i18n.lang_of(request) == lang


def test_every_string_has_both_languages_with_the_same_placeholders():
    def fields(text: str) -> set[str]:
        return {f for _, f, _, _ in string.Formatter().parse(text) if f}
    en, zh = i18n.TEXT["en"], i18n.TEXT["zh-CN"]
    assert en.keys() == zh.keys()
    for key in en:
        assert fields(en[key]) == fields(zh[key]), key
    assert i18n.translator("zh-CN")("no.such.key") == "no.such.key"
