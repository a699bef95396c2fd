"""Match a message against a catalogue text whose placeholders may hold any value."""

from __future__ import annotations

import re

from core.texts import CATALOGUE, EN


def matches(key: str, body: str | None, lang: str = EN) -> bool:
    """True if body is the text `key` in `lang` with any values in its {placeholders}."""
    if body is None:
        return False
    parts = re.split(r"\{[a-z_]+\}", CATALOGUE[lang][key])
    pattern = "(.+?)".join(re.escape(p) for p in parts)
    return re.fullmatch(pattern, body, flags=re.DOTALL) is not None
