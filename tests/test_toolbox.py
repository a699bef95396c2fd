"""jobs.toolbox against this box's real ffmpeg: the decoders and filters it reports."""

from __future__ import annotations

import pytest

from jobs import toolbox

# Every video codec issue 13 names, as ffprobe calls it; all are decodable by Debian's ffmpeg 5.1.
ISSUE_CODECS = ("h264", "hevc", "vp8", "vp9", "av1", "mpeg4", "h263", "mpeg2video", "mjpeg")
ISSUE_CODECS += ("wmv1", "wmv2", "wmv3", "vc1", "theora", "prores", "flv1")


@pytest.mark.parametrize("codec", ISSUE_CODECS)
def test_the_codecs_people_record_in_are_decodable(codec: str) -> None:
    """Each codec a phone, camera or program uses is named among this ffmpeg's video decoders."""
    assert toolbox.decodes(codec)


def test_a_codec_without_a_decoder_is_known_as_such() -> None:
    """Daala never had a decoder in FFmpeg; an audio codec is not a video decoder either."""
    assert not toolbox.decodes("daala") and not toolbox.decodes("aac")


def test_decoders_named_differently_count_for_their_codec() -> None:
    """'libdav1d ... (codec av1)': the codec name in brackets is what ffprobe reports, so it counts."""
    assert "av1" in toolbox.video_decoders() and "libdav1d" not in toolbox.video_decoders()


def test_tone_mapping_needs_both_zscale_and_tonemap() -> None:
    """can_tonemap says yes exactly when ffmpeg lists both filters."""
    assert toolbox.can_tonemap() == ({"zscale", "tonemap"} <= toolbox.filters())
    assert "scale" in toolbox.filters() and "paletteuse" in toolbox.filters()


def test_this_ffprobe_writes_to_a_file() -> None:
    """Debian 12's ffprobe (FFmpeg 5.1) has -o, so the worker starts its probes ahead of the file."""
    assert toolbox.ffprobe_writes_to_file()
