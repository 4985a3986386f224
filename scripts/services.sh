#!/usr/bin/env bash
# Make sure PostgreSQL, MariaDB and RabbitMQ run locally (installing them from Debian's packages
# if missing), for the test runs on those backends. Idempotent; needs root to install or start.
set -euo pipefail

need=()
command -v pg_ctlcluster >/dev/null || need+=(postgresql)
command -v mariadbd >/dev/null || [ -x /usr/sbin/mariadbd ] || need+=(mariadb-server)
command -v rabbitmq-server >/dev/null || [ -x /usr/sbin/rabbitmq-server ] || need+=(rabbitmq-server)
if [ ${#need[@]} -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${need[@]}" >/dev/null
fi

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_port() {
    for _ in $(seq 1 120); do port_open "$1" && return 0; sleep 0.5; done
    echo "$2 did not start (port $1)" >&2; return 1
}

if ! port_open 5432; then
    for v in /etc/postgresql/*; do
        pg_ctlcluster --skip-systemctl-redirect "$(basename "$v")" main start || true
    done
    wait_port 5432 PostgreSQL
fi
# tests connect as postgres over TCP without a password
if ! psql -h 127.0.0.1 -U postgres -c 'select 1' >/dev/null 2>&1; then
    hba=$(ls /etc/postgresql/*/main/pg_hba.conf | head -1)
    sed -i '1i host all all 127.0.0.1/32 trust' "$hba"
    for v in /etc/postgresql/*; do pg_ctlcluster "$(basename "$v")" main reload || true; done
fi

if ! port_open 3306; then
    mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld 2>/dev/null || true
    start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
    wait_port 3306 MariaDB
fi
mariadb -uroot -e 'CREATE DATABASE IF NOT EXISTS test' 2>/dev/null || true

if ! port_open 5672; then
    rabbitmq-server -detached
    wait_port 5672 RabbitMQ
fi
echo "PostgreSQL, MariaDB and RabbitMQ are running"
