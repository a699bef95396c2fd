"""Tweak and redo: a press on a button under a GIF makes that GIF again with one thing changed.

The press names only the tweak ("redo:s"); the GIF's message comes with it, and its recipe (the
video's file id, the settings, who asked: core.redo) is looked up by chat and message id. Only the
user who asked may press; a stale or forged press gets the polite "no longer active" answer the
settings buttons give. The new GIF then goes the way of any new video (app.intake.Intake.redo).
"""

from __future__ import annotations

import logging

from redis import Redis
from telebot.types import CallbackQuery

from app.commands import lang_of
from app.intake import Ask, Intake, profile_of
from app.replies import Replier
from app.videos import IncomingVideo
from core import markers, redo, tweaks
from core.settings import Settings
from core.texts import text

log = logging.getLogger(__name__)


class Redo:
    """The handler of the tweak buttons under every GIF."""

    def __init__(self, settings: Settings, redis: Redis, intake: Intake, replier: Replier) -> None:
        self.settings = settings
        self.redis = redis
        self.intake = intake
        self.replier = replier

    def on_button(self, call: CallbackQuery) -> None:
        """Make the GIF again as the button says, for the user who asked for it."""
        lang, code, gif = lang_of(call), tweaks.parse(call.data), call.message
        recipe = None if code is None or gif is None else redo.load(self.redis, gif.chat.id, gif.message_id)
        if recipe is None:  # stale (expired), forged, or not under a GIF of ours
            self.replier.answer(call.id, text("button_expired", lang))
            return
        if call.from_user.id != recipe.user_id:
            self.replier.answer(call.id, text("redo_not_yours", lang))
            return
        tweaked = tweaks.tweak(recipe, code, self.settings.max_seconds)
        if tweaked is None:  # a button that was never shown
            self.replier.answer(call.id, text("button_expired", lang))
            return
        video = IncomingVideo(recipe.kind, recipe.file_id, recipe.file_unique_id, recipe.file_size)
        ask = Ask(gif, profile_of(call), video, lang, redo=code)
        if markers.was_queued(self.redis, ask.job_id):  # a second tap: the first one's GIF is coming
            self.replier.answer(call.id, text("redo_already", lang))
            return
        self.replier.answer(call.id, text("redo_started", lang))
        log.info("user=%s pressed redo:%s under GIF %s:%s", recipe.user_id, code, gif.chat.id, gif.message_id)
        self.intake.redo(ask, tweaked.choice, tweaked.window)
