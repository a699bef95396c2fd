#!/usr/bin/env bash
# Run the test suite: system packages (as root, only if missing), .venv, then pytest.
# Usage, from the repo root:  bash scripts/test.sh [--slow] [pytest args...]
# (tests run in 3 processes through pytest-xdist; TEST_PROCESSES=N changes that, 0 turns it off)
# (--slow adds the long soak tests marked @pytest.mark.slow, left out by default)
# The tests start their own redis-server; they need the redis-server and ffmpeg binaries,
# and chromium with chromium-driver for the admin panel's browser test.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

NO_TESTS_COLLECTED=5 # pytest's exit code; a suite that finds nothing is a failure here

venv_ready() {
    command -v python3 >/dev/null && python3 -c 'import ensurepip, venv' 2>/dev/null
}

# acl (setfacl): tests/e2e/test_install.py runs setup.sh, which lets its user in through ACLs.
# fonts-noto-cjk: the font /text draws with (tests compare its CJK glyphs with a Latin-only font's).
# gifsicle: rewrites GIFs that get a palette per frame (tests/test_palettes.py).
CJK_FONT=/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc
if command -v ffmpeg >/dev/null && command -v ffprobe >/dev/null && command -v redis-server >/dev/null &&
    [ -e "$CJK_FONT" ] && command -v gifsicle >/dev/null &&
    { command -v setfacl >/dev/null || [ "$(id -u)" -ne 0 ]; } && { [ -x .venv/bin/python ] || venv_ready; }; then
    :
elif [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    echo "==> Installing ffmpeg, redis-server, python3-venv, acl, fonts-noto-cjk, gifsicle"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    apt-get install -y --no-install-recommends ffmpeg redis-server python3 python3-venv acl fonts-noto-cjk gifsicle
else
    echo "Tests need ffmpeg, ffprobe, redis-server, python3-venv, fonts-noto-cjk and gifsicle; run this as root on" >&2
    echo "Debian/Ubuntu to install them, or install them yourself." >&2
    exit 1
fi

# The admin panel's browser test drives Debian's chromium through chromium-driver (never a
# downloaded browser); without them that one test is skipped.
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
        echo "==> Installing chromium, chromium-driver"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update
        apt-get install -y chromium chromium-driver
    else
        echo "chromium and chromium-driver are missing: the admin browser test will be skipped." >&2
    fi
fi

if [ ! -x .venv/bin/python ]; then
    echo "==> Creating .venv"
    python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
.venv/bin/python -m jobs.binaries >/dev/null # links the pinned ffmpeg the product runs (jobs/binaries.py)

marker=(-m "not slow")
args=()
for arg in "$@"; do
    if [ "$arg" = "--slow" ]; then marker=(); else args+=("$arg"); fi
done

# Most tests wait on real processes (bot, workers, Redis, ffmpeg), so three test processes keep two
# cores busy (four made the Sentinel failover tests miss their timings); TEST_PROCESSES=0 runs them
# all in this one process. --dist worksteal: a process that runs out of tests takes queued ones from
# the others, so the minute-long end-to-end tests do not pile up at the end on one of them (a whole
# run: 966 s with xdist's default --dist load, 789 s with worksteal, same box, same tests).
processes=(-n "${TEST_PROCESSES:-3}")
if [ "${TEST_PROCESSES:-3}" != 0 ]; then processes+=(--dist worksteal); fi

status=0
.venv/bin/python -m pytest -q "${processes[@]}" "${marker[@]}" "${args[@]}" || status=$?
if [ "$status" -eq "$NO_TESTS_COLLECTED" ]; then
    echo "No tests were collected: treating that as a failure." >&2
fi
exit "$status"
