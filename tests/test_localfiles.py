"""core.localfiles: a --local Bot API server's paths stay inside TELEGRAM_LOCAL_DIR; sizes past 20 MB."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from telebot import apihelper
from telebot.types import Update

from app.intake import Intake
from app.replies import Replier
from app.videos import find_video
from core import admission, localfiles, telegram
from core.errors import LocalFileRefused, TransientError
from core.models import job_id_for
from core.settings import Settings, SettingsError
from core.texts import text
from tests import factories
from tests.fakes.telegram_api import FakeTelegramAPI

NO_ENV_FILE = Path("/nonexistent/.env")
MB = 1024 * 1024


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A bot-api working dir holding one file, with a secret file beside it (outside)."""
    (tmp_path / "api" / "TOKEN" / "videos").mkdir(parents=True)
    (tmp_path / "api" / "TOKEN" / "videos" / "file_1.mp4").write_bytes(b"video")
    (tmp_path / "secret").write_bytes(b"secret")
    return tmp_path / "api"


def test_a_path_inside_the_dir_is_given_relative_to_it(root: Path):
    """A plain path, one with a `..` that stays inside, and one through a symlinked root all pass."""
    alias = root.parent / "alias"
    alias.symlink_to(root)
    assert localfiles.confine(f"{root}/TOKEN/videos/file_1.mp4", str(root)) == "TOKEN/videos/file_1.mp4"
    assert localfiles.confine(f"{root}/TOKEN/x/../videos/file_1.mp4", str(alias)) == "TOKEN/videos/file_1.mp4"


@pytest.mark.parametrize("where", ["other dir", "dot-dot", "symlink out", "the dir itself", "prefix twin"])
def test_a_path_outside_the_dir_is_refused(root: Path, where: str):
    """Another dir, `..` out, a symlink inside pointing out, the dir itself, a look-alike name: refused."""
    (root / "TOKEN" / "videos" / "link.mp4").symlink_to(root.parent / "secret")
    (root.parent / "api-twin").mkdir()
    path = {
        "other dir": "/etc/passwd",
        "dot-dot": f"{root}/TOKEN/../../secret",
        "symlink out": f"{root}/TOKEN/videos/link.mp4",
        "the dir itself": f"{root}/",
        "prefix twin": f"{root}-twin/secret",
    }[where]
    with pytest.raises(LocalFileRefused):
        localfiles.confine(path, str(root))


def test_a_copy_is_whole_and_a_missing_file_is_none(root: Path, tmp_path: Path):
    """A readable file is copied and its original kept; one not on this box gives None (fetch it)."""
    assert localfiles.copy(str(root), "TOKEN/videos/file_1.mp4", tmp_path / "in", 100, None) == 5
    assert (tmp_path / "in").read_bytes() == b"video"
    assert (root / "TOKEN" / "videos" / "file_1.mp4").read_bytes() == b"video"
    assert localfiles.copy(str(root), "TOKEN/videos/file_2.mp4", tmp_path / "in2", 100, None) is None


def test_a_fifo_in_the_dir_is_refused_without_blocking(root: Path, tmp_path: Path):
    """A named pipe where the video should be is refused at once, not waited on."""
    os.mkfifo(root / "TOKEN" / "videos" / "pipe.mp4")
    with pytest.raises(LocalFileRefused):
        localfiles.copy(str(root), "TOKEN/videos/pipe.mp4", tmp_path / "in", 100, None)


def test_the_file_server_url_quotes_each_segment():
    """The token's ':' and odd characters are quoted per segment; the slashes between them stay."""
    url = localfiles.file_url("http://files:8080/", "123:AB c/videos/file#1.mp4")
    assert url == "http://files:8080/123%3AAB%20c/videos/file%231.mp4"


