#!/usr/bin/env bash
# Run independent test suites side by side, at most JOBS at a time (default 2), each with its
# output in a log of its own; print each log when it ends (whole on failure, its last lines on
# success), then the sum of every suite's counts as one closing line ("N passed, N failed,
# N skipped"), and fail if any suite failed. A suite given with --alone runs by itself before
# the others (one that disturbs what the others share, such as restarting the broker).
# Usage: scripts/parallel.sh [-j JOBS] [--alone 'NAME=COMMAND']... 'NAME=COMMAND' ...
set -uo pipefail
jobs_max=2
alone=()
while [ $# -gt 0 ]; do
    case "$1" in
        -j) jobs_max=$2; shift 2 ;;
        --alone) alone+=("$2"); shift 2 ;;
        *) break ;;
    esac
done
logs=$(mktemp -d "${TMPDIR:-/tmp}/onestack-suites.XXXXXX")
trap 'rm -rf "$logs"' EXIT
declare -A name_of=()
failed=()
running=0

report() {  # PID STATUS
    local name=${name_of[$1]}
    if [ "$2" -eq 0 ]; then
        echo "=== $name: passed"
        tail -n 3 "$logs/$name.log"
    else
        echo "=== $name: FAILED (exit $2)"
        cat "$logs/$name.log"
        failed+=("$name")
    fi
}

start() {  # NAME=COMMAND
    local name=${1%%=*} command=${1#*=}
    echo "=== $name: started: $command"
    bash -c "$command" >"$logs/$name.log" 2>&1 &
    name_of[$!]=$name
    running=$((running + 1))
}

reap_one() {
    local pid status
    wait -n -p pid
    status=$?
    report "$pid" "$status"
    running=$((running - 1))
}

for spec in "${alone[@]}"; do
    start "$spec"
    reap_one
done
for spec in "$@"; do
    while [ "$running" -ge "$jobs_max" ]; do reap_one; done
    start "$spec"
done
while [ "$running" -gt 0 ]; do reap_one; done

# One closing line for the whole run: pytest's last summary line of each log, and every
# "SUITE: N passed, N failed, N skipped" line (scripts/tempest.sh).
python3 - "$logs" <<'EOF'
import re
import sys
from pathlib import Path

totals = {"passed": 0, "failed": 0, "skipped": 0}
count = re.compile(r"(\d+) (passed|failed|skipped|errors?)\b")
summary = re.compile(r"^(?:[\w.-]+: )?\d+ (?:passed|failed|skipped|errors?)\b")
for log in sorted(Path(sys.argv[1]).glob("*.log")):
    lines = [ln for ln in log.read_text(errors="replace").splitlines() if summary.match(ln)]
    named = [ln for ln in lines if re.match(r"^[\w.-]+: ", ln)]
    for line in named or lines[-1:]:
        for n, kind in count.findall(line):
            totals["failed" if kind.startswith("error") else kind] += int(n)
print(f"{totals['passed']} passed, {totals['failed']} failed, {totals['skipped']} skipped")
EOF

if [ ${#failed[@]} -gt 0 ]; then
    echo "suites failed: ${failed[*]}" >&2
    exit 1
fi
