#!/usr/bin/env bash
# Install what the stack needs and start it under supervisord; where systemd is PID 1, through
# the gifbot.service unit, so it also starts at boot. Safe to run again: on a running stack it
# restarts the programs with this checkout's code and settings, workers one at a time
# (scripts/supervise.sh; README "Upgrading a running install").
#
# As root on Debian/Ubuntu, from the repo root:
#   bash scripts/setup.sh                 redis, bot, workers, scheduler, admin (supervisord.conf)
#   bash scripts/setup.sh --workers-only  only workers, against a central REDIS_URL
#                                         (supervisord.worker.conf; README "Scaling out")
#   bash scripts/setup.sh --sentinel      the full stack plus a local Redis replica and one
#                                         Sentinel, to try a redis+sentinel:// REDIS_URL
#                                         (README "High availability")
#
# Every program but supervisord runs as the system user GIFBOT_USER (default gifbot, created here;
# GIFBOT_USER=root keeps them all as root). README "Running it" says how that user reaches the code.
# The script can also be sourced (`source scripts/setup.sh`) to call one of its functions.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/supervise.sh
source scripts/supervise.sh

MODE=full
CONF=supervisord.conf
LOCAL_SENTINEL=false
SENTINEL_PORT=26379
SENTINEL_SERVICE=gifbot
case "${1:-}" in
    "") ;;
    --workers-only) MODE=workers; CONF=supervisord.worker.conf ;;
    --sentinel) LOCAL_SENTINEL=true ;;
    -h | --help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "Unknown option: $1 (try --help)" >&2; exit 2 ;;
esac
STOP_TIMEOUT_SECONDS=450 # above the workers' stopwaitsecs (400)
START_TIMEOUT_SECONDS=30
GENERATED_PASSWORD=""
if [ "$(id -u)" -eq 0 ]; then GIFBOT_USER=${GIFBOT_USER:-gifbot}; else GIFBOT_USER=${GIFBOT_USER:-$(id -un)}; fi
REDIS_PASSWORD="" # the local Redis's, set by make_redis_password

say() { printf '\n==> %s\n' "$*"; }

have_system_packages() {
    command -v python3 >/dev/null && python3 -c 'import ensurepip, venv' 2>/dev/null &&
        command -v ffmpeg >/dev/null && command -v ffprobe >/dev/null &&
        [ -e /usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc ] &&
        { [ "$MODE" = workers ] || command -v redis-server >/dev/null; }
}

install_system_packages() {
    local packages=(python3 python3-venv ffmpeg fonts-noto-cjk) # the font: /text draws with it
    [ "$MODE" = workers ] || packages+=(redis-server)
    if have_system_packages; then
        say "System packages already present (${packages[*]})"
        return
    fi
    if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
        echo "Missing some of: ${packages[*]}. Run this script as root on Debian/Ubuntu," >&2
        echo "or install them yourself and run it again." >&2
        exit 1
    fi
    say "Installing ${packages[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    apt-get install -y --no-install-recommends "${packages[@]}"
}

# gifsicle rewrites GIFs made with a palette per frame (jobs/palettes.py). Optional: without it every
# GIF keeps one palette, so a box that cannot install it still converts.
install_gifsicle() {
    command -v gifsicle >/dev/null && return
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
        say "Installing gifsicle"
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends gifsicle >/dev/null ||
            { apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends gifsicle; } ||
            echo "gifsicle could not be installed: GIFs keep one palette each" >&2
    else
        echo "gifsicle is not installed: GIFs keep one palette each (apt-get install gifsicle for smaller, truer slideshows)" >&2
    fi
}

# The distro package starts its own redis-server on 127.0.0.1:6379; ours runs under supervisord
# (data in var/redis), so the distro's service must not hold the port.
stop_distro_redis() {
    [ "$(id -u)" -eq 0 ] || return 0
    if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
        if systemctl is-active --quiet redis-server || systemctl is-enabled --quiet redis-server 2>/dev/null; then
            say "Stopping and disabling the distro's redis-server service (ours runs under supervisord)"
            systemctl disable --now redis-server
        fi
    elif [ -x /etc/init.d/redis-server ] && command -v service >/dev/null &&
        service redis-server status >/dev/null 2>&1; then
        say "Stopping the distro's redis-server service (ours runs under supervisord)"
        service redis-server stop
    fi
}

