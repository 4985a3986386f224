#!/usr/bin/env bash
# Upstream Glance 33 for side-by-side benchmarks (see shared/BENCHMARKS.md and bench/README.md),
# authenticating against a running onestack Identity (Keystone-compatible) with keystonemiddleware.
#
#   bench/upstream_glance.sh [options] COMMAND
#
# Commands:
#   install   create bench/.upstream/glance-venv with glance==33.0.0 and uwsgi (idempotent)
#   setup     (re)create the data dir: glance-api.conf (sqlite, one file store, keystone auth),
#             the paste file, `glance-manage db_sync`, and a service user for Glance in the
#             Identity service (needs it running: --identity, --admin-password-file)
#   start     serve with uwsgi in the background; waits until / answers; prints the worker PID
#   stop      stop the uwsgi started by `start`
#   status    print PID and URL of a running server, exit 1 when none
#   run       serve with uwsgi in the foreground (exec)
#   up        install + setup + start
#   env       print DIR, URL, PID as shell assignments (for scripts)
#
# Options (or the environment variables in brackets):
#   --port N                  [GLANCE_PORT]      default 9292
#   --dir DIR                 [GLANCE_BENCH_DIR] default ${TMPDIR:-/tmp}/onestack-bench/glance
#   --identity URL            [IDENTITY_URL]     default http://127.0.0.1:8000/identity
#   --admin-password-file F   [ADMIN_PASSWORD_FILE] the Identity admin's password (user admin,
#                             project admin, domain Default); default
#                             ${TMPDIR:-/tmp}/onestack-bench/onestack-data/admin-password
#   --python PY               [PYTHON]           default: the interpreter behind the project's .venv
#
# Nothing is written into the repository except the (gitignored) venv in bench/.upstream/.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
VENV="$HERE/.upstream/glance-venv"
GLANCE_VERSION="33.0.0"
HOST="127.0.0.1"
WORK="${TMPDIR:-/tmp}/onestack-bench"

PORT="${GLANCE_PORT:-9292}"
DIR="${GLANCE_BENCH_DIR:-$WORK/glance}"
IDENTITY="${IDENTITY_URL:-http://127.0.0.1:8000/identity}"
ADMIN_PASSWORD_FILE="${ADMIN_PASSWORD_FILE:-$WORK/onestack-data/admin-password}"
PY="${PYTHON:-}"
SERVICE_USER="glance-upstream"

die() { echo "upstream_glance: $*" >&2; exit 1; }
log() { echo "upstream_glance: $*" >&2; }

while [[ $# -gt 0 ]]; do
    case "$1" in
        --port) PORT="$2"; shift 2 ;;
        --dir) DIR="$2"; shift 2 ;;
        --identity) IDENTITY="${2%/}"; shift 2 ;;
        --admin-password-file) ADMIN_PASSWORD_FILE="$2"; shift 2 ;;
        --python) PY="$2"; shift 2 ;;
        -h|--help) sed -n '2,27p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) die "unknown option $1" ;;
        *) break ;;
    esac
