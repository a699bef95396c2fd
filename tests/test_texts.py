"""The text catalogue: both languages complete and consistent; language picked from Telegram's code."""

from __future__ import annotations

import pytest

from core.texts import CATALOGUE, EN, ZH, language_for, placeholders, text


def test_both_catalogues_have_the_same_keys():
    """Every English text has a Traditional Chinese twin and vice versa."""
    assert set(CATALOGUE[EN]) == set(CATALOGUE[ZH])


@pytest.mark.parametrize("key", sorted(CATALOGUE[EN]))
def test_placeholders_agree_between_languages(key: str):
    """A text's {placeholders} are the same in both languages."""
    assert placeholders(CATALOGUE[EN][key]) == placeholders(CATALOGUE[ZH][key])


@pytest.mark.parametrize(
    ("code", "lang"),
    [("zh-hant", ZH), ("zh-TW", ZH), ("zh", ZH), ("zh-hk", ZH), ("en", EN), ("de", EN), (None, EN), ("", EN)],
)
def test_language_is_picked_from_telegram_language_code(code, lang):
    """zh variants get Traditional Chinese, everything else English."""
    assert language_for(code) == lang


def test_unknown_language_falls_back_to_english():
    """A language we do not have gets the English text."""
    assert text("video_later", "xx") == CATALOGUE[EN]["video_later"]
