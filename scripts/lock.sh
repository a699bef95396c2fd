#!/usr/bin/env bash
# Regenerate requirements.txt from requirements.in with pip-tools: every package pinned, transitive
# ones included, each with the sha256 of every file the package index has for that version (any
# platform, any Python), so `pip install -r requirements.txt` checks them all. Pins already in
# requirements.txt are kept unless requirements.in asks for another version. Run it after editing
# requirements.in (README, "Development"); extra arguments go to pip-compile, e.g.
#   bash scripts/lock.sh --upgrade-package requests
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

TOOLS=${PIP_TOOLS_VENV:-/tmp/gifbot-pip-tools} # a throwaway venv: pip-tools is not a project need
if [ ! -x "$TOOLS/bin/pip-compile" ]; then
    python3 -m venv "$TOOLS"
    "$TOOLS/bin/pip" install --quiet --upgrade pip pip-tools
fi

# The comment block at the top of requirements.txt is kept; pip-compile writes the rest.
header=$(sed -n '/^#/!q;p' requirements.txt)
# Hashes come from the package index alone, never from local wheel folders or mirrors in pip's
# config: they must match what another machine downloads.
log=$(mktemp)
if ! env -u PIP_FIND_LINKS -u PIP_INDEX_URL -u PIP_EXTRA_INDEX_URL PIP_CONFIG_FILE=/dev/null \
    "$TOOLS/bin/pip-compile" --quiet --generate-hashes --allow-unsafe --strip-extras --no-header \
    --output-file requirements.txt "$@" requirements.in 2>"$log"; then
    cat "$log" >&2 # (its build warnings are noise when it works)
    exit 1
fi
rm -f "$log"
{ printf '%s\n' "$header"; cat requirements.txt; } >requirements.txt.new
mv requirements.txt.new requirements.txt
echo "requirements.txt: $(grep -c '^[A-Za-z]' requirements.txt) packages pinned with hashes"
