"""A fake Telegram Bot API server speaking real HTTP: records calls, serves files, injects faults.

Sections, in order (and the seams to split along): value types, request parsing, parse-mode
rendering, the HTTP handler, then `FakeTelegramAPI` with its test helpers and Bot API methods.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import copy
import html
import itertools
import json
import math
import mimetypes
import re
import socket
import struct
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.message import Message as MimeHeader
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path, PurePosixPath
from typing import Any, TypeVar
from urllib.parse import parse_qsl, unquote, urlsplit

from tests.fakes.stickers import StickerRefused, check_video_sticker

T = TypeVar("T")
Params = dict[str, str]

DEFAULT_TOKEN = "123456:TEST-fake-token"
FIRST_BOT_MESSAGE_ID = 1000  # above user message ids of tests, so they never collide
MAX_DOWNLOAD_BYTES = 20 * 1024 * 1024  # cloud Bot API: getFile refuses larger files
MAX_LOCAL_DOWNLOAD_BYTES = 2000 * 1024 * 1024  # a --local telegram-bot-api server: 2 GB
MAX_UPLOAD_BYTES = 50 * 1024 * 1024  # cloud Bot API: larger request bodies get 413
MAX_TEXT_CHARS = 4096
MAX_CAPTION_CHARS = 1024
MAX_UPDATES_LIMIT = 100
SHUTDOWN_POLL_SECONDS = 0.05  # how often serve_forever checks for stop()
MAX_BOT_COMMANDS = 100
MAX_COMMAND_DESCRIPTION = 256
BOT_COMMAND = re.compile(r"[a-z0-9_]{1,32}")
FILE_DOWNLOAD = "file"  # Call.method recorded for GET /file/bot<token>/<file_path>
GROUP_TYPES = frozenset({"group", "supergroup"})
ADMIN_RIGHTS = (
    "can_manage_chat", "can_delete_messages", "can_manage_video_chats", "can_restrict_members",
    "can_promote_members", "can_change_info", "can_invite_users", "can_post_stories",
    "can_edit_stories", "can_delete_stories",
)  # fmt: skip

NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)
WEBHOOK_CONFLICT = (
    "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete "
    "the webhook first"
)
POLL_CONFLICT = (
    "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"
)
DEFAULT_DESCRIPTIONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden: bot was blocked by the user",
    404: "Not Found",
    409: "Conflict",
    413: "Request Entity Too Large",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
CHAT_ACTIONS = frozenset(
    {"typing", "upload_photo", "record_video", "upload_video", "record_voice", "upload_voice"}
    | {"upload_document", "choose_sticker", "find_location", "record_video_note", "upload_video_note"}
)
# Methods that put something in a chat: these count toward set_global_limit (Telegram's ~30 a second).
MESSAGE_METHOD = re.compile(r"send\w+|edit\w+|(delete|copy|forward)Messages?", re.IGNORECASE)
# Methods we do not model but a bot may call at start-up: answer ok with result true.
PLAUSIBLE_METHOD = re.compile(r"(set|delete|answer|pin|unpin|close|logout)[a-z]*", re.IGNORECASE)


@dataclass(frozen=True)
class FileRecord:
    """A file the fake can hand out by file_id and serve at its file_path."""

    file_id: str
    file_unique_id: str
    file_size: int
    file_path: str


@dataclass(frozen=True)
class Call:
    """One recorded request: what was asked, what was answered (`result` on success)."""

    method: str
    params: Params
    files: dict[str, bytes]
    file_names: dict[str, str]
    status: int
    at: float  # when the answer was ready (time.monotonic())
    result: Any = None
    started: float = 0.0  # when the request arrived; a long poll spans started..at
    peer: int = 0  # the client's TCP port: calls on one keep-alive connection share it

    @property
    def ok(self) -> bool:
        """Tell whether the request succeeded."""
        return self.status == 200

    @property
    def chat_id(self) -> str | None:
        """Return the chat_id parameter as sent (a string), if any."""
        return self.params.get("chat_id")


class ApiError(Exception):
    """An error reply exactly as the Bot API shapes it."""

    def __init__(self, status: int, description: str | None = None, retry_after: int | None = None):
        self.status = status
        self.description = description or DEFAULT_DESCRIPTIONS.get(status, "Error")
        self.retry_after = retry_after
        super().__init__(f"{status} {self.description}")

    def payload(self) -> dict[str, Any]:
        """Return the JSON body Telegram would send."""
        body: dict[str, Any] = {"ok": False, "error_code": self.status, "description": self.description}
        if self.status == 429:
            body["parameters"] = {"retry_after": self.retry_after or 1}
        return body


def bad_request(detail: str) -> ApiError:
    """Build a 400 with Telegram's 'Bad Request: ...' description."""
    return ApiError(400, f"Bad Request: {detail}")


class _AnswerLost(Exception):
    """A call was carried out, but its answer is held and then never sent: reset the connection."""

    def __init__(self, hold: float) -> None:
        super().__init__(f"answer lost after {hold}s")
        self.hold = hold


@dataclass
class _Fault:
    method: str  # lower-case
    status: int
    times: int
    retry_after: int | None
    description: str | None
    chat_id: int | None


# ---------------------------------------------------------------- request parsing


def parse_request(query: str, content_type: str, body: bytes) -> tuple[Params, dict[str, bytes], Params]:
    """Merge query-string and body parameters; return (params, files, file_names)."""
    params: Params = dict(parse_qsl(query, keep_blank_values=True))
    files: dict[str, bytes] = {}
    names: Params = {}
    mime = content_type.partition(";")[0].strip().lower()
    if mime == "application/json" and body.strip():
        try:
            data = json.loads(body)
        except ValueError as exc:
            raise bad_request("can't parse JSON object") from exc
        if not isinstance(data, dict):
            raise bad_request("JSON object expected")
        params.update({k: v if isinstance(v, str) else json.dumps(v) for k, v in data.items()})
    elif mime == "multipart/form-data":
        fields, files, names = parse_multipart(content_type, body)
        params.update(fields)
    elif body:
        params.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    return params, files, names


