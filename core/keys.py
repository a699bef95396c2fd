"""Every Redis key of ours in one place (RQ keeps its own `rq:*` keys)."""

from __future__ import annotations

PREFIX = "gifbot"

USERS = f"{PREFIX}:users"  # zset: user id -> last seen (unix s); pruned past USER_DATA_DAYS
TOTALS = f"{PREFIX}:totals"  # hash: all-time counters of every user added up (for /metrics)
BANNED = f"{PREFIX}:banned"  # set of user ids
DEPTH = f"{PREFIX}:depth"  # zset: "ts:depth" -> ts, queue depth samples
SCHEDULER_LOCK = f"{PREFIX}:scheduler:lock"
BOT_LOCK = f"{PREFIX}:bot:lock"  # the active bot's lease; a standby polls only once it lapses
INBOX_CHATS = f"{PREFIX}:inbox:chats"  # zset: chat id -> when its inbox last got an update
REPLICATION_PROBE = f"{PREFIX}:replication:probe"  # a write that WAIT can wait for
MAINTENANCE = f"{PREFIX}:maintenance"  # hash: each periodic task's last run and result (JSON)
ADMIN_SESSION_SALT = f"{PREFIX}:admin:session_salt"  # random salt of the panel's cookie-signing key
ACTIVE_USERS = f"{PREFIX}:active_users"  # set: user ids that may hold a slot (pruned by the lost-slot pass)
LOST_SLOTS_CURSOR = f"{PREFIX}:lost_slots:cursor"  # where the lost-slot pass resumes its SSCAN
WORKER_STATUSES = f"{PREFIX}:worker_statuses"  # zset: names of workers that published a status
ALERT_STATE = f"{PREFIX}:alerts:state"  # hash with a TTL: alert condition -> JSON {since, told}
ALERT_BOXES = f"{PREFIX}:alerts:boxes"  # hash with a TTL: worker box -> when the alerts pass last saw it
ALERT_OUTCOMES = f"{PREFIX}:alerts:outcomes"  # zset with a TTL: "ts:delivered:failed" samples of the totals
RECENT_JOBS = f"{PREFIX}:jobs:recent"  # zset: job id -> created (unix s), every user; 30 days, bounded
SCHEDULER_SINCE = f"{PREFIX}:scheduler:since"  # JSON: which scheduler took the leader lock, and when
RECOVERIES = f"{PREFIX}:maintenance:recovered"  # list: recovery passes that re-queued jobs, newest first
AUDIT = f"{PREFIX}:admin:audit"  # zset: admin actions (JSON) -> when; 90 days, bounded


def alert_sent(condition: str) -> str:
    """Set for ALERT_WINDOW_S once a condition's problem was told: no second message meanwhile."""
    return f"{PREFIX}:alerts:sent:{condition}"


def worker_status(name: str) -> str:
    """Hash with a TTL: one worker's box, free temp space and whether it takes jobs (for /healthz)."""
    return f"{PREFIX}:worker:{name}"


def queued(job_id: str) -> str:
    """Set once a message's job was queued: a re-delivered update is then ignored."""
    return f"{PREFIX}:queued:{job_id}"


def sent(job_id: str) -> str:
    """'sending <attempt>' while a GIF upload is under way, 'sent' once it arrived."""
    return f"{PREFIX}:sent:{job_id}"


def status(job_id: str) -> str:
    """The id of the status message the bot sent for this job's video."""
    return f"{PREFIX}:status:{job_id}"


def stuck(job_id: str) -> str:
    """When a maintenance sweep first saw this job taken but not started (its worker may be dead)."""
    return f"{PREFIX}:stuck:{job_id}"


def told(job_id: str) -> str:
    """Set once the user has been told that this job failed."""
    return f"{PREFIX}:told:{job_id}"


def user(user_id: int) -> str:
    """Hash: a user's profile and counters."""
    return f"{PREFIX}:user:{user_id}"


def user_jobs(user_id: int) -> str:
    """List: a user's most recent job ids, newest first."""
    return f"{PREFIX}:user:{user_id}:jobs"


