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
            "(mp4, mov, webm, mkv, avi, mts, mpg, vob, flv, wmv, 3gp, ogv) up to {max_mb} MB. The GIF covers the first {max_seconds} seconds, "
            "at most {width} px wide and {fps} frames a second.\n\n"
            "Write a time range like 3-8 or 0:03-0:08 as the caption to convert just that part.\n"
            "/text TOP | BOTTOM in reply to a video - its GIF with your words on it\n"
            "In a group, reply to a video with /gif (or /gif 3-8).\n"
            "The buttons under each GIF make it again shorter, longer, slower, faster, reversed or as a file.\n"
            "/settings - width, frame rate, length, speed, reverse, remove black bars, square, "
            "GIF file, animation or video sticker (the first 3 s)\n"
            "/cancel - stop your videos in progress\n"
            "/stats - your numbers\n"
            "/privacy - what I keep about you\n"
            "/forget - delete your data"
        ),
        "not_video": (
            "That isn't something I can turn into a GIF. Please send a video, an animation, "
            "a round video message or a video file (mp4, mov, webm, mkv, avi, mts, mpg, vob, flv, wmv, 3gp, ogv)."
        ),
        "status_queued": "Got your video! Position {position} in line, about {wait} s.",
        "status_downloading": "Downloading your video...",
        "status_converting": "Converting your video to a GIF... {percent}%",
        "status_uploading": "Your GIF is ready, sending it now...",
        "status_retrying": "That didn't work on the first try; I'll retry automatically in a moment.",
        "video_later": (
            "Got your video! I can't queue it this very moment, but it is safe with Telegram: "
            "I'll convert it shortly, no need to send it again."
        ),
        "inbox_full": (
            "That's a lot at once! I'll work through the first {max_inbox} of your messages; "
            "please send the rest again once those are done."
        ),
        "truncated": "Your video is longer than {max_seconds} seconds, so this GIF covers the first {max_seconds}.",
        "error_generic": "Sorry, I couldn't convert this video. Please try again later.",
        "error_failed": (
            "Sorry, I couldn't convert this video after several tries. Please try again later, "
            "or send a different file."
        ),
        "error_not_video": (
            "This file doesn't look like a video I can read. Please send a normal video file "
            "(mp4, mov, webm, mkv, avi, mts, mpg, vob, flv, wmv, 3gp, ogv)."
        ),
        "error_broken": "This video seems to be damaged or incomplete, so I can't convert it. Please send it again.",
        "error_too_big": "This file is too big: I can take videos up to {max_mb} MB. Please send a shorter or smaller one.",
        "error_too_large": "This video's picture is too large for me. Please send one of at most 4K resolution.",
        "error_timeout": "This video took too long to convert. Please send a shorter clip.",
        "error_gif_too_big": (
            "The GIF from this video is too large to send on Telegram, even made smaller. "
            "Please send a shorter clip, or write a time range like 0-5 as the caption."
        ),
        "error_too_much_memory": (
            "This video is too large for me to convert: it needs more memory than I can give one video. "
            "Please send a shorter clip or one of lower resolution."
        ),
        "error_audio_only": (
            "This file only has sound, no picture, so there is nothing to make a GIF of. Please send a video."
        ),
        "error_encrypted": (
            "This video is copy-protected (encrypted), so I can't read its picture. "
            "Please send a video you recorded or saved without protection."
        ),
        "error_codec": (
            "This video is in a format I can't decode. Please convert it to MP4 (H.264) "
            "or send it from your phone's gallery."
        ),
        "banned": "Sorry, this bot is not available to you.",
        "unknown_command": "I don't know that command. Send me a video to get a GIF, or /help to see what I do.",
        "button_expired": "This button is no longer active.",
        "error_trim": (
            "I couldn't use that time range. Write it like 3-8 or 0:03-0:08 (start-end, inside the video)."
        ),
        "shrunk": "The GIF was made smaller (fewer frames or pixels) to fit Telegram's upload limit.",
        "settings_title": "Your GIF settings. Tap to change:",
        "settings_saved": "Saved.",
        "set_width": "Width",
        "set_fps": "FPS",
        "set_max_seconds": "Max s",
        "set_speed": "Speed",
        "set_reverse": "Reverse",
        "set_output": "Send as",
        "opt_reverse_0": "off",
        "opt_reverse_1": "on",
        "opt_output_animation": "animation",
        "opt_output_document": ".gif file",
        "cancelled": "Stopped {count} of your videos.",
        "cancelled_one": "Cancelled.",
        "nothing_to_cancel": "You have no videos in progress.",
        "my_stats": (
            "Your numbers: {videos} videos sent, {delivered} GIFs delivered, {failed} failed, "
            "{refused} refused, {mb_out} MB of GIFs, {median} s median conversion."
        ),
        "quota": "You've sent {per_hour} videos this hour, which is the limit. Please try again later.",
        "too_many": (
            "You already have {max_pending} videos waiting. Please wait for those GIFs before sending more."
        ),
        "job_deleted": (
            "Your video was removed from the queue by an admin, so no GIF will come for it. "
            "You can send it again if you still want one."
        ),
        "cmd_help": "What I do and how to use me",
        "cmd_settings": "GIF width, frame rate, length, speed, reverse, output",
        "cmd_cancel": "Stop your videos in progress",
        "cmd_stats": "Your numbers",
        "cmd_privacy": "What I keep about you, and for how long",
        "cmd_forget": "Delete your data",
        "forget_confirm": (
            "Delete your data? This removes your profile, settings, counters, recent videos' "
            "records and GIF cache entries, and stops your videos in progress. It cannot be undone."
        ),
        "forget_yes": "Delete my data",
        "forget_no": "Keep it",
        "forget_done": "Done: your data is deleted. Send a video any time to start afresh.",
        "forget_kept": "Nothing was deleted.",
        "privacy": (
            "What I keep about you, and for how long:\n"
            "- your name, username and language, your counters (/stats), your last 50 videos' "
            "records and conversion times, and your /settings: until {days} days after you last "
            "used me; then they are deleted\n"
            "- a video's record and its GIF's Telegram file id (so a repeat comes back at once): "
            "30 days\n"
            "- what the buttons under a GIF need to make it again (the video's Telegram file id and "
            "the settings used): 7 days\n"
            "- a conversion job (ids and your settings, never the video): 1 day after it worked, "
            "7 days after it failed\n"
            "- how many videos you sent this hour (the hourly limit): 2 hours\n"
            "- words you ask me to draw on a GIF (/text): until that GIF is sent, at most 3 days\n"
            "- the server's logs note user and job ids, never the video; they are rotated away\n"
            "I never keep your videos or GIFs: each is deleted from my disk once it is sent; "
            "Telegram stores what you send.\n\n"
            "/forget deletes your data now. It does not lift a ban or a limit an admin set for "
            "you (those are the admins' decisions and stay), and all-time totals are kept "
            "without your name or id."
        ),
    },
    ZH: {
        "help": (
            "傳一段影片給我，我會把它變成 GIF。\n\n"
            "我接受影片、GIF 動畫、圓形影片訊息與影片檔（mp4、mov、webm、mkv、avi、mts、mpg、vob、flv、wmv、3gp、ogv），大小上限 {max_mb} MB。"
            "GIF 最多包含前 {max_seconds} 秒，寬度最多 {width} 像素，每秒 {fps} 格。\n\n"
            "在說明文字寫上時間範圍（例如 3-8 或 0:03-0:08），就只轉換那一段。\n"
            "/text 上方文字 | 下方文字 回覆一段影片 - 做出寫上你的文字的 GIF\n"
            "在群組中，用 /gif（或 /gif 3-8）回覆影片即可。\n"
            "每個 GIF 下方的按鈕可以重新製作：短一點、長一點、慢一點、快一點、倒轉或改用檔案。\n"
            "/settings - 寬度、每秒格數、長度、速度、倒轉、去除黑邊、正方形、GIF 檔、動畫或影片貼圖（前 3 秒）\n"
            "/cancel - 停止處理中的影片\n"
            "/stats - 你的統計\n"
            "/privacy - 我保存了你的哪些資料\n"
            "/forget - 刪除你的資料"
        ),
        "not_video": "這個沒辦法轉成 GIF。請傳送影片、GIF 動畫、圓形影片訊息或影片檔（mp4、mov、webm、mkv、avi、mts、mpg、vob、flv、wmv、3gp、ogv）。",
        "status_queued": "收到你的影片了！排在第 {position} 位，大約 {wait} 秒。",
        "status_downloading": "正在下載你的影片……",
        "status_converting": "正在把你的影片轉成 GIF……{percent}%",
        "status_uploading": "GIF 完成了，正在傳送……",
        "status_retrying": "第一次沒有成功，我稍後會自動重試。",
        "video_later": "收到你的影片了！我現在暫時無法排入佇列，但影片在 Telegram 那裡很安全：我稍後就會轉換，不用再傳一次。",
        "inbox_full": "一次太多了！我會先處理你前 {max_inbox} 則訊息；等這些完成後，請再傳送其餘的。",
        "truncated": "你的影片超過 {max_seconds} 秒，所以這個 GIF 只包含前 {max_seconds} 秒。",
        "error_generic": "抱歉，這段影片轉檔失敗。請稍後再試。",
        "error_failed": "抱歉，這段影片試了幾次都轉檔失敗。請稍後再試，或換一個檔案。",
        "error_not_video": "這個檔案看起來不是我能讀取的影片。請傳送一般的影片檔（mp4、mov、webm、mkv、avi、mts、mpg、vob、flv、wmv、3gp、ogv）。",
        "error_broken": "這段影片似乎已損壞或不完整，無法轉檔。請重新傳送。",
        "error_too_big": "檔案太大了：我最多只能處理 {max_mb} MB 的影片。請傳送較短或較小的影片。",
        "error_too_large": "這段影片的解析度太高了。請傳送 4K 以下的影片。",
        "error_timeout": "這段影片轉檔花太久了。請傳送較短的片段。",
        "error_gif_too_big": "這段影片做成的 GIF 就算縮小後仍然太大，無法在 Telegram 傳送。請傳送較短的片段，或在說明文字寫上時間範圍（例如 0-5）。",
        "error_too_much_memory": "這段影片太大了，轉檔需要的記憶體超過我能給單一影片的上限。請傳送較短或解析度較低的片段。",
        "error_audio_only": "這個檔案只有聲音、沒有畫面，無法做成 GIF。請傳送影片。",
        "error_encrypted": "這段影片有防拷保護（已加密），我無法讀取畫面。請傳送你自己錄製或未加保護的影片。",
        "error_codec": "這段影片的格式我無法解碼。請轉成 MP4（H.264），或從手機相簿直接傳送。",
        "banned": "抱歉，你無法使用這個機器人。",
        "unknown_command": "我不認得這個指令。傳影片給我就能得到 GIF，或輸入 /help 看看我能做什麼。",
        "button_expired": "這個按鈕已經失效了。",
        "error_trim": "我看不懂這個時間範圍。請寫成 3-8 或 0:03-0:08（開始-結束，需在影片長度內）。",
        "shrunk": "為了符合 Telegram 的上傳限制，這個 GIF 已經縮小（減少格數或像素）。",
        "settings_title": "你的 GIF 設定，點選即可更改：",
        "settings_saved": "已儲存。",
        "set_width": "寬度",
        "set_fps": "每秒格數",
        "set_max_seconds": "最長秒數",
        "set_speed": "速度",
        "set_reverse": "倒轉",
        "set_output": "傳送方式",
        "opt_reverse_0": "關",
        "opt_reverse_1": "開",
        "opt_output_animation": "動畫",
        "opt_output_document": ".gif 檔",
        "cancelled": "已停止你的 {count} 段影片。",
        "cancelled_one": "已取消。",
        "nothing_to_cancel": "你目前沒有處理中的影片。",
        "my_stats": (
            "你的統計：傳了 {videos} 段影片，完成 {delivered} 個 GIF，失敗 {failed} 個，"
            "被拒絕 {refused} 個，GIF 共 {mb_out} MB，轉檔時間中位數 {median} 秒。"
        ),
        "quota": "你這個小時已經傳了 {per_hour} 段影片，達到上限了。請稍後再試。",
        "too_many": "你已經有 {max_pending} 段影片在等待中。請等這些 GIF 完成後再傳送。",
        "job_deleted": "管理員已將你的影片從佇列中移除，所以不會有這段影片的 GIF。如果仍然需要，可以再傳送一次。",
        "cmd_help": "我能做什麼、怎麼使用",
        "cmd_settings": "GIF 寬度、每秒格數、長度、速度、倒轉、傳送方式",
        "cmd_cancel": "停止處理中的影片",
        "cmd_stats": "你的統計",
        "cmd_privacy": "我保存了你的哪些資料、保存多久",
        "cmd_forget": "刪除你的資料",
        "forget_confirm": (
            "要刪除你的資料嗎？這會移除你的個人資料、設定、統計、近期影片的紀錄與 GIF 快取，"
            "並停止處理中的影片。刪除後無法復原。"
        ),
        "forget_yes": "刪除我的資料",
        "forget_no": "保留",
        "forget_done": "完成：你的資料已刪除。隨時傳影片給我就能重新開始。",
        "forget_kept": "沒有刪除任何資料。",
        "privacy": (
            "我保存了你的哪些資料、保存多久：\n"
            "- 你的名字、使用者名稱與語言、你的統計（/stats）、最近 50 段影片的紀錄與轉檔時間，"
            "以及你的 /settings：保存到你最後一次使用後 {days} 天，之後刪除\n"
            "- 每段影片的紀錄與其 GIF 在 Telegram 的檔案 ID（讓重複的影片能立刻傳回）：30 天\n"
            "- GIF 下方按鈕重新製作所需的資料（影片在 Telegram 的檔案 ID 與所用的設定）：7 天\n"
            "- 轉檔工作（ID 與你的設定，不含影片本身）：成功後 1 天，失敗後 7 天\n"
            "- 你這個小時傳了幾段影片（每小時上限）：2 小時\n"
            "- 你要我寫在 GIF 上的文字（/text）：保存到 GIF 傳出為止，最多 3 天\n"
            "- 伺服器日誌會記下使用者與工作的 ID，不含影片；日誌會定期輪替刪除\n"
            "我不保存你的影片或 GIF：每個檔案傳送後就從我的磁碟刪除；你傳送的內容由 Telegram 保存。\n\n"
            "/forget 會立刻刪除你的資料。它不會解除管理員對你的封鎖或限制（那是管理員的決定，會保留），"
            "累計總數也會保留，但不含你的名字或 ID。"
        ),
    },
}


# Feature text packs: each module holds TEXTS = {EN: {...}, ZH: {...}} with keys of its own;
# list it here, so core/texts.py stays one catalogue without growing past its size limit.
PACKS: tuple[str, ...] = (
    "core.texts_localfiles",
    "core.texts_groups",
    "core.texts_text",
    "core.texts_redo",
    "core.texts_sticker",
)


def _merge_packs() -> None:
    """Add every pack's texts to CATALOGUE (a key defined twice is a bug, caught at import)."""
    from importlib import import_module

    for name in PACKS:
        for lang, texts in import_module(name).TEXTS.items():
            clash = set(texts) & set(CATALOGUE[lang])
            if clash:
                raise RuntimeError(f"text keys defined twice: {sorted(clash)}")
            CATALOGUE[lang].update(texts)


_merge_packs()


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