def parse_multipart(content_type: str, body: bytes) -> tuple[Params, dict[str, bytes], Params]:
    """Split a multipart/form-data body into text fields, file contents and file names."""
    header = MimeHeader()
    header["Content-Type"] = content_type
    boundary = header.get_param("boundary")
    if not isinstance(boundary, str) or not boundary:
        raise bad_request("multipart boundary is missing")
    fields: Params = {}
    files: dict[str, bytes] = {}
    names: Params = {}
    # Prefixing CRLF lets the first delimiter match like every later one (RFC 2046 section 5.1.1).
    for chunk in (b"\r\n" + body).split(b"\r\n--" + boundary.encode("latin-1"))[1:]:
        if chunk.startswith(b"--"):
            break
        head, sep, data = chunk.partition(b"\r\n\r\n")
        lines = head.decode("utf-8", "replace").split("\r\n")[1:]  # [0] is the delimiter's padding
        disposition = next((ln.split(":", 1)[1] for ln in lines if ln.lower().startswith("content-disp")), "")
        name = _disposition_value(disposition, "name")
        if not sep or name is None:
            continue
        filename = _disposition_value(disposition, "filename")
        if filename is None:
            fields[name] = data.decode("utf-8", "replace")
        else:
            files[name], names[name] = data, filename
    return fields, files, names


def _disposition_value(disposition: str, key: str) -> str | None:
    """Read one Content-Disposition parameter: RFC 5987, quoted, or bare."""
    start = rf"(?:^|;)\s*{key}"
    if m := re.search(start + r"\*\s*=\s*([\w-]*)'[^']*'([^;]*)", disposition, re.IGNORECASE):
        return unquote(m.group(2).strip(), encoding=m.group(1) or "utf-8", errors="replace")
    if m := re.search(start + r'\s*=\s*"((?:[^"\\]|\\.)*)"', disposition, re.IGNORECASE):
        return re.sub(r"\\(.)", r"\1", m.group(1))
    # TeleBot writes `filename=<raw name>` unquoted, spaces and ';' included: take the rest of the line.
    bare = r"\s*=\s*(.*)$" if key == "filename" else r"\s*=\s*([^;]*)"
    if m := re.search(start + bare, disposition, re.IGNORECASE):
        return m.group(1).strip()
    return None


def sniff_mime(data: bytes, file_name: str) -> str:
    """Guess a MIME type from magic bytes, falling back to the file name."""
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if data[4:8] == b"ftyp":
        return "video/mp4"
    if data[:4] == b"\x1a\x45\xdf\xa3":
        return "video/webm"
    return mimetypes.guess_type(file_name)[0] or "application/octet-stream"


# ---------------------------------------------------------------- parse modes

