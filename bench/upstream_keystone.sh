#!/usr/bin/env bash
# Upstream Keystone 30 for side-by-side benchmarks (see shared/BENCHMARKS.md and bench/README.md).
#
#   bench/upstream_keystone.sh [options] COMMAND
#
# Commands:
#   install   create bench/.upstream/keystone-venv with keystone==30.0.0 and uwsgi (idempotent);
#             also installs Debian's wrk and a C compiler with apt-get when they are missing
#   setup     (re)create the data dir: keystone.conf, sqlite DB, fernet and credential key
#             repositories, bootstrap admin (password in DIR/admin-password)
#   start     serve with uwsgi in the background; waits until /v3 answers; prints the worker PID
#   stop      stop the uwsgi started by `start`
#   status    print PID and URL of a running server, exit 1 when none
#   run       serve with uwsgi in the foreground (exec)
#   up        install + setup + start
#   env       print DIR, URL, PID, PASSWORD as shell assignments (for scripts)
#
# Options (or the environment variables in brackets):
#   --cache on|off   [KEYSTONE_CACHE]  dogpile.cache.memory on (the comparison row) or off; default on
#   --port N         [KEYSTONE_PORT]   default 5000
#   --dir DIR        [KEYSTONE_BENCH_DIR] default ${TMPDIR:-/tmp}/onestack-bench/keystone-cache-$CACHE
#   --python PY      [PYTHON]          interpreter for the venv; default: the one behind the
#                                      project's .venv if there is one, else python3
#
# Nothing is written into the repository except the (gitignored) venv in bench/.upstream/.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
VENV="$HERE/.upstream/keystone-venv"
KEYSTONE_VERSION="30.0.0"
HOST="127.0.0.1"

CACHE="${KEYSTONE_CACHE:-on}"
PORT="${KEYSTONE_PORT:-5000}"
DIR="${KEYSTONE_BENCH_DIR:-}"
PY="${PYTHON:-}"

die() { echo "upstream_keystone: $*" >&2; exit 1; }
log() { echo "upstream_keystone: $*" >&2; }

while [[ $# -gt 0 ]]; do
    case "$1" in
        --cache) CACHE="$2"; shift 2 ;;
        --port) PORT="$2"; shift 2 ;;
        --dir) DIR="$2"; shift 2 ;;
        --python) PY="$2"; shift 2 ;;
        -h|--help) sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) die "unknown option $1" ;;
        *) break ;;
    esac
