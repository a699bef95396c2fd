"""core.telegram: file downloads keep to their deadline, however the Bot API's file server behaves."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import telebot
from telebot import apihelper

from core import telegram
from core.errors import TransientError
from core.settings import Settings
from tests.fakes.telegram_api import FILE_DOWNLOAD, FakeTelegramAPI

VIDEO_BYTES = 600_000
DEADLINE_S = 1.0
OVERRUN_S = 0.5  # how long past its deadline a download may still take to stop


@pytest.fixture
def bot(fake_api: FakeTelegramAPI, monkeypatch: pytest.MonkeyPatch) -> telebot.TeleBot:
    """Our client on the fake Bot API (apihelper's globals restored afterwards)."""
    for name in ("API_URL", "FILE_URL", "CONNECT_TIMEOUT", "READ_TIMEOUT"):
        monkeypatch.setattr(apihelper, name, getattr(apihelper, name))
    settings = Settings(telegram_bot_token=fake_api.token, telegram_api_url=fake_api.base_url)
    return telegram.build_client(settings)


@pytest.mark.parametrize("server", ["trickles", "stalls"])
def test_a_download_slower_than_its_deadline_stops_at_the_deadline(
    fake_api: FakeTelegramAPI, bot: telebot.TeleBot, tmp_path: Path, server: str
):
    """A file served at 50 kB/s, or not at all for 10 s, given 1 s: TransientError about 1 s in, not later."""
    record = fake_api.add_file(bytes(VIDEO_BYTES))
    if server == "trickles":
        fake_api.set_file_rate(50_000)  # 12 s for the whole file
    else:
        fake_api.set_delay(FILE_DOWNLOAD, 10)
    started = time.monotonic()

    with pytest.raises(TransientError):
        telegram.download(
            bot, record.file_id, tmp_path / "in", 10 * VIDEO_BYTES, deadline=started + DEADLINE_S
        )

    took = time.monotonic() - started
    assert took <= DEADLINE_S + OVERRUN_S, f"the download ran on {took - DEADLINE_S:.1f} s past its deadline"


def test_a_download_within_its_deadline_is_whole(
    fake_api: FakeTelegramAPI, bot: telebot.TeleBot, tmp_path: Path
):
    """A trickled download that ends before its deadline is saved whole."""
    record = fake_api.add_file(bytes(range(256)) * 1000)
    fake_api.set_file_rate(500_000)
    size = telegram.download(bot, record.file_id, tmp_path / "in", 10**6, deadline=time.monotonic() + 10)
    assert size == 256_000
    assert (tmp_path / "in").read_bytes() == bytes(range(256)) * 1000
