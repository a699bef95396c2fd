#!/usr/bin/env bash
# Back up the Redis that REDIS_URL names (in the environment or the repo's .env) while it runs: a
# consistent snapshot, checked with redis-check-rdb, saved as DEST_DIR/gifbot-redis-<UTC time>.rdb
# (mode 0600, DEST_DIR 0700). The newest 48 are kept (--keep N; 0 keeps all). README "Backup and
# restore". Needs redis-cli and redis-check-rdb (redis-tools; setup.sh installs them).
#
#   bash scripts/backup.sh                          into <repo>/var/backups/
#   bash scripts/backup.sh /srv/gifbot-backups --keep 168
# Hourly from cron (crontab -e as root):
#   17 * * * * bash /path/to/repo/scripts/backup.sh >>/path/to/repo/var/log/backup.log 2>&1
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
case "${1:-}" in -h | --help) sed -n '2,10p' "$0"; exit 0 ;; esac
PYTHON="$REPO/.venv/bin/python"
[ -x "$PYTHON" ] || PYTHON=python3
PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}" exec "$PYTHON" "$REPO/scripts/backup.py" "$@"
