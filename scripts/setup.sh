#!/usr/bin/env bash
# Install what the stack needs and start it under supervisord. Safe to run again: it then
# restarts supervisord so changes to .env take effect.
#
# As root on Debian/Ubuntu, from the repo root:
#   bash scripts/setup.sh                 redis, bot, workers, scheduler, admin (supervisord.conf)
#   bash scripts/setup.sh --workers-only  only workers, against a central REDIS_URL
#                                         (supervisord.worker.conf; README "Scaling out")
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

MODE=full
CONF=supervisord.conf
case "${1:-}" in
    "") ;;
    --workers-only) MODE=workers; CONF=supervisord.worker.conf ;;
    -h | --help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "Unknown option: $1 (try --help)" >&2; exit 2 ;;
esac
STOP_TIMEOUT_SECONDS=400 # above the workers' stopwaitsecs (330)
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
    if [ -z "${ADMIN_PASSWORD:-}" ] && ! grep -Eq '^[[:space:]]*(export[[:space:]]+)?ADMIN_PASSWORD=[^[:space:]]' .env; then
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
try:  # the supervised Redis listens on REDIS_URL's port (a unix:// URL has none: the default)
    redis_port = urlsplit(s.redis_url).port or 6379
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

from core.settings import Settings

client = redis.Redis.from_url(Settings.from_env().redis_url, socket_connect_timeout=5, socket_timeout=5)
kwargs = client.connection_pool.connection_kwargs
where = kwargs.get("path") or f"{kwargs.get('host')}:{kwargs.get('port')}"
try:
    client.ping()
except redis.RedisError as exc:
    sys.exit(f"Cannot reach Redis at {where} (REDIS_URL): {exc}")
print(f"Redis at {where} answers.")
PY
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
    supervisord -c "$CONF" || return 1
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

    export PATH="$PWD/.venv/bin:$PATH"
    export WORKERS ADMIN_HOST ADMIN_PORT REDIS_PORT
    export AUTOSTART_BOT="$HAVE_TOKEN"
    stop_supervisord
    local started=0
    start_supervisord || started=$?

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

main
