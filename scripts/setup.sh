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

say() { printf '\n==> %s\n' "$*"; }

have_system_packages() {
    command -v python3 >/dev/null && python3 -c 'import ensurepip, venv' 2>/dev/null &&
        command -v ffmpeg >/dev/null && command -v ffprobe >/dev/null &&
        { [ "$MODE" = workers ] || command -v redis-server >/dev/null; }
}

install_system_packages() {
    local packages=(python3 python3-venv ffmpeg)
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
    for program in "redis-replica|redis-server $here/config/redis.conf --port $replica_port --dir $here/var/redis-replica --replicaof 127.0.0.1 $REDIS_PORT|11" \
        "sentinel|redis-server $here/var/sentinel/sentinel.conf --sentinel|12"; do
        IFS='|' read -r name command priority <<<"$program"
        printf '[program:%s]\ncommand=%s\ndirectory=%s\npriority=%s\nautorestart=true\nstartsecs=2\nstopasgroup=true\nkillasgroup=true\nredirect_stderr=true\nstdout_logfile=%s/var/log/%s.log\nstdout_logfile_maxbytes=10MB\nstdout_logfile_backups=5\n\n' \
            "$name" "$command" "$here" "$priority" "$here" "$name"
    done >var/supervisord.d/sentinel.conf
    local has_redis_url
    has_redis_url=$(env_file_sets REDIS_URL) || exit 1
    if [ "$has_redis_url" = no ]; then
        say "Pointing REDIS_URL in .env at the local Sentinel"
        [ -z "$(tail -c1 .env)" ] || echo >>.env
        printf 'REDIS_URL=redis+sentinel://127.0.0.1:%s/%s\n' "$SENTINEL_PORT" "$SENTINEL_SERVICE" >>.env
    fi
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
    [ "$MODE" = workers ] || stop_distro_redis
    make_venv
    make_dirs
    local settings
    if [ "$MODE" = workers ]; then
        settings=$(read_settings REDIS_URL TELEGRAM_BOT_TOKEN) || exit 1
        eval "$settings"
        check_redis_reachable
    else
        make_env_file
        settings=$(read_settings ADMIN_PASSWORD) || exit 1
        eval "$settings"
    fi

    [ "$MODE" = workers ] || make_local_sentinel
    export PATH="$PWD/.venv/bin:$PATH"
    export WORKERS ADMIN_HOST ADMIN_PORT REDIS_PORT
    export AUTOSTART_BOT="$HAVE_TOKEN"
    write_supervisord_env var/supervisord.d/environment.conf "$PWD/.venv/bin"
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