make_venv() {
    if [ ! -x .venv/bin/python ]; then
        say "Creating .venv"
        python3 -m venv .venv
    fi
    say "Installing Python packages into .venv"
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
    .venv/bin/python -m jobs.binaries # links the pinned ffmpeg the workers run (jobs/binaries.py)
}

make_dirs() {
    mkdir -p var/log var/redis
    chmod 700 var var/redis
}

# Print yes if .env gives setting $1 a value, as core.settings reads .env (python-dotenv), else
# no. A .env that python-dotenv cannot parse fails here, naming the line, before setup appends to it.
env_file_sets() {
    .venv/bin/python - "$1" <<'PY'
import sys
from pathlib import Path

from core.settings import read_env_file

print("yes" if read_env_file(Path(".env")).get(sys.argv[1], "").strip() else "no")
PY
}

# .env holds this box's settings and secrets; it is gitignored and readable by its owner only.
make_env_file() {
    if [ ! -f .env ]; then
        say "Creating .env"
        (umask 077 && cat >.env <<'EOF'
# Settings for this box (README, "Settings"); the environment overrides these.
# TELEGRAM_BOT_TOKEN=123456:ABC-your-token-from-BotFather
# REDIS_URL=redis://127.0.0.1:6379/0
# WORKERS=2
# ADMIN_USERNAME=admin
# ADMIN_HOST=127.0.0.1
# ADMIN_PORT=5000
EOF
        )
    fi
    local has_password
    has_password=$(env_file_sets ADMIN_PASSWORD) || exit 1
    if [ -z "${ADMIN_PASSWORD:-}" ] && [ "$has_password" = no ]; then
        local password
        password=$(python3 -c 'import secrets; print(secrets.token_urlsafe(18))')
        [ -z "$(tail -c1 .env)" ] || echo >>.env # the last line may lack its newline
        printf 'ADMIN_PASSWORD=%s\n' "$password" >>.env
        GENERATED_PASSWORD=$password
    fi
}

# ---------------------------------------------------------------- the user, var/, .env, secrets

# Every program but supervisord runs as GIFBOT_USER: a system user with no login shell and no
# home, made here once. GIFBOT_USER=root keeps them all as root (tests, CI).
make_user() {
    [ "$GIFBOT_USER" != root ] || return 0
    id -u "$GIFBOT_USER" >/dev/null 2>&1 && return 0
    if [ "$(id -u)" -ne 0 ]; then
        echo "There is no user $GIFBOT_USER: run this as root to create it, or set GIFBOT_USER." >&2
        exit 1
    fi
    say "Creating the system user $GIFBOT_USER (every program but supervisord runs as it)"
    useradd --system --user-group --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin "$GIFBOT_USER"
}

# var/ is root's, readable by the user's group and nobody else: supervisord (root) keeps its logs,
# pid file, socket and generated programs there, and a var/ the user could rename entries in would
# let it aim root's log writes at any file, or add a program of its own. What the programs write
# (Redis data, temp files) is in dirs of the user's own, 0700.
own_var() {
    local group dir
    group=$(id -gn "$GIFBOT_USER")
    mkdir -p var/log var/redis var/tmp var/supervisord.d
    if [ "$(id -u)" -eq 0 ]; then
        chown root:"$group" var var/log
        chown root:root var/supervisord.d
    fi
    chmod 750 var var/log
    chmod 700 var/supervisord.d
    for dir in var/redis var/tmp var/sentinel var/redis-replica; do
        [ -d "$dir" ] || continue
        [ "$(id -u)" -ne 0 ] || chown -R "$GIFBOT_USER:$group" "$dir" # data of an install older than the user
        chmod 700 "$dir"
    done
}

