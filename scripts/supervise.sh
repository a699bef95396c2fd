# How scripts/setup.sh starts, restarts and boots this box's supervisord. Sourced, not run:
# it defines functions only. The callers cd to the repo root, set CONF (the supervisord conf
# file), put .venv/bin first on PATH and define say; bring_up also uses setup.sh's
# supervisord_running, stop_supervisord, start_supervisord and await_programs.
# README "Running it" and "Upgrading a running install" tell the story:
#
#   var/supervisord.d/environment.conf  the values the confs expand (WORKERS, ports, ...) and PATH,
#       as `[supervisord] environment=`. supervisord reads it at start and on every reread, so
#       systemd and a hand-started supervisord get the same values without exporting anything,
#       and a changed value reaches a running supervisord without restarting it. (supervisord
#       also hands these to every program, so a changed value restarts them all once.)
#   config/gifbot.service               the unit, installed where systemd is PID 1.
#   rolling_restart                     a running stack takes up new code and config with at
#       least one worker up throughout; each stopped worker finishes its job first.

UNIT_NAME=gifbot.service
UNIT_PATH=/etc/systemd/system/$UNIT_NAME
SYSTEM_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
# What the confs expand with %(ENV_X)s; each is written when set.
SUPERVISORD_ENV_NAMES=(WORKERS ADMIN_HOST ADMIN_PORT AUTOSTART_BOT REDIS_PORT GIFBOT_USER)
CODE_PROGRAMS=(bot scheduler admin) # restarted on every run to load new code; redis is not
BRIDGE=worker-bridge                # a temporary extra worker while the worker group is replaced
PROGRAM_START_TIMEOUT_SECONDS=60

ctl() { supervisorctl -c "$CONF" "$@"; }

conf_dir() { (cd "$(dirname "$CONF")" && pwd); }

systemd_is_pid1() { [ -d /run/systemd/system ] && command -v systemctl >/dev/null; }

