#!/usr/bin/env bash
# Restore a backup made by scripts/backup.sh into this box's supervised Redis (program "redis" of
# supervisord.conf), which must be running. It stops the box's other programs (workers finish their
# job first) and Redis, moves var/redis's data aside (var/redis/before-restore-<time>/), loads the
# backup and rebuilds the AOF from it, checks Redis comes back with it, and starts them all again.
# REDIS_URL (environment or the repo's .env) must name that Redis. README "Backup and restore".
#
#   bash scripts/restore.sh var/backups/gifbot-redis-20250101T101700Z.rdb
#   bash scripts/restore.sh --conf /path/to/box/supervisord.conf FILE     (another box dir)
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
case "${1:-}" in -h | --help) sed -n '2,9p' "$0"; exit 0 ;; esac
PYTHON="$REPO/.venv/bin/python"
[ -x "$PYTHON" ] || PYTHON=python3
PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}" exec "$PYTHON" "$REPO/scripts/restore.py" "$@"
