#!/usr/bin/env bash
# Upstream Nova 34 + Placement 16 for the side-by-side Compute benchmark
# (bench/compute_side_by_side.py; method in shared/BENCHMARKS.md).
#
#   bench/upstream_nova.sh install   # venv bench/.upstream/nova (gitignored): nova, placement, uwsgi
#   bench/upstream_nova.sh setup     # conf, MariaDB databases, RabbitMQ vhost, db syncs, cells
#   bench/upstream_nova.sh start     # placement-api + nova-api (uWSGI, 1 process each),
#                                    # nova-conductor, nova-scheduler, nova-compute (FakeDriver)
#   bench/upstream_nova.sh pids      # the root PIDs of all five (comma separated)
#   bench/upstream_nova.sh stop
#   bench/upstream_nova.sh drop      # drop the databases and the vhost
#
# Authentication is Keystone's (keystonemiddleware in nova-api and placement-api) against a
# running onestack Identity (--identity, default http://127.0.0.1:18800/identity), whose Image
# service also serves Nova as its Glance ([glance] endpoint_override). A service user
# nova-upstream (roles service + admin on project service) is created there.
# Databases nova_bench_api / nova_bench / nova_bench_cell0 / placement_bench on the local
# MariaDB (root without a password, 127.0.0.1:3306); RabbitMQ vhost nova_bench (user guest).
# State, config and logs in ${TMPDIR:-/tmp}/nova-bench.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
VENV=$HERE/.upstream/nova
WORK=${TMPDIR:-/tmp}/nova-bench
IDENTITY=${IDENTITY_URL:-http://127.0.0.1:18800/identity}
IMAGE_URL=${IMAGE_URL:-${IDENTITY%/identity}/image}
ADMIN_PASSWORD_FILE=${ADMIN_PASSWORD_FILE:-${TMPDIR:-/tmp}/onestack-bench/compute-data/admin-password}
NOVA_PORT=${NOVA_PORT:-18774}
PLACEMENT_PORT=${PLACEMENT_PORT:-18778}
DB="mysql+pymysql://root@127.0.0.1"
VHOST=nova_bench
SERVICE_USER=nova-upstream

log() { echo "upstream_nova: $*" >&2; }
die() { log "$*"; exit 1; }

install() {
    if [ -x "$VENV/bin/uwsgi" ] && [ -x "$VENV/bin/nova-compute" ] && [ -x "$VENV/bin/placement-manage" ]; then
        return
    fi
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q "nova==34.*" "openstack-placement==16.*" pymysql uwsgi
}

service_password() {
    # A fresh password for the service user in the onestack Identity service.
    "$VENV/bin/python" - "$IDENTITY" "$ADMIN_PASSWORD_FILE" "$SERVICE_USER" <<'EOF'
import json, secrets, sys, urllib.request

identity, password_file, name = sys.argv[1:4]

def call(method, path, body=None, token=None):
    req = urllib.request.Request(identity + path, method=method,
                                 data=json.dumps(body).encode() if body else None)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("X-Auth-Token", token)
    with urllib.request.urlopen(req, timeout=30) as resp:
        raw = resp.read()
        return resp.headers, (json.loads(raw) if raw else None)

headers, _ = call("POST", "/v3/auth/tokens", {"auth": {
    "identity": {"methods": ["password"], "password": {"user": {
        "name": "admin", "domain": {"id": "default"},
        "password": open(password_file).read().strip()}}},
    "scope": {"project": {"name": "admin", "domain": {"id": "default"}}}}})
token = headers["X-Subject-Token"]

def find(kind, value):
    return call("GET", f"/v3/{kind}?name={value}", token=token)[1][kind][0]["id"]

project = find("projects", "service")
password = secrets.token_urlsafe(18)
users = call("GET", f"/v3/users?name={name}&domain_id=default", token=token)[1]["users"]
if users:
    user = users[0]["id"]
    call("PATCH", f"/v3/users/{user}", {"user": {"password": password}}, token=token)
else:
    user = call("POST", "/v3/users", {"user": {
        "name": name, "domain_id": "default", "password": password,
        "default_project_id": project}}, token=token)[1]["user"]["id"]
for role in ("service", "admin"):
    call("PUT", f"/v3/projects/{project}/users/{user}/roles/{find('roles', role)}", token=token)
print(password)
EOF
}

authtoken() {
    cat <<CONF
[keystone_authtoken]
www_authenticate_uri = $IDENTITY
auth_url = $IDENTITY
auth_type = password
user_domain_id = default
project_domain_id = default
project_name = service
username = $SERVICE_USER
password = $1
CONF
}

configure() {
    local password
    password=$(service_password)
    mkdir -p "$WORK/state" "$WORK/lock" "$WORK/log"
    cat > "$WORK/nova.conf" <<CONF
# Written by bench/upstream_nova.sh; everything else is Nova's default.
[DEFAULT]
transport_url = rabbit://guest:guest@127.0.0.1:5672/$VHOST
compute_driver = fake.FakeDriver
host = nova-bench-fake
my_ip = 127.0.0.1
state_path = $WORK/state
# No Neutron here: servers boot with "networks": "none" and the cache healing is off.
heal_instance_info_cache_interval = -1

[api]
auth_strategy = keystone

[api_database]
connection = $DB/nova_bench_api

[database]
connection = $DB/nova_bench

[conductor]
workers = 1

[scheduler]
workers = 1
discover_hosts_in_cells_interval = -1

[quota]
instances = -1
cores = -1
ram = -1

[glance]
endpoint_override = $IMAGE_URL

[placement]
auth_type = password
auth_url = $IDENTITY
user_domain_id = default
project_domain_id = default
project_name = service
username = $SERVICE_USER
password = $password
endpoint_override = http://127.0.0.1:$PLACEMENT_PORT

[oslo_concurrency]
lock_path = $WORK/lock

[wsgi]
api_paste_config = $WORK/api-paste.ini

$(authtoken "$password")
CONF
    cat > "$WORK/placement.conf" <<CONF
# Written by bench/upstream_nova.sh; everything else is Placement's default.
[api]
auth_strategy = keystone

[placement_database]
connection = $DB/placement_bench

$(authtoken "$password")
CONF
    cp "$VENV/etc/nova/api-paste.ini" "$WORK/api-paste.ini"
}

setup() {
    install
    [ -s "$ADMIN_PASSWORD_FILE" ] || die "no onestack admin password at $ADMIN_PASSWORD_FILE"
    drop
    for db in nova_bench_api nova_bench nova_bench_cell0 placement_bench; do
        mysql -h 127.0.0.1 -u root -e "CREATE DATABASE $db CHARACTER SET utf8mb4"
    done
    rabbitmqctl -q add_vhost "$VHOST" >/dev/null
    rabbitmqctl -q set_permissions -p "$VHOST" guest ".*" ".*" ".*" >/dev/null
    configure
    local nm=("$VENV/bin/nova-manage" --config-file "$WORK/nova.conf")
    (
        set -x
        "$VENV/bin/placement-manage" --config-file "$WORK/placement.conf" db sync
        "${nm[@]}" api_db sync
        "${nm[@]}" cell_v2 map_cell0 --database_connection "$DB/nova_bench_cell0"
        "${nm[@]}" cell_v2 create_cell --name cell1
        "${nm[@]}" db sync
    ) > "$WORK/log/setup.log" 2>&1 || { tail -30 "$WORK/log/setup.log"; die "setup failed"; }
    log "setup done in $WORK"
}

drop() {
    for db in nova_bench_api nova_bench nova_bench_cell0 placement_bench; do
        mysql -h 127.0.0.1 -u root -e "DROP DATABASE IF EXISTS $db"
    done
    rabbitmqctl -q delete_vhost "$VHOST" >/dev/null 2>&1 || true
}

spawn() {  # NAME COMMAND... : background, own session, pid in $WORK/NAME.pid
    local name=$1; shift
    (cd "$WORK" && exec setsid "$@" </dev/null >"$WORK/log/$name.log" 2>&1) &
    echo $! > "$WORK/$name.pid"
}

uwsgi() {  # NAME PORT MODULE CONFIG_ENV
    local name=$1 port=$2 module=$3; shift 3
    spawn "$name" env "$@" PYTHONWARNINGS=ignore "$VENV/bin/uwsgi" --http "127.0.0.1:$port" \
        --module "$module" --processes 1 --threads 1 --enable-threads --http-keepalive \
        --die-on-term --need-app --disable-logging --buffer-size 65535 --virtualenv "$VENV"
}

wait_http() {  # URL NAME
    local i
    for i in $(seq 1 600); do
        curl -s -o /dev/null "$1" && return
        kill -0 "$(cat "$WORK/$2.pid")" 2>/dev/null || { tail -20 "$WORK/log/$2.log"; die "$2 exited"; }
        sleep 0.1
    done
    die "$2 did not answer at $1"
}

start() {
    [ -f "$WORK/nova.conf" ] || die "run '$0 setup' first"
    uwsgi placement-api "$PLACEMENT_PORT" placement.wsgi.api:application \
        OS_PLACEMENT_CONFIG_DIR="$WORK" OS_PLACEMENT_CONFIG_FILES=placement.conf
    wait_http "http://127.0.0.1:$PLACEMENT_PORT/" placement-api
    local svc
    for svc in conductor scheduler compute; do
        spawn "nova-$svc" "$VENV/bin/nova-$svc" --config-file "$WORK/nova.conf"
    done
    uwsgi nova-api "$NOVA_PORT" nova.wsgi.osapi_compute:application \
        OS_NOVA_CONFIG_DIR="$WORK" "OS_NOVA_CONFIG_FILES=api-paste.ini;nova.conf"
    wait_http "http://127.0.0.1:$NOVA_PORT/" nova-api
    # The compute service registers itself and its node; then map it into cell1.
    local i
    for i in $(seq 1 120); do
        "$VENV/bin/nova-manage" --config-file "$WORK/nova.conf" cell_v2 discover_hosts \
            >>"$WORK/log/discover.log" 2>&1 || true
        mysql -h 127.0.0.1 -u root -N -e "SELECT COUNT(*) FROM nova_bench_api.host_mappings" |
            grep -qx 1 && break
        sleep 1
    done
    log "running: $(pids)"
}

pids() {
    local out=() name
    for name in placement-api nova-api nova-conductor nova-scheduler nova-compute; do
        [ -f "$WORK/$name.pid" ] && out+=("$(cat "$WORK/$name.pid")")
    done
    (IFS=,; echo "${out[*]}")
}

stop() {
    local name pid
    for name in nova-api nova-compute nova-scheduler nova-conductor placement-api; do
        [ -f "$WORK/$name.pid" ] || continue
        pid=$(cat "$WORK/$name.pid")
        kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
        rm -f "$WORK/$name.pid"
        for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL -- "-$pid" 2>/dev/null || true
    done
}

case "${1:-}" in
    install) install ;;
    setup) setup ;;
    start) start ;;
    pids) pids ;;
    stop) stop ;;
    drop) drop ;;
    *) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 1 ;;
esac
