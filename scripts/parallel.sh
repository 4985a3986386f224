#!/usr/bin/env bash
# Run independent test suites side by side, at most JOBS at a time (default 2), each with its
# output in a log of its own; print each log when it ends (whole on failure, its last lines on
# success) and fail if any suite failed.
# Usage: scripts/parallel.sh [-j JOBS] 'NAME=COMMAND' ...
set -uo pipefail
jobs_max=2
if [ "${1:-}" = "-j" ]; then jobs_max=$2; shift 2; fi
logs=$(mktemp -d "${TMPDIR:-/tmp}/onestack-suites.XXXXXX")
trap 'rm -rf "$logs"' EXIT
declare -A name_of=()
failed=()

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

running=0
reap_one() {
    local pid status
    wait -n -p pid
    status=$?
    report "$pid" "$status"
    running=$((running - 1))
}

for spec in "$@"; do
    name=${spec%%=*}
    command=${spec#*=}
    while [ "$running" -ge "$jobs_max" ]; do reap_one; done
    echo "=== $name: started: $command"
    bash -c "$command" >"$logs/$name.log" 2>&1 &
    name_of[$!]=$name
    running=$((running + 1))
done
while [ "$running" -gt 0 ]; do reap_one; done

if [ ${#failed[@]} -gt 0 ]; then
    echo "suites failed: ${failed[*]}"
    exit 1
fi
echo "all ${#name_of[@]} suites passed"
