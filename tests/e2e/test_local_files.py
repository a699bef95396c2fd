"""A self-hosted `telegram-bot-api --local`: getFile answers a path on its disk, and files past 20 MB.

Real bot and worker processes on the fake Bot API in local mode. The worker copies a file it can
see under TELEGRAM_LOCAL_DIR, fetches one it cannot from TELEGRAM_FILE_URL (python's http.server
over the bot-api's dir, standing in for nginx), and refuses any path that leads out of the dir.
"""

from __future__ import annotations

import functools
import itertools
import struct
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from core.texts import text
from tests import factories
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.gifcheck import gif_info

_user_ids = itertools.count(91_000)
MB = 1024 * 1024


class FileServer:
    """A plain web server over one directory (like nginx `alias`), recording the paths asked for."""

    def __init__(self, directory: Path) -> None:
        self.asked: list[str] = []
        asked = self.asked

        class Handler(SimpleHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                asked.append(self.path)

        self.server = ThreadingHTTPServer(
            ("127.0.0.1", 0), functools.partial(Handler, directory=str(directory))
        )
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def local_stack(stack, fake_api: FakeTelegramAPI, tmp_path: Path) -> Iterator[tuple[Path, Path, FileServer]]:
    """Bot and worker with local files on: (TELEGRAM_LOCAL_DIR, the file server's dir, its server).

    The fake writes files into TELEGRAM_LOCAL_DIR as the bot-api does; the file server serves another
    dir, standing in for the bot-api's disk on a box this worker does not share.
    """
    local_dir, served_dir = tmp_path / "bot-api", tmp_path / "bot-api-box"
    local_dir.mkdir()
    fake_api.use_local_dir(local_dir)
    files = FileServer(served_dir)
    env = {
        "TELEGRAM_LOCAL_FILES": "true",
        "TELEGRAM_LOCAL_DIR": str(local_dir),
        "TELEGRAM_FILE_URL": files.url,
        "MAX_INPUT_MB": "30",
        "RETRY_INTERVAL": "30",  # a retry would show as a second getFile long after the test
    }
    stack.bot(**env)
    stack.worker(**env)
    yield local_dir, served_dir, files
    files.server.shutdown()
    files.server.server_close()


def send(fake_api: FakeTelegramAPI, **add_file: object) -> int:
    """Push one video update from a new user; return its chat id."""
    chat = next(_user_ids)
    data = add_file.pop("data", b"")
    fake_api.push_update(factories.make_video_update(fake_api.add_file(data, **add_file), user_id=chat))
    return chat


def shown(fake_api: FakeTelegramAPI, chat: int) -> list[str | None]:
    """The current texts of the bot's messages in a chat (status messages edited in place)."""
    return [fake_api.message_text(chat, c.result["message_id"]) for c in fake_api.calls("sendMessage", chat)]


def with_free_box(clip: bytes, size: int) -> bytes:
    """The clip followed by an mp4 `free` box (padding every demuxer skips): `size` bytes of real file."""
    pad = size - len(clip)
    return clip + struct.pack(">I", pad) + b"free" + bytes(pad - 8)


def test_local_files_convert_from_the_shared_dir_or_the_file_server(
    local_stack, stack, fake_api: FakeTelegramAPI, clip_bytes: bytes
):
    """A 21 MB video the worker sees is copied and converted; one only the file server has is fetched."""
    local_dir, served_dir, files = local_stack
    big = send(fake_api, data=with_free_box(clip_bytes, 21 * MB))
    elsewhere = served_dir / fake_api.token / "videos" / "file_9.mp4"
    elsewhere.parent.mkdir(parents=True)
    elsewhere.write_bytes(clip_bytes)
    remote = send(fake_api, file_path=f"{local_dir}/{fake_api.token}/videos/file_9.mp4")

    for chat in (big, remote):
        [gif] = fake_api.wait_for(lambda c=chat: fake_api.sent_animations(c), timeout=60, message="GIF")
        assert gif_info(next(iter(gif.files.values()))).frames >= 2
    token = fake_api.token.replace(":", "%3A")
    assert files.asked == [f"/{token}/videos/file_9.mp4"], "only the file not on this box is fetched"
    kept = [Path(c.result["file_path"]) for c in fake_api.calls("getFile")]
    assert [p.stat().st_size for p in kept if p.exists()] == [21 * MB], "the bot-api's file was changed"
    assert not fake_api.calls("file", ok_only=False), "nothing asked the Bot API's /file/ route"
    assert fake_api.token not in stack.logs(), "the token (in every local path) was logged"


def test_local_paths_out_of_the_dir_are_refused_unread(
    local_stack, stack, fake_api: FakeTelegramAPI, clip_bytes: bytes, tmp_path: Path
):
    """/etc/passwd, `..` out, and a symlink in the dir to a video outside it: each one refusal, no GIF."""
    local_dir, _, files = local_stack
    outside = tmp_path / "outside.mp4"
    outside.write_bytes(clip_bytes)  # a real video: had it been read, a GIF would come back
    link = local_dir / fake_api.token / "videos" / "link.mp4"
    link.parent.mkdir(parents=True)
    link.symlink_to(outside)
    paths = ["/etc/passwd", f"{local_dir}/{fake_api.token}/../../outside.mp4", str(link)]
    chats = [send(fake_api, data=clip_bytes, file_path=path) for path in paths]

    refusal = text("error_local_file")
    for chat in chats:
        fake_api.wait_for(lambda c=chat: refusal in shown(fake_api, c), timeout=30, message="the refusal")
    assert not fake_api.sent_animations(), "a GIF came from a file outside TELEGRAM_LOCAL_DIR"
    assert files.asked == [], "a refused path was fetched from the file server"
    assert len(fake_api.calls("getFile")) == len(paths), "a refusal was retried"
    assert fake_api.token not in stack.logs(), "the token (in every local path) was logged"
