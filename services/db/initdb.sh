#!/bin/bash
# Runs services/db/init.sql once on an empty data directory, from the MariaDB image's
# /docker-entrypoint-initdb.d/ (server on its socket, MARIADB_ROOT_PASSWORD set). The five
# passwords come from files, SVC_PASSWORD_DIR/svc-<name>-password (default /run/secrets), and
# reach the server on stdin, never on a command line. init.sql is read from SVC_INIT_SQL
# (default /etc/trip/services-init.sql).
set -euo pipefail

dir=${SVC_PASSWORD_DIR:-/run/secrets}
sql=${SVC_INIT_SQL:-/etc/trip/services-init.sql}
[[ -r $sql ]] || { echo "initdb.sh: cannot read $sql" >&2; exit 1; }
{
  for name in user place review bookmark nearspot; do
    f=$dir/svc-$name-password
    [[ -r $f ]] || { echo "initdb.sh: cannot read $f" >&2; exit 1; }
    pw=$(head -n1 "$f")
    [[ $pw =~ ^[A-Za-z0-9._-]{16,128}$ ]] || { echo "initdb.sh: unexpected password format in $f" >&2; exit 1; }
    printf "SET @svc_%s_password = '%s';\n" "$name" "$pw"
  done
  cat "$sql"
} | MYSQL_PWD=$MARIADB_ROOT_PASSWORD mariadb --protocol=socket -uroot
echo "initdb.sh: trip service schemas and users created" >&2
