"""RQ callbacks: send the GIF exactly once on success; tell the user once when all tries failed."""

from __future__ import annotations

import logging
import secrets
from pathlib import Path
from types import TracebackType
from typing import Any

import telebot
from redis import Redis, RedisError
from rq.exceptions import AbandonedJobError
from rq.job import Job

from core import admission, cache, markers, memetext, pace, redo, stats, telegram, tweaks
from core.connection import Pinned, replicated
from core.errors import ChatUnreachable, DeliveryInDoubt, TransientError, UserFacingError
from core.models import ConversionRequest, ConversionResult, Outcome, OutputKind
from core.outage import persist
from core.texts import text
from jobs import runtime, workdir
from jobs.status import StatusMessage

log = logging.getLogger(__name__)
SEND_TIMEOUT_S = admission.SUCCESS_CALLBACK_TIMEOUT_S  # RQ stops the callback then anyway
REDIS_WAIT_S = 30.0  # how long a send waits out a Redis outage to record what it did
# A replica that lags (say, just re-synced after a failover) gets longer to acknowledge a claim or a
# sent mark than the bot's updates get: a claim lost in a failover could mean a second GIF.
SEND_WAIT_MS = 3000
# A smaller GIF uploads in well under a second: an "uploading" step would hold it back by a Bot API
# round trip for a text shown a moment.
UPLOAD_STATUS_MIN_BYTES = 5 * 1024 * 1024


class WorkHorseDied(Exception):
    """The process running the job died (killed, out of memory); the job may be retried."""


def send_gif(job: Job, connection: Redis, result: dict[str, Any]) -> None:
    """on_success: upload the GIF unless an attempt of this job claimed or delivered it before."""
    request = ConversionRequest.from_kwargs(job.kwargs)
    done = ConversionResult.from_json(result)
    folder = workdir.attempt_dir(runtime.settings().tmp_root, done.workdir)
    try:
        if done.already_sent:  # an earlier attempt delivered it, then died before the job ended
            log.info("job=%s GIF was sent before; not sending again", job.id)
        elif folder is None:
            raise TransientError("the result names no temp dir of this box")
        else:
            upload(job, connection, request, done, folder / done.gif)
    finally:
        workdir.remove(folder)
    finish(job, connection, request)  # the job ended for good either way: free the slot


def _claim(connection: Redis, job_id: str) -> str | None:
    """Claim the send, waiting out a Redis outage: a GIF we could not record is never sent.

    The claim names this attempt, so a retry after a lost reply or a failover (the claim written,
    its answer or its replication cut off) finds it is ours, or makes it anew if the failover lost
    it, and waits for a replica again: a failover must not forget the claim during the upload."""
    owner = secrets.token_hex(8)

    def claim() -> str | None:
        with Pinned(connection) as pinned:
            found = markers.claim_send(pinned, job_id, owner)
            if found is None:
                replicated(pinned, SEND_WAIT_MS)
            return found

    return persist(claim, "claiming a send", REDIS_WAIT_S)


def upload(
    job: Job, connection: Redis, request: ConversionRequest, done: ConversionResult, path: Path
) -> None:
    """Send the file, then mark it sent; only a definite non-delivery releases the claim."""
    bot = runtime.client()
    status = StatusMessage(bot, connection, request)
    if done.size_bytes >= UPLOAD_STATUS_MIN_BYTES:
        status.show("status_uploading")
    pace.reserve(connection, request.chat_id, kind=pace.Kind.GIF)
    # Claimed only now, right before the request: a box that dies while the GIF waits for its slot
    # (up to a minute in a burst) leaves no claim, so a retry sends it instead of a lost GIF.
    found = _claim(connection, job.id)
    if found == "sent":
        log.info("job=%s GIF was sent before; not sending again", job.id)
        return
    if found is not None:  # an earlier attempt's send ended in doubt: it most likely arrived
        log.warning("job=%s an earlier attempt may have sent this GIF; sending nothing", job.id)
        return
    recipe = redo.delivered(request, done.duration, done.truncated)
    # no buttons under a GIF with words: the words are deleted once it is sent, a redo could not draw them
    buttons = (
        None if request.has_text else tweaks.buttons(recipe, runtime.settings().max_seconds, request.lang)
    )
    try:
        sent = telegram.call("sendAnimation", lambda: send_file(bot, request, done, path, buttons))
    except ChatUnreachable:
        _confirm(connection, job.id)  # nobody to send to; never retry
        stats.record_outcome(
            connection, request.user_id, job.id, Outcome.FAILED, reason="blocked", ttl_s=_ttl()
        )
        log.info("job=%s user=%s blocked the bot; GIF dropped", job.id, request.user_id)
        return
    except DeliveryInDoubt:
        raise  # keep the claim: the GIF may be in the chat already
    except (TransientError, UserFacingError, telebot.apihelper.ApiException):
        # Telegram refused it (5xx, 4xx, 413 too large): surely not delivered, so the claim goes and
        # a retry may send, or (no retry left) the failure callback may tell the user.
        persist(lambda: markers.release_send(connection, job.id), "releasing a claim", REDIS_WAIT_S)
        raise
    if buttons is not None:
        keep_recipe(connection, request.chat_id, sent, recipe)  # first: its buttons are on screen now
    _confirm(connection, job.id)
    remember(connection, request, done, sent, recipe)
    stats.record_outcome(
        connection,
        request.user_id,
        job.id,
        Outcome.DELIVERED,
        seconds=done.convert_seconds,
        size_out=done.size_bytes,
        ttl_s=_ttl(),
    )
    log.info("job=%s user=%s GIF delivered (%s B)", job.id, request.user_id, done.size_bytes)
    status.remove()


