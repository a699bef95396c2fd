"""app.videos.find_video: which messages carry a video to convert (the rest of intake runs in e2e)."""

from __future__ import annotations

import pytest
from telebot.types import Update

from app.videos import VIDEO_EXTENSIONS, find_video, is_video_document
from core.models import MediaKind
from tests import factories
from tests.fakes.telegram_api import FileRecord

FILE = FileRecord("file-1", "unique-1", 1234, "videos/file-1")


@pytest.mark.parametrize(
    ("mime_type", "file_name", "accepted"),
    [
        ("video/mp4", "clip.mp4", True),
        ("video/MP2T", "00001.MTS", True),  # every video/* type, whatever the name
        ("video/x-weird", "no-extension", True),
        ("application/octet-stream", "00001.MTS", True),  # a camcorder file Telegram could not type
        ("application/octet-stream", "VTS_01_1.VOB", True),
        ("application/octet-stream", "old.flv", True),
        ("", "phone.3gp", True),  # no MIME type at all
        (None, "clip.wmv", True),
        ("application/octet-stream", "notes.txt", False),
        ("application/octet-stream", "no-extension", False),
        ("application/octet-stream", None, False),
        ("application/pdf", "report.mp4", False),  # a typed non-video is not taken on its name
        ("image/jpeg", "photo.mov", False),
        ("audio/mpeg", "song.mp4", False),
    ],
)
def test_video_documents_are_known_by_type_or_by_name_when_untyped(
    mime_type: str | None, file_name: str | None, accepted: bool
) -> None:
    """video/* always; octet-stream or no type only with a video file name ending; other types never."""
    assert is_video_document(mime_type, file_name) is accepted


def test_every_container_the_worker_reads_has_its_extensions() -> None:
    """The endings cover the issue's list: AVCHD, DVD, Flash, WMV, 3GP, Ogg, MKV/WebM, MP4/MOV, AVI."""
    wanted = ".mts .m2ts .ts .vob .mpg .mpeg .flv .wmv .asf .3gp .3g2 .ogv .mkv .webm .mp4 .mov .m4v .avi"
    assert set(wanted.split()) <= VIDEO_EXTENSIONS


@pytest.mark.parametrize(
    ("mime_type", "file_name", "kind"),
    [
        ("application/octet-stream", "00001.MTS", MediaKind.DOCUMENT),
        ("application/octet-stream", "notes.txt", None),
        ("video/x-flv", "clip.flv", MediaKind.DOCUMENT),
    ],
)
def test_find_video_takes_an_untyped_document_named_like_a_video(
    mime_type: str, file_name: str, kind: MediaKind | None
) -> None:
    """A document message is the video to convert exactly when is_video_document says so."""
    update = factories.make_video_update(
        FILE, kind="document", mime_type=mime_type, file_name=file_name, update_id=1
    )
    message = Update.de_json(update).message
    found = find_video(message)
    assert (found.kind if found else None) is kind
    if found:
        assert (found.file_id, found.file_size) == (FILE.file_id, FILE.file_size)
