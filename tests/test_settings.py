"""Settings: defaults, parsing, one message naming every problem, secrets never shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.settings import Settings, SettingsError, read_env_file

TOKEN = "123456:ABCdefGHIjklMNOpqr"


def test_defaults_match_the_design(tmp_path: Path):
    """With nothing set, every setting has the default the design names."""
    s = Settings.from_env({}, env_file=tmp_path / "none")
    assert (s.telegram_api_url, s.redis_url) == ("https://api.telegram.org", "redis://127.0.0.1:6379/0")
    assert (s.retry_max, s.retry_interval, s.workers) == (3, 60, 2)
    assert (s.admin_username, s.admin_host, s.admin_port) == ("admin", "127.0.0.1", 5000)


def test_every_problem_is_named_in_one_message(tmp_path: Path):
    """Several bad values and a missing token are all reported at once."""
    env = {"RETRY_MAX": "three", "WORKERS": "0", "ADMIN_PORT": "99999", "REDIS_URL": "http://x"}
    with pytest.raises(SettingsError) as info:
        Settings.from_env(env, require=("TELEGRAM_BOT_TOKEN",), env_file=tmp_path / "none")
    message = str(info.value)
    for name in ("RETRY_MAX", "WORKERS", "ADMIN_PORT", "REDIS_URL", "TELEGRAM_BOT_TOKEN"):
        assert name in message
    assert len(info.value.problems) == 5


def test_a_bad_token_is_refused_without_echoing_it(tmp_path: Path):
    """A malformed token is named as a problem but its value is never printed."""
    with pytest.raises(SettingsError) as info:
        Settings.from_env({"TELEGRAM_BOT_TOKEN": "not-a-token-secret"}, env_file=tmp_path / "none")
    assert "not-a-token-secret" not in str(info.value)


def test_token_is_hidden_from_repr(tmp_path: Path):
    """repr(settings) (as in a traceback or log) never contains the token or Redis password."""
    env = {"TELEGRAM_BOT_TOKEN": TOKEN, "REDIS_URL": "redis://:hunter2@10.0.0.5:6379/0"}
    text = repr(Settings.from_env(env, env_file=tmp_path / "none"))
    assert TOKEN not in text and "hunter2" not in text


def test_dotenv_file_is_read_and_environment_wins(tmp_path: Path):
    """Values come from .env, and the real environment overrides them."""
    env_file = tmp_path / ".env"
    env_file.write_text(f"# comment\nTELEGRAM_BOT_TOKEN='{TOKEN}'\nexport WORKERS=4\nRETRY_MAX=5\n")
    s = Settings.from_env({"RETRY_MAX": "1"}, env_file=env_file)
    assert (s.telegram_bot_token, s.workers, s.retry_max) == (TOKEN, 4, 1)


def test_settings_are_frozen(tmp_path: Path):
    """Nothing can change a setting after start."""
    s = Settings.from_env({}, env_file=tmp_path / "none")
    with pytest.raises(AttributeError):
        s.workers = 9  # type: ignore[misc]


@pytest.mark.parametrize(
    ("line", "value"),
    [
        ("ADMIN_PASSWORD=hunter2 # the old one", "hunter2"),  # an inline comment is not the value
        ("ADMIN_PASSWORD=pa#ss", "pa#ss"),  # `#` without a space before it is part of the value
        ('ADMIN_PASSWORD="pa#ss # word" # note', "pa#ss # word"),  # quotes keep `#` and spaces
        ("ADMIN_PASSWORD='it has spaces'", "it has spaces"),
        ("ADMIN_PASSWORD=p$HOME", "p$HOME"),  # no interpolation: a `$` keeps its meaning
        ("ADMIN_PASSWORD=${HOME}x", "${HOME}x"),
        ('ADMIN_PASSWORD="$USER:${PATH}"', "$USER:${PATH}"),
        ("ADMIN_PASSWORD='p$$w'", "p$$w"),
        ("export ADMIN_PASSWORD=exported", "exported"),
        ("  ADMIN_PASSWORD = spaced  ", "spaced"),
    ],
)
def test_env_file_reads_like_python_dotenv_without_interpolation(tmp_path: Path, line: str, value: str):
    """.env lines mean what python-dotenv says (comments, quotes, export) and `$` is never expanded."""
    env_file = tmp_path / ".env"
    env_file.write_text(f"# settings\n{line}\nWORKERS=4 # four per box\n")
    assert read_env_file(env_file) == {"ADMIN_PASSWORD": value, "WORKERS": "4"}
    s = Settings.from_env({}, env_file=env_file)
    assert (s.admin_password, s.workers) == (value, 4)


def test_env_file_bare_key_is_unset_and_missing_file_is_empty(tmp_path: Path):
    """A `KEY` line without `=` counts as not set (the default applies); no file reads as empty."""
    env_file = tmp_path / ".env"
    env_file.write_text("WORKERS\nADMIN_USERNAME=\n")
    assert read_env_file(env_file) == {"ADMIN_USERNAME": ""}
    assert Settings.from_env({}, env_file=env_file).workers == 2
    assert read_env_file(tmp_path / "none") == {} and read_env_file(tmp_path) == {}


def test_env_file_line_that_cannot_be_parsed_is_named_not_dropped(tmp_path: Path):
    """An unclosed quote stops the start naming the line, never echoing it, instead of losing the value."""
    env_file = tmp_path / ".env"
    env_file.write_text("WORKERS=4\nADMIN_PASSWORD='hunter2\n")
    with pytest.raises(SettingsError) as info:
        Settings.from_env({}, env_file=env_file)
    assert info.value.problems == [".env line 2 is not KEY=VALUE (an unclosed quote, or stray text?)"]
    assert "hunter2" not in str(info.value)