def _confirm(connection: Redis, job_id: str) -> None:
    """Record the GIF as sent, replicated before the job may finish; both retried through an
    outage or a failover (which may have lost the mark: it is written again)."""

    def confirm() -> None:
        with Pinned(connection) as pinned:
            markers.confirm_sent(pinned, job_id)
            replicated(pinned, SEND_WAIT_MS)

    persist(confirm, "recording a sent GIF", REDIS_WAIT_S)


def send_file(
    bot: telebot.TeleBot,
    request: ConversionRequest,
    done: ConversionResult,
    path: Path,
    buttons: telebot.types.InlineKeyboardMarkup | None = None,
) -> telebot.types.Message:
    """Upload the GIF as the user chose, with a caption saying what was cut or shrunk."""
    notes = (
        [text("truncated", request.lang, max_seconds=f"{request.max_seconds:g}")] if done.truncated else []
    )
    if done.shrunk:
        notes.append(text("shrunk", request.lang))
    if request.output is OutputKind.STICKER:  # a sticker has no caption: its 3 s are in /help
        notes = []
    with path.open("rb") as gif:
        upload = telebot.types.InputFile(gif, file_name=path.name)
        return telegram.send_gif(
            bot,
            request.chat_id,
            upload,
            request.output,
            request.reply_target,
            caption="\n".join(notes) or None,
            size=(done.width, done.height),
            timeout=SEND_TIMEOUT_S,
            reply_markup=buttons,
        )


def remember(
    connection: Redis, request: ConversionRequest, done: ConversionResult, sent: Any, recipe: redo.GifRecipe
) -> None:
    """Cache the GIF's Telegram file_id so the same video with the same settings is answered at once."""
    media = getattr(sent, "animation", None) or getattr(sent, "document", None)
    media = media or getattr(sent, "sticker", None)
    if media is None or not request.variant or done.truncated or done.shrunk:
        return
    cache.put(
        connection,
        request.file_unique_id,
        request.variant,
        cache.CachedGif(media.file_id, request.output, done.size_bytes, recipe.seconds, recipe.more),
    )


def keep_recipe(connection: Redis, chat_id: int, sent: Any, recipe: redo.GifRecipe) -> None:
    """Keep what the GIF's tweak buttons need (best effort: without it they say 'no longer active')."""
    message_id = getattr(sent, "message_id", None)
    if not message_id:
        return
    try:
        redo.save(connection, chat_id, message_id, recipe)
    except RedisError as exc:
        log.warning("GIF message %s: its redo buttons will not work: %s", message_id, type(exc).__name__)


def report_stopped(job: Job, connection: Redis) -> None:
    """on_stopped (/cancel of a running job): clean up and free the slot; the bot told the user."""
    request = ConversionRequest.from_kwargs(job.kwargs)
    workdir.remove_attempts(runtime.settings().tmp_root, job.id)  # its horse was killed
    stats.record_outcome(
        connection, request.user_id, job.id, Outcome.FAILED, reason="cancelled", ttl_s=_ttl()
    )
    log.info("job=%s user=%s stopped by /cancel", job.id, request.user_id)
    finish(job, connection, request)


def report_failure(
    job: Job, connection: Redis, exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None
) -> None:
    """on_failure: stop retrying what cannot pass; tell the user once, when no try is left."""
    if issubclass(exc_type, UserFacingError | ChatUnreachable):
        job.retries_left = 0  # RQ reads this right after the callback: no retry
    elif issubclass(exc_type, AbandonedJobError) and job.should_retry:
        # its worker box died: re-run now, elsewhere; later retries keep their interval
        later = (job.retry_intervals or [0])[-1]
        job.retry_intervals = [0] + [later] * ((job.retries_left or 1) - 1)
    request = ConversionRequest.from_kwargs(job.kwargs)
    workdir.remove(workdir.current_attempt())  # this horse's own attempt (none if it died)
    log.warning(
        "job=%s user=%s attempt failed: %s (%s retries left)",
        job.id,
        request.user_id,
        exc_type.__name__,
        job.retries_left or 0,
    )
    if job.should_retry:
        return
    # A claimed send means the GIF was (or may have been) delivered: then tell the user nothing.
    if markers.send_state(connection, job.id) is None and markers.claim_failure_notice(connection, job.id):
        tell_failure(job, connection, request, exc)
    finish(job, connection, request)


def tell_failure(job: Job, connection: Redis, request: ConversionRequest, exc: BaseException) -> None:
    """Count the failure and show the user a fixed text saying what happened and what to do."""
    user_error = isinstance(exc, UserFacingError)
    outcome = Outcome.REFUSED if user_error else Outcome.FAILED
    key = exc.text_key if user_error else "error_failed"
    stats.record_outcome(connection, request.user_id, job.id, outcome, reason=key, ttl_s=_ttl())
    if isinstance(exc, ChatUnreachable):
        return
    params = {"max_mb": runtime.settings().max_input_mb, **(exc.params if user_error else {})}
    try:
        StatusMessage(runtime.client(), connection, request).tell(key, **params)
    except telegram.SEND_ERRORS as err:
        log.warning("job=%s could not tell the user: %s", job.id, type(err).__name__)


def _ttl() -> int:
    """How long the user's data outlives this record (USER_DATA_DAYS)."""
    return runtime.settings().user_data_ttl_s


def finish(job: Job, connection: Redis, request: ConversionRequest) -> None:
    """The job ended for good: drop its text, free the user's slot and queue their next waiting video."""
    if request.has_text:
        memetext.drop(connection, job.id)
    settings = runtime.settings()
    promoted = admission.release(admission.gif_queue(connection, settings), job.id, request.user_id, settings)
    if promoted is not None:
        log.info("job=%s queued after job=%s ended (user %s)", promoted.job_id, job.id, request.user_id)