done
[[ $# -ge 1 ]] || die "missing COMMAND (install|setup|start|stop|status|run|up|env); see --help"
CMD="$1"
URL="http://$HOST:$PORT"
PIDFILE="$DIR/uwsgi.pid"

pick_python() {
    if [[ -n "$PY" ]]; then echo "$PY"; return; fi
    # Same interpreter as the project's venv, so both sides run the same CPython build.
    local cfg="$REPO/.venv/pyvenv.cfg" exe
    if [[ -f "$cfg" ]]; then
        exe="$(sed -n 's/^executable *= *//p' "$cfg")"
        if [[ -n "$exe" && -x "$exe" ]]; then echo "$exe"; return; fi
    fi
    command -v python3
}

apt_install() {
    [[ "$(id -u)" == 0 ]] || die "need root to apt-get install $*; install them by hand"
    log "apt-get install $*"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

cmd_install() {
    local missing=()
    command -v gcc >/dev/null || missing+=(gcc)
    command -v curl >/dev/null || missing+=(curl)
    command -v flock >/dev/null || missing+=(util-linux)
    [[ ${#missing[@]} -eq 0 ]] || apt_install "${missing[@]}"

    if [[ -x "$VENV/bin/uwsgi" && -x "$VENV/bin/glance-manage" ]] &&
        "$VENV/bin/python" -c "import importlib.metadata as m, sys; \
sys.exit(m.version('glance') != '$GLANCE_VERSION')" 2>/dev/null; then
        log "glance $GLANCE_VERSION and uwsgi already in $VENV"
        return
    fi
    local py
    py="$(pick_python)"
    log "creating $VENV with $py ($("$py" --version 2>&1))"
    mkdir -p "$(dirname "$VENV")"
    "$py" -m venv "$VENV"
    "$VENV/bin/pip" install -q --upgrade pip
    # uwsgi has no wheel: pip compiles it (gcc + the interpreter's headers and libpython).
    if ! "$VENV/bin/pip" install -q "glance==$GLANCE_VERSION" uwsgi; then
        log "pip install failed; trying again after installing build dependencies"
        apt_install gcc make libc6-dev python3-dev libpcre2-dev zlib1g-dev libssl-dev
        "$VENV/bin/pip" install -q "glance==$GLANCE_VERSION" uwsgi
    fi
    log "installed: $("$VENV/bin/pip" list 2>/dev/null | grep -iE '^(glance|uwsgi) ' | xargs)"
}

require_venv() {
    [[ -x "$VENV/bin/glance-manage" && -x "$VENV/bin/uwsgi" ]] ||
        die "no upstream venv at $VENV: run '$0 install' first"
}

create_service_user() {
    # Prints the password of a fresh Glance service user in the Identity service: user
    # $SERVICE_USER (Default domain) with the roles service and admin on project service,
    # as DevStack and onestack's own service users have.
    [[ -s "$ADMIN_PASSWORD_FILE" ]] || die "no admin password file $ADMIN_PASSWORD_FILE"
    "$VENV/bin/python" - "$IDENTITY" "$ADMIN_PASSWORD_FILE" "$SERVICE_USER" <<'EOF'
import json, secrets, sys, urllib.request
from urllib.error import HTTPError

identity, password_file, name = sys.argv[1:4]
admin_password = open(password_file).read().strip()

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
        "name": "admin", "domain": {"id": "default"}, "password": admin_password}}},
    "scope": {"project": {"name": "admin", "domain": {"id": "default"}}}}})
token = headers["X-Subject-Token"]

def find(kind, key, name):
    _, body = call("GET", f"/v3/{kind}?name={name}", token=token)
    items = body[kind]
    if not items:
        sys.exit(f"no {key} named {name!r} in the Identity service")
    return items[0]["id"]

project = find("projects", "project", "service")
password = secrets.token_urlsafe(18)
_, users = call("GET", f"/v3/users?name={name}&domain_id=default", token=token)
if users["users"]:
    call("PATCH", f"/v3/users/{users['users'][0]['id']}", {"user": {"password": password}},
         token=token)
    user = users["users"][0]["id"]
else:
    _, body = call("POST", "/v3/users", {"user": {
        "name": name, "domain_id": "default", "password": password,
        "default_project_id": project}}, token=token)
    user = body["user"]["id"]
for role in ("service", "admin"):
    call("PUT", f"/v3/projects/{project}/users/{user}/roles/{find('roles', 'role', role)}",
         token=token)
print(password)
EOF
}

write_conf() {
    local service_password="$1"
    cat >"$DIR/glance-api.conf" <<EOF
# Written by bench/upstream_glance.sh. Everything else is Glance's default.
[DEFAULT]
log_file = $DIR/glance-api.log
enabled_backends = file:file
worker_self_reference_url = $URL

[database]
connection = sqlite:///$DIR/glance.sqlite

[glance_store]
default_backend = file

[file]
filesystem_store_datadir = $DIR/images/

[os_glance_staging_store]
filesystem_store_datadir = $DIR/staging/

[os_glance_tasks_store]
filesystem_store_datadir = $DIR/tasks/

[keystone_authtoken]
www_authenticate_uri = $IDENTITY
auth_url = $IDENTITY
auth_type = password
user_domain_id = default
project_domain_id = default
project_name = service
username = $SERVICE_USER
password = $service_password

[paste_deploy]
flavor = keystone
config_file = $DIR/glance-api-paste.ini
EOF
    cp "$VENV/etc/glance/glance-api-paste.ini" "$DIR/glance-api-paste.ini"
}

