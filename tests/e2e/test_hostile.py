"""Hostile input end to end: every bad, disguised, oversized or odd message gets one clear answer.

Real bot and worker processes, Redis and ffmpeg; every input is generated here (no binaries committed).
Tests that check many inputs send them from distinct users to one stack and name the input in each
failure, so one slow stack start covers a whole table.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import redis
from rq import Worker
from rq.job import JobStatus

from core import limits, prefs
from core.models import job_id_for
from core.texts import language_for, text
from tests import factories, media
from tests.fakes.telegram_api import Call, FakeTelegramAPI
from tests.gifcheck import all_done, gif_info, job_status
from tests.services import Proc, Stack, wait_until
from tests.textmatch import matches

REPLY_BUDGET_S = 30  # one clear reply per refused video within this
NO_RETRY_INTERVAL = "30"  # RQ Retry interval set by the bot: a retried permanent error shows as a delay
SECRET = b"hostile-secret-7f3a9c-never-leaves-its-file"
HOSTILE = "<b>&\"'_*[]</b> <script>alert(1)</script> `~|\\ %s {0} \u202e"

HELP_PARAMS = {"max_mb": 20, "max_seconds": "30", "width": 480, "fps": 12}  # the settings' defaults
HELP = text("help", **HELP_PARAMS)

_user_ids = itertools.count(90_000)


# ---------------------------------------------------------------- helpers


@dataclass(frozen=True)
class Sent:
    """One video pushed to the bot: which input, from whom, and when."""

    name: str
    chat: int
    msg: int
    file_id: str
    pushed_at: float


def start_stack(
    stack: Stack,
    fake_api: FakeTelegramAPI,
    client: redis.Redis,
    workers: list[dict[str, str]] | None = None,
    **bot_env: str,
) -> list[Proc]:
    """Start the bot and one worker per env in `workers` (default two); return once all are ready.

    Waiting for the bot's first poll and the workers' registration makes reply budgets time the
    handling of a message, not how long Python takes to start on a busy machine.
    """
    workers = [{}, {}] if workers is None else workers
    procs = [stack.bot(**bot_env), *(stack.worker(**env) for env in workers)]
    fake_api.wait_for(fake_api.pollers_waiting, timeout=60, message="the bot to poll")
    wait_until(lambda: Worker.count(connection=client) >= len(workers), 60, what="workers to register")
    return procs


def send_files(
    fake_api: FakeTelegramAPI, files: dict[str, bytes], file_size: dict[str, int] | None = None
) -> dict[str, Sent]:
    """Push each named input as a video/mp4 document from its own user, in one getUpdates batch."""
    updates, records = [], []
    for name, data in files.items():
        user = next(_user_ids)
        record = fake_api.add_file(data, file_size=(file_size or {}).get(name))
        records.append(record)
        updates.append(
            factories.make_video_update(
                record, kind="document", mime_type="video/mp4", file_name=f"{name}.mp4", user_id=user
            )
        )
    fake_api.push_updates(updates)
    now = time.monotonic()
    return {
        name: Sent(name, u["message"]["chat"]["id"], u["message"]["message_id"], r.file_id, now)
        for name, u, r in zip(files, updates, records, strict=True)
    }


def shown(fake_api: FakeTelegramAPI, chat: int) -> list[str]:
    """What the chat shows now: the current text of each bot message still there, then GIF captions."""
    texts = [fake_api.message_text(chat, c.result["message_id"]) for c in fake_api.calls("sendMessage", chat)]
    gifs = [f"[GIF] {c.params.get('caption', '')}".rstrip() for c in fake_api.sent_animations(chat)]
    return [t for t in texts if t is not None] + gifs


def replies_to(call: Call) -> int | None:
    """The user message a bot call replied to (from its reply_parameters), if any."""
    raw = call.params.get("reply_parameters")
    return json.loads(raw).get("message_id") if raw else None


def gif_bytes(call: Call) -> bytes:
    return next(iter(call.files.values()))


def job_exists(client: redis.Redis, chat: int, msg: int) -> bool:
    return bool(client.exists(f"rq:job:{job_id_for(chat, msg)}"))


def expect_refusal(
    fake_api: FakeTelegramAPI, client: redis.Redis, sent: Sent, expected: str, deadline: float
) -> list[str]:
    """Check one refused video: exactly one message, showing `expected` by `deadline`; no GIF, no retry."""
    problems = []
    try:
        fake_api.wait_for(
            lambda: shown(fake_api, sent.chat) == [expected],
            timeout=max(0.1, deadline - time.monotonic()),
            message=f"{sent.name}: the reply",
        )
    except AssertionError:
        problems.append(f"{sent.name}: chat shows {shown(fake_api, sent.chat)!r}, expected only {expected!r}")
        return problems
    try:
        wait_until(lambda: job_status(client, sent.chat, sent.msg) == JobStatus.FAILED, 10, what="failed")
    except AssertionError:
        status = job_status(client, sent.chat, sent.msg)
        problems.append(f"{sent.name}: job is {status}, not failed for good (a retry scheduled?)")
    downloads = [
        c for c in fake_api.calls("getFile", ok_only=False) if c.params.get("file_id") == sent.file_id
    ]
    if len(downloads) > 1:
        problems.append(
            f"{sent.name}: getFile called {len(downloads)} times: the permanent error was retried"
        )
    if len(fake_api.calls("sendMessage", sent.chat)) != 1:
        problems.append(f"{sent.name}: more than one message (status edits in place, no second reply)")
    if fake_api.sent_animations(sent.chat):
        problems.append(f"{sent.name}: a GIF was sent for a refused input")
    return problems


def report(title: str, fake_api: FakeTelegramAPI, sent: dict[str, Sent]) -> None:
    """Print `input -> what the user saw`, for the record (visible with pytest -s)."""
    print(f"\n{title}")
    for name, item in sent.items():
        print(f"  {name:<24} -> {shown(fake_api, item.chat)!r}")


def assert_alive(*procs: Proc) -> None:
    dead = [f"{p.name} (exit {p.popen.returncode})" for p in procs if not p.alive()]
    assert not dead, f"process died: {dead}"


# ---------------------------------------------------------------- tripwires


class _Listener(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.server.seen.append(self.path)  # type: ignore[attr-defined]
        self.send_error(404)

    def log_message(self, *args: object) -> None:
        pass


class Tripwires:
    """What a followed reference would touch: an HTTP listener, FIFOs with blocked writers, a secret.

    `targets(name)` gives an input its own URLs; `tripped()` lists anything touched so far.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.secret = directory / "secret.ts"  # an allowed HLS segment extension, so only policy stops it
        self.secret.write_bytes(SECRET + b"\n")
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Listener)
        self.server.seen = []  # type: ignore[attr-defined]
        self.connections: list[str] = []
        self.server.verify_request = self._count_connection  # type: ignore[method-assign]
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()
        self.writers: dict[str, tuple[Path, threading.Thread]] = {}

    def _count_connection(self, _request: object, address: object) -> bool:
        self.connections.append(str(address))
        return True

    def targets(self, name: str) -> list[str]:
        """URLs for one input: the HTTP listener, its own FIFO (a writer blocks on it), the secret."""
        fifo = self.directory / f"{name}.fifo"
        os.mkfifo(fifo)
        writer = threading.Thread(target=self._write, args=(fifo,), name=f"fifo-{name}", daemon=True)
        writer.start()
        self.writers[name] = (fifo, writer)
        port = self.server.server_address[1]
        return [f"http://127.0.0.1:{port}/{name}.m3u8", f"file:{fifo}", f"file:{self.secret}"]

    @staticmethod
    def _write(fifo: Path) -> None:
        with fifo.open("wb"):  # blocks until someone opens the read end
            pass

    def tripped(self, name: str | None = None) -> list[str]:
        """Everything touched (for one input's FIFO if `name`): HTTP connections, FIFOs opened."""
        found = [f"HTTP connection from {a}" for a in self.connections]
        found += [f"HTTP GET {p}" for p in self.server.seen]  # type: ignore[attr-defined]
        for fifo_name, (fifo, writer) in self.writers.items():
            if (name is None or fifo_name == name) and not writer.is_alive():
                found.append(f"FIFO {fifo.name} was opened for reading")
        return found

    def close(self) -> None:
        """Unblock every FIFO writer by opening its read end ourselves, then stop the listener."""
        for fifo, writer in self.writers.values():
            if writer.is_alive():
                fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
                writer.join(5)
                os.close(fd)
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def tripwires(tmp_path: Path) -> Iterator[Tripwires]:
    """Fresh tripwires under this test's tmp dir (outside every job dir); cleaned up even on failure."""
    wires = Tripwires(tmp_path / "outside")
    yield wires
    wires.close()


