#!/usr/bin/env bash
# Install what onestack needs into .venv, idempotently. Usage: scripts/setup.sh [--test]
# On a fresh Debian/Ubuntu machine (as root) it first installs the system packages it needs.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
extras="[client]"  # the cloud and the openstack CLI to use it with
[ "${1:-}" = "--test" ] && extras="[test]"

need_apt=()
python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || need_apt+=(python3)
python3 -c 'import venv, ensurepip' 2>/dev/null || need_apt+=(python3-venv)
command -v gcc >/dev/null || need_apt+=(gcc python3-dev)
if [ "${1:-}" = "--test" ]; then
    command -v wrk >/dev/null || true  # benchmarks only; bench/ installs it when run
    command -v qemu-img >/dev/null || need_apt+=(qemu-utils)  # image format tests
fi
if [ ${#need_apt[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "onestack setup needs: ${need_apt[*]} (run as root or install them)" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
    echo "onestack needs Python >= 3.11 (Debian 12+, Ubuntu 24.04+)" >&2; exit 1; }

stamp="$VENV/.installed$extras"
if [ -f "$stamp" ] && [ "$stamp" -nt pyproject.toml ]; then
    exit 0
fi
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip uv
"$VENV/bin/uv" pip install -q --python "$VENV/bin/python" -e ".$extras"
# Compile bytecode now (uv does not): with PYTHONDONTWRITEBYTECODE set, every start would
# otherwise parse every library again (about a second more to start).
"$VENV/bin/python" -m compileall -q -j 0 "$VENV"/lib/python3*/site-packages >/dev/null || true
touch "$stamp"
echo "onestack installed into $VENV (extras: $extras)"