# Write the values supervisord expands, and PATH with `venv_bin` first, to `file`.
write_supervisord_env() {
    local file=$1 venv_bin=$2 name value pairs=()
    for name in PATH "${SUPERVISORD_ENV_NAMES[@]}"; do
        if [ "$name" = PATH ]; then
            value=$venv_bin:$SYSTEM_PATH
        elif [ -n "${!name+set}" ]; then
            value=${!name}
        else
            continue
        fi
        if [[ $value == *[\"\'$'\n'\\,]* ]]; then
            echo "$name may not hold quotes, commas or backslashes: $value" >&2
            return 1
        fi
        pairs+=("$name=\"${value//%/%%}\"")
    done
    mkdir -p "$(dirname "$file")"
    {
        echo "; Written by scripts/setup.sh from the settings; it rewrites this file on every run."
        echo "[supervisord]"
        (IFS=, && echo "environment=${pairs[*]}")
    } >"$file.tmp"
    mv "$file.tmp" "$file"
}

# Print config/gifbot.service for the repo at `repo` running `conf` (a file name in it).
render_unit() {
    local repo=$1 conf=$2 unit
    if [[ ! $repo =~ ^/[A-Za-z0-9._/+@-]*$ ]]; then
        echo "The unit needs a repo path of letters, digits and ._/+@- only: $repo" >&2
        return 1
    fi
    unit=$(<"$repo/config/$UNIT_NAME")
    unit=${unit//@REPO@/"$repo"}
    printf '%s\n' "${unit//@CONF@/"$conf"}"
}

# Install the unit for this repo and CONF, enable it; reload systemd when it changed.
install_unit() {
    local rendered
    rendered=$(render_unit "$PWD" "$CONF") || return 1
    if [ "$rendered" != "$(cat "$UNIT_PATH" 2>/dev/null)" ]; then
        say "Installing $UNIT_PATH (supervisord -c $CONF at boot)"
        printf '%s\n' "$rendered" >"$UNIT_PATH"
        systemctl daemon-reload
    fi
    systemctl enable --quiet "$UNIT_NAME"
}

# The conf file name the running supervisord was started with (from its command line).
running_conf_name() {
    local pid arg next=false
    pid=$(cat "$(conf_dir)/var/supervisord.pid" 2>/dev/null) || return 0
    [ -r "/proc/$pid/cmdline" ] || return 0
    while IFS= read -r -d '' arg; do
        if $next; then basename "$arg" && return 0; fi
        [ "$arg" = -c ] && next=true
    done <"/proc/$pid/cmdline"
}

# Start supervisord: through the unit where setup.sh installed it, else in the background.
launch_supervisord() {
    if [ -f "$UNIT_PATH" ] && [ "$(id -u)" -eq 0 ] && systemd_is_pid1; then
        systemctl start "$UNIT_NAME"
    else
        supervisord -c "$CONF"
    fi
}

# Bring the stack up to this checkout: start it, or roll the running one over to the new code.
bring_up() {
    local can_boot=false
    if [ "$(id -u)" -eq 0 ] && systemd_is_pid1; then
        can_boot=true
        install_unit || return 1
    fi
    local status=0
    if supervisord_running && [ "$(running_conf_name)" = "$(basename "$CONF")" ] &&
        { ! $can_boot || systemctl is-active --quiet "$UNIT_NAME"; }; then
        rolling_restart && await_programs || status=1
    else
        # Not running, started with the other conf, or started outside the unit (by a version
        # before the unit, or by hand): stop it whole, once, and start it the new way.
        stop_supervisord
        start_supervisord || status=1
    fi
    $can_boot || print_boot_help
    return "$status"
}

print_boot_help() {
    local why="systemd is not running this box"
    systemd_is_pid1 && why="setup.sh ran as $(id -un), not root, so it did not install $UNIT_NAME"
    cat <<EOF

==> $why: the stack will not start at boot by itself. To start it at boot, run setup.sh as root
    on a box where systemd is PID 1, or have your init system run this in the foreground
    (SIGTERM stops it cleanly; workers finish their jobs):
        $PWD/.venv/bin/supervisord --nodaemon -c $PWD/$CONF
EOF
}

# "name state" for every program supervisord runs.
program_states() {
    ctl status 2>/dev/null | awk 'NF >= 2 && $2 ~ /^[A-Z]+$/ {print $1, $2}' || true
}

state_of() { program_states | awk -v name="$1" '$1 == name {print $2}'; }

# Wait until every named program is RUNNING (past startsecs); fail on timeout or a dead start.
wait_running() {
    local name state waited=0
    for name in "$@"; do
        while state=$(state_of "$name") && [ "$state" != RUNNING ]; do
            if [[ $state == FATAL || $state == EXITED ]] ||
                [ "$waited" -ge "$PROGRAM_START_TIMEOUT_SECONDS" ]; then
                echo "$name is ${state:-missing}, not RUNNING; see var/log/" >&2
                return 1
            fi
            sleep 1
            waited=$((waited + 1))
        done
    done
}

# Wait until RQ lists the named workers as registered (by pid). RUNNING only says a process lived
# startsecs; a loaded box may take longer to import and register, and until then it takes no job.
# Settings (REDIS_URL) come from the environment and .env, as the workers' do.
wait_registered() {
    local pids
    pids=$(ctl status "$@" 2>/dev/null | awk '$3 == "pid" {sub(",", "", $4); print $4}' || true)
    python - "$PROGRAM_START_TIMEOUT_SECONDS" $pids <<'PY'
import sys
import time

import redis
from rq import Worker

from core.connection import connect_url
from core.settings import Settings

timeout, pids = float(sys.argv[1]), {int(pid) for pid in sys.argv[2:]}
client = connect_url(Settings.from_env().redis_url)
deadline = time.monotonic() + timeout
while pids:
    try:
        pids -= {worker.pid for worker in Worker.all(connection=client)}
    except redis.RedisError:
        pass  # Redis restarting: the workers wait for it too
    if pids and time.monotonic() > deadline:
        sys.exit(f"workers with pids {sorted(pids)} did not register in RQ within {timeout:.0f}s")
    time.sleep(0.2)
PY
}

# A copy of [program:worker] as a single program (autostart, its own log), with %(here)s resolved
# because an included file's %(here)s is the include's own directory.
bridge_section() {
    local here line inside=false
    here=$(conf_dir)
    here=${here//%/%%}
    while IFS= read -r line || [ -n "$line" ]; do
        if [[ $line == \[* ]]; then
            [ "$line" = "[program:worker]" ] && inside=true || inside=false
            if $inside; then echo "[program:$BRIDGE]" && echo "autostart=true"; fi
            continue
        fi
        $inside || continue
        case $line in process_name=* | numprocs=* | autostart=*) continue ;; esac
        line=${line//"%(process_num)s"/bridge}
        printf '%s\n' "${line//"%(here)s"/"$here"}"
    done <"$CONF"
}

bridge_file() { echo "$(conf_dir)/var/supervisord.d/$BRIDGE.conf"; }

start_bridge() {
    local file
    file=$(bridge_file)
    mkdir -p "$(dirname "$file")"
    bridge_section >"$file"
    ctl update "$BRIDGE" >/dev/null && wait_running "$BRIDGE" && wait_registered "$BRIDGE"
}

# Remove the bridge worker (it finishes its job first); a no-op when there is none.
stop_bridge() {
    local file
    file=$(bridge_file)
    [ -f "$file" ] || return 0
    rm "$file"
    ctl update "$BRIDGE" >/dev/null
}

worker_names() { program_states | awk '$1 ~ /^worker:/ {print $1}'; }

# Restart the workers so at least one takes jobs at every moment: one at a time, each started
# before the next stops. A replaced group (its config changed: WORKERS, command, ...) stops all
# its workers together, and a box of one worker has no second one, so a bridge worker covers.
restart_workers() {
    local group_changed=$1 states running status=0 name
    states=$(program_states)
    running=$(awk '$1 ~ /^worker:/ && $2 == "RUNNING"' <<<"$states" | wc -l)
    if [ "$running" -eq 0 ]; then # none to keep up (no token yet): just apply the config
        if $group_changed; then ctl update worker >/dev/null; fi
        stop_bridge
        return
    fi
    if $group_changed || [ "$running" -lt 2 ]; then
        say "Starting a bridge worker while the workers restart"
        start_bridge || status=1
    fi
    if [ "$status" -ne 0 ]; then
        echo "The bridge worker did not start; the workers were not restarted." >&2
    elif $group_changed; then
        say "Replacing the worker group (they finish their jobs; the bridge takes new ones)"
        local names
        ctl update worker >/dev/null && names=$(worker_names) &&
            wait_running $names && wait_registered $names || status=1
    else
        for name in $(awk '$1 ~ /^worker:/ {print $1}' <<<"$states"); do
            say "Restarting $name (it finishes its job first)"
            # restart returns once the new process is RUNNING (startsecs), or fails
            ctl restart "$name" >/dev/null && wait_registered "$name" || { status=1 && break; }
        done
    fi
    stop_bridge || status=1 # also one a run that died midway left behind
    return "$status"
}

# Apply this checkout's code and config to the running supervisord without stopping every
# worker at once: changed non-worker programs are updated (redis only then), workers roll, then
# bot, scheduler and admin restart. Values from the environment file arrive with the reread.
rolling_restart() {
    say "Rolling restart of the running stack ($CONF)"
    local changes others=() group worker_changed=false name
    changes=$(ctl reread) || return 1
    printf '%s\n' "$changes"
    while IFS=: read -r group _; do
        case $group in
            worker) worker_changed=true ;;
            "$BRIDGE" | "") ;;
            *) others+=("$group") ;;
        esac
    done < <(grep -E ': (changed|available|disappeared)$' <<<"$changes" || true)
    if [ "${#others[@]}" -gt 0 ]; then ctl update "${others[@]}"; fi
    restart_workers "$worker_changed" || return 1
    local states restart=()
    states=$(program_states)
    for name in "${CODE_PROGRAMS[@]}"; do
        [[ " ${others[*]} " == *" $name "* ]] && continue
        if grep -qx "$name RUNNING" <<<"$states"; then restart+=("$name"); fi
    done
    if [ "${#restart[@]}" -gt 0 ]; then
        say "Restarting ${restart[*]}"
        # in parallel: the bot is away only for its own stop and start
        for name in "${restart[@]}"; do ctl restart "$name" >/dev/null & done
        wait
    fi
}