# The three disguises that name other files (each one a tripwire URL per reference).
REFERENCE_DISGUISES = {
    "hls-master-playlist": media.make_hls_master_disguise,
    "ffconcat-script": media.make_ffconcat_disguise_to,
    "dash-manifest": media.make_dash_disguise_to,
}


def test_tripwires_fire_when_a_playlist_is_followed(tripwires: Tripwires) -> None:
    """Control: an unhardened ffprobe on the HLS disguise hits the HTTP listener and opens the FIFO."""
    src = media.make_hls_master_disguise(tripwires.directory, tripwires.targets("control"), "control.mp4")
    subprocess.run(
        ["ffprobe", "-v", "quiet", "-protocol_whitelist", "file,http,tcp", str(src)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=30,
    )
    wait_until(lambda: len(tripwires.tripped()) >= 3, timeout=5, what="the tripwires to fire")
    assert any("HTTP GET /control.m3u8" in t for t in tripwires.tripped())
    assert tripwires.tripped("control"), "the FIFO was not opened: the tripwire would not catch a follow"


# ---------------------------------------------------------------- 1. hostile files


def hostile_files(directory: Path) -> dict[str, tuple[bytes, str]]:
    """Each hostile input's bytes and the text key the user must see."""
    clip_mp4, clip_mkv = media.make_clip(directory), media.make_clip(directory, "clip.mkv")
    made = {
        "zero-byte": (media.make_zero_byte(directory), "error_broken"),
        "truncated-mp4": (media.make_truncated(clip_mp4), "error_broken"),
        "corrupt-mkv": (media.make_corrupt(clip_mkv), "error_broken"),
        "random-bytes": (media.make_garbage(directory), "error_not_video"),
        "text": (media.make_text(directory), "error_not_video"),
        "pdf": (media.make_pdf(directory), "error_not_video"),
        "png": (media.make_png(directory, "png.mp4"), "error_not_video"),
        "jpeg": (media.make_jpeg(directory, "jpeg.mp4"), "error_not_video"),
        "audio-only-mp4": (media.make_audio_only(directory), "error_audio_only"),
        "5000x5000": (media.make_huge_resolution(directory), "error_too_large"),
        "5000x5000-mpeg-ts": (media.make_huge_ts(directory), "error_too_large"),
        "lying-header": (media.make_lying_header(directory), "error_broken"),
        "drm-encrypted": (media.make_encrypted(directory), "error_encrypted"),
        "h266-vvc": (media.make_undecodable(directory), "error_codec"),
    }
    return {name: (path.read_bytes(), key) for name, (path, key) in made.items()}


def test_each_hostile_file_gets_one_clear_reply_and_no_retry(stack, fake_api, redis_client, tmp_path):
    """Broken, non-video, sound-only, encrypted, undecodable and oversized-picture files: the status
    message becomes the right error in 30 s."""
    cases = hostile_files(tmp_path)
    procs = start_stack(stack, fake_api, redis_client, RETRY_INTERVAL=NO_RETRY_INTERVAL)
    sent = send_files(fake_api, {name: data for name, (data, _key) in cases.items()})
    deadline = next(iter(sent.values())).pushed_at + REPLY_BUDGET_S
    problems = []
    for name, (_data, key) in cases.items():
        problems += expect_refusal(fake_api, redis_client, sent[name], text(key), deadline)
    report("hostile file -> what the user saw", fake_api, sent)
    assert not problems, "\n".join(problems)
    assert_alive(*procs)


def test_a_video_needing_too_much_memory_gets_one_clear_reply_and_no_retry(
    stack, fake_api, redis_client, tmp_path
):
    """ffmpeg out of memory under its address-space cap: 'too large', once, never 'damaged' or retried."""
    clip = media.make_clip(tmp_path, "long.mp4", seconds=10, size=(640, 360), fps=25).read_bytes()
    procs = start_stack(stack, fake_api, redis_client, [], RETRY_INTERVAL=NO_RETRY_INTERVAL)
    # room for ffprobe and ffmpeg's libraries, not for the 250 frames the palette stage holds
    name = f"worker-{len(stack.procs)}"
    procs.append(stack.spawn(name, "tests.fakes.lowmem_worker", WORKER_NAME=name, TEST_MEMORY_LIMIT_MB="450"))
    wait_until(lambda: Worker.count(connection=redis_client) >= 1, 60, what="the worker to register")
    user = next(_user_ids)
    for setting, value in {"width": "640", "fps": "20", "speed": "0.5"}.items():
        prefs.save_choice(redis_client, user, setting, value)
    record = fake_api.add_file(clip)
    update = factories.make_video_update(record, kind="document", file_name="long.mp4", user_id=user)
    fake_api.push_update(update)
    sent = Sent("640x360-10s", user, update["message"]["message_id"], record.file_id, time.monotonic())
    problems = expect_refusal(
        fake_api, redis_client, sent, text("error_too_much_memory"), sent.pushed_at + REPLY_BUDGET_S + 30
    )
    report("out of memory -> what the user saw", fake_api, {sent.name: sent})
    assert not problems, "\n".join(problems)
    assert "ran out of memory" in stack.logs()
    assert_alive(*procs)


# ---------------------------------------------------------------- 2. references never followed


def test_disguised_playlists_follow_no_reference(stack, fake_api, redis_client, tripwires):
    """HLS, ffconcat and DASH disguised as mp4 (and HLS inside an mkv): no request, no FIFO, no secret."""
    outside = tripwires.directory
    files = {
        name: make(outside, tripwires.targets(name), f"{name}.mp4").read_bytes()
        for name, make in REFERENCE_DISGUISES.items()
    }
    playlist = media.make_hls_master_disguise(outside, tripwires.targets("hls-in-mkv"), "inner.m3u8")
    files["hls-in-mkv-attachment"] = media.make_mkv_with_attached_playlist(outside, playlist).read_bytes()
    procs = start_stack(stack, fake_api, redis_client, RETRY_INTERVAL=NO_RETRY_INTERVAL)
    sent = send_files(fake_api, files)
    deadline = next(iter(sent.values())).pushed_at + REPLY_BUDGET_S
    problems = []
    for name in REFERENCE_DISGUISES:
        problems += expect_refusal(fake_api, redis_client, sent[name], text("error_not_video"), deadline)
    carrier = sent["hls-in-mkv-attachment"]
    try:  # a real video that merely carries a playlist is converted; the playlist stays inert
        [gif] = fake_api.wait_for(lambda: fake_api.sent_animations(carrier.chat), 60, message="carrier GIF")
        assert gif_info(gif_bytes(gif)).frames >= 2
    except AssertionError:
        problems.append(f"{carrier.name}: no valid GIF; chat shows {shown(fake_api, carrier.chat)!r}")
    wait_until(lambda: all_done(redis_client, [(s.chat, s.msg) for s in sent.values()]), 30, what="jobs end")
    report("reference-following input -> what the user saw", fake_api, sent)

    problems += [f"tripwire: {t}" for t in tripwires.tripped()]
    for call in fake_api.calls(ok_only=False):
        payload = json.dumps(call.params).encode() + b"".join(call.files.values())
        if SECRET in payload:
            problems.append(f"secret leaked in {call.method} to chat {call.chat_id}")
    if SECRET.decode() in stack.logs():
        problems.append("secret leaked into the process logs")
    assert not problems, "\n".join(problems)
    assert_alive(*procs)


# ---------------------------------------------------------------- limits: length and size


def test_length_and_size_limits_give_a_gif_cut_short_or_one_refusal(stack, fake_api, redis_client, tmp_path):
    """20 s clip, MAX_SECONDS=15: a GIF of <= 15 s saying so; > 20 MB claimed or got: one error_too_big."""
    long_clip = media.make_clip(tmp_path, "long.mp4", seconds=20, size=(160, 90), fps=10).read_bytes()
    worker_cap = {"MAX_INPUT_MB": "1"}  # read by workers; the bot keeps the default 20 MB
    # the bot sets the job's length: an install with MAX_SECONDS=15 (the default was 15 before)
    procs = start_stack(
        stack, fake_api, redis_client, [worker_cap], RETRY_INTERVAL=NO_RETRY_INTERVAL, MAX_SECONDS="15"
    )
    sent = send_files(
        fake_api,
        {"20s-clip": long_clip, "claims-25MB": long_clip, "2MB-claims-100KB": os.urandom(2 * 1024 * 1024)},
        file_size={"claims-25MB": 25 * 1024 * 1024, "2MB-claims-100KB": 100 * 1024},
    )
    over_claim, over_download = sent["claims-25MB"], sent["2MB-claims-100KB"]
    problems = expect_refusal(
        fake_api, redis_client, over_download, text("error_too_big", max_mb=1), over_download.pushed_at + 30
    )
    [refusal] = fake_api.wait_for(
        lambda: fake_api.calls("sendMessage", over_claim.chat), timeout=10, message="claims-25MB refusal"
    )
    long = sent["20s-clip"]
    [gif] = fake_api.wait_for(lambda: fake_api.sent_animations(long.chat), 60, message="20 s clip GIF")
    report("size/length limit -> what the user saw", fake_api, sent)

    assert refusal.result["text"] == text("error_too_big", max_mb=20)
    assert refusal.at - over_claim.pushed_at < 5, "the bot did not refuse the claimed 25 MB at once"
    assert not job_exists(redis_client, over_claim.chat, over_claim.msg), "a job was queued for 25 MB"
    assert not [c for c in fake_api.calls("getFile") if c.params.get("file_id") == over_claim.file_id]
    assert 14.0 <= gif_info(gif_bytes(gif)).duration <= 15.0
    assert gif.params.get("caption") == text("truncated", max_seconds="15")
    assert not problems, "\n".join(problems)
    assert_alive(*procs)


# ---------------------------------------------------------------- 3. fairness under a burst


def test_another_users_video_overtakes_a_burst_of_20(stack, fake_api, redis_client, clip_bytes):
    """20 videos from one user, then 1 from another: the other's GIF comes before the burst's last."""
    procs = start_stack(stack, fake_api, redis_client)
    flooder, other = next(_user_ids), next(_user_ids)
    burst = [factories.make_video_update(fake_api.add_file(clip_bytes), user_id=flooder) for _ in range(20)]
    fake_api.push_updates(burst)
    lone = factories.make_video_update(fake_api.add_file(clip_bytes), user_id=other)
    fake_api.push_update(lone)
    pushed_at = time.monotonic()
    burst_ids = [u["message"]["message_id"] for u in burst]
    quota_texts = {text("quota", per_hour=30), text("too_many", max_pending=20)}

    def outcome(msg: int) -> str | None:
        if any(replies_to(c) == msg for c in fake_api.sent_animations(flooder)):
            return "gif"
        for call in fake_api.calls("sendMessage", flooder):
            if (
                replies_to(call) == msg
                and fake_api.message_text(flooder, call.result["message_id"]) in quota_texts
            ):
                return "refused"
        return None

    fake_api.wait_for(lambda: all(outcome(m) for m in burst_ids), timeout=240, message="every burst video")
    [lone_gif] = fake_api.wait_for(lambda: fake_api.sent_animations(other), timeout=30, message="lone GIF")
    burst_gifs = [c.at for c in fake_api.sent_animations(flooder)]
    assert burst_gifs, "no video of the burst was converted: nothing to overtake"
    gifs = sum(outcome(m) == "gif" for m in burst_ids)
    ahead = sum(at < lone_gif.at for at in burst_gifs)
    [ack] = fake_api.calls("sendMessage", other)
    last_burst_ack = max(c.at for c in fake_api.calls("sendMessage", flooder) if replies_to(c) in burst_ids)
    timeline = (
        f"burst: {gifs} GIFs, {20 - gifs} refused in {max(burst_gifs) - pushed_at:.1f}s; the bot's acks "
        f"to the burst took {last_burst_ack - pushed_at:.1f}s; the other user was answered after "
        f"{ack.at - pushed_at:.1f}s and got the GIF after {ahead} of the burst's"
    )
    print("\n" + timeline)
    assert lone_gif.at < max(burst_gifs), f"the other user's GIF waited behind the whole burst; {timeline}"
    assert len(fake_api.sent_animations(flooder)) == gifs, "a burst video got two GIFs"
    assert_alive(*procs)


# ---------------------------------------------------------------- 4. hostile names and captions


def test_markup_in_names_and_captions_never_breaks_a_reply(stack, fake_api, redis_client, clip_bytes):
    """Caption, file name, first name and username full of markup: GIF and replies, no 400 from the API."""
    procs = start_stack(stack, fake_api, redis_client, [{}])
    user = next(_user_ids)
    names = {"first_name": HOSTILE, "last_name": HOSTILE, "username": HOSTILE}
    sender = {"from": factories.make_user(user, **names), "chat": factories.make_chat(user, **names)}
    record = fake_api.add_file(clip_bytes)
    fake_api.push_updates(
        [
            factories.make_video_update(
                record, kind="document", file_name=HOSTILE, caption=HOSTILE, **sender
            ),
            factories.make_text_update(HOSTILE, user_id=user, **sender),
            factories.make_text_update(f"/help {HOSTILE}", user_id=user, **sender),
        ]
    )
    fake_api.wait_for(lambda: fake_api.sent_animations(user), timeout=60, message="the GIF")
    fake_api.wait_for(lambda: len(fake_api.calls("sendMessage", user)) >= 3, timeout=30, message="3 replies")
    refused = [f"{c.method} -> {c.status}" for c in fake_api.calls(ok_only=False) if c.status == 400]
    assert not refused, f"the Bot API refused: {refused}"
    replies = fake_api.messages_to(user)
    assert len(replies) == 3 and text("not_video") in replies and HELP in replies, replies
    assert [r for r in replies if matches("status_queued", r)], replies
    assert_alive(*procs)


# ---------------------------------------------------------------- 5. bans and the hourly quota


def test_banned_user_and_fourth_video_in_the_hour_get_a_polite_reply_and_no_job(
    stack, fake_api, redis_client, clip_bytes
):
    """A banned user gets the 'banned' reply, a 4th video with HOURLY_QUOTA=3 the quota reply; no job."""
    procs = start_stack(stack, fake_api, redis_client, [], HOURLY_QUOTA="3")
    banned, busy = next(_user_ids), next(_user_ids)
    limits.ban(redis_client, banned)
    updates = [factories.make_video_update(fake_api.add_file(clip_bytes), user_id=banned)]
    updates += [factories.make_video_update(fake_api.add_file(clip_bytes), user_id=busy) for _ in range(4)]
    fake_api.push_updates(updates)
    fake_api.wait_for(lambda: len(fake_api.calls("sendMessage", busy)) >= 4, timeout=30, message="4 replies")
    [ban_reply] = fake_api.wait_for(lambda: fake_api.messages_to(banned), timeout=10, message="ban reply")

    assert ban_reply == text("banned")
    *accepted, fourth = fake_api.messages_to(busy)
    assert [matches("status_queued", r) for r in accepted] == [True] * 3, accepted
    assert fourth == text("quota", per_hour=3)
    refused = [(u["message"]["chat"]["id"], u["message"]["message_id"]) for u in (updates[0], updates[-1])]
    assert not [m for m in refused if job_exists(redis_client, *m)], "a job was queued for a refused video"
    assert_alive(*procs)


# ---------------------------------------------------------------- 6. odd commands and forged buttons


@pytest.mark.parametrize("language_code", ["en", "zh-TW"])
def test_odd_commands_and_forged_buttons_get_a_polite_answer(stack, fake_api, redis_client, language_code):
    """/start@otherbot junk, /help ....., /unknown <script> and a forged button: each answered, bot alive."""
    procs = start_stack(stack, fake_api, redis_client, [])
    lang = language_for(language_code)
    commands = {
        "/start@otherbot junk": "help",
        "/help .....": "help",
        "/unknown <script>alert(1)</script>": "unknown_command",
    }
    users = {cmd: next(_user_ids) for cmd in commands}
    updates = [
        factories.make_text_update(c, user_id=u, language_code=language_code) for c, u in users.items()
    ]
    forged = factories.make_callback_update(
        "forged:data", user_id=next(_user_ids), language_code=language_code
    )
    fake_api.push_updates([*updates, forged])
    for command, key in commands.items():
        [reply] = fake_api.wait_for(
            lambda u=users[command]: fake_api.messages_to(u), timeout=30, message=command
        )
        assert reply == text(key, lang, **(HELP_PARAMS if key == "help" else {})), command
    [answer] = fake_api.wait_for(lambda: fake_api.calls("answerCallbackQuery"), timeout=30, message="answer")
    assert answer.params.get("text") == text("button_expired", lang)
    assert answer.params.get("callback_query_id") == forged["callback_query"]["id"]
    assert_alive(*procs)
