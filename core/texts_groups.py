"""Texts of the bot in groups: /gif in reply to a video, and the group's /settings."""

from __future__ import annotations

from core.texts import EN, ZH

TEXTS: dict[str, dict[str, str]] = {
    EN: {
        "cmd_gif": "Reply to a video with this to get its GIF",
        "gif_how": (
            "Reply to a video with /gif and I'll turn it into a GIF. Add a time range to convert "
            "just that part: /gif 3-8. In a private chat you can also simply send me the video."
        ),
        "group_settings_title": (
            "Group settings. By default I convert only the videos someone answers with /gif. "
            "An admin can have me convert every video posted here; for that I must see every "
            "message: make me an admin of this group, or my owner turns my privacy mode off."
        ),
        "group_every_video": "Every video",
        "group_on": "On",
        "group_off": "Off",
        "group_admins_only": (
            "Only this group's admins can change its settings. Your own GIF settings are in a "
            "private chat with me: open @{bot} and send /settings."
        ),
        "group_admins_only_button": "Only this group's admins can change this.",
    },
    ZH: {
        "cmd_gif": "回覆影片時使用，把它變成 GIF",
        "gif_how": (
            "回覆一段影片並輸入 /gif，我就會把它變成 GIF。加上時間範圍就只轉換那一段：/gif 3-8。"
            "在私人對話中，也可以直接把影片傳給我。"
        ),
        "group_settings_title": (
            "群組設定。預設我只轉換有人用 /gif 回覆的影片。管理員可以讓我轉換這裡發佈的每一段影片；"
            "為此我必須看得到所有訊息：把我設為本群組的管理員，或由我的擁有者關閉我的隱私模式。"
        ),
        "group_every_video": "每段影片",
        "group_on": "開",
        "group_off": "關",
        "group_admins_only": (
            "只有本群組的管理員可以變更群組設定。"
            "你自己的 GIF 設定在與我的私人對話中：開啟 @{bot} 並傳送 /settings。"
        ),
        "group_admins_only_button": "只有本群組的管理員可以變更這個設定。",
    },
}