def user_seconds(user_id: int) -> str:
    """List: a user's recent conversion times in seconds, newest first."""
    return f"{PREFIX}:user:{user_id}:secs"


def user_active(user_id: int) -> str:
    """Zset: a user's job ids that are queued or running -> when they took the slot (unix s)."""
    return f"{PREFIX}:user:{user_id}:active"


def user_pending(user_id: int) -> str:
    """List: a user's videos waiting for a free slot (JSON requests), oldest first."""
    return f"{PREFIX}:user:{user_id}:pending"


def user_hour(user_id: int, hour: str) -> str:
    """Counter: videos a user sent in one hour (for the hourly quota)."""
    return f"{PREFIX}:user:{user_id}:hour:{hour}"


def quota(user_id: int) -> str:
    """Hash: a user's quota overrides set by an admin (max_active, per_hour)."""
    return f"{PREFIX}:quota:{user_id}"


def job_record(job_id: str) -> str:
    """Hash: one job as the admin panel shows it (times, sizes, outcome)."""
    return f"{PREFIX}:jobrec:{job_id}"


def hour(bucket: str) -> str:
    """Hash: counters for one UTC hour (videos, delivered, failed, refused)."""
    return f"{PREFIX}:hour:{bucket}"


def latency(bucket: str) -> str:
    """List: end-to-end seconds of the GIFs delivered in one UTC hour."""
    return f"{PREFIX}:latency:{bucket}"


def prefs(user_id: int) -> str:
    """Hash: a user's /settings choices."""
    return f"{PREFIX}:prefs:{user_id}"


def cache(file_unique_id: str, variant: str) -> str:
    """The Telegram file_id of a GIF made from this video with these settings."""
    return f"{PREFIX}:cache:{file_unique_id}:{variant}"


def chat_pace(chat_id: int) -> str:
    """When the bot may next send or edit in this chat (unix s), shared by every process."""
    return f"{PREFIX}:pace:{chat_id}"


GLOBAL_PACE = f"{PREFIX}:pace:global"  # when the bot's global message budget is next free (unix s, TTL)


RECENT_SECONDS = f"{PREFIX}:recent_secs"  # list: recent conversion seconds, for queue wait estimates


def admin_session(digest: str) -> str:
    """Set (with the session's lifetime) while the admin session whose id hashes to `digest` is open."""
    return f"{PREFIX}:admin:session:{digest}"


def admin_login_fails(client: str) -> str:
    """Counter: failed admin logins from one client address (the throttle)."""
    return f"{PREFIX}:admin:login_fails:{client}"


def inbox(chat_id: int) -> str:
    """List: a chat's stored Telegram updates (raw JSON), oldest first, handled in order."""
    return f"{PREFIX}:inbox:{chat_id}"


def update_seen(update_id: int) -> str:
    """Set once an update was stored: Telegram re-delivers until confirmed, so store it once."""
    return f"{PREFIX}:update:{update_id}"


def inbox_full(chat_id: int) -> str:
    """Set while a chat's inbox overflowed and the chat was told so (answered once)."""
    return f"{PREFIX}:inbox:full:{chat_id}"


def group(chat_id: int) -> str:
    """Hash: a group's settings, chosen by its admins (expires with the group's inactivity)."""
    return f"{PREFIX}:group:{chat_id}"


def group_admin(chat_id: int, user_id: int) -> str:
    """'1' or '0' for a short while: whether a user is an admin of a group (getChatMember's answer)."""
    return f"{PREFIX}:group:{chat_id}:admin:{user_id}"


def meme_text(job_id: str) -> str:
    """Hash with a TTL: the top and bottom text a user asked to draw on this job's GIF."""
    return f"{PREFIX}:text:{job_id}"


def redo(chat_id: int, message_id: int) -> str:
    """JSON with a TTL: what the tweak-and-redo buttons under the GIF in this message need (core.redo)."""
    return f"{PREFIX}:redo:{chat_id}:{message_id}"


def user_redos(user_id: int) -> str:
    """Zset: the keys.redo records of a user's GIFs -> when they expire, so /forget finds them."""
    return f"{PREFIX}:user:{user_id}:redos"
