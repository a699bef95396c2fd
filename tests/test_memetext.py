"""core.memetext: what /text and `>` captions ask to draw, and how long Redis keeps it."""

from __future__ import annotations

import pytest

from app.intake import asked_for
from app.memecmd import arguments
from core import keys, memetext
from core.memetext import MemeText


@pytest.mark.parametrize(
    ("raw", "top", "bottom"),
    [
        ("TOP | BOTTOM", "TOP", "BOTTOM"),
        (" | only bottom", "", "only bottom"),
        ("only top", "only top", ""),
        ("a | b | c", "a", "b | c"),  # the first bar separates; later ones are text
        ("tab\there\nnew\x00line\x1b[31m", "tab here new line [31m", ""),  # controls become spaces
        ("bidi\u202eevil\u200b | ok", "bidievil", "ok"),  # format marks (overrides, zero widths) go
        ("繁體 中文｜ | 測試", "繁體 中文｜", "測試"),  # a full-width bar is text
    ],
)
def test_parse_splits_at_the_first_bar_and_strips_control_characters(raw: str, top: str, bottom: str):
    """`TOP | BOTTOM` splits at the first `|`; control and format characters never reach the GIF."""
    assert memetext.parse(raw) == MemeText(top, bottom)


def test_a_line_over_the_cap_is_refused_with_the_limit_and_empty_text_with_the_usage():
    """Over MAX_CHARS on either side: MemeTextTooLong (with max_chars); nothing at all: NoMemeText."""
    memetext.parse("x" * memetext.MAX_CHARS + " | " + "y" * memetext.MAX_CHARS)
    with pytest.raises(memetext.MemeTextTooLong) as raised:
        memetext.parse("ok | " + "y" * (memetext.MAX_CHARS + 1))
    assert raised.value.params == {"max_chars": memetext.MAX_CHARS}
    for empty in ("", " | ", "\n|\t"):
        with pytest.raises(memetext.NoMemeText):
            memetext.parse(empty)


def test_a_caption_is_text_only_after_the_mark_and_a_range_stays_a_trim():
    """`>TOP | BOTTOM` is text (no trim); `3-8` is a trim; /text's words win over any caption."""
    assert asked_for(">TOP | BOTTOM", None) == (None, MemeText("TOP", "BOTTOM"))
    assert asked_for("3-8", None) == ((3.0, 8.0), None)
    assert asked_for("holiday!", None) == (None, None)
    assert asked_for(None, "A | B") == (None, MemeText("A", "B"))
    assert arguments("/text@gif_test_bot TOP | BOTTOM") == "TOP | BOTTOM"
    assert arguments("/text") == ""


def test_the_cache_variant_hash_changes_with_the_words_and_the_face():
    """A GIF with other words, or drawn in another face, never shares a cache entry."""
    text = MemeText("TOP", "BOTTOM")
    assert text.digest("en") == MemeText("TOP", "BOTTOM").digest("en")
    assert text.digest("en") != MemeText("TOP", "BOTTON").digest("en")
    assert text.digest("en") != MemeText("TOP BOTTOM", "").digest("en")
    assert text.digest("en") != text.digest("zh-TW")
    assert "TOP" not in text.digest("en")


def test_stored_text_has_a_ttl_is_read_back_and_dropped(redis_client):
    """The text waits under the job id for at most TEXT_TTL_S; the worker reads it; drop deletes it."""
    job_id = "gif_777001_5"
    memetext.store(redis_client, job_id, MemeText("'a':b", "測試"))
    assert 0 < redis_client.ttl(keys.meme_text(job_id)) <= memetext.TEXT_TTL_S
    assert memetext.load(redis_client, job_id) == MemeText("'a':b", "測試")
    memetext.drop(redis_client, job_id)
    assert not redis_client.exists(keys.meme_text(job_id))
    with pytest.raises(memetext.MemeTextGone):
        memetext.load(redis_client, job_id)
