"""The /settings menu: inline buttons built from core.prefs.choices(), and their callback data."""

from __future__ import annotations

from telebot.types import InlineKeyboardButton, InlineKeyboardMarkup

from core import prefs
from core.settings import Settings
from core.texts import text

CALLBACK_PREFIX = "set"
NOOP = "noop"  # the label button at the start of each menu row
_NAMED_VALUES = ("reverse", "output", "crop", "square")  # rows whose values have texts, not numbers


def settings_menu(choice: prefs.UserPrefs, lang: str, settings: Settings) -> InlineKeyboardMarkup:
    """One row per setting; the current value is marked; lengths go up to MAX_SECONDS."""
    current = {name: str(value) for name, value in prefs.as_dict(choice).items()}
    current["reverse"] = "1" if choice.reverse else "0"
    current["crop"], current["square"] = str(int(choice.crop)), str(int(choice.square))
    current["max_seconds"], current["speed"] = f"{choice.max_seconds:g}", f"{choice.speed:g}"
    markup = InlineKeyboardMarkup()
    for name, values in prefs.choices(settings).items():
        row = []
        for value in values:
            label = text(f"opt_{name}_{value}", lang) if name in _NAMED_VALUES else f"{value}"
            mark = "• " if current[name] == value else ""
            row.append(InlineKeyboardButton(mark + label, callback_data=callback_data(name, value)))
        markup.row(InlineKeyboardButton(text(f"set_{name}", lang), callback_data=NOOP), *row)
    return markup


def parse_callback(data: str, settings: Settings) -> tuple[str, str] | None:
    """('width', '320') from 'set:width:320'; None for anything not on this install's menus."""
    parts = (data or "").split(":")
    if len(parts) != 3 or parts[0] != CALLBACK_PREFIX:
        return None
    _, name, value = parts
    return (name, value) if value in prefs.choices(settings).get(name, ()) else None


def callback_data(name: str, value: str) -> str:
    """The callback data of a menu button."""
    return f"{CALLBACK_PREFIX}:{name}:{value}"
