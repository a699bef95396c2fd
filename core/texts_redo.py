"""Texts of the tweak-and-redo buttons under each GIF (core.tweaks, app.redo)."""

from __future__ import annotations

from core.texts import EN, ZH

TEXTS: dict[str, dict[str, str]] = {
    EN: {
        "redo_shorter": "✂️ Shorter: {seconds} s",
        "redo_longer": "➕ Longer: {seconds} s",
        "redo_slower": "🐢 Slower: {speed}×",
        "redo_faster": "🐇 Faster: {speed}×",
        "redo_reverse": "⏪ Reverse",
        "redo_forward": "▶️ Forward",
        "redo_as_file": "📎 As a .gif file",
        "redo_as_animation": "🎞 As an animation",
        "redo_started": "Making that GIF…",
        "redo_already": "That GIF is already made or on its way.",
        "redo_not_yours": "Only the person who asked for this GIF can use its buttons.",
    },
    ZH: {
        "redo_shorter": "✂️ 短一點：{seconds} 秒",
        "redo_longer": "➕ 長一點：{seconds} 秒",
        "redo_slower": "🐢 慢一點：{speed}×",
        "redo_faster": "🐇 快一點：{speed}×",
        "redo_reverse": "⏪ 倒轉",
        "redo_forward": "▶️ 正向播放",
        "redo_as_file": "📎 改用 .gif 檔",
        "redo_as_animation": "🎞 改用動畫",
        "redo_started": "正在製作這個 GIF…",
        "redo_already": "這個 GIF 已經做好了，或正在製作中。",
        "redo_not_yours": "只有要求製作這個 GIF 的人可以使用它的按鈕。",
    },
}
