#!/bin/bash
# Entry point of the locally built MariaDB image: the subset of the official image's contract
# that the trip-msa stack uses. On an empty data directory it initialises the database, sets the
# root password from MARIADB_ROOT_PASSWORD or MARIADB_ROOT_PASSWORD_FILE, runs every *.sh and
# *.sql in /docker-entrypoint-initdb.d against a server that listens on no TCP port, then starts
# the real server in the foreground.
set -euo pipefail

log() { printf '%s [entrypoint] %s\n' "$(date -u +%FT%TZ)" "$*" >&2; }

if [[ -n ${MARIADB_ROOT_PASSWORD_FILE:-} ]]; then
  MARIADB_ROOT_PASSWORD=$(<"$MARIADB_ROOT_PASSWORD_FILE")
fi
export MARIADB_ROOT_PASSWORD=${MARIADB_ROOT_PASSWORD:-}

datadir=/var/lib/mysql
socket=/run/mysqld/mysqld.sock

if [[ ${1:-} == mariadbd && ! -d $datadir/mysql ]]; then
  [[ -n $MARIADB_ROOT_PASSWORD ]] || { log "MARIADB_ROOT_PASSWORD or MARIADB_ROOT_PASSWORD_FILE is required"; exit 1; }
  log "initialising $datadir"
  mariadb-install-db --datadir="$datadir" --skip-test-db --auth-root-authentication-method=normal \
    --skip-name-resolve >/dev/null
  mariadbd --skip-networking --socket="$socket" --datadir="$datadir" &
  pid=$!
  for _ in $(seq 1 60); do
    mariadb-admin --socket="$socket" -uroot ping >/dev/null 2>&1 && break
    sleep 0.5
  done
  # Root may log in only from inside the container (socket or loopback), with the password.
  mariadb --socket="$socket" -uroot <<SQL
DELETE FROM mysql.global_priv WHERE User='' OR (User='root' AND Host NOT IN ('localhost'));
ALTER USER 'root'@'localhost' IDENTIFIED BY '${MARIADB_ROOT_PASSWORD//\'/\'\'}';
FLUSH PRIVILEGES;
SQL
  # Root's password reaches the clients through a pipe, never their command line (ps shows it).
  root_cnf() { printf '[client]\nuser=root\npassword=%s\n' "$MARIADB_ROOT_PASSWORD"; }
  for f in /docker-entrypoint-initdb.d/*; do
    case $f in
      *.sh) log "running $f"; bash "$f" ;;
      *.sql) log "running $f"; mariadb --defaults-extra-file=<(root_cnf) --socket="$socket" <"$f" ;;
      *) ;;
    esac
  done
  mariadb-admin --defaults-extra-file=<(root_cnf) --socket="$socket" shutdown
  wait "$pid" || true
  log "initialisation done"
fi

exec "$@"