def test_local_files_need_a_dir_and_raise_the_size_limit_to_2000_mb():
    """Off: MAX_INPUT_MB above 20 counts as 20. On: up to 2000, and TELEGRAM_LOCAL_DIR is required."""
    read = lambda env: Settings.from_env(env, env_file=NO_ENV_FILE)  # noqa: E731
    assert read({"MAX_INPUT_MB": "500"}).max_input_mb == 20
    on = {"TELEGRAM_LOCAL_FILES": "true", "TELEGRAM_LOCAL_DIR": "/var/lib/telegram-bot-api"}
    assert read({**on, "MAX_INPUT_MB": "2000"}).max_input_mb == 2000
    with pytest.raises(SettingsError) as refused:
        read({"TELEGRAM_LOCAL_FILES": "true", "MAX_INPUT_MB": "2001"})
    assert [p.split()[0] for p in refused.value.problems] == ["TELEGRAM_LOCAL_DIR", "MAX_INPUT_MB=2001"]


@pytest.mark.parametrize("local", ["off", "not on this box"])
def test_a_local_path_the_worker_cannot_use_reads_nothing(
    fake_api: FakeTelegramAPI, root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, local: str
):
    """Local files off: refused (permanent). On, but not on this box and no file server: transient."""
    for name in ("API_URL", "FILE_URL", "CONNECT_TIMEOUT", "READ_TIMEOUT"):
        monkeypatch.setattr(apihelper, name, getattr(apihelper, name))
    settings = Settings(telegram_bot_token=fake_api.token, telegram_api_url=fake_api.base_url)
    bot = telegram.build_client(settings)
    fake_api.use_local_dir(tmp_path / "api")
    record = fake_api.add_file(b"video", file_path=f"{tmp_path}/api/TOKEN/videos/on-another-box.mp4")
    rules = None if local == "off" else localfiles.LocalFiles(str(tmp_path / "api"))
    with pytest.raises(LocalFileRefused if local == "off" else TransientError):
        telegram.download(bot, record.file_id, tmp_path / "in", 100, local=rules)
    assert not (tmp_path / "in").exists()


@pytest.fixture
def intake_for(
    fake_api: FakeTelegramAPI, redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> Iterator[object]:
    """Build the bot's real Intake on the fake Bot API and the test Redis, from environment values."""
    for name in ("API_URL", "FILE_URL", "CONNECT_TIMEOUT", "READ_TIMEOUT"):
        monkeypatch.setattr(apihelper, name, getattr(apihelper, name))
    base = {"TELEGRAM_BOT_TOKEN": fake_api.token, "TELEGRAM_API_URL": fake_api.base_url}

    def build(**env: str) -> Intake:
        settings = Settings.from_env({**base, **env}, env_file=NO_ENV_FILE)
        bot = telegram.build_client(settings)
        return Intake(settings, bot, admission.gif_queue(redis_client, settings), Replier(bot, redis_client))

    yield build


@pytest.mark.parametrize("local", [False, True])
def test_a_25_mb_video_is_queued_only_with_local_files(
    fake_api: FakeTelegramAPI, redis_client: redis.Redis, intake_for, local: bool
):
    """MAX_INPUT_MB=30: a 25 MB video is refused at once (max 20 MB) with local files off, queued when on."""
    env = {"MAX_INPUT_MB": "30"}
    if local:
        env.update(TELEGRAM_LOCAL_FILES="true", TELEGRAM_LOCAL_DIR="/var/lib/telegram-bot-api")
    chat = 88_100 + local
    update = factories.make_video_update(fake_api.add_file(b"x", file_size=25 * MB), user_id=chat)
    message = Update.de_json({**update, "update_id": fake_api.push_update(update)}).message
    intake_for(**env).handle(message, find_video(message), "en")
    queued = bool(redis_client.exists(f"rq:job:{job_id_for(chat, message.message_id)}"))
    assert queued is local
    refusal = text("error_too_big", max_mb=20)
    assert (refusal in fake_api.messages_to(chat)) is not local
