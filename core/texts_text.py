"""Texts of /text: meme words drawn on the GIF (core.memetext, app.memecmd)."""

from __future__ import annotations

from core.texts import EN, ZH

TEXTS = {
    EN: {
        "cmd_text": "Write words on a GIF (reply to a video)",
        "text_usage": (
            "Reply to a video with /text TOP | BOTTOM to get its GIF with those words on it "
            "(either part may be empty: /text | BOTTOM). Or send a video with the caption >TOP | BOTTOM."
        ),
        "text_too_long": (
            "That text is too long: at most {max_chars} characters above and below. Please shorten it."
        ),
        "text_gone": "I lost the words for this GIF (it waited too long). Please send /text again.",
    },
    ZH: {
        "cmd_text": "在 GIF 上寫字（回覆一段影片）",
        "text_usage": (
            "用 /text 上方文字 | 下方文字 回覆一段影片，就能得到寫上這些字的 GIF"
            "（任一部分都可以留空：/text | 下方文字）。也可以傳送影片並在說明文字寫 >上方文字 | 下方文字。"
        ),
        "text_too_long": "文字太長了：上方和下方各最多 {max_chars} 個字。請縮短一點。",
        "text_gone": "這個 GIF 的文字等太久已經遺失了。請再傳一次 /text。",
    },
}
