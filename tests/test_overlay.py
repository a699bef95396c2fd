"""jobs.overlay: meme text reaches ffmpeg only through files, fits the frame, and is drawn literally."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.memetext import MemeText
from jobs import overlay, recipe
from jobs.probe import probe
from tests import textdraw

# Filter-graph syntax: any of it in the graph string would end an option, a filter or the graph.
HOSTILE = MemeText("'it':s;[x],y=", r"%{pts}\n \ {}")
CJK = MemeText("測試繁體", "直角骨頭")  # 直 and 骨 differ between the TC and JP faces


@pytest.fixture(scope="module")
def flat(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A flat clip and its GIF without text (the base of every reference)."""
    folder = tmp_path_factory.mktemp("flat")
    clip = textdraw.flat_clip(folder)
    return {"clip": clip, "plain": textdraw.gif_of(clip, folder / "plain.gif", None, "en", folder)}


def test_wrap_balances_lines_and_breaks_cjk_between_characters():
    """Words go to lines of about equal width; CJK text breaks anywhere; nothing is lost or added."""
    assert overlay.wrap("ONE DOES NOT SIMPLY WALK INTO MORDOR", 2) == [
        "ONE DOES NOT SIMPLY",
        "WALK INTO MORDOR",
    ]
    assert overlay.wrap("這是一段很長的繁體中文", 2) == ["這是一段很長", "的繁體中文"]
    assert overlay.wrap("short", 3) == ["short"]


@pytest.mark.parametrize("size", [(480, 270), (270, 480), (64, 36)])
def test_every_line_fits_inside_the_frame(tmp_path: Path, size: tuple[int, int]):
    """The widest estimated line, outline included, stays inside the margins at the font size chosen."""
    words = MemeText("W" * 200, "繁" * 200)
    meme = overlay.write(tmp_path, words, "en")
    width, height = size
    for wrappings, top in ((meme.top, True), (meme.bottom, False)):
        placed = overlay.place(wrappings, width, height, top)
        widest = max(line.ems for line in placed.lines) + 2 * overlay.BORDER
        assert widest * placed.size <= width * (1 - 2 * overlay.MARGIN)
        assert len(placed.lines) <= overlay.MAX_LINES
        assert all(0 < b < height for b in placed.baselines)


def test_the_text_is_in_no_argument_only_in_files_in_the_temp_dir(tmp_path: Path, flat: dict[str, Path]):
    """ffmpeg's argv names the text files (plain paths, expansion=none) and holds none of the text."""
    meme = overlay.write(tmp_path, HOSTILE, "en")
    options = recipe.GifOptions(meme=meme)
    info = probe(flat["clip"], recipe.Limits())
    argv = recipe.build_convert_args(flat["clip"], tmp_path / "o.gif", info, options, recipe.Limits())
    graph = argv[argv.index("-filter_complex") + 1]
    for piece in ("'it'", "[x]", "%{pts}", r"\ {}"):
        assert all(piece not in arg for arg in argv)
    assert graph.count("expansion=none") == graph.count("drawtext=") == 2
    assert f"textfile={tmp_path.absolute()}/text-top-1-0.txt" in graph
    assert (tmp_path / "text-top-1-0.txt").read_text(encoding="utf-8") == HOSTILE.top


def test_a_temp_dir_path_with_filter_syntax_is_refused(tmp_path: Path):
    """A text file whose path could be read as filter syntax is never handed to ffmpeg."""
    unsafe = tmp_path / "gif:s;[x]"
    unsafe.mkdir()
    with pytest.raises(overlay.UnsafeTextPath):
        overlay.write(unsafe, MemeText("top", ""), "en")


def test_filter_syntax_in_the_text_is_drawn_literally(tmp_path: Path, flat: dict[str, Path]):
    """The GIF's text matches a literal render of the same characters, not an expanded or other text."""
    gif = textdraw.first_frame(textdraw.gif_of(flat["clip"], tmp_path / "t.gif", HOSTILE, "en", tmp_path))
    literal = textdraw.reference(flat["plain"], HOSTILE, "en", _dir(tmp_path, "a"))
    expanded = textdraw.reference(flat["plain"], HOSTILE, "en", _dir(tmp_path, "b"), expansion="normal")
    other = textdraw.reference(
        flat["plain"], MemeText("'it';s:[x],y=", HOSTILE.bottom), "en", _dir(tmp_path, "c")
    )
    assert textdraw.differing(gif, literal) < 0.0005  # measured: 0.0
    assert textdraw.differing(gif, expanded) > 0.01, "a %{pts} expansion would show"  # measured: 0.049
    assert textdraw.differing(gif, other) > 0.001, "two characters swapped must not match"  # measured: 0.0029


def test_traditional_chinese_is_drawn_with_its_glyphs_in_the_tc_face(tmp_path: Path, flat: dict[str, Path]):
    """CJK text shows real glyphs (not .notdef boxes), in the Traditional Chinese face for zh users."""
    gif = textdraw.first_frame(textdraw.gif_of(flat["clip"], tmp_path / "t.gif", CJK, "zh-TW", tmp_path))
    base = flat["plain"]
    tc = textdraw.reference(base, CJK, "zh-TW", _dir(tmp_path, "tc"))
    jp = textdraw.reference(base, CJK, "zh-TW", _dir(tmp_path, "jp"), face="Noto Sans CJK JP")
    tofu = textdraw.reference(base, MemeText("\ue000" * 4, "\ue000" * 4), "zh-TW", _dir(tmp_path, "tofu"))
    assert textdraw.differing(gif, tc) < 0.0005  # measured: 0.0
    assert textdraw.differing(gif, tofu) > 0.02, "boxes instead of glyphs"  # measured: 0.073
    assert textdraw.differing(gif, jp) > 0.005, "the JP face, not TC"  # measured: 0.016


def test_characters_the_font_lacks_are_left_out_not_drawn_as_boxes(tmp_path: Path, flat: dict[str, Path]):
    """Emoji (Noto Sans CJK has none) are dropped and the spaces closed up: the GIF shows the words
    around them as if they had been sent alone, and no empty box."""
    sent = MemeText("GIF 😂 time", "🎉🎉")
    gif = textdraw.first_frame(textdraw.gif_of(flat["clip"], tmp_path / "t.gif", sent, "en", tmp_path))
    words = textdraw.reference(flat["plain"], MemeText("GIF time", ""), "en", _dir(tmp_path, "words"))
    boxes = textdraw.reference(flat["plain"], sent, "en", _dir(tmp_path, "boxes"))
    assert textdraw.differing(gif, words) < 0.0005  # measured: 0.0 (0.066 with the emoji kept)
    assert textdraw.differing(gif, boxes) > 0.005, "the emoji would show as boxes"  # measured: 0.066


def _dir(parent: Path, name: str) -> Path:
    path = parent / name
    path.mkdir()
    return path
