#!/usr/bin/env bash
# One command for the Keystone token comparison: upstream Keystone 30 (cache on) and onestack,
# both started fresh outside the repository, measured by bench/keystone_tokens.py, then stopped.
#
#   bench/keystone_side_by_side.sh [keystone_tokens.py options...]
#   e.g. bench/keystone_side_by_side.sh --repeat 2 --out /tmp/keystone-tokens.md
#        bench/keystone_side_by_side.sh --duration 5 --warmup 1          # quick smoke run
#
# Environment: UPSTREAM_PORT (5000), ONESTACK_PORT (8000), KEYSTONE_CACHE (on),
# BENCH_WORK (${TMPDIR:-/tmp}/onestack-bench): where the data dirs and server logs go.
set -euo pipefail

for arg in "$@"; do
    if [[ "$arg" == "-h" || "$arg" == "--help" ]]; then
        sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'
        exec "$(dirname "$0")/../.venv/bin/python" "$(dirname "$0")/keystone_tokens.py" --help
    fi
done

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
UPSTREAM_PORT="${UPSTREAM_PORT:-5000}"
ONESTACK_PORT="${ONESTACK_PORT:-8000}"
CACHE="${KEYSTONE_CACHE:-on}"
WORK="${BENCH_WORK:-${TMPDIR:-/tmp}/onestack-bench}"
KS_DIR="$WORK/keystone-cache-$CACHE"
OS_DIR="$WORK/onestack-data"
ONESTACK_PID=""

ks() { "$HERE/upstream_keystone.sh" --cache "$CACHE" --port "$UPSTREAM_PORT" --dir "$KS_DIR" "$@"; }

cleanup() {
    if [[ -n "$ONESTACK_PID" ]] && kill -0 "$ONESTACK_PID" 2>/dev/null; then
        kill -TERM "$ONESTACK_PID"
        wait "$ONESTACK_PID" 2>/dev/null || true
    fi
    ks stop || true
}
trap cleanup EXIT

ks install
ks setup
ks start >/dev/null

[[ -x "$REPO/.venv/bin/onestack" ]] || { echo "no $REPO/.venv/bin/onestack" >&2; exit 1; }
rm -rf "$OS_DIR"
mkdir -p "$OS_DIR"
"$REPO/.venv/bin/onestack" up --data-dir "$OS_DIR" --port "$ONESTACK_PORT" \
    >"$WORK/onestack.log" 2>&1 &
ONESTACK_PID=$!
for _ in $(seq 1 120); do
    kill -0 "$ONESTACK_PID" 2>/dev/null || { tail -20 "$WORK/onestack.log" >&2; exit 1; }
    if [[ -s "$OS_DIR/admin-password" ]] &&
        curl -fsS -o /dev/null "http://127.0.0.1:$ONESTACK_PORT/identity/v3" 2>/dev/null; then
        break
    fi
    sleep 0.5
done

"$REPO/.venv/bin/python" "$HERE/keystone_tokens.py" \
    --upstream "http://127.0.0.1:$UPSTREAM_PORT" --upstream-pid "$(cat "$KS_DIR/uwsgi.pid")" \
    --upstream-password-file "$KS_DIR/admin-password" \
    --onestack "http://127.0.0.1:$ONESTACK_PORT/identity" --onestack-pid "$ONESTACK_PID" \
    --onestack-data-dir "$OS_DIR" "$@"
