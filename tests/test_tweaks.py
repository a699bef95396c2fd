"""core.tweaks and core.redo: which tweak buttons a GIF gets, what each asks for, where the recipes
live (real redis-server), and that redo job ids work wherever job ids are read."""

from __future__ import annotations

import json
import time
from dataclasses import replace

import pytest
import redis
from rq.job import JOB_ID_PATTERN

from admin.jobsearch import JobQuery, find_jobs
from core import erasure, keys, redo, stats, tweaks
from core.models import MediaKind, OutputKind, job_id_for, parse_job_id
from core.texts import EN, ZH

CAP = 30.0
RECIPE = redo.GifRecipe(
    user_id=4242,
    lang=EN,
    file_id="BAACAgIAAxkBtweak",
    file_unique_id="AgADtweak",
    file_size=12_345,
    kind=MediaKind.VIDEO,
    width=480,
    fps=12,
    max_seconds=CAP,
    start=0.0,
    end=None,
    speed=1.0,
    reverse=False,
    output=OutputKind.ANIMATION,
    seconds=7.0,
    more=False,
)


def offered(recipe: redo.GifRecipe, cap: float = CAP) -> list[str]:
    markup = tweaks.buttons(recipe, cap, EN)
    return [tweaks.parse(b.callback_data) for row in (markup.keyboard if markup else []) for b in row]


@pytest.mark.parametrize(
    ("changes", "cap", "expected"),
    [
        ({}, CAP, ["s", "w", "f", "r", "o"]),  # the whole video: no longer
        ({"seconds": 1.0, "more": True, "speed": 2.0}, CAP, ["l", "w", "r", "o"]),  # 1 s, fastest
        ({"seconds": 30.0, "more": True, "speed": 0.5}, CAP, ["s", "f", "r", "o"]),  # at the cap, slowest
        ({"seconds": 12.0, "more": True}, 15.0, ["s", "l", "w", "f", "r", "o"]),
    ],
)
def test_buttons_leave_out_what_would_change_nothing(changes, cap, expected):
    """No shorter at 1 s, no longer without more video or at MAX_SECONDS, no speed past either end."""
    assert offered(replace(RECIPE, **changes), cap) == expected


def test_length_steps_are_five_seconds_within_one_second_and_the_cap():
    """Shorter/longer move 5 s, never under 1 s nor over the cap, as an exact window from the start."""
    assert tweaks.tweak(RECIPE, "s", CAP).window == (0.0, 2.0)
    assert tweaks.tweak(replace(RECIPE, seconds=4.97), "s", CAP).window == (0.0, 1.0)
    later = replace(RECIPE, start=3.0, end=10.0, seconds=7.0, more=True, max_seconds=10.0)
    longer = tweaks.tweak(later, "l", CAP)
    assert longer.window == (3.0, 15.0) and longer.choice.max_seconds == 12.0
    assert tweaks.tweak(replace(RECIPE, seconds=28.0, more=True), "l", CAP).window == (0.0, 30.0)


def test_speed_reverse_and_output_keep_the_window_and_change_one_thing():
    """Slower/faster step through the /settings speeds; reverse and output toggle."""
    assert tweaks.tweak(RECIPE, "w", CAP).choice.speed == 0.5
    assert tweaks.tweak(RECIPE, "f", CAP).choice.speed == 1.5
    assert tweaks.tweak(RECIPE, "r", CAP).choice.reverse is True
    assert tweaks.tweak(RECIPE, "o", CAP).choice.output is OutputKind.DOCUMENT
    flipped = replace(RECIPE, reverse=True, output=OutputKind.DOCUMENT)
    assert tweaks.tweak(flipped, "r", CAP).choice.reverse is False
    assert tweaks.tweak(flipped, "o", CAP).choice.output is OutputKind.ANIMATION
    assert all(tweaks.tweak(RECIPE, code, CAP).window is None for code in "wfro")


