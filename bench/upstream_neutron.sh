#!/usr/bin/env bash
# Upstream neutron-server for the side-by-side Networking benchmark (bench/network.py).
#
#   bench/upstream_neutron.sh start   # install (first time), configure, migrate, serve :19696
#   bench/upstream_neutron.sh pid     # the API worker's pid (for --pid)
#   bench/upstream_neutron.sh stop
#
# neutron 29 into bench/.upstream/neutron (gitignored), ML2 with the fake_agent mechanism
# driver, vxlan tenant networks, flat/vlan on physnet public, the L3 router plugin, noauth,
# the local MariaDB (database neutron_bench, root without a password) and the local RabbitMQ;
# its WSGI app (neutron.wsgi.api) served by gunicorn with one sync worker and one thread.
# State, config and logs in ${TMPDIR:-/tmp}/neutron-bench.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
VENV=$HERE/.upstream/neutron
WORK=${TMPDIR:-/tmp}/neutron-bench
PORT=${PORT:-19696}

install() {
    [ -x "$VENV/bin/gunicorn" ] && return
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q neutron pymysql gunicorn
}

configure() {
    mkdir -p "$WORK/state" "$WORK/lock"
    cp "$VENV/etc/neutron/api-paste.ini" "$WORK/"
    cat > "$WORK/neutron.conf" <<CONF
[DEFAULT]
api_paste_config = $WORK/api-paste.ini
core_plugin = ml2
service_plugins = router
auth_strategy = noauth
api_workers = 1
rpc_workers = 0
rpc_state_report_workers = 0
transport_url = rabbit://guest:guest@127.0.0.1:5672/
state_path = $WORK/state
notify_nova_on_port_status_changes = false
notify_nova_on_port_data_changes = false

[database]
connection = mysql+pymysql://root@127.0.0.1/neutron_bench

[oslo_concurrency]
lock_path = $WORK/lock

[quotas]
quota_port = -1
quota_security_group_rule = -1
quota_network = -1
quota_subnet = -1
CONF
    cat > "$WORK/ml2_conf.ini" <<CONF
[ml2]
type_drivers = flat,vlan,vxlan
tenant_network_types = vxlan
mechanism_drivers = fake_agent
extension_drivers = port_security

[ml2_type_flat]
flat_networks = public

[ml2_type_vlan]
network_vlan_ranges = public

[ml2_type_vxlan]
vni_ranges = 1:1000
CONF
    # oslo.config reads sys.argv: the app module gunicorn imports clears it first
    printf 'import sys\n\nsys.argv = ["neutron-api"]\nfrom neutron.wsgi.api import application  # noqa\n' \
        > "$WORK/app.py"
    mysql -h 127.0.0.1 -u root -e \
        "DROP DATABASE IF EXISTS neutron_bench; CREATE DATABASE neutron_bench CHARACTER SET utf8mb4"
    "$VENV/bin/neutron-db-manage" --config-file "$WORK/neutron.conf" \
        --config-file "$WORK/ml2_conf.ini" upgrade heads > "$WORK/db-manage.log" 2>&1
}

case "${1:-start}" in
start)
    install
    configure
    OS_NEUTRON_CONFIG_DIR=$WORK OS_NEUTRON_CONFIG_FILES="neutron.conf;ml2_conf.ini" \
        setsid "$VENV/bin/gunicorn" --bind "127.0.0.1:$PORT" --workers 1 --threads 1 \
        --worker-class sync --timeout 600 --chdir "$WORK" app:application \
        > "$WORK/server.log" 2>&1 < /dev/null &
    echo $! > "$WORK/server.pid"
    for _ in $(seq 1 120); do
        curl -sf -m 5 "http://127.0.0.1:$PORT/" > /dev/null && { echo "neutron on :$PORT"; exit 0; }
        sleep 1
    done
    echo "neutron did not start; see $WORK/server.log" >&2
    exit 1
    ;;
pid) pgrep -P "$(cat "$WORK/server.pid")" | head -1 ;;
stop) kill "$(cat "$WORK/server.pid")" 2>/dev/null || true ;;
*) echo "usage: $0 start|pid|stop" >&2; exit 2 ;;
esac
