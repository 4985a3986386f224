#!/usr/bin/env bash
# Install what onestack needs into .venv, idempotently, at the exact versions in uv.lock.
# Usage: scripts/setup.sh [--test]     the cloud and CLI (with --test: and the test tools)
#        scripts/setup.sh --lock [ARGS] re-resolve uv.lock from pyproject.toml (`make lock`;
#                                       ARGS go to `uv lock`, e.g. --upgrade)
# On a fresh Debian/Ubuntu machine (as root) it first installs the system packages it needs.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
UV_VERSION=0.13.9  # the uv that reads and writes uv.lock; raise it in a commit of its own
extras="[client]"  # the cloud and the openstack CLI to use it with
[ "${1:-}" = "--test" ] && extras="[test]"

need_apt=()
python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || need_apt+=(python3)
python3 -c 'import venv, ensurepip' 2>/dev/null || need_apt+=(python3-venv)
command -v gcc >/dev/null || need_apt+=(gcc python3-dev)
# real guests (the QEMU driver; onestack-tiny is cut from Debian's kernel with lz4)
command -v qemu-system-x86_64 >/dev/null || need_apt+=(qemu-system-x86)
command -v qemu-img >/dev/null || need_apt+=(qemu-utils)  # also the image format tests
command -v lz4 >/dev/null || need_apt+=(lz4)
[ -f /usr/share/novnc/vnc_lite.html ] || need_apt+=(novnc)  # the VNC console's web pages
# the Networking dataplane agent: DHCP servers and nftables (bridges through pyroute2)
command -v dnsmasq >/dev/null || need_apt+=(dnsmasq-base)
command -v nft >/dev/null || need_apt+=(nftables)
if [ "${1:-}" = "--test" ]; then
    command -v wrk >/dev/null || true  # benchmarks only; bench/ installs it when run
    command -v ping >/dev/null || need_apt+=(iputils-ping)  # the dataplane tests' outside
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
if [ "${1:-}" != "--lock" ] && [ -f "$stamp" ] && [ "$stamp" -nt pyproject.toml ] \
    && [ "$stamp" -nt uv.lock ]; then
    exit 0
fi
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
[[ "$("$VENV/bin/uv" --version 2>/dev/null)" == "uv $UV_VERSION "* ]] \
    || "$VENV/bin/python" -m pip install -q "uv==$UV_VERSION"
uv() { UV_PROJECT_ENVIRONMENT="$VENV" "$VENV/bin/uv" "$@"; }
if [ "${1:-}" = "--lock" ]; then
    shift
    uv lock "$@"
    echo "uv.lock re-resolved from pyproject.toml: review and commit it"
    exit 0
fi
if ! uv lock --check --quiet 2>/dev/null; then
    echo "onestack setup: uv.lock does not match pyproject.toml: run 'make lock' and commit uv.lock" >&2
    exit 1
fi
# exactly the locked versions (pip and uv themselves stay: --inexact)
uv sync --locked --inexact --quiet --python "$VENV/bin/python" \
    --extra "$(tr -d '[]' <<<"$extras")"
# Compile bytecode now (uv does not): with PYTHONDONTWRITEBYTECODE set, every start would
# otherwise parse every library again (about a second more to start), and onestack's own
# modules (an editable install; a changed module is simply parsed again).
"$VENV/bin/python" -m compileall -q -j 0 "$VENV"/lib/python3*/site-packages onestack \
    >/dev/null || true
touch "$stamp"
echo "onestack installed into $VENV (extras: $extras)"
