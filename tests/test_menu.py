"""The /settings menu and stored choices: lengths are offered up to the install's MAX_SECONDS."""

from __future__ import annotations

from pathlib import Path

import pytest

from app import menu
from core import prefs
from core.settings import Settings


def install(tmp_path: Path, **env: str) -> Settings:
    """The settings of an install with `env` and nothing else."""
    return Settings.from_env(env, env_file=tmp_path / "none")


def offered_lengths(settings: Settings, current: str = "") -> list[str]:
    """The values on the menu's length row, in order."""
    choice = prefs.UserPrefs.defaults(settings)
    if current:
        choice = choice.with_choice("max_seconds", current)
    markup = menu.settings_menu(choice, "en", settings)
    prefix = menu.callback_data("max_seconds", "")
    [row] = [r for r in markup.keyboard if any(b.callback_data.startswith(prefix) for b in r)]
    return [b.callback_data.removeprefix(prefix) for b in row if b.callback_data.startswith(prefix)]


@pytest.mark.parametrize(
    ("env", "lengths"),
    [
        ({}, ["5", "10", "15", "20", "30"]),  # the default MAX_SECONDS, 30
        ({"MAX_SECONDS": "15"}, ["5", "10", "15"]),  # an install that kept the old default
        ({"MAX_SECONDS": "25"}, ["5", "10", "15", "20", "25"]),  # a cap between the steps is offered too
        ({"MAX_SECONDS": "60"}, ["5", "10", "15", "20", "30", "60"]),
    ],
)
def test_length_menu_offers_lengths_up_to_max_seconds_and_no_more(
    tmp_path: Path, env: dict[str, str], lengths: list[str]
) -> None:
    """The length row ends at MAX_SECONDS; a button past it is refused as expired."""
    settings = install(tmp_path, **env)
    assert offered_lengths(settings) == lengths
    top = lengths[-1]
    assert menu.parse_callback(menu.callback_data("max_seconds", top), settings) == ("max_seconds", top)
    for beyond in ("20", "30", "60", "120"):
        if float(beyond) > settings.max_seconds:
            assert menu.parse_callback(menu.callback_data("max_seconds", beyond), settings) is None


def test_stored_lengths_stay_valid_and_one_past_the_cap_falls_back(redis_client, tmp_path: Path) -> None:
    """A length stored before the upgrade (5/10/15) still applies; one above MAX_SECONDS gives the default."""
    default, capped = install(tmp_path), install(tmp_path, MAX_SECONDS="15")
    assert prefs.load(redis_client, 71, default).max_seconds == 30.0  # nothing stored: the new default
    for old in ("5", "10", "15"):
        prefs.save_choice(redis_client, 71, "max_seconds", old)
        assert prefs.load(redis_client, 71, default).max_seconds == float(old)
        assert offered_lengths(default, old).count(old) == 1
    prefs.save_choice(redis_client, 72, "max_seconds", "30")
    assert prefs.load(redis_client, 72, default).max_seconds == 30.0
    assert prefs.load(redis_client, 72, capped).max_seconds == 15.0  # the operator lowered the cap


def test_menu_offers_and_stores_crop_square_and_sticker_without_changing_old_cache_keys(
    redis_client, tmp_path: Path
) -> None:
    """The new rows and the sticker output are offered and saved; with them off the cache key is as before."""
    settings = install(tmp_path)
    before = prefs.load(redis_client, 73, settings)
    assert before.cache_key() == "w480f12s30x1r0a"  # what an install before these options stored
    buttons = [b.callback_data for row in menu.settings_menu(before, "zh-TW", settings).keyboard for b in row]
    for data in ("set:crop:1", "set:square:1", "set:output:sticker"):
        assert data in buttons and menu.parse_callback(data, settings) is not None
        prefs.save_choice(redis_client, 73, *data.split(":")[1:])
    after = prefs.load(redis_client, 73, settings)
    assert (after.crop, after.square, after.output) == (True, True, "sticker")
    assert after.cache_key() == "w480f12s30x1r0sc1q1"
    marked = [
        b.text for row in menu.settings_menu(after, "en", settings).keyboard for b in row if "•" in b.text
    ]
    assert marked.count("• on") == 2 and "• sticker" in marked