@pytest.mark.parametrize("lang", [EN, ZH])
def test_labels_say_what_the_new_gif_will_be(lang):
    """Labels name the new length and speed, and the other form of output, in both languages."""
    flipped = replace(RECIPE, output=OutputKind.DOCUMENT)
    labels = [b.text for row in tweaks.buttons(flipped, CAP, lang).keyboard for b in row]
    assert any("2" in label for label in labels[:1]) and any("0.5" in label for label in labels)
    assert len(set(labels)) == len(labels) == 5


def test_callback_data_is_tiny_and_anything_else_is_refused():
    """'redo:<code>' is under Telegram's 64 bytes and parses back; forged data parses to None."""
    for code in tweaks.CODES:
        assert len(f"redo:{code}".encode()) < 64 and tweaks.parse(f"redo:{code}") == code
    for forged in ("redo:zz", "redo:", "redo", "set:width:320", "", None, "redo:s:1"):
        assert tweaks.parse(forged) is None


def test_redo_job_ids_are_valid_rq_ids_and_read_back():
    """A redo's job id names chat, GIF message and button; RQ accepts it; a video's id is unchanged."""
    job_id = job_id_for(-1001234, 77, "s")
    assert job_id == "gif_-1001234_77_s" and JOB_ID_PATTERN.fullmatch(job_id)
    assert parse_job_id(job_id) == (-1001234, 77, "s")
    assert job_id_for(5, 6) == "gif_5_6" and parse_job_id("gif_5_6") == (5, 6, "")


def test_recipes_are_found_by_message_and_forget_deletes_them(redis_client: redis.Redis):
    """A recipe saved under a group GIF loads back by (chat, message); /forget deletes it and its list."""
    redo.save(redis_client, -100777, 55, RECIPE)
    other = replace(RECIPE, user_id=99)
    redo.save(redis_client, -100777, 56, other)
    assert redo.load(redis_client, -100777, 55) == RECIPE
    assert 0 < redis_client.ttl(keys.redo(-100777, 55)) <= redo.REDO_TTL_S

    erasure.erase_user(redis_client, RECIPE.user_id)

    assert redo.load(redis_client, -100777, 55) is None
    assert not redis_client.exists(keys.user_redos(RECIPE.user_id))
    assert redo.load(redis_client, -100777, 56) == other, "another user's recipe stays"


def test_admin_job_search_finds_redo_jobs(redis_client: redis.Redis):
    """The admin's job search finds a redo job by its id and by its user."""
    profile = stats.Profile(RECIPE.user_id, "ada")
    stats.record_video(redis_client, profile, job_id_for(-100777, 55, "s"), 1000)
    stats.record_video(redis_client, stats.Profile(99), job_id_for(99, 1), 1000)
    now = time.time() + 1
    found = find_jobs(redis_client, JobQuery(job="gif_-100777_55_s"), now)
    assert [row.record.job_id for row in found.rows] == ["gif_-100777_55_s"]
    by_user = find_jobs(redis_client, JobQuery(user="ada"), now)
    assert [row.record.job_id for row in by_user.rows] == ["gif_-100777_55_s"]


def test_a_redo_keeps_crop_and_square_and_old_recipes_read_them_as_off():
    """Every tweak of a cropped square GIF (or sticker) stays cropped and square; a recipe stored
    before these settings loads with both off."""
    framed = replace(RECIPE, crop=True, square=True, output=OutputKind.STICKER)
    for code in ("s", "w", "f", "r", "o"):
        choice = tweaks.tweak(framed, code, CAP).choice
        assert (choice.crop, choice.square) == (True, True), code
    assert tweaks.tweak(framed, "o", CAP).choice.output is OutputKind.ANIMATION  # sticker -> animation
    old = {k: v for k, v in json.loads(RECIPE.to_json()).items() if k not in ("crop", "square")}
    assert redo.GifRecipe.from_json(json.dumps(old)) == RECIPE