done
[[ $# -ge 1 ]] || die "missing COMMAND (install|setup|start|stop|status|run|up|env); see --help"
CMD="$1"
[[ "$CACHE" == on || "$CACHE" == off ]] || die "--cache must be on or off"
DIR="${DIR:-${TMPDIR:-/tmp}/onestack-bench/keystone-cache-$CACHE}"
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
    # apt_install PACKAGE...: only as root; 'apt-get update' first, once per call.
    [[ "$(id -u)" == 0 ]] || die "need root to apt-get install $*; install them by hand"
    log "apt-get install $*"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

cmd_install() {
    local missing=()
    command -v wrk >/dev/null || missing+=(wrk)
    command -v gcc >/dev/null || missing+=(gcc)
    command -v flock >/dev/null || missing+=(util-linux)
    [[ ${#missing[@]} -eq 0 ]] || apt_install "${missing[@]}"

    if [[ -x "$VENV/bin/uwsgi" && -x "$VENV/bin/keystone-manage" ]] &&
        "$VENV/bin/python" -c "import importlib.metadata as m, sys; \
sys.exit(m.version('keystone') != '$KEYSTONE_VERSION')" 2>/dev/null; then
        log "keystone $KEYSTONE_VERSION and uwsgi already in $VENV"
        return
    fi
    local py
    py="$(pick_python)"
    log "creating $VENV with $py ($("$py" --version 2>&1))"
    mkdir -p "$(dirname "$VENV")"
    "$py" -m venv "$VENV"
    "$VENV/bin/pip" install -q --upgrade pip
    # uwsgi has no wheel: pip compiles it (gcc + the interpreter's headers and libpython).
    if ! "$VENV/bin/pip" install -q "keystone==$KEYSTONE_VERSION" uwsgi; then
        log "pip install failed; trying again after installing build dependencies"
        apt_install gcc make libc6-dev python3-dev libpcre2-dev zlib1g-dev libssl-dev
        "$VENV/bin/pip" install -q "keystone==$KEYSTONE_VERSION" uwsgi
    fi
    log "installed: $("$VENV/bin/pip" list 2>/dev/null | grep -iE '^(keystone|uwsgi) ' | xargs)"
}

require_venv() {
    [[ -x "$VENV/bin/keystone-manage" && -x "$VENV/bin/uwsgi" ]] ||
        die "no upstream venv at $VENV: run '$0 install' first"
}

write_conf() {
    cat >"$DIR/keystone.conf" <<EOF
# Written by bench/upstream_keystone.sh (cache $CACHE). Everything else is Keystone's default.
[DEFAULT]
log_file = $DIR/keystone.log

[database]
connection = sqlite:///$DIR/keystone.db

[token]
provider = fernet

[fernet_tokens]
key_repository = $DIR/fernet-keys

[fernet_receipts]
key_repository = $DIR/fernet-keys

[credential]
key_repository = $DIR/credential-keys

[cache]
enabled = $([[ "$CACHE" == on ]] && echo true || echo false)
backend = dogpile.cache.memory
EOF
}

manage() {
    # keystone-manage imports eventlet, which prints a deprecation warning on every run.
    PYTHONWARNINGS=ignore "$VENV/bin/keystone-manage" --config-file "$DIR/keystone.conf" "$@"
}

running_pid() {
    # Prints the PID from the pid file if that process is alive.
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
    rm -rf "$DIR"
    mkdir -p "$DIR"
    write_conf
    local password
    password="$("$VENV/bin/python" -c 'import secrets; print(secrets.token_urlsafe(18))')"
    (umask 077 && echo "$password" >"$DIR/admin-password")
    log "setup in $DIR (cache $CACHE)"
    manage db_sync
    manage fernet_setup --keystone-user root --keystone-group root
    manage credential_setup --keystone-user root --keystone-group root
    manage bootstrap --bootstrap-password "$password" \
        --bootstrap-username admin --bootstrap-project-name admin \
        --bootstrap-role-name admin --bootstrap-region-id RegionOne \
        --bootstrap-admin-url "$URL/v3" --bootstrap-public-url "$URL/v3" \
        --bootstrap-internal-url "$URL/v3"
    log "admin password in $DIR/admin-password"
}

uwsgi_cmd() {
    # The command of shared/BENCHMARKS.md; --virtualenv only tells the embedded interpreter
    # where the venv is (uwsgi was linked against the base interpreter's libpython).
    UWSGI=("$VENV/bin/uwsgi" --http "$HOST:$PORT" --module keystone.wsgi.api:application
        --processes 1 --threads 1 --http-keepalive --die-on-term --need-app --disable-logging
        --virtualenv "$VENV")
}

serve_env() {
    export OS_KEYSTONE_CONFIG_DIR="$DIR"
    export OS_KEYSTONE_CONFIG_FILES="keystone.conf"
    export PYTHONWARNINGS=ignore
}

cmd_run() {
    require_venv
    [[ -f "$DIR/keystone.conf" ]] || die "no $DIR/keystone.conf: run '$0 setup' first"
    uwsgi_cmd
    serve_env
    cd "$DIR"
    echo "$$" >"$PIDFILE"
    exec "${UWSGI[@]}"
}

cmd_start() {
    require_venv
    [[ -f "$DIR/keystone.conf" ]] || die "no $DIR/keystone.conf: run '$0 setup' first"
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
    # Without a master, uwsgi's first process is worker 1 (it runs keystone); its child
    # "uWSGI http 1" is the HTTP router. Benchmarks count the CPU of both (the process tree).
    local i
    for i in $(seq 1 1200); do  # 60 s, polled finely so start-up times are not rounded up
        if ! kill -0 "$pid" 2>/dev/null; then
            tail -20 "$DIR/uwsgi.log" >&2
            die "uwsgi exited; log in $DIR/uwsgi.log"
        fi
        if curl -fsS -o /dev/null "$URL/v3" 2>/dev/null; then
            log "keystone $KEYSTONE_VERSION at $URL (pid $pid, cache $CACHE, log $DIR/uwsgi.log)"
            echo "$pid"
            return
        fi
        sleep 0.05
    done
    kill -TERM "$pid" 2>/dev/null || true
    die "uwsgi did not answer on $URL/v3 within 60 s; log in $DIR/uwsgi.log"
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
        echo "running pid=$pid url=$URL dir=$DIR cache=$CACHE"
    else
        echo "not running (dir=$DIR)"
        return 1
    fi
}

cmd_env() {
    local pid=""
    pid="$(running_pid || true)"
    printf 'KEYSTONE_DIR=%q\nKEYSTONE_URL=%q\nKEYSTONE_PID=%q\nKEYSTONE_PASSWORD_FILE=%q\n' \
        "$DIR" "$URL" "$pid" "$DIR/admin-password"
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