# .env holds the secrets: root may change it, the programs' user may read it, nobody else may do
# either (root:gifbot 0640). An existing .env that let anyone else in is fixed, and said so.
fix_env_file() {
    [ -f .env ] || return 0
    local owner group mode have_owner have_group
    owner=$(id -un)
    group=$(id -gn "$GIFBOT_USER")
    read -r mode have_owner have_group < <(stat -c '%a %U %G' .env)
    if command -v getfacl >/dev/null && [ -n "$(getfacl -cs .env 2>/dev/null)" ]; then
        setfacl -b .env
        say "Removed the ACL entries from .env (only $owner and the group $group may read it)"
    fi
    if [ "$have_owner:$have_group" != "$owner:$group" ]; then
        chown "$owner:$group" .env
    fi
    chmod 640 .env
    if [ $((8#$mode & 8#137)) -ne 0 ] || [ "$have_owner" != "$owner" ] ||
        { [ $((8#$mode & 8#040)) -ne 0 ] && [ "$have_group" != "$group" ]; }; then
        say "Fixed .env's mode: it was $mode $have_owner:$have_group, now 640 $owner:$group (it holds the secrets)"
    fi
}

# The code and .venv stay root's, possibly under a directory only root may enter (a clone in
# /root). GIFBOT_USER gets in through ACLs: search (x) on each directory above them (and above the
# venv's Python, which may be a pyenv build under /root) it could not enter, read on the tree (default ACLs too, so files a later git pull adds are readable), .git,
# var/ and .env left out. Then it must be able to import the code, or setup stops here.
grant_code_access() {
    [ "$GIFBOT_USER" != root ] && [ "$(id -u)" -eq 0 ] || return 0
    if ! command -v setfacl >/dev/null; then
        say "Installing acl (setfacl: lets $GIFBOT_USER read the code)"
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends acl >/dev/null ||
            { apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends acl; }
    fi
    local dir granted=()
    for dir in "$PWD" "$(realpath .venv)" "$(realpath .venv/bin/python)"; do
        while [ "$dir" != / ]; do
            dir=$(dirname "$dir")
            if ! runuser -u "$GIFBOT_USER" -- test -x "$dir"; then
                setfacl -m "u:$GIFBOT_USER:x" "$dir"
                granted+=("$dir")
            fi
        done
    done
    [ "${#granted[@]}" -eq 0 ] || say "Let $GIFBOT_USER pass through ${granted[*]} (ACL u:$GIFBOT_USER:x, no listing)"
    setfacl -m "u:$GIFBOT_USER:rx" .
    local skip=(\( -path ./.git -o -path ./var -o -path ./.env \) -prune -o)
    find . -mindepth 1 "${skip[@]}" -type d -print0 | xargs -0r setfacl -P -m "u:$GIFBOT_USER:rx,d:u:$GIFBOT_USER:rX"
    find . -mindepth 1 "${skip[@]}" -type f -print0 | xargs -0r setfacl -P -m "u:$GIFBOT_USER:rX"
    .venv/bin/python -m compileall -q app core jobs admin >/dev/null # the user cannot write __pycache__
    if ! runuser -u "$GIFBOT_USER" -- .venv/bin/python -c 'import admin, app, core, jobs' 2>/dev/null; then
        echo "$GIFBOT_USER cannot read the code or .venv ($PWD, $(realpath .venv)):" >&2
        runuser -u "$GIFBOT_USER" -- .venv/bin/python -c 'import admin, app, core, jobs' >&2 || true
        exit 1
    fi
}

# A value for a Redis config line: as it is when plain, else double-quoted with \ and " escaped.
redis_quote() {
    if [[ $1 =~ ^[A-Za-z0-9._~@%+=:,/-]+$ ]]; then
        printf '%s' "$1"
    else
        local value=${1//\\/\\\\}
        printf '"%s"' "${value//\"/\\\"}"
    fi
}

# The local Redis asks for a password, generated here once: it goes in .env's REDIS_URL (when that
# is unset or names this box's Redis, or with --sentinel its local Sentinel, without a password;
# any other URL is left as it is) and in var/redis-auth.conf, the user's and 0600, which
# redis-server includes: never on a command line that `ps` shows.
make_redis_password() {
    REDIS_PASSWORD=$(.venv/bin/python - "$LOCAL_SENTINEL" "$SENTINEL_PORT" "$SENTINEL_SERVICE" <<'PY'
import io
import os
import secrets
import socket
import sys
from pathlib import Path
from urllib.parse import unquote, urlsplit

from dotenv.parser import parse_stream

from core.redis_url import parse_sentinel_url
from core.settings import DEFAULT_REDIS_URL, Settings, read_env_file

local_sentinel, sentinel_port, service = sys.argv[1] == "true", int(sys.argv[2]), sys.argv[3]
env_file, auth_file = Path(".env"), Path("var/redis-auth.conf")


def on_this_box(host: str) -> bool:
    """True for an address this box owns (loopback, or one of its own interfaces)."""
    try:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
            sock.bind((host, 0))
        return True
    except OSError:
        return False


def ours(url: str) -> tuple[bool, str | None]:
    """(names this box's supervised Redis or local Sentinel, the password it carries)."""
    if url.startswith("redis://"):
        parts = urlsplit(url)
        if parts.username and not parts.password:
            return False, None  # a user of its own: not ours to add a password to
        return bool(parts.hostname and on_this_box(parts.hostname)), unquote(parts.password or "") or None
    if url.startswith("redis+sentinel://") and local_sentinel:
        target = parse_sentinel_url(url)
        local = all(on_this_box(host) and port == sentinel_port for host, port in target.hosts)
        return local, target.password
    return False, None


def stored() -> str | None:
    lines = auth_file.read_text().splitlines() if auth_file.exists() else []
    found = [line.split(None, 1)[1].strip('"') for line in lines if line.startswith("requirepass ")]
    return found[0] if found else None


def set_url(new: str) -> None:
    """Put REDIS_URL=new in .env in place of every REDIS_URL line (as python-dotenv reads them), or
    append it; the file is written in place, so its mode and owner stay."""
    text = env_file.read_text(encoding="utf-8")
    bindings = list(parse_stream(io.StringIO(text)))
    if any(b.key == "REDIS_URL" for b in bindings):
        text = "".join(f"REDIS_URL={new}\n" if b.key == "REDIS_URL" else b.original.string for b in bindings)
    else:
        text += ("" if text.endswith("\n") or not text else "\n") + f"REDIS_URL={new}\n"
    with env_file.open("r+", encoding="utf-8") as handle:
        handle.write(text)
        handle.truncate()


from_env = os.environ.get("REDIS_URL", "").strip()
in_file = read_env_file(env_file).get("REDIS_URL", "").strip()
default = f"redis+sentinel://127.0.0.1:{sentinel_port}/{service}" if local_sentinel else DEFAULT_REDIS_URL
url = from_env or (Settings.from_env(environ={}).redis_url if in_file else default)
local, password = ours(url)
if not local:
    password = None  # another Redis's password is not this one's
if password is None:
    password = stored() or secrets.token_hex(24)  # hex: nothing to percent-encode anywhere
    if local:
        if from_env:
            sys.exit(
                "REDIS_URL in the environment names this box's Redis without a password, and the local "
                "Redis now asks for one. Unset it (setup.sh then keeps REDIS_URL in .env) and run again."
            )
        scheme, _, rest = url.partition("://")
        new = f"{scheme}://:{password}@{rest}"
        if scheme == "redis+sentinel":
            new += ("&" if "?" in new else "?") + f"sentinel_password={password}"
        set_url(new)
        print("\n==> REDIS_URL in .env now carries the local Redis's generated password", file=sys.stderr)
if any(ord(c) < 32 for c in password):
    sys.exit("REDIS_URL's password has a control character, which Redis's config cannot hold")
print(password)
PY
    ) || exit 1
    write_redis_auth
}

# var/redis-auth.conf: the password for clients (requirepass) and, on a replica, for its master
# (masterauth; any node may be either after a failover).
write_redis_auth() {
    local quoted content
    quoted=$(redis_quote "$REDIS_PASSWORD")
    content="# Made by scripts/setup.sh from REDIS_URL (.env); redis-server includes it (--include).
requirepass $quoted
masterauth $quoted"
    if [ ! -f var/redis-auth.conf ] || [ "$(cat var/redis-auth.conf)" != "$content" ]; then
        (umask 077 && printf '%s\n' "$content" >var/redis-auth.conf.new)
        mv var/redis-auth.conf.new var/redis-auth.conf
    fi
    [ "$(id -u)" -ne 0 ] || chown "$GIFBOT_USER:$(id -gn "$GIFBOT_USER")" var/redis-auth.conf
    chmod 600 var/redis-auth.conf
}

# A Redis still running as another user (root, on the first run of a version with GIFBOT_USER)
# writes files that user owns until it stops: stop it, and the replica and Sentinel, before its
# data is handed over. apply_redis_password then starts it again, as GIFBOT_USER.
stop_redis_of_another_user() {
    supervisord_running || return 0
    local name pid uid stopping=()
    for name in redis redis-replica sentinel; do
        pid=$(ctl status "$name" 2>/dev/null | awk '$2 == "RUNNING" && $3 == "pid" {sub(",", "", $4); print $4}' || true)
        uid=$(awk '/^Uid:/ {print $2}' "/proc/${pid:-0}/status" 2>/dev/null || true)
        if [ -n "$uid" ] && [ "$uid" != "$(id -u "$GIFBOT_USER")" ]; then stopping+=("$name"); fi
    done
    [ "${#stopping[@]}" -gt 0 ] || return 0
    say "Stopping ${stopping[*]} to hand its data to $GIFBOT_USER (it starts again as $GIFBOT_USER)"
    ctl stop "${stopping[@]}" >/dev/null
    own_var
}

# A running Redis reads its password only when it starts. When it does not take REDIS_URL's (the
# password in .env was changed), restart it, and with --sentinel the replica and Sentinel, before
# the programs roll over to the new URL; a program whose config changed is replaced instead. (On
# the first run of a version with a password, the passwordless Redis lets any password in: the
# rolling restart replaces it, since its program changed.)
apply_redis_password() {
    supervisord_running || return 0
    redis_takes_password && return 0
    local changes name
    changes=$(ctl reread) || return 1
    for name in redis redis-replica sentinel; do
        if grep -Eq "^$name: (changed|available)$" <<<"$changes"; then
            ctl update "$name" >/dev/null
        elif [ -n "$(state_of "$name")" ]; then
            ctl restart "$name" >/dev/null
        fi
    done
    say "(Re)started Redis with the password in REDIS_URL"
}

redis_takes_password() {
    .venv/bin/python - 2>/dev/null <<'PY'
import sys

import redis

from core.connection import connect_url
from core.settings import Settings

try:
    connect_url(Settings.from_env().redis_url).ping()
except redis.RedisError:
    sys.exit(1)
PY
}

# Read the settings through core.settings (the one reader of env and .env) and print them as
# shell assignments; on a bad setting it prints every problem and fails.
read_settings() {
    .venv/bin/python - "$@" <<'PY'
import shlex
import sys
from urllib.parse import urlsplit

from core.settings import Settings

s = Settings.from_env(require=tuple(sys.argv[1:]))
try:  # the supervised Redis listens on REDIS_URL's port (unix:// and Sentinel URLs: the default)
    redis_port = 6379 if "+sentinel://" in s.redis_url else urlsplit(s.redis_url).port or 6379
except ValueError:
    sys.exit("Configuration problem(s):\n  - REDIS_URL has a port that is not 1-65535")
values = {
    "WORKERS": s.workers,
    "ADMIN_HOST": s.admin_host,
    "ADMIN_PORT": s.admin_port,
    "ADMIN_USERNAME": s.admin_username,
    "REDIS_PORT": redis_port,
    "HAVE_TOKEN": "true" if s.telegram_bot_token else "false",
}
for name, value in values.items():
    print(f"{name}={shlex.quote(str(value))}")
PY
}

check_redis_reachable() {
    .venv/bin/python - <<'PY'
import sys

import redis

from core.connection import connect_url
from core.settings import Settings

url = Settings.from_env().redis_url
client = connect_url(url)
kwargs = client.connection_pool.connection_kwargs
where = kwargs.get("path") or f"{kwargs.get('host')}:{kwargs.get('port')}"
if "+sentinel://" in url:
    where = "the master its Sentinels name"
try:
    client.ping()
except redis.RedisError as exc:
    sys.exit(f"Cannot reach Redis at {where} (REDIS_URL): {exc}")
print(f"Redis at {where} answers.")
PY
}

# --sentinel: a local replica and one Sentinel to try a redis+sentinel:// REDIS_URL. Both programs
# go in var/supervisord.d/ (supervisord.conf includes what is there), with Sentinel's own config,
# which Sentinel rewrites as it learns the topology. A real setup runs three Sentinels on three
# boxes (README "High availability"). Delete var/supervisord.d/sentinel.conf to go back.
make_local_sentinel() {
    [ "$LOCAL_SENTINEL" = true ] || return 0
    local replica_port=$((REDIS_PORT + 1)) here=$PWD
    mkdir -p var/sentinel var/redis-replica var/supervisord.d
    chmod 700 var/sentinel var/redis-replica
    if [ ! -f var/sentinel/sentinel.conf ]; then
        (umask 077 && cat >var/sentinel/sentinel.conf <<CONF
port $SENTINEL_PORT
bind 127.0.0.1
daemonize no
logfile ""
dir $here/var/sentinel
sentinel monitor $SENTINEL_SERVICE 127.0.0.1 $REDIS_PORT 1
sentinel down-after-milliseconds $SENTINEL_SERVICE 5000
sentinel failover-timeout $SENTINEL_SERVICE 30000
CONF
        )
    fi
    local program
    set_sentinel_auth var/sentinel/sentinel.conf
    for program in "redis-replica|redis-server $here/config/redis.conf --port $replica_port --dir $here/var/redis-replica --replicaof 127.0.0.1 $REDIS_PORT --include $here/var/redis-auth.conf|11" \
        "sentinel|redis-server $here/var/sentinel/sentinel.conf --sentinel|12"; do
        IFS='|' read -r name command priority <<<"$program"
        printf '[program:%s]\ncommand=%s\ndirectory=%s\nuser=%%(ENV_GIFBOT_USER)s\numask=077\npriority=%s\nautorestart=true\nstartsecs=2\nstopasgroup=true\nkillasgroup=true\nredirect_stderr=true\nstdout_logfile=%s/var/log/%s.log\nstdout_logfile_maxbytes=10MB\nstdout_logfile_backups=5\n\n' \
            "$name" "$command" "$here" "$priority" "$here" "$name"
    done >var/supervisord.d/sentinel.conf
}

# The Sentinel needs the master's password (auth-pass) and asks clients for it too (requirepass:
# otherwise any local user could point it at a Redis of their own and collect the password from
# the clients that follow it). Sentinel rewrites this file as it learns, including a hash of the
# password (`user default`), so the old lines go before the new ones are added.
set_sentinel_auth() {
    local conf=$1 quoted
    quoted=$(redis_quote "$REDIS_PASSWORD")
    if { grep -qxF "sentinel auth-pass $SENTINEL_SERVICE $quoted" "$conf" ||
        grep -qxF "sentinel auth-pass $SENTINEL_SERVICE \"$REDIS_PASSWORD\"" "$conf"; } &&
        { grep -qxF "requirepass $quoted" "$conf" || grep -qxF "requirepass \"$REDIS_PASSWORD\"" "$conf"; }; then
        return 0 # as Sentinel itself may have rewritten them
    fi
    local kept
    kept=$(grep -Ev '^(sentinel auth-pass |requirepass |user default )' "$conf" || true)
    printf '%s\nsentinel auth-pass %s %s\nrequirepass %s\n' "$kept" "$SENTINEL_SERVICE" "$quoted" "$quoted" >"$conf"
}

supervisord_running() {
    [ -f var/supervisord.pid ] && kill -0 "$(cat var/supervisord.pid)" 2>/dev/null
}

stop_supervisord() {
    supervisord_running || return 0
    say "Stopping the running supervisord (workers finish their current job first)"
    supervisorctl -c "$CONF" shutdown >/dev/null || true
    local waited=0
    while supervisord_running; do
        if [ "$waited" -ge "$STOP_TIMEOUT_SECONDS" ]; then
            echo "supervisord did not stop within ${STOP_TIMEOUT_SECONDS}s; see var/log/supervisord.log" >&2
            exit 1
        fi
        sleep 1
        waited=$((waited + 1))
    done
}

start_supervisord() {
    say "Starting supervisord -c $CONF"
    launch_supervisord || return 1
    await_programs
}

# Wait while programs are STARTING, print the status; fail unless all are up.
await_programs() {
    local waited=0 status=""
    while [ "$waited" -lt "$START_TIMEOUT_SECONDS" ]; do
        status=$(supervisorctl -c "$CONF" status 2>/dev/null || true)
        if [ -n "$status" ] && ! grep -q STARTING <<<"$status"; then
            break
        fi
        sleep 1
        waited=$((waited + 1))
    done
    say "supervisorctl -c $CONF status"
    printf '%s\n' "$status"
    if grep -Eq 'FATAL|BACKOFF|EXITED|STARTING' <<<"$status"; then
        echo >&2
        echo "Some programs are not running; see var/log/<name>.log" >&2
        return 1
    fi
}

print_token_help() {
    cat <<'EOF'

==> TELEGRAM_BOT_TOKEN is not set, so only redis and the admin panel were started.
    Get a token from @BotFather in Telegram (/newbot), then add it and run setup again:

        echo TELEGRAM_BOT_TOKEN=123456:ABC-your-token >> .env && bash scripts/setup.sh
EOF
}

main() {
    install_system_packages
    install_gifsicle
    [ "$MODE" = workers ] || stop_distro_redis
    make_venv
    make_dirs
    make_user
    fix_env_file
    local settings
    if [ "$MODE" = workers ]; then
        settings=$(read_settings REDIS_URL TELEGRAM_BOT_TOKEN) || exit 1
        eval "$settings"
        check_redis_reachable
    else
        make_env_file
        make_redis_password
        fix_env_file
        settings=$(read_settings ADMIN_PASSWORD) || exit 1
        eval "$settings"
    fi

    [ "$MODE" = workers ] || make_local_sentinel
    own_var
    grant_code_access
    export PATH="$PWD/.venv/bin:$PATH"
    export WORKERS ADMIN_HOST ADMIN_PORT REDIS_PORT GIFBOT_USER
    export AUTOSTART_BOT="$HAVE_TOKEN"
    write_supervisord_env var/supervisord.d/environment.conf "$PWD/.venv/bin"
    if [ "$MODE" = full ]; then
        stop_redis_of_another_user
        apply_redis_password
    fi
    local started=0
    bring_up || started=$?

    if [ "$MODE" = full ]; then
        printf '\nAdmin panel: http://%s:%s/  (health: /healthz; login in .env)\n' "$ADMIN_HOST" "$ADMIN_PORT"
        if [ -n "$GENERATED_PASSWORD" ]; then
            say "Generated the admin password (saved in .env; shown only this once):"
            printf '    user: %s   password: %s\n' "$ADMIN_USERNAME" "$GENERATED_PASSWORD"
        fi
        [ "$HAVE_TOKEN" = true ] || print_token_help
    fi
    printf '\nManage it with: .venv/bin/supervisorctl -c %s status|restart|stop|shutdown\n' "$CONF"
    return "$started"
}

# Sourced (by tests) it only defines the functions; run, it sets up the box.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    main
fi