running_pid() {
    [[ -f "$PIDFILE" ]] || return 1
    local pid
    pid="$(cat "$PIDFILE")"
    [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 1
    echo "$pid"
}

cmd_setup() {
    require_venv
    if running_pid >/dev/null; then die "a server is running from $DIR; stop it first"; fi
    case "$DIR" in
        "$REPO"|"$REPO"/*) die "refusing to put the data dir inside the repository: $DIR" ;;
    esac
    curl -fsS -o /dev/null "$IDENTITY/v3" || die "no Identity service answers at $IDENTITY/v3"
    rm -rf "$DIR"
    mkdir -p "$DIR/images" "$DIR/staging" "$DIR/tasks"
    local password
    password="$(create_service_user)"
    (umask 077 && write_conf "$password")
    log "setup in $DIR (auth: $SERVICE_USER at $IDENTITY)"
    PYTHONWARNINGS=ignore "$VENV/bin/glance-manage" --config-file "$DIR/glance-api.conf" \
        db_sync >"$DIR/db_sync.log" 2>&1 || { tail -20 "$DIR/db_sync.log" >&2; die "db_sync failed"; }
}

uwsgi_cmd() {
    # One process, one thread (the comparison of shared/BENCHMARKS.md), chunked request bodies
    # accepted and big headers allowed, as in DevStack's Glance. DevStack's --http-raw-body is
    # left out: with it uWSGI's router drops the kept-alive connection after every POST.
    UWSGI=("$VENV/bin/uwsgi" --http "$HOST:$PORT" --module glance.wsgi.api:application
        --processes 1 --threads 1 --enable-threads --http-keepalive --die-on-term --need-app
        --disable-logging --buffer-size 65535 --http-chunked-input --chunked-input-limit 4096000
        --virtualenv "$VENV")
}

serve_env() {
    export OS_GLANCE_CONFIG_DIR="$DIR"
    export PYTHONWARNINGS=ignore
}

cmd_run() {
    require_venv
    [[ -f "$DIR/glance-api.conf" ]] || die "no $DIR/glance-api.conf: run '$0 setup' first"
    uwsgi_cmd
    serve_env
    cd "$DIR"
    echo "$$" >"$PIDFILE"
    exec "${UWSGI[@]}"
}

cmd_start() {
    require_venv
    [[ -f "$DIR/glance-api.conf" ]] || die "no $DIR/glance-api.conf: run '$0 setup' first"
    local pid
    if pid="$(running_pid)"; then log "already running (pid $pid)"; echo "$pid"; return; fi
    if (exec 3<>"/dev/tcp/$HOST/$PORT") 2>/dev/null; then
        die "something already listens on $HOST:$PORT"
    fi
    uwsgi_cmd
    (
        serve_env
        cd "$DIR"
        exec setsid "${UWSGI[@]}" </dev/null >"$DIR/uwsgi.log" 2>&1
    ) &
    pid=$!
    echo "$pid" >"$PIDFILE"
    # Without a master, uwsgi's first process is worker 1 (it runs Glance); its child
    # "uWSGI http 1" is the HTTP router. Benchmarks count both (the process tree).
    local i
    for i in $(seq 1 1200); do  # 60 s, polled finely so start-up times are not rounded up
        if ! kill -0 "$pid" 2>/dev/null; then
            tail -20 "$DIR/uwsgi.log" >&2
            die "uwsgi exited; log in $DIR/uwsgi.log"
        fi
        # The version document (300 Multiple Choices) needs no token.
        if [[ "$(curl -sS -o /dev/null -w '%{http_code}' "$URL/" 2>/dev/null)" == 300 ]]; then
            log "glance $GLANCE_VERSION at $URL (pid $pid, log $DIR/uwsgi.log)"
            echo "$pid"
            return
        fi
        sleep 0.05
    done
    kill -TERM "$pid" 2>/dev/null || true
    die "uwsgi did not answer on $URL/ within 60 s; log in $DIR/uwsgi.log"
}

cmd_stop() {
    local pid i
    if ! pid="$(running_pid)"; then log "not running ($DIR)"; rm -f "$PIDFILE"; return; fi
    kill -TERM "$pid"
    for i in $(seq 1 40); do
        kill -0 "$pid" 2>/dev/null || { rm -f "$PIDFILE"; log "stopped pid $pid"; return; }
        sleep 0.25
    done
    log "pid $pid ignored SIGTERM; sending SIGKILL to its process group"
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" || true
    rm -f "$PIDFILE"
}

cmd_status() {
    local pid
    if pid="$(running_pid)"; then
        echo "running pid=$pid url=$URL dir=$DIR"
    else
        echo "not running (dir=$DIR)"
        return 1
    fi
}

cmd_env() {
    local pid=""
    pid="$(running_pid || true)"
    printf 'GLANCE_DIR=%q\nGLANCE_URL=%q\nGLANCE_PID=%q\n' "$DIR" "$URL" "$pid"
}

case "$CMD" in
    install) cmd_install ;;
    setup) cmd_setup ;;
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    run) cmd_run ;;
    env) cmd_env ;;
    up) cmd_install; cmd_setup; cmd_start ;;
    *) die "unknown command $CMD" ;;
esac
