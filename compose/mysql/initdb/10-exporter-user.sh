#!/bin/bash
# Creates the account mysqld-exporter uses, with the least privilege its collectors need:
# PROCESS (processlist, InnoDB status), REPLICATION CLIENT (binlog and replica status) and
# SELECT on performance_schema, nothing on any data. At most 3 connections.
# MariaDB 10.5 split REPLICATION CLIENT: it now means BINLOG MONITOR (and SHOW GRANTS prints that
# name), while SHOW REPLICA STATUS needs SLAVE MONITOR; without it the exporter's slave_status
# collector fails on every scrape. So SLAVE MONITOR is granted too where the server has it.
# Run once by the image's entrypoint on an empty data directory (official mariadb image or the
# local one in compose/images/mariadb), with MARIADB_ROOT_PASSWORD set and the server on its
# socket. The password comes from MYSQL_EXPORTER_PASSWORD_FILE (a compose secret). Root's
# password reaches the client through a pipe (--defaults-extra-file), never its command line.
set -euo pipefail

root_cnf() { printf '[client]\nuser=root\npassword=%s\n' "$MARIADB_ROOT_PASSWORD"; }
sql() { mariadb --defaults-extra-file=<(root_cnf) --protocol=socket "$@"; }

pw_file=${MYSQL_EXPORTER_PASSWORD_FILE:-/run/secrets/mysql-exporter-password}
[[ -r $pw_file ]] || { echo "10-exporter-user.sh: cannot read $pw_file" >&2; exit 1; }
pw=$(<"$pw_file")
[[ $pw =~ ^[A-Za-z0-9._-]{16,128}$ ]] || { echo "10-exporter-user.sh: unexpected password format in $pw_file" >&2; exit 1; }

sql <<SQL
CREATE USER IF NOT EXISTS 'exporter'@'%' IDENTIFIED BY '$pw' WITH MAX_USER_CONNECTIONS 3;
GRANT PROCESS, REPLICATION CLIENT ON *.* TO 'exporter'@'%';
GRANT SELECT ON performance_schema.* TO 'exporter'@'%';
SQL
if sql -e "GRANT SLAVE MONITOR ON *.* TO 'exporter'@'%'" 2>/dev/null; then
  echo "10-exporter-user.sh: SLAVE MONITOR granted (MariaDB >= 10.5: replica status)" >&2
fi
sql -e "FLUSH PRIVILEGES"
echo "10-exporter-user.sh: user exporter created (PROCESS, REPLICATION CLIENT, SELECT on performance_schema)" >&2
