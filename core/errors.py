"""One small tree of errors: what the user caused, what may pass, and what we log."""

from __future__ import annotations


class GifBotError(Exception):
    """Base of every error this project raises on purpose."""


class UserFacingError(GifBotError):
    """A permanent problem with the user's input; `text_key` names the reply in core.texts.

    Jobs raising it are not retried: sending the same file again cannot succeed.
    """

    text_key = "error_generic"

    def __init__(self, detail: str = "", **params: object) -> None:
        super().__init__(detail or self.text_key)
        self.detail = detail  # for logs only, never shown to users
        self.params = params  # placeholders for the text, e.g. limit_mb


class NotAVideo(UserFacingError):
    """The file is not a video container with a video stream (or is disguised)."""

    text_key = "error_not_video"


class BrokenVideo(UserFacingError):
    """The file claims to be a video but cannot be decoded (truncated, corrupt, empty)."""

    text_key = "error_broken"


class TooBig(UserFacingError):
    """The input is larger than MAX_INPUT_MB."""

    text_key = "error_too_big"


class TooLarge(UserFacingError):
    """The picture has more pixels than the cap allows."""

    text_key = "error_too_large"


class GifTooBig(UserFacingError):
    """The GIF is over MAX_OUTPUT_MB even after shrinking, or Telegram refused the upload (413)."""

    text_key = "error_gif_too_big"


class TooMuchMemory(UserFacingError):
    """Converting it needs more memory than a conversion may take (ffmpeg ran out, twice if killed)."""

    text_key = "error_too_much_memory"


class AudioOnly(UserFacingError):
    """The file holds sound (and maybe cover art) but no moving picture."""

    text_key = "error_audio_only"


class Encrypted(UserFacingError):
    """The video stream is encrypted (DRM): without the key nothing decodes."""

    text_key = "error_encrypted"


class UnsupportedCodec(UserFacingError):
    """The video is in a format (codec) this ffmpeg cannot decode."""

    text_key = "error_codec"


class BadTrim(UserFacingError):
    """The caption asks for a time range that is unreadable or outside the video."""

    text_key = "error_trim"


class ConversionTimeout(UserFacingError):
    """ffmpeg ran past its wall-clock limit on this input."""

    text_key = "error_timeout"


class TransientError(GifBotError):
    """A failure that may pass on its own (network, Telegram 5xx, Redis); retry it."""

    status: int | None = None  # the HTTP status Telegram answered, if it answered


class DeliveryInDoubt(TransientError):
    """A Bot API request may have reached Telegram (read timeout, reset mid-answer): do not resend."""


class TelegramRetryAfter(TransientError):
    """Telegram answered 429; wait `retry_after` seconds before the next call."""

    def __init__(self, retry_after: float, method: str = "") -> None:
        super().__init__(f"429 on {method}, retry after {retry_after}s")
        self.retry_after = retry_after
        self.method = method


class ChatUnreachable(GifBotError):
    """Telegram answered 403: the user blocked the bot or left; never retried."""


class LocalFileRefused(UserFacingError):
    """getFile named a local file we must not read (outside TELEGRAM_LOCAL_DIR, or local files off)."""

    text_key = "error_local_file"
