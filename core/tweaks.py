"""The tweak-and-redo buttons under a GIF: which are offered, what each changes, and their labels.

Callback data is "redo:<code>" (the GIF comes with the press). A button that would change nothing
(shorter than 1 s, longer when the video has no more, past the length cap, past the fastest or
slowest speed) is not shown, and a press of one anyway changes nothing (tweak() returns None).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from telebot.types import InlineKeyboardButton, InlineKeyboardMarkup

from core import prefs
from core.models import OutputKind
from core.redo import GifRecipe
from core.texts import text

CALLBACK_PREFIX = "redo"
SHORTER, LONGER, SLOWER, FASTER, REVERSE, OUTPUT = "s", "l", "w", "f", "r", "o"
ROWS = ((SHORTER, LONGER), (SLOWER, FASTER), (REVERSE, OUTPUT))
CODES = frozenset(code for row in ROWS for code in row)
LENGTH_STEP_S = 5  # shorter / longer change the length by this much
MIN_SECONDS = 1  # never shorter than this
SLACK_S = 0.01  # lengths this close are the same
SPEEDS = prefs.CHOICES["speed"]  # slower / faster step through the /settings speeds


@dataclass(frozen=True)
class Tweaked:
    """The settings and trim window of the GIF a tweak asks for."""

    choice: prefs.UserPrefs
    window: tuple[float, float] | None


def parse(data: str | None) -> str | None:
    """The tweak code of 'redo:<code>'; None for anything else."""
    prefix, _, code = (data or "").partition(":")
    return code if prefix == CALLBACK_PREFIX and code in CODES else None


def is_redo_button(call: object) -> bool:
    """True for a press on a tweak button (valid or not: the handler decides)."""
    return (getattr(call, "data", None) or "").startswith(CALLBACK_PREFIX + ":")


def tweak(recipe: GifRecipe, code: str, cap: float) -> Tweaked | None:
    """What the GIF made with button `code` looks like; None if the button would change nothing.

    Shorter and longer set an explicit window from the GIF's start, so the new GIF is exactly that
    long (and not cut, so it can be cached); the other buttons keep the window and length cap."""
    choice = prefs.UserPrefs(
        recipe.width,
        recipe.fps,
        recipe.max_seconds,
        recipe.speed,
        recipe.reverse,
        recipe.output,
        recipe.crop,
        recipe.square,
    )
    window = None if recipe.end is None else (recipe.start, recipe.end)
    if code in (SHORTER, LONGER):
        seconds = new_length(recipe, code, cap)
        if seconds is None:
            return None
        longest = max(choice.max_seconds, seconds)
        return Tweaked(replace(choice, max_seconds=longest), (recipe.start, recipe.start + seconds))
    if code in (SLOWER, FASTER):
        speed = new_speed(recipe, code)
        return None if speed is None else Tweaked(replace(choice, speed=speed), window)
    if code == REVERSE:
        return Tweaked(replace(choice, reverse=not recipe.reverse), window)
    if code == OUTPUT:
        other = OutputKind.DOCUMENT if recipe.output is OutputKind.ANIMATION else OutputKind.ANIMATION
        return Tweaked(replace(choice, output=other), window)
    return None


def new_length(recipe: GifRecipe, code: str, cap: float) -> float | None:
    """Seconds of video for shorter (at least MIN_SECONDS) or longer (at most `cap`, and only while
    the video goes on), in whole seconds; None if that is no change."""
    if code == SHORTER:
        seconds = max(MIN_SECONDS, math.ceil(recipe.seconds - SLACK_S) - LENGTH_STEP_S)
        return float(seconds) if seconds < recipe.seconds - SLACK_S else None
    seconds = min(cap, math.floor(recipe.seconds + SLACK_S) + LENGTH_STEP_S)
    return float(seconds) if recipe.more and seconds > recipe.seconds + SLACK_S else None


def new_speed(recipe: GifRecipe, code: str) -> float | None:
    """The next /settings speed down (slower) or up (faster); None at either end."""
    current = f"{recipe.speed:g}"
    if current not in SPEEDS:
        return None
    index = SPEEDS.index(current) + (-1 if code == SLOWER else 1)
    return float(SPEEDS[index]) if 0 <= index < len(SPEEDS) else None


def label(recipe: GifRecipe, code: str, cap: float, lang: str) -> str:
    """A button's text, saying what the new GIF will be."""
    if code in (SHORTER, LONGER):
        seconds = new_length(recipe, code, cap) or 0.0
        return text("redo_shorter" if code == SHORTER else "redo_longer", lang, seconds=f"{seconds:g}")
    if code in (SLOWER, FASTER):
        speed = new_speed(recipe, code) or 0.0
        return text("redo_slower" if code == SLOWER else "redo_faster", lang, speed=f"{speed:g}")
    if code == REVERSE:
        return text("redo_forward" if recipe.reverse else "redo_reverse", lang)
    return text("redo_as_file" if recipe.output is OutputKind.ANIMATION else "redo_as_animation", lang)


def buttons(recipe: GifRecipe, cap: float, lang: str) -> InlineKeyboardMarkup | None:
    """The tweak buttons for a GIF, rows of two, leaving out those that would change nothing."""
    markup = InlineKeyboardMarkup()
    for row in ROWS:
        offered = [code for code in row if tweak(recipe, code, cap) is not None]
        if offered:
            markup.row(
                *(
                    InlineKeyboardButton(label(recipe, c, cap, lang), callback_data=f"{CALLBACK_PREFIX}:{c}")
                    for c in offered
                )
            )
    return markup if markup.keyboard else None
