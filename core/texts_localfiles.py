"""Texts of the self-hosted Bot API server's local files (core.localfiles)."""

from __future__ import annotations

from core.texts import EN, ZH

TEXTS = {
    EN: {
        "error_local_file": (
            "Sorry, I couldn't fetch this video because of a problem on the bot's side, not with "
            "your file. The admins can see what went wrong; please try again later."
        ),
    },
    ZH: {
        "error_local_file": (
            "抱歉，因為機器人這邊的問題（不是你的檔案），我無法取得這段影片。管理員可以查看原因，請稍後再試。"
        ),
    },
}
