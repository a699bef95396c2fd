"""Groups: which bot a command names, the group menu, and the group's stored setting and its TTL."""

from __future__ import annotations

import pytest

from app.groups import addressee, callback_data, group_menu
from core import groups, keys
from core.texts import ZH, text


@pytest.mark.parametrize(
    ("said", "named"),
    [
        ("/gif", ""),
        ("/gif@Other_Bot 3-8", "other_bot"),
        ("/gif@gif_test_bot", "gif_test_bot"),
        ("hi @x", ""),
        ("", ""),
    ],
)
def test_addressee_is_the_bot_a_command_names(said: str, named: str) -> None:
    """'/cmd@name' names a bot (case-insensitively); a bare command or plain text names none."""
    assert addressee(said) == named


def test_group_menu_marks_the_current_choice() -> None:
    """The menu's On/Off buttons carry their callback data and the current one is marked."""
    [row] = group_menu(True, ZH).keyboard
    assert [b.callback_data for b in row[1:]] == [callback_data(True), callback_data(False)]
    assert [b.text for b in row[1:]] == ["• " + text("group_on", ZH), text("group_off", ZH)]


def test_group_setting_is_off_by_default_and_expires_with_the_group(redis_client) -> None:
    """Nothing stored means off; a choice lives ttl_s, and any use of the bot in the group renews it."""
    assert not groups.converts_every_video(redis_client, -77)
    groups.set_every_video(redis_client, -77, True, ttl_s=100)
    assert groups.converts_every_video(redis_client, -77)
    redis_client.expire(keys.group(-77), 5)
    groups.touch(redis_client, -77, ttl_s=100)
    assert 95 <= redis_client.ttl(keys.group(-77)) <= 100
    groups.set_every_video(redis_client, -77, False, ttl_s=100)
    assert not groups.converts_every_video(redis_client, -77)