HTML_TAGS = frozenset(
    {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler", "a", "tg-emoji"}
    | {"code", "pre", "blockquote"}
)
HTML_TAG = re.compile(r"<(/?)([a-zA-Z][\w-]*)(\s[^<>]*)?>")
HTML_ENTITY = re.compile(r"&(?:lt|gt|amp|quot|#\d+|#x[0-9a-fA-F]+);")
MARKDOWN_V2_RESERVED = frozenset("_*[]()~`>#+-=|{}.!")
MARKDOWN_LINK = re.compile(r"\[((?:[^\]\\]|\\.)*)\]\(((?:[^)\\]|\\.)*)\)")


def render_text(text: str, parse_mode: str | None) -> str:
    """Return the plain text Telegram would show, or raise its "can't parse entities" error."""
    mode = (parse_mode or "").lower()
    if mode == "html":
        return _render_html(text)
    if mode == "markdownv2":
        return _render_markdown(text, MARKDOWN_V2_RESERVED, ("__", "||", "*", "_", "~"))
    if mode == "markdown":
        return _render_markdown(text, frozenset(), ("*", "_"))
    return text


def utf16_len(text: str) -> int:
    """Measure text as Telegram does for its limits: in UTF-16 code units (an emoji counts 2)."""
    return len(text.encode("utf-16-le")) // 2


def _entity_error(text: str, index: int, what: str) -> ApiError:
    offset = len(text[:index].encode("utf-8"))
    return bad_request(f"can't parse entities: {what} at byte offset {offset}")


def _render_html(text: str) -> str:
    out: list[str] = []
    open_tags: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char == "<":
            tag = HTML_TAG.match(text, i)
            if not tag or tag.group(2).lower() not in HTML_TAGS:
                name = tag.group(2) if tag else text[i + 1 : i + 2]
                raise _entity_error(text, i, f'Unsupported start tag "{name}"')
            closing, name = tag.group(1), tag.group(2).lower()
            if not closing:
                open_tags.append(name)
            elif not open_tags or open_tags.pop() != name:
                raise _entity_error(text, i, f'Unexpected end tag "{name}"')
            i = tag.end()
        elif char == "&":
            entity = HTML_ENTITY.match(text, i)
            if not entity:
                raise _entity_error(text, i, "Character '&' must be escaped as &amp;")
            out.append(html.unescape(entity.group()))
            i = entity.end()
        else:
            out.append(char)
            i += 1
    if open_tags:
        raise _entity_error(
            text, len(text), f'Can\'t find end tag corresponding to start tag "{open_tags[-1]}"'
        )
    return "".join(out)


def _render_markdown(text: str, reserved: frozenset[str], markers: tuple[str, ...]) -> str:
    """Render MarkdownV2 (reserved chars must be escaped) or legacy Markdown (reserved empty)."""
    out: list[str] = []
    open_markers: dict[str, int] = {}
    i = 0
    while i < len(text):
        char = text[i]
        marker = next((m for m in markers if text.startswith(m, i)), None)
        if char == "\\" and i + 1 < len(text) and (reserved or text[i + 1] in "_*`["):
            out.append(text[i + 1])
            i += 2
        elif char == "`":
            fence = "```" if text.startswith("```", i) else "`"
            end = text.find(fence, i + len(fence))
            if end < 0:
                raise _entity_error(text, i, "Can't find end of Code entity")
            out.append(text[i + len(fence) : end])
            i = end + len(fence)
        elif marker:
            if open_markers.pop(marker, None) is None:
                open_markers[marker] = i
            i += len(marker)
        elif char == "[" and (link := MARKDOWN_LINK.match(text, i)):
            out.append(_render_markdown(link.group(1), reserved, markers))
            i = link.end()
        elif char in reserved and not (char == ">" and (i == 0 or text[i - 1] == "\n")):
            raise _entity_error(text, i, f"Character '{char}' is reserved and must be escaped with '\\'")
        else:
            out.append(char)
            i += 1
    if open_markers:
        raise _entity_error(text, min(open_markers.values()), "Can't find end of the entity")
    return "".join(out)


# ---------------------------------------------------------------- HTTP


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeTelegramAPI

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Ignore clients that hang up mid-request; report anything else."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    """Hand every request to the fake; speak HTTP/1.1 keep-alive with exact Content-Length."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as two writes: no 40 ms delayed-ACK stall
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.fake._track(self.connection, opened=True)

    def finish(self) -> None:
        self.server.fake._track(self.connection, opened=False)
        super().finish()

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: the fake records calls instead of logging them."""

    def _serve(self) -> None:
        body = self._read_body()
        url = urlsplit(self.path)
        try:
            status, content_type, payload = self.server.fake._handle(
                unquote(url.path),
                url.query,
                self.headers.get("Content-Type", ""),
                body,
                self.client_address[1],
            )
        except _AnswerLost as lost:
            self._hang_up(lost.hold)
            return
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        for piece in self.server.fake._pieces(unquote(url.path), payload):
            self.wfile.write(piece)

    def _hang_up(self, hold: float) -> None:
        """Wait `hold` seconds, then reset the connection (RST) without a byte of answer."""
        time.sleep(hold)
        self.close_connection = True
        with contextlib.suppress(OSError):  # the client may have hung up already
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                pass  # trailers
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""


# ---------------------------------------------------------------- the fake


def _int(params: Params, key: str, default: int | None = None) -> int:
    value = params.get(key, "")
    if value == "" and default is not None:
        return default
    try:
        return int(value)
    except ValueError:
        raise bad_request(f"{key} is empty" if value == "" else f"invalid {key} specified") from None


def _flag(params: Params, key: str) -> bool:
    return params.get(key, "").lower() in ("true", "1")


def _menu_key(params: Params) -> tuple[str, str]:
    """(scope type, language code) of a setMyCommands / getMyCommands call; bad ones are refused."""
    try:
        scope = json.loads(params["scope"]) if params.get("scope") else {"type": "default"}
    except ValueError:
        raise bad_request("can't parse BotCommandScope JSON object") from None
    language = params.get("language_code", "")
    if language and not re.fullmatch(r"[a-z]{2}", language):
        raise bad_request("LANG_CODE_INVALID")
    return str(scope.get("type", "default")), language


def _markup(params: Params) -> dict[str, Any] | None:
    raw = params.get("reply_markup")
    if not raw:
        return None
    try:
        markup = json.loads(raw)
    except ValueError:
        raise bad_request("can't parse reply keyboard markup JSON object") from None
    # Only inline keyboards are attached to the returned Message, as on Telegram.
    return markup if isinstance(markup, dict) and "inline_keyboard" in markup else None


class FakeTelegramAPI:
    """A Bot API server on 127.0.0.1 for tests; point TeleBot at `base_url`."""

    def __init__(self, token: str = DEFAULT_TOKEN, *, port: int = 0) -> None:
        self.token = token
        self._port = port
        self._cond = threading.Condition(threading.RLock())
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._calls: list[Call] = []
        self._updates: list[dict[str, Any]] = []
        self._next_update_id = 1
        self._poll_ticket = 0
        self._pollers_waiting = 0
        self._allowed_updates: frozenset[str] = frozenset()
        self._files: dict[str, FileRecord] = {}
        self._blobs: dict[str, bytes] = {}
        self._media: dict[str, dict[str, Any]] = {}  # file_id -> Animation/Document JSON
        self._file_seq = itertools.count(1)
        self._messages: dict[tuple[int, int], dict[str, Any]] = {}
        self._next_message_id: dict[int, int] = {}
        self._chats: dict[int, dict[str, Any]] = {}
        self._callback_ids: set[str] = set()
        self._faults: list[_Fault] = []
        self._delays: dict[str, float] = {}
        self._late: dict[str, list[tuple[float, bool]]] = {}  # method -> [(hold, reset)] per call
        self._file_rate = 0  # bytes a second for file downloads; 0 sends them at once
        self._local_dir: Path | None = None  # --local mode: getFile writes files here, answers paths
        self._global_limit = 0  # message methods a second over every chat; 0: no limit
        self._message_times: collections.deque[float] = collections.deque()  # within the last second
        self._global_429s = 0
        self._busiest_second = 0  # the most accepted message methods seen in one sliding second
        self._webhook_url = ""
        self._commands: dict[tuple[str, str], list[Any]] = {}  # (scope type, language code) -> menu
        self._connections: set[socket.socket] = set()
        self._connections_opened = 0
        self._members: dict[tuple[int, int], str] = {}  # (chat, user) -> status; others are "member"
        self._privacy_mode = False
        self._withheld: list[dict[str, Any]] = []  # group updates privacy mode kept from the bot
        self._methods: dict[str, tuple[str, Callable[[Params, dict[str, bytes], Params], Any]]] = {
            name.lower(): (name, handler)
            for name, handler in {
                "getMe": self._get_me,
                "getUpdates": self._get_updates,
                "deleteWebhook": self._delete_webhook,
                "setWebhook": self._set_webhook,
                "getWebhookInfo": self._get_webhook_info,
                "setMyCommands": self._set_my_commands,
                "getMyCommands": self._get_my_commands,
                "getFile": self._get_file,
                "sendMessage": self._send_message,
                "editMessageText": self._edit_message_text,
                "editMessageReplyMarkup": self._edit_message_reply_markup,
                "deleteMessage": self._delete_message,
                "sendAnimation": lambda p, f, n: self._send_media("animation", p, f, n),
                "sendDocument": lambda p, f, n: self._send_media("document", p, f, n),
                "sendSticker": self._send_sticker,
                "sendChatAction": self._send_chat_action,
                "answerCallbackQuery": self._answer_callback_query,
                "getChatMember": self._get_chat_member,
            }.items()
        }

    # -- lifecycle

    def start(self) -> FakeTelegramAPI:
        """Start serving in a background thread on a free port (or the one given)."""
        if self._server is not None:
            raise RuntimeError("FakeTelegramAPI already started")
        self._server = _Server(("127.0.0.1", self._port), _Handler)
        self._server.fake = self
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            args=(SHUTDOWN_POLL_SECONDS,),
            name="fake-telegram",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving: wake long pollers, close the socket and every open connection."""
        if self._server is None or self._stopping:
            return
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self._server.shutdown()
        self._server.server_close()
        with self._cond:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):  # already closed by the client
                conn.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeTelegramAPI:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """Return "http://127.0.0.1:PORT"; methods live under /bot<token>/, files under /file/bot<token>/."""
        if self._server is None:
            raise RuntimeError("FakeTelegramAPI not started")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def bot_user(self) -> dict[str, Any]:
        """Return the bot's User JSON, its id taken from the token."""
        bot_id = self.token.split(":")[0]
        return {
            "id": int(bot_id) if bot_id.isdigit() else 1,
            "is_bot": True,
            "first_name": "GIF Test Bot",
            "username": "gif_test_bot",
        }

    @property
    def connections_opened(self) -> int:
        """Count TCP connections accepted so far (keep-alive reuse keeps it low)."""
        with self._cond:
            return self._connections_opened

    def _track(self, conn: socket.socket, *, opened: bool) -> None:
        with self._cond:
            if opened:
                self._connections.add(conn)
                self._connections_opened += 1
            else:
                self._connections.discard(conn)

    # -- test-side helpers: updates, files, faults

    def push_update(self, update: dict[str, Any]) -> int:
        """Queue one update (update_id assigned if missing), wake long pollers; return its id."""
        return self.push_updates([update])[0]

    def push_updates(self, updates: list[dict[str, Any]]) -> list[int]:
        """Queue updates atomically as one batch; return their update_ids."""
        with self._cond:
            ids = []
            for update in updates:
                update = copy.deepcopy(update)
                update.setdefault("update_id", self._next_update_id)
                self._next_update_id = max(self._next_update_id, update["update_id"] + 1)
                self._remember(update)
                ids.append(update["update_id"])
                if self._privacy_mode and not self._delivered_in_privacy_mode(update):
                    self._withheld.append(update)
                    continue
                self._updates.append(update)
            self._cond.notify_all()
            return ids

    def set_privacy_mode(self, on: bool) -> None:
        """Like a bot's privacy mode (BotFather /setprivacy): with it on, a group message reaches the
        bot only if it is a command (bare or naming this bot), mentions the bot or replies to it;
        push_update keeps the others back (see `withheld`)."""
        with self._cond:
            self._privacy_mode = on

    def withheld(self) -> list[dict[str, Any]]:
        """Updates privacy mode kept from the bot, in order."""
        with self._cond:
            return copy.deepcopy(self._withheld)

    def _delivered_in_privacy_mode(self, update: dict[str, Any]) -> bool:
        message = update.get("message") or update.get("edited_message")
        if not message or message.get("chat", {}).get("type") not in GROUP_TYPES:
            return True
        words = (message.get("text") or message.get("caption") or "").split()
        me = "@" + self.bot_user["username"].lower()
        if words and words[0].startswith("/"):
            named = words[0].partition("@")[2].lower()
            return not named or "@" + named == me
        replied = (message.get("reply_to_message") or {}).get("from") or {}
        return me in (w.lower() for w in words) or replied.get("id") == self.bot_user["id"]

    def set_chat_member(self, chat_id: int, user_id: int, status: str) -> None:
        """What getChatMember answers for a user in a chat: creator, administrator, member, left..."""
        with self._cond:
            self._members[(chat_id, user_id)] = status

    def pending_updates(self) -> int:
        """Count updates not yet confirmed by a getUpdates offset."""
        with self._cond:
            return len(self._updates)

    def pollers_waiting(self) -> int:
        """Count getUpdates requests blocked in long polling right now."""
        with self._cond:
            return self._pollers_waiting

    def add_file(
        self,
        data: bytes,
        *,
        file_id: str | None = None,
        file_unique_id: str | None = None,
        file_path: str | None = None,
        file_size: int | None = None,
    ) -> FileRecord:
        """Register bytes as a Telegram file; `file_size` may claim a size other than len(data)."""
        with self._cond:
            n = next(self._file_seq)
            record = FileRecord(
                file_id=file_id or f"BAACAgIAAxkBAAIF{n:06d}-fake",
                file_unique_id=file_unique_id or f"AgAD{n:06d}",
                file_size=len(data) if file_size is None else file_size,
                file_path=file_path or f"videos/file_{n}.mp4",
            )
            self._files[record.file_id] = record
            self._blobs[record.file_path] = data
            name = PurePosixPath(record.file_path).name
            self._media[record.file_id] = {"file_name": name, "mime_type": sniff_mime(data, name)}
            return record

    def fail(
        self,
        method: str,
        status: int = 502,
        times: int = 1,
        *,
        retry_after: int | None = None,
        description: str | None = None,
        chat_id: int | None = None,
    ) -> None:
        """Make the next `times` calls of `method` (optionally only for `chat_id`) fail."""
        if status == 429 and retry_after is None:
            retry_after = 1
        if status == 429 and description is None:
            description = f"Too Many Requests: retry after {retry_after}"
        with self._cond:
            self._faults.append(_Fault(method.lower(), status, times, retry_after, description, chat_id))

    def set_delay(self, method: str, seconds: float) -> None:
        """Delay every answer to `method` by `seconds` (0 removes the delay)."""
        with self._cond:
            self._delays[method.lower()] = seconds

    def answer_late(self, method: str, seconds: float, *, times: int = 1, reset: bool = False) -> None:
        """Carry out the next `times` calls of `method` at once, but answer only `seconds` later; with
        `reset`, reset the connection then instead of answering (the client cannot tell if it worked)."""
        with self._cond:
            self._late.setdefault(method.lower(), []).extend([(seconds, reset)] * times)

    def set_file_rate(self, bytes_per_second: int) -> None:
        """Serve file downloads at about this many bytes a second (0: all at once)."""
        with self._cond:
            self._file_rate = bytes_per_second

    def use_local_dir(self, directory: Path) -> None:
        """Act like `telegram-bot-api --local --dir=directory`: getFile writes the file to
        directory/<token>/<file_path> and answers that absolute path (an absolute file_path given
        to add_file is answered as it is, and nothing is written); files up to 2 GB; /file/ is 404."""
        with self._cond:
            self._local_dir = directory

    def set_global_limit(self, per_second: int) -> None:
        """Answer 429 (with retry_after) to a message method (send*, edit*, delete*...) that would be
        the (per_second + 1)th in any sliding second, over every chat (0: no limit)."""
        with self._cond:
            self._global_limit = per_second
            self._message_times.clear()
            self._busiest_second = 0

    @property
    def global_429s(self) -> int:
        """Count the 429s given for the global limit so far."""
        with self._cond:
            return self._global_429s

    @property
    def busiest_second(self) -> int:
        """The most message methods accepted within one sliding second while a global limit was
        set: how close a sender came to it."""
        with self._cond:
            return self._busiest_second

    # -- test-side helpers: reading what happened

    def calls(
        self, method: str | None = None, chat_id: int | None = None, ok_only: bool = True
    ) -> list[Call]:
        """Return recorded calls in order, filtered by method (any case), chat and success."""
        with self._cond:
            found = list(self._calls)
        return [
            call
            for call in found
            if (method is None or call.method.lower() == method.lower())
            and (chat_id is None or call.chat_id == str(chat_id))
            and (call.ok or not ok_only)
        ]

    def menu(self, language_code: str = "", scope: str = "default") -> list[dict[str, str]]:
        """Return the command menu set for a scope and language exactly ("" is the default)."""
        with self._cond:
            return copy.deepcopy(self._commands.get((scope, language_code), []))

    def sent_animations(self, chat_id: int | None = None) -> list[Call]:
        """Return successful sendAnimation and sendDocument calls, in order."""
        return [c for c in self.calls(chat_id=chat_id) if c.method in ("sendAnimation", "sendDocument")]

    def messages_to(self, chat_id: int) -> list[str]:
        """Return the texts of successful sendMessage calls to a chat, as Telegram shows them."""
        return [call.result["text"] for call in self.calls("sendMessage", chat_id=chat_id)]

    def message(self, chat_id: int, message_id: int) -> dict[str, Any] | None:
        """Return the current Message JSON (after edits), or None if unknown or deleted."""
        with self._cond:
            return copy.deepcopy(self._messages.get((chat_id, message_id)))

    def message_text(self, chat_id: int, message_id: int) -> str | None:
        """Return a message's current text (after edits), or None if unknown, deleted or textless."""
        message = self.message(chat_id, message_id)
        return None if message is None else message.get("text")

    def buttons(self, chat_id: int, message_id: int) -> list[tuple[str, str]]:
        """Return a message's inline buttons as (text, callback_data), row after row ([] if none)."""
        markup = (self.message(chat_id, message_id) or {}).get("reply_markup") or {}
        rows = markup.get("inline_keyboard", [])
        return [(button["text"], button.get("callback_data", "")) for row in rows for button in row]

    def wait_for(
        self, predicate: Callable[[], T], timeout: float = 60, interval: float = 0.05, message: str = ""
    ) -> T:
        """Poll `predicate` until truthy and return its value; raise AssertionError on timeout."""
        deadline = time.monotonic() + timeout
        while not (value := predicate()):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"{message or 'condition not met'} within {timeout}s; {self.summary()}")
            with self._cond:  # every recorded call notifies, so this wakes early
                self._cond.wait(min(interval, remaining))
        return value

    def summary(self, last: int = 15) -> str:
        """Describe the last recorded calls in one line, for assertion messages."""
        with self._cond:
            calls = list(self._calls)
        shown = ", ".join(f"{c.method}(chat={c.chat_id})->{c.status}" for c in calls[-last:])
        return f"{len(calls)} calls recorded: {shown or 'none'}"

    # -- request handling

    def _handle(
        self, path: str, query: str, content_type: str, body: bytes, peer: int = 0
    ) -> tuple[int, str, bytes]:
        """Answer one HTTP request: (status, content type, body); `peer` is the client's port."""
        started = time.monotonic()
        if path.startswith("/file/bot"):
            return self._serve_file(path)
        match = re.fullmatch(r"/bot([^/]*)/([^/]+)", path)
        method = match.group(2) if match else path
        params: Params = {}
        files: dict[str, bytes] = {}
        names: Params = {}
        result: Any = None
        try:
            if not match:
                raise ApiError(404)
            params, files, names = parse_request(query, content_type, body)
            if len(body) > MAX_UPLOAD_BYTES:
                raise ApiError(413)
            if match.group(1) != self.token:
                raise ApiError(401)
            method, handler = self._lookup(method)
            if delay := self._delays.get(method.lower()):
                time.sleep(delay)
            self._raise_fault(method, params)
            self._count_message(method, started)
            result = handler(params, files, names)
            status, payload = 200, {"ok": True, "result": result}
        except ApiError as error:
            status, payload = error.status, error.payload()
        except Exception as error:  # a bug in the fake: answer 500 so the test shows it, keep serving
            status, payload = 500, ApiError(500, f"Internal Server Error: fake failed: {error!r}").payload()
        self._record(Call(method, params, files, names, status, time.monotonic(), result, started, peer))
        answer = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        with self._cond:
            late = self._late.get(method.lower())
            hold, reset = late.pop(0) if late else (0.0, False)
        if reset:
            raise _AnswerLost(hold)
        time.sleep(hold)
        return status, "application/json", answer

    def _count_message(self, method: str, arrived: float) -> None:
        """Enforce set_global_limit on a message method that arrived at `arrived` (refused ones do
        not count, as they put nothing in a chat)."""
        if not MESSAGE_METHOD.fullmatch(method):
            return
        with self._cond:
            if not self._global_limit:
                return
            times = self._message_times
            while times and times[0] <= arrived - 1.0:
                times.popleft()
            if len(times) >= self._global_limit:
                self._global_429s += 1
                wait = max(1, math.ceil(times[0] + 1.0 - arrived))
                raise ApiError(429, f"Too Many Requests: retry after {wait}", retry_after=wait)
            times.append(arrived)
            self._busiest_second = max(self._busiest_second, len(times))

    def _lookup(self, method: str) -> tuple[str, Callable[[Params, dict[str, bytes], Params], Any]]:
        if method.lower() in self._methods:
            return self._methods[method.lower()]
        if PLAUSIBLE_METHOD.fullmatch(method):
            return method, lambda p, f, n: True
        raise ApiError(404)

    def _pieces(self, path: str, payload: bytes) -> Iterator[bytes]:
        """The answer's body in the pieces to write: file downloads trickle at the set rate."""
        with self._cond:
            rate = self._file_rate if path.startswith("/file/bot") else 0
        if not rate:
            yield payload
            return
        step = max(1, rate // 20)  # twenty writes a second
        for start in range(0, len(payload), step):
            if start:
                time.sleep(step / rate)
            yield payload[start : start + step]

    def _serve_file(self, path: str) -> tuple[int, str, bytes]:
        prefix = f"/file/bot{self.token}/"
        file_path = path[len(prefix) :] if path.startswith(prefix) else ""
        params = {"file_path": file_path}
        try:
            if delay := self._delays.get(FILE_DOWNLOAD):
                time.sleep(delay)
            self._raise_fault(FILE_DOWNLOAD, params)
            with self._cond:
                data = self._blobs.get(file_path) if file_path else None
            if data is None or self._local_dir is not None:  # a --local server serves no files
                raise ApiError(404)
        except ApiError as error:
            self._record(Call(FILE_DOWNLOAD, params, {}, {}, error.status, time.monotonic()))
            return error.status, "application/json", json.dumps(error.payload()).encode()
        self._record(Call(FILE_DOWNLOAD, params, {}, {}, 200, time.monotonic()))
        return 200, "application/octet-stream", data

    def _record(self, call: Call) -> None:
        with self._cond:
            self._calls.append(call)
            self._cond.notify_all()

    def _raise_fault(self, method: str, params: Params) -> None:
        with self._cond:
            for fault in self._faults:
                if fault.method == method.lower() and (
                    fault.chat_id is None or params.get("chat_id") == str(fault.chat_id)
                ):
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
                    raise ApiError(fault.status, fault.description, fault.retry_after)

    def _remember(self, update: dict[str, Any]) -> None:
        """Learn chats, user message ids and callback query ids from a pushed update."""
        if query := update.get("callback_query"):
            self._callback_ids.add(str(query["id"]))
        for key in ("message", "edited_message", "channel_post"):
            if (message := update.get(key)) and "chat" in message:
                chat_id = message["chat"]["id"]
                self._chats[chat_id] = message["chat"]
                self._messages[(chat_id, message["message_id"])] = copy.deepcopy(message)
                following = max(self._next_message_id.get(chat_id, 0), message["message_id"] + 1)
                self._next_message_id[chat_id] = max(following, FIRST_BOT_MESSAGE_ID)

    def _chat_id(self, params: Params) -> int:
        if not params.get("chat_id"):
            raise bad_request("chat_id is empty")
        try:
            return int(params["chat_id"])
        except ValueError:
            raise bad_request("chat not found") from None

    def _new_message(self, chat_id: int, fields: dict[str, Any]) -> dict[str, Any]:
        """Store a message from the bot with the chat's next message_id; return a copy."""
        with self._cond:
            message_id = self._next_message_id.get(chat_id, FIRST_BOT_MESSAGE_ID)
            self._next_message_id[chat_id] = message_id + 1
            chat = self._chats.get(chat_id, {"id": chat_id, "type": "private" if chat_id > 0 else "group"})
            message = {
                "message_id": message_id,
                "from": self.bot_user,
                "chat": chat,
                "date": int(time.time()),
            }
            message.update({k: v for k, v in fields.items() if v is not None})
            self._messages[(chat_id, message_id)] = message
            return copy.deepcopy(message)

    def _bot_message(self, params: Params, missing: str) -> dict[str, Any]:
        """Return the stored bot message named by chat_id/message_id (caller holds the lock)."""
        message = self._messages.get((self._chat_id(params), _int(params, "message_id")))
        if message is None:
            raise bad_request(missing)
        if not message["from"].get("is_bot"):
            raise bad_request("message can't be edited")
        return message

    # -- Bot API methods: (params, files, file_names) -> result, or raise ApiError

    def _get_me(self, params: Params, files: dict[str, bytes], names: Params) -> Any:
        flags = ("can_join_groups", "can_read_all_group_messages", "supports_inline_queries")
        return {**self.bot_user, **dict.fromkeys(flags, False)}

    def _get_updates(self, params: Params, files: dict[str, bytes], names: Params) -> Any:
        offset = _int(params, "offset", 0)
        limit = min(max(_int(params, "limit", MAX_UPDATES_LIMIT), 1), MAX_UPDATES_LIMIT)
        try:
            deadline = time.monotonic() + max(float(params.get("timeout") or 0), 0.0)
            allowed = json.loads(params["allowed_updates"] or "[]") if "allowed_updates" in params else None
        except ValueError:
            raise bad_request("invalid timeout or allowed_updates specified") from None
        with self._cond:
            if self._webhook_url:
                raise ApiError(409, WEBHOOK_CONFLICT)
            if allowed is not None:
                self._allowed_updates = frozenset(allowed)
            self._poll_ticket += 1
            ticket = self._poll_ticket
            self._cond.notify_all()  # an older long poll now ends with 409, as on Telegram
            while True:
                self._confirm(offset)
                remaining = deadline - time.monotonic()
                if self._updates or remaining <= 0 or self._stopping:
                    return copy.deepcopy(self._updates[:limit])
                self._pollers_waiting += 1
                try:
                    self._cond.wait(remaining)
                finally:
                    self._pollers_waiting -= 1
                if self._poll_ticket != ticket:
                    raise ApiError(409, POLL_CONFLICT)

    def _confirm(self, offset: int) -> None:
        """Forget confirmed updates (and ones excluded by allowed_updates); caller holds the lock."""
        if offset < 0:
            self._updates = self._updates[offset:]
        self._updates = [
            u
            for u in self._updates
            if u["update_id"] >= offset
            and (not self._allowed_updates or self._allowed_updates & (u.keys() - {"update_id"}))
        ]

    def _delete_webhook(self, params: Params, files: dict[str, bytes], names: Params) -> Any:
        with self._cond:
            self._webhook_url = ""
            if _flag(params, "drop_pending_updates"):
                self._updates.clear()
        return True

    def _set_webhook(self, params: Params, files: dict[str, bytes], names: Params) -> Any:
        with self._cond:
            self._webhook_url = params.get("url", "")
        return True

    def _get_webhook_info(self, params: Params, files: dict[str, bytes], names: Params) -> Any:
        with self._cond:
            count = len(self._updates)
            return {"url": self._webhook_url, "has_custom_certificate": False, "pending_update_count": count}

    def _set_my_commands(self, params: Params, files: dict[str, bytes], names: Params) -> Any:
        try:
            commands = json.loads(params.get("commands") or "[]")
        except ValueError:
            raise bad_request("can't parse commands JSON object") from None
        if not isinstance(commands, list) or len(commands) > MAX_BOT_COMMANDS:
            raise bad_request("BOT_COMMANDS_TOO_MUCH")
        for item in commands:
            if not isinstance(item, dict) or not BOT_COMMAND.fullmatch(str(item.get("command", ""))):
                raise bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(str(item.get("description", "")).strip()) <= MAX_COMMAND_DESCRIPTION:
                raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        with self._cond:
            self._commands[_menu_key(params)] = commands
        return True

    def _get_my_commands(self, params: Params, files: dict[str, bytes], names: Params) -> Any:
        scope, language = _menu_key(params)
        with self._cond:  # like Telegram: a language without its own menu gets the scope's default
            return copy.deepcopy(self._commands.get((scope, language), self._commands.get((scope, ""), [])))

    def _get_file(self, params: Params, files: dict[str, bytes], names: Params) -> Any:
        with self._cond:
            record = self._files.get(params.get("file_id", ""))
        if record is None:
            raise bad_request("invalid file_id")
        local_dir = self._local_dir
        if record.file_size > (MAX_DOWNLOAD_BYTES if local_dir is None else MAX_LOCAL_DOWNLOAD_BYTES):
            raise bad_request("file is too big")
        file_path = record.file_path
        if local_dir is not None and not file_path.startswith("/"):
            target = local_dir / self.token / file_path
            target.parent.mkdir(parents=True, exist_ok=True)
            with self._cond:
                target.write_bytes(self._blobs[record.file_path])
            file_path = str(target)
        return {
            "file_id": record.file_id,
            "file_unique_id": record.file_unique_id,
            "file_size": record.file_size,
            "file_path": file_path,
        }

    def _send_message(self, params: Params, files: dict[str, bytes], names: Params) -> Any:
        chat_id = self._chat_id(params)
        text = render_text(params.get("text", ""), params.get("parse_mode"))
        if not text.strip():
            raise bad_request("message text is empty")
        if utf16_len(text) > MAX_TEXT_CHARS:
            raise bad_request("message is too long")
        return self._new_message(chat_id, {"text": text, "reply_markup": _markup(params)})

    def _edit_message_text(self, params: Params, files: dict[str, bytes], names: Params) -> Any:
        if params.get("inline_message_id"):
            return True
        text = render_text(params.get("text", ""), params.get("parse_mode"))
        if not text.strip():
            raise bad_request("message text is empty")
        markup = _markup(params)
        with self._cond:
            message = self._bot_message(params, "message to edit not found")
            if "text" not in message:
                raise bad_request("there is no text in the message to edit")
            if message["text"] == text and message.get("reply_markup") == markup:
                raise ApiError(400, NOT_MODIFIED)
            return self._edit(message, text=text, reply_markup=markup)

    def _edit_message_reply_markup(self, params: Params, files: dict[str, bytes], names: Params) -> Any:
        if params.get("inline_message_id"):
            return True
        markup = _markup(params)
        with self._cond:
            message = self._bot_message(params, "message to edit not found")
            if message.get("reply_markup") == markup:
                raise ApiError(400, NOT_MODIFIED)
            return self._edit(message, reply_markup=markup)

    def _edit(self, message: dict[str, Any], **fields: Any) -> dict[str, Any]:
        """Apply edits (None removes a field), stamp edit_date; return a copy (caller holds the lock)."""
        for key, value in fields.items():
            if value is None:
                message.pop(key, None)
            else:
                message[key] = value
        message["edit_date"] = int(time.time())
        return copy.deepcopy(message)

    def _delete_message(self, params: Params, files: dict[str, bytes], names: Params) -> Any:
        key = (self._chat_id(params), _int(params, "message_id"))
        with self._cond:
            if self._messages.pop(key, None) is None:
                raise bad_request("message to delete not found")
        return True

    def _send_media(self, kind: str, params: Params, files: dict[str, bytes], names: Params) -> Any:
        """Send an animation or document: an uploaded file (stored as a new file) or a file_id."""
        chat_id = self._chat_id(params)
        if kind in files:
            ext = PurePosixPath(names.get(kind, "")).suffix
            record = self.add_file(files[kind], file_path=f"{kind}s/file_{next(self._file_seq)}{ext}")
            with self._cond:
                self._media[record.file_id] = {
                    "file_name": names.get(kind) or kind,
                    "mime_type": sniff_mime(files[kind], names.get(kind, "")),
                }
        elif params.get(kind):
            with self._cond:
                record = self._files.get(params[kind])
            if record is None:
                raise bad_request("wrong file identifier/HTTP URL specified")
        else:
            raise bad_request(f"there is no {kind} in the request")
        caption = render_text(params.get("caption", ""), params.get("parse_mode"))
        if utf16_len(caption) > MAX_CAPTION_CHARS:
            raise bad_request("message caption is too long")
        with self._cond:
            document = {**self._media[record.file_id], "file_id": record.file_id}
        document.update(file_unique_id=record.file_unique_id, file_size=record.file_size)
        fields: dict[str, Any] = {
            "document": document,
            "caption": caption or None,
            "reply_markup": _markup(params),
        }
        is_gif_upload = kind in files and document["mime_type"] == "image/gif"
        # Like Telegram: a GIF sent as a document becomes an animation unless detection is disabled.
        if kind == "animation" or (is_gif_upload and not _flag(params, "disable_content_type_detection")):
            sizes = {key: _int(params, key, 0) for key in ("width", "height", "duration")}
            fields["animation"] = {**document, **sizes}
        return self._new_message(chat_id, fields)

    def _send_sticker(self, params: Params, files: dict[str, bytes], names: Params) -> Any:
        """Send a video sticker: a .webm upload checked like Telegram does (stored), or a file_id."""
        chat_id = self._chat_id(params)
        if "sticker" in files:
            try:
                seen = check_video_sticker(files["sticker"])
            except StickerRefused as exc:
                raise bad_request(str(exc)) from None
            record = self.add_file(files["sticker"], file_path=f"stickers/file_{next(self._file_seq)}.webm")
            sticker = {"type": "regular", "width": seen.width, "height": seen.height}
            sticker.update(is_animated=False, is_video=True, duration=math.ceil(seen.duration))
            with self._cond:
                self._media[record.file_id] = sticker
        else:
            with self._cond:
                record = self._files.get(params.get("sticker", ""))
                if record is None or "is_video" not in self._media[record.file_id]:
                    raise bad_request("wrong file identifier/HTTP URL specified")
        with self._cond:
            sticker = {**self._media[record.file_id], "file_id": record.file_id}
        sticker.update(file_unique_id=record.file_unique_id, file_size=record.file_size)
        return self._new_message(chat_id, {"sticker": sticker, "reply_markup": _markup(params)})

    def _send_chat_action(self, params: Params, files: dict[str, bytes], names: Params) -> Any:
        self._chat_id(params)
        if params.get("action") not in CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        return True

    def _answer_callback_query(self, params: Params, files: dict[str, bytes], names: Params) -> Any:
        with self._cond:
            if params.get("callback_query_id") not in self._callback_ids:
                raise bad_request("query is too old and response timeout expired or query ID is invalid")
            self._callback_ids.discard(params["callback_query_id"])
        return True

    def _get_chat_member(self, params: Params, files: dict[str, bytes], names: Params) -> Any:
        chat_id, user_id = self._chat_id(params), _int(params, "user_id")
        with self._cond:
            status = self._members.get((chat_id, user_id), "member")
        member: dict[str, Any] = {
            "user": {"id": user_id, "is_bot": False, "first_name": f"User {user_id}"},
            "status": status,
        }
        if status == "creator":
            member["is_anonymous"] = False
        elif status == "administrator":
            member.update(dict.fromkeys(ADMIN_RIGHTS, True), can_be_edited=False, is_anonymous=False)
        return member


def main(argv: list[str] | None = None) -> None:
    """Run the fake standalone until interrupted, printing its base_url."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--token", default=DEFAULT_TOKEN)
    args = parser.parse_args(argv)
    with FakeTelegramAPI(args.token, port=args.port) as fake:
        print(fake.base_url, flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    main()
