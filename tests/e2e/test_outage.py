"""Redis outages and bot failover, end to end: real redis-server, real processes, real ffmpeg.

The promise under test: an outage or a dead bot delays a video but never loses it, never doubles
it, and never makes a user send it again; no process of ours exits because Redis went away.
"""

from __future__ import annotations

import itertools
import signal
import time
import urllib.error
import urllib.request

import pytest
import redis

from app.inbox import INBOX_MAX
from app.leader import LEASE_S
from core import keys
from core.texts import text
from tests import factories, media
from tests.fakes.telegram_api import Call, FakeTelegramAPI
from tests.gifcheck import all_done
from tests.procs import cpu_seconds, tcp_ports
from tests.services import Proc, Stack, free_port, wait_until
from tests.textmatch import matches

OUTAGE_S = 60.0
ADMIN_PASSWORD = "outage-test-password"
TAKEOVER_BUDGET_S = 15.0
ACK_BUDGET_S = 10.0

_user_ids = itertools.count(70_000)
Sent = tuple[int, int]  # (chat, message) of a video a user sent


# ---------------------------------------------------------------- helpers


def video_updates(fake_api: FakeTelegramAPI, data: bytes, count: int) -> tuple[list[dict], list[Sent]]:
    """Build `count` video updates from fresh users (files registered, nothing pushed yet)."""
    updates = []
    for _ in range(count):
        user = next(_user_ids)
        updates.append(factories.make_video_update(fake_api.add_file(data), user_id=user, chat_id=user))
    return updates, [(u["message"]["chat"]["id"], u["message"]["message_id"]) for u in updates]


def send_videos(fake_api: FakeTelegramAPI, data: bytes, count: int) -> list[Sent]:
    """Push `count` videos from fresh users in one getUpdates batch."""
    updates, sent = video_updates(fake_api, data, count)
    fake_api.push_updates(updates)
    return sent


def acks(fake_api: FakeTelegramAPI, chat: int) -> list[Call]:
    """The bot's "Got your video! Position ..." replies in a chat."""
    return [
        c for c in fake_api.calls("sendMessage", chat_id=chat) if matches("status_queued", c.result["text"])
    ]


def said(fake_api: FakeTelegramAPI, chat: int, key: str) -> list[Call]:
    """The bot's replies in a chat that are exactly the (placeholder-free) text `key`."""
    return [c for c in fake_api.calls("sendMessage", chat_id=chat) if c.result["text"] == text(key)]


def gifs_per_chat(fake_api: FakeTelegramAPI, sent: list[Sent]) -> dict[int, int]:
    return {chat: len(fake_api.sent_animations(chat)) for chat, _ in sent}


