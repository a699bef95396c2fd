"""Every user-facing string, in English and Traditional Chinese; nothing else talks to users."""

from __future__ import annotations

from string import Formatter

EN = "en"
ZH = "zh-TW"
LANGUAGES = (EN, ZH)

CATALOGUE: dict[str, dict[str, str]] = {
    EN: {
        "help": (
            "Send me a video and I'll turn it into a GIF.\n\n"
            "I take videos, GIFs/animations, round video messages and video files "
            "(mp4, mov, webm, mkv) up to {max_mb} MB. The GIF covers the first {max_seconds} seconds, "
            "at most {width} px wide and {fps} frames a second."
        ),
        "not_video": (
            "That isn't something I can turn into a GIF. Please send a video, an animation, "
            "a round video message or a video file (mp4, mov, webm, mkv)."
        ),
        "status_queued": "Got your video! It's in line for conversion...",
        "status_converting": "Converting your video to a GIF...",
        "status_uploading": "Your GIF is ready, sending it now...",
        "status_retrying": "That didn't work on the first try; I'll retry automatically in a moment.",
        "busy": "I'm having trouble keeping up right now. Please send your video again in a minute.",
        "truncated": "Your video is longer than {max_seconds} seconds, so this GIF covers the first {max_seconds}.",
        "error_generic": "Sorry, I couldn't convert this video. Please try again later.",
        "error_failed": (
            "Sorry, I couldn't convert this video after several tries. Please try again later, "
            "or send a different file."
        ),
        "error_not_video": (
            "This file doesn't look like a video I can read. Please send a normal video file "
            "(mp4, mov, webm, mkv)."
        ),
        "error_broken": "This video seems to be damaged or incomplete, so I can't convert it. Please send it again.",
        "error_too_big": "This file is too big: I can take videos up to {max_mb} MB. Please send a shorter or smaller one.",
        "error_too_large": "This video's picture is too large for me. Please send one of at most 4K resolution.",
        "error_timeout": "This video took too long to convert. Please send a shorter clip.",
        "banned": "Sorry, this bot is not available to you.",
        "unknown_command": "I don't know that command. Send me a video to get a GIF, or /help to see what I do.",
        "button_expired": "This button is no longer active.",
        "quota": "You've sent {per_hour} videos this hour, which is the limit. Please try again later.",
        "too_many": (
            "You already have {max_pending} videos waiting. Please wait for those GIFs before sending more."
        ),
    },
    ZH: {
        "help": (
            "傳一段影片給我，我會把它變成 GIF。\n\n"
            "我接受影片、GIF 動畫、圓形影片訊息與影片檔（mp4、mov、webm、mkv），大小上限 {max_mb} MB。"
            "GIF 最多包含前 {max_seconds} 秒，寬度最多 {width} 像素，每秒 {fps} 格。"
        ),
        "not_video": "這個沒辦法轉成 GIF。請傳送影片、GIF 動畫、圓形影片訊息或影片檔（mp4、mov、webm、mkv）。",
        "status_queued": "收到你的影片了！正在排隊等待轉檔……",
        "status_converting": "正在把你的影片轉成 GIF……",
        "status_uploading": "GIF 完成了，正在傳送……",
        "status_retrying": "第一次沒有成功，我稍後會自動重試。",
        "busy": "我現在忙不過來，請過一分鐘再傳一次影片。",
        "truncated": "你的影片超過 {max_seconds} 秒，所以這個 GIF 只包含前 {max_seconds} 秒。",
        "error_generic": "抱歉，這段影片轉檔失敗。請稍後再試。",
        "error_failed": "抱歉，這段影片試了幾次都轉檔失敗。請稍後再試，或換一個檔案。",
        "error_not_video": "這個檔案看起來不是我能讀取的影片。請傳送一般的影片檔（mp4、mov、webm、mkv）。",
        "error_broken": "這段影片似乎已損壞或不完整，無法轉檔。請重新傳送。",
        "error_too_big": "檔案太大了：我最多只能處理 {max_mb} MB 的影片。請傳送較短或較小的影片。",
        "error_too_large": "這段影片的解析度太高了。請傳送 4K 以下的影片。",
        "error_timeout": "這段影片轉檔花太久了。請傳送較短的片段。",
        "banned": "抱歉，你無法使用這個機器人。",
        "unknown_command": "我不認得這個指令。傳影片給我就能得到 GIF，或輸入 /help 看看我能做什麼。",
        "button_expired": "這個按鈕已經失效了。",
        "quota": "你這個小時已經傳了 {per_hour} 段影片，達到上限了。請稍後再試。",
        "too_many": "你已經有 {max_pending} 段影片在等待中。請等這些 GIF 完成後再傳送。",
    },
}


def language_for(language_code: str | None) -> str:
    """Pick the catalogue for a Telegram language_code: any zh variant gets Traditional Chinese."""
    code = (language_code or "").lower().replace("_", "-")
    return ZH if code == "zh" or code.startswith("zh-") else EN


def text(key: str, lang: str = EN, **params: object) -> str:
    """Return the fixed text `key` in `lang` (English if unknown), with its placeholders filled."""
    catalogue = CATALOGUE.get(lang, CATALOGUE[EN])
    template = catalogue.get(key) or CATALOGUE[EN][key]
    return template.format(**params)


def placeholders(template: str) -> set[str]:
    """Names of the {placeholders} in a template (used to check the catalogues agree)."""
    return {name for _, name, _, _ in Formatter().parse(template) if name}
