#!/usr/bin/env bash
# Run Tempest's API suites against a fresh onestack. Usage:
#   scripts/tempest.sh [SUITE...]          SUITE: identity, image (default: both)
#   TEMPEST_REGEX='^tempest\.api\.identity\.admin\.v3\.test_roles' scripts/tempest.sh
# Tempest is installed from PyPI into its own venv (.tempest/venv, never the project's). A new
# onestack runs on a free port with a new data dir (image: two file stores, see
# docs/conformance.md); each suite prints "SUITE: N passed, N failed, N skipped". Exits 1 when
# a test failed. TEMPEST_KEEP=1 keeps the run directory (logs, tempest.conf, subunit streams);
# scripts/tempest-exclude.txt names the tests of features not built yet (printed when used).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
TEMPEST_VERSION=${TEMPEST_VERSION:-47.0.0}
TVENV=.tempest/venv
CONCURRENCY=${TEMPEST_CONCURRENCY:-3}
SUITES=("$@")
# Tests of features this checkout does not have yet, one regex a line, each with its reason
EXCLUDE=$ROOT/${TEMPEST_EXCLUDE:-scripts/tempest-exclude.txt}
[ ${#SUITES[@]} -gt 0 ] || SUITES=(identity image)

# -- Tempest in its own venv ------------------------------------------------------------------
stamp="$TVENV/.tempest-$TEMPEST_VERSION"
if [ ! -f "$stamp" ]; then
    [ -x "$TVENV/bin/python" ] || python3 -m venv "$TVENV"
    "$TVENV/bin/python" -m pip install -q --upgrade pip uv
    "$TVENV/bin/uv" pip install -q --python "$TVENV/bin/python" "tempest==$TEMPEST_VERSION"
    touch "$stamp"
fi
[ -x .venv/bin/onestack ] || scripts/setup.sh --test

# -- a fresh onestack ---------------------------------------------------------------------------
RUN=$(mktemp -d "$ROOT/.tempest/run-XXXXXX")
PID=
WEB_PID=
cleanup() {
    for pid in $PID $WEB_PID; do
        if kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid"
            wait "$pid" 2>/dev/null || true
        fi
    done
    if [ "${TEMPEST_KEEP:-0}" = 1 ]; then echo "run directory kept: $RUN"; else rm -rf "$RUN"; fi
}
trap cleanup EXIT
DATA=$RUN/data
mkdir -p "$DATA"
PASSWORD=tempest-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
free_port() {
    .venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
# web-download imports fetch from a web server on loopback (no traffic leaves the machine)
WEB=$RUN/web
WEB_PORT=$(free_port)
mkdir -p "$WEB"
qemu-img create -q -f qcow2 "$WEB/image.qcow2" 16M
head -c 1048576 /dev/urandom > "$WEB/image.raw"
cat > "$DATA/onestack.toml" <<EOF
# The configuration Tempest runs against: onestack's defaults, the image part with two stores.
[image]
default_store = "primary"
web_download_allowed_ports = [80, 443, $WEB_PORT]
# the local image cache (on by default only with a remote store): Tempest's cache API tests
image_cache_enabled = true
cache_prefetcher_interval = 2

[image.stores.primary]
type = "file"
description = "the default file store"
path = "$DATA/images-primary"

[image.stores.secondary]
type = "file"
description = "a second file store"
path = "$DATA/images-secondary"
EOF

PORT=$(free_port)
URL=http://127.0.0.1:$PORT
healthy() {
    .venv/bin/python -c 'import sys, httpx; sys.exit(httpx.get(sys.argv[1], timeout=2).status_code != 200)' \
        "$URL/healthcheck" 2>/dev/null
}
.venv/bin/python -m http.server --bind 127.0.0.1 --directory "$WEB" "$WEB_PORT" \
    > "$RUN/web.log" 2>&1 &
WEB_PID=$!
# identity and image suites only: simulated compute hosts (no guest image is built)
ONESTACK_COMPUTE__VIRT_DRIVER=${ONESTACK_COMPUTE__VIRT_DRIVER:-fake} \
ONESTACK_ADMIN_PASSWORD=$PASSWORD .venv/bin/onestack up --data-dir "$DATA" --port "$PORT" \
    > "$RUN/onestack.log" 2>&1 &
PID=$!
for _ in $(seq 1 120); do
    healthy && break
    kill -0 "$PID" 2>/dev/null || { cat "$RUN/onestack.log" >&2; exit 1; }
    sleep 0.5
done
healthy || { tail -20 "$RUN/onestack.log" >&2; echo "onestack did not start" >&2; exit 1; }

# -- tempest.conf -------------------------------------------------------------------------------
WS=$RUN/workspace
"$TVENV/bin/tempest" init --name "onestack-$PORT" --workspace-path "$RUN/workspaces.yaml" \
    "$WS" >/dev/null
cat > "$WS/etc/tempest.conf" <<EOF
[DEFAULT]
log_file = $RUN/tempest.log

[auth]
use_dynamic_credentials = true
admin_username = admin
admin_password = $PASSWORD
admin_project_name = admin
admin_domain_name = Default
create_isolated_networks = false
tempest_roles = member

[identity]
uri_v3 = $URL/identity/v3
auth_version = v3
region = RegionOne
v3_endpoint_type = public
admin_role = admin
default_domain_id = default

[identity-feature-enabled]
api_v2 = false
api_v3 = true
trust = true
application_credentials = true
access_rules = true
project_tags = true
security_compliance = false
domain_specific_drivers = false
immutable_user_source = false
external_idp = false

[image]
region = RegionOne
endpoint_type = public
build_timeout = 120
build_interval = 1
container_formats = ami,ari,aki,bare,ovf,ova,docker,compressed
disk_formats = ami,ari,aki,vhd,vhdx,vmdk,raw,qcow2,vdi,iso,ploop
hashing_algorithm = sha512
http_image = http://127.0.0.1:$WEB_PORT/image.raw
http_qcow2_image = http://127.0.0.1:$WEB_PORT/image.qcow2
image_caching_enabled = true

[image-feature-enabled]
api_v2 = true
import_image = true
os_glance_reserved = true
manage_locations = false
image_conversion = false
image_format_enforcement = true
do_secure_hash = true
http_store_enabled = false
store_weight_enabled = false

[service_available]
keystone = true
glance = true
nova = false
neutron = false
cinder = false
swift = false
horizon = false
heat = false
placement = false

[validation]
run_validation = false

[oslo_concurrency]
lock_path = $RUN/locks
EOF

# -- the suites -----------------------------------------------------------------------------------
status=0
exclude=()
excluded=0
[ -f "$EXCLUDE" ] && excluded=$(grep -cvE '^\s*(#|$)' "$EXCLUDE" || true)
[ "$excluded" -gt 0 ] && exclude=(--exclude-list "$EXCLUDE")
cd "$WS"
for suite in "${SUITES[@]}"; do
    case $suite in
        identity) regex='^tempest\.api\.identity' ;;
        image) regex='^tempest\.api\.image\.v2' ;;
        *) echo "unknown suite $suite (identity, image)" >&2; exit 2 ;;
    esac
    [ -n "${TEMPEST_REGEX:-}" ] && regex=$TEMPEST_REGEX
    "$ROOT/$TVENV/bin/tempest" run --regex "$regex" "${exclude[@]}" \
        --concurrency "$CONCURRENCY" > "$RUN/$suite.out" 2>&1 || true
    "$ROOT/$TVENV/bin/stestr" last --subunit > "$RUN/$suite.subunit" 2>/dev/null || true
    counts=$("$ROOT/$TVENV/bin/python" - "$RUN/$suite.subunit" <<'EOF'
import sys
import subunit
import testtools

results = {"success": 0, "fail": 0, "skip": 0}
failed = []
def on_test(test):
    status = test["status"]
    if status in ("success", "xfail"):
        results["success"] += 1
    elif status == "skip":
        results["skip"] += 1
    elif status in ("fail", "uxsuccess"):
        results["fail"] += 1
        failed.append(test["id"])
with open(sys.argv[1], "rb") as stream:
    case = subunit.ByteStreamToStreamResult(stream, non_subunit_name="stdout")
    result = testtools.StreamToDict(on_test)
    result.startTestRun()
    case.run(result)
    result.stopTestRun()
for name in sorted(failed):
    print(f"  FAILED {name}", file=sys.stderr)
print(f"{results['success']} passed, {results['fail']} failed, {results['skip']} skipped")
EOF
)
    echo "$suite: $counts"
    case $counts in
        *" 0 failed"*) ;;
        *) status=1 ;;
    esac
    case $counts in "0 passed, 0 failed"*) status=1; tail -20 "$RUN/$suite.out" >&2 ;; esac
done
if [ "$excluded" -gt 0 ]; then
    echo "not run: $excluded patterns of ${EXCLUDE#"$ROOT"/} (features not in this checkout yet)"
fi
exit $status