def healthz(port: int) -> int | None:
    """The admin panel's /healthz status code, or None while it does not answer at all."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return None


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """12 s of 640x360 at 25 fps: a few seconds of ffmpeg per job, so ten jobs stay in flight."""
    return media.make_clip(tmp_path_factory.mktemp("outage"), seconds=12, size=(640, 360)).read_bytes()


# ---------------------------------------------------------------- a 60 s outage


def test_sixty_second_redis_outage_loses_and_doubles_nothing(aof_stack, aof_redis, fake_api, long_clip):
    """Redis down 60 s with 10 jobs in flight and 3 videos sent meanwhile: 13 GIFs once each, none resent."""
    admin_port = free_port()
    processes = [
        aof_stack.bot(),
        aof_stack.worker(),
        aof_stack.worker(),
        aof_stack.spawn("scheduler", "jobs.scheduler"),
        aof_stack.spawn("admin", "admin", ADMIN_PASSWORD=ADMIN_PASSWORD, ADMIN_PORT=str(admin_port)),
    ]
    wait_until(lambda: healthz(admin_port) == 200, timeout=60, what="the admin panel to answer 200")
    in_flight = send_videos(fake_api, long_clip, 10)
    wait_until(lambda: all(acks(fake_api, chat) for chat, _ in in_flight), timeout=60, what="10 acks")

    aof_redis.stop()  # SIGTERM: redis-server writes its append-only file and exits
    down_at = time.monotonic()
    assert not fake_api.sent_animations(), "a GIF arrived before the outage: the clips are too short"
    wait_until(lambda: healthz(admin_port) == 503, timeout=15, what="/healthz to answer 503")
    during: list[Sent] = []
    for offset in (1.0, OUTAGE_S / 3, 2 * OUTAGE_S / 3):  # early, midway and late in the outage
        time.sleep(max(0.0, down_at + offset - time.monotonic()))  # the outage's schedule, not a wait
        during += send_videos(fake_api, long_clip, 1)
    wait_until(
        lambda: all(said(fake_api, chat, "video_later") for chat, _ in during),
        timeout=max(5.0, down_at + OUTAGE_S - time.monotonic()),
        what="each sender during the outage to hear 'video_later' while Redis is down",
    )
    assert not fake_api.sent_animations(), "a GIF was sent while Redis was down"
    time.sleep(max(0.0, down_at + OUTAGE_S - time.monotonic()))  # the outage lasts OUTAGE_S: the scenario

    aof_redis.start()  # same port, same dir: the jobs and inboxes come back from the AOF
    up_at = time.monotonic()
    print(f"outage_seconds={up_at - down_at:.1f}")
    wait_until(lambda: healthz(admin_port) == 200, timeout=30, what="/healthz to answer 200 again")
    everyone = in_flight + during
    fake_api.wait_for(
        lambda: len(fake_api.sent_animations()) >= len(everyone), timeout=150, message="13 GIFs"
    )
    last_gif = max(c.at for c in fake_api.sent_animations())
    print(f"recovery_seconds_to_last_gif={last_gif - up_at:.1f}")
    wait_until(lambda: all_done(aof_redis.client(), everyone), timeout=60, what="every job to end")

    assert gifs_per_chat(fake_api, everyone) == {chat: 1 for chat, _ in everyone}
    for chat, _ in during:
        assert len(said(fake_api, chat, "video_later")) == 1, f"chat {chat} was told more than once"
    assert [p.name for p in processes if not p.alive()] == [], "a process exited during the outage"


# ---------------------------------------------------------------- bot failover


def lease_holder(client: redis.Redis) -> int | None:
    """The pid in the bot lease ("host.pid"), None while nobody holds it."""
    value = client.get(keys.BOT_LOCK)
    return int(value.decode().rsplit(".", 1)[1]) if value else None


def polls(
    fake_api: FakeTelegramAPI, ports: set[int], until: float = float("inf")
) -> list[tuple[float, float]]:
    """(start, end) of every getUpdates made from these client ports, cut off at `until`."""
    calls = [c for c in fake_api.calls("getUpdates", ok_only=False) if c.peer in ports]
    return [(c.started, min(c.at, until)) for c in calls if c.started < until]


def overlaps(first: list[tuple[float, float]], second: list[tuple[float, float]]) -> list[tuple]:
    """Every pair of intervals, one from each list, that share a moment."""
    return [(a, b) for a in first for b in second if a[0] < b[1] and b[0] < a[1]]


def two_bots(stack: Stack, fake_api: FakeTelegramAPI, client: redis.Redis) -> tuple[Proc, Proc]:
    """Two workers and two bots; return (the active bot, once it polls, and the standby)."""
    stack.worker()
    stack.worker()
    bots = {proc.popen.pid: proc for proc in (stack.bot(), stack.bot())}
    holder_pid = wait_until(lambda: lease_holder(client), timeout=60, what="a bot to take the lease")
    active = bots.pop(holder_pid)
    [standby] = bots.values()
    fake_api.wait_for(lambda: fake_api.pollers_waiting(), timeout=30, message="the active bot polling")
    return active, standby


def test_standby_bot_takes_over_from_a_killed_one_and_no_video_is_lost(
    stack, fake_api, redis_client, clip_bytes
):
    """Active bot SIGKILLed mid-burst: the standby takes the lease within 15 s, one GIF per video."""
    active, standby = two_bots(stack, fake_api, redis_client)

    fake_api.set_delay("sendMessage", 1.0)  # acks are slow, so the kill finds stored, unhandled updates
    burst = send_videos(fake_api, clip_bytes, 12)
    fake_api.wait_for(lambda: fake_api.calls("sendMessage"), timeout=30, message="the first ack")
    fake_api.wait_for(lambda: not fake_api.pending_updates(), timeout=30, message="the burst confirmed")
    active_ports = tcp_ports(active.popen.pid)
    active.kill_group(signal.SIGKILL)
    killed_at = time.monotonic()
    active.popen.wait(timeout=10)
    acked_before = len(fake_api.calls("sendMessage"))
    assert acked_before < len(burst), "the killed bot answered the whole burst: the kill came too late"
    fake_api.set_delay("sendMessage", 0)
    late = send_videos(fake_api, clip_bytes, 6)  # sent while no bot is active

    wait_until(lambda: lease_holder(redis_client) == standby.popen.pid, timeout=30, what="the takeover")
    takeover = time.monotonic() - killed_at
    print(f"takeover_seconds={takeover:.1f} (acked before the kill: {acked_before}/{len(burst)})")
    everyone = burst + late
    fake_api.wait_for(lambda: len(fake_api.sent_animations()) >= len(everyone), timeout=180, message="GIFs")
    wait_until(lambda: all_done(redis_client, everyone), timeout=60, what="every job to end")

    assert gifs_per_chat(fake_api, everyone) == {chat: 1 for chat, _ in everyone}
    assert takeover <= TAKEOVER_BUDGET_S, f"the standby took {takeover:.1f}s to take over"
    standby_ports = tcp_ports(standby.popen.pid)
    standby_polls = polls(fake_api, standby_ports)
    active_polls = polls(fake_api, active_ports, until=killed_at)
    peers = {c.peer for c in fake_api.calls("getUpdates", ok_only=False)}
    assert active_polls and standby_polls and peers <= active_ports | standby_ports, "polls of unknown origin"
    assert min(start for start, _ in standby_polls) > killed_at, (
        "the standby polled while the other was active"
    )
    assert overlaps(active_polls, standby_polls) == []
    assert standby.alive()


def test_a_frozen_bot_that_thaws_after_the_takeover_answers_nothing_its_successor_answers(
    stack, fake_api, redis_client, clip_bytes
):
    """The active bot freezes mid-burst (SIGSTOP: a stalled VM), the standby takes the lease and
    answers, then the old bot thaws: it stops draining the inboxes, so a video that came after
    the freeze gets one answer, not one from each bot, and every video one GIF."""
    active, standby = two_bots(stack, fake_api, redis_client)

    fake_api.set_delay("sendMessage", 1.0)  # acks are slow, so the freeze finds updates half-handled
    burst = send_videos(fake_api, clip_bytes, 12)
    fake_api.wait_for(lambda: fake_api.calls("sendMessage"), timeout=30, message="the first ack")
    active.kill_group(signal.SIGSTOP)
    try:
        fake_api.set_delay("sendMessage", 0)
        late = send_videos(fake_api, clip_bytes, 6)  # sent while the active bot is frozen
        wait_until(lambda: lease_holder(redis_client) == standby.popen.pid, timeout=30, what="the takeover")
        later = send_videos(fake_api, clip_bytes, 4)  # sent to the new active bot
    finally:
        active.kill_group(signal.SIGCONT)
    everyone = burst + late + later
    fake_api.wait_for(lambda: len(fake_api.sent_animations()) >= len(everyone), timeout=180, message="GIFs")
    wait_until(lambda: all_done(redis_client, everyone), timeout=60, what="every job to end")

    answered = {chat: len(acks(fake_api, chat)) for chat, _ in everyone}
    twice = sorted(c for c, n in answered.items() if n > 1)
    print(f"answered twice: {twice} (of 12 in flight at the freeze)")
    assert gifs_per_chat(fake_api, everyone) == {chat: 1 for chat, _ in everyone}
    assert {chat: answered[chat] for chat, _ in late + later} == {chat: 1 for chat, _ in late + later}
    assert active.alive() and standby.alive()


# ---------------------------------------------------------------- one chat floods


def test_a_flooding_chat_does_not_hold_up_another_chat(stack, fake_api, redis_client, clip_bytes):
    """250 messages from one chat at once: another chat's video is acknowledged within 10 s; one notice."""
    stack.worker()
    stack.bot()
    fake_api.wait_for(lambda: fake_api.pollers_waiting(), timeout=60, message="the bot polling")
    flooder = next(_user_ids)
    video = fake_api.add_file(clip_bytes)
    flood = [
        factories.make_video_update(video, user_id=flooder)
        if i % 5 == 0
        else factories.make_text_update(f"spam {i}", user_id=flooder)
        for i in range(250)
    ]
    other = next(_user_ids)
    other_video = factories.make_video_update(fake_api.add_file(clip_bytes), user_id=other)
    other_text = factories.make_text_update("hello?", user_id=other)
    fake_api.push_updates(flood)
    fake_api.push_updates([other_video, other_text])
    pushed_at = time.monotonic()

    [ack] = fake_api.wait_for(lambda: acks(fake_api, other), timeout=60, message="the other chat's ack")
    print(f"other_chat_ack_seconds={ack.at - pushed_at:.1f}")
    assert ack.at - pushed_at <= ACK_BUDGET_S, f"the other chat waited {ack.at - pushed_at:.1f}s"
    fake_api.wait_for(lambda: said(fake_api, other, "not_video"), timeout=30, message="the other chat's text")
    fake_api.wait_for(lambda: fake_api.sent_animations(other), timeout=120, message="the other chat's GIF")
    fake_api.wait_for(lambda: not fake_api.pending_updates(), timeout=30, message="every update confirmed")
    full = text("inbox_full", max_inbox=INBOX_MAX)
    fake_api.wait_for(
        lambda: full in fake_api.messages_to(flooder), timeout=30, message="the inbox_full notice"
    )

    assert fake_api.messages_to(flooder).count(full) == 1
    assert redis_client.llen(keys.inbox(flooder)) <= INBOX_MAX
    assert len(fake_api.sent_animations(other)) == 1
    assert full not in fake_api.messages_to(other)


