"""/text TOP | BOTTOM in reply to a video: that video's GIF with the words drawn on it."""

from __future__ import annotations

from telebot.types import Message

from app.commands import lang_of
from app.intake import Intake
from app.replies import Replier
from app.videos import find_video
from core.texts import text


def arguments(command: str | None) -> str:
    """What follows the /command word (`/text@bot TOP | BOTTOM` -> `TOP | BOTTOM`)."""
    parts = (command or "").split(maxsplit=1)
    return parts[1] if len(parts) > 1 else ""


class TextCommand:
    """Queues the replied-to video with the command's words (core.memetext keeps them in Redis)."""

    def __init__(self, intake: Intake, replier: Replier) -> None:
        self.intake = intake
        self.replier = replier

    def on_text(self, message: Message) -> None:
        """Queue the video this /text answers; say how to use it when it answers no video."""
        lang = lang_of(message)
        target = message.reply_to_message
        video = find_video(target) if target is not None else None
        if target is None or video is None:
            self.replier.reply(message, text("text_usage", lang))
            return
        self.intake.handle(message, video, lang, reply_to=target.message_id, meme=arguments(message.text))
