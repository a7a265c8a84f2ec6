#!/usr/bin/env bash
# Make sure a MariaDB server answers on 127.0.0.1:3306 (root, empty password, database `test`).
# Starts it if it is installed but down; installs it from Debian's packages if it is missing.
set -euo pipefail

ping_db() { mysqladmin --protocol=tcp -h 127.0.0.1 -P 3306 -uroot ping >/dev/null 2>&1; }

if ping_db; then
  echo "MariaDB is up on 127.0.0.1:3306"
else
  if [ ! -x /usr/sbin/mariadbd ]; then
    echo "MariaDB is not installed; installing mariadb-server from Debian's packages" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mariadb-server mariadb-client >/dev/null
  fi
  echo "Starting MariaDB" >&2
  mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld 2>/dev/null || true
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd -- --user=mysql || true
  for _ in $(seq 1 60); do
    ping_db && break
    sleep 1
  done
  if ! ping_db; then
    echo "ERROR: MariaDB did not come up on 127.0.0.1:3306; the MariaDB half of the suite cannot run." >&2
    exit 1
  fi
fi
mysql --protocol=tcp -h 127.0.0.1 -P 3306 -uroot -e "CREATE DATABASE IF NOT EXISTS test CHARACTER SET utf8mb4"