# ---------------------------------------------------------------- Redis refuses writes


@pytest.mark.parametrize(
    ("refuse", "restore"),
    [
        (("CONFIG", "SET", "min-replicas-to-write", "1"), ("CONFIG", "SET", "min-replicas-to-write", "0")),
        (("REPLICAOF", "127.0.0.1", "{dead_port}"), ("REPLICAOF", "NO", "ONE")),
    ],
    ids=["NOREPLICAS", "READONLY"],
)
def test_a_redis_that_refuses_writes_delays_a_video_but_loses_nothing(
    aof_stack, aof_redis, fake_api, clip_bytes, refuse, restore
):
    """Writes refused (NOREPLICAS, READONLY) while a video arrives: it is kept, then gets one GIF.

    Before "every Redis error counts as an outage" (REDIS_DOWN was ConnectionError and TimeoutError
    only), such an error was no outage: the ResponseError raised while handling the update fell into
    the chat lane's `except Exception` ("crashed its handler; skipped"), the update was dropped and
    its getUpdates offset confirmed, so Telegram forgot it too: the video was silently lost. Here
    the bot must instead keep it unconfirmed, tell the sender once, and queue it when writes work.
    """
    client = aof_redis.client()
    bot, worker = aof_stack.bot(), aof_stack.worker()
    fake_api.wait_for(lambda: fake_api.pollers_waiting(), timeout=60, message="the bot polling")
    client.execute_command(*(arg.format(dead_port=free_port()) for arg in refuse))
    refused_at, cpu_before = time.monotonic(), {p.name: cpu_seconds(p.popen.pid) for p in (bot, worker)}
    with pytest.raises(redis.ResponseError):
        client.set("probe", "1")  # the refusal is a Redis error reply, not a dropped connection

    [sent] = send_videos(fake_api, clip_bytes, 1)
    chat = sent[0]
    fake_api.wait_for(lambda: said(fake_api, chat, "video_later"), timeout=30, message="'video_later'")
    offered = lambda: [c.started - refused_at for c in fake_api.calls("getUpdates") if c.result]  # noqa: E731
    fake_api.wait_for(
        lambda: max(offered()) > LEASE_S + 2, timeout=60, message="the update offered after the lease lapsed"
    )
    assert fake_api.pending_updates() == 1, "the update was confirmed while Redis refused writes"
    assert not acks(fake_api, chat)
    refused_for = time.monotonic() - refused_at
    busy = {p.name: (cpu_seconds(p.popen.pid) - cpu_before[p.name]) / refused_for for p in (bot, worker)}
    print(f"refused_writes_seconds={refused_for:.1f} cpu_share={busy}")
    assert max(busy.values()) < 0.25, f"a process spun while Redis refused writes: {busy}"

    client.execute_command(*restore)
    fake_api.wait_for(lambda: acks(fake_api, chat), timeout=60, message="the ack once writes work")
    fake_api.wait_for(lambda: fake_api.sent_animations(chat), timeout=120, message="the GIF")
    wait_until(lambda: all_done(client, [sent]), timeout=60, what="the job to end")
    assert len(fake_api.sent_animations(chat)) == 1
    assert len(said(fake_api, chat, "video_later")) == 1
    assert bot.alive() and worker.alive()
