#!/bin/bash
# Creates the trip services' schemas and accounts (svc_user .. svc_nearspot, each with grants on
# its own schema only) by running services/db/init.sql, mounted at /etc/trip/services-db, with
# each account's password set first as a session variable (@svc_<name>_password) from its
# compose secret /run/secrets/mysql-svc-<name>-password. Everything, root's password included,
# reaches the client on stdin or through a pipe, never on a command line.
# Run once by the image's entrypoint on an empty data directory, like 10-exporter-user.sh. The
# services then run their own migrations (tables) at start.
set -euo pipefail

init_sql=${TRIP_SERVICES_INIT_SQL:-/etc/trip/services-db/init.sql}
[[ -r $init_sql ]] || { echo "20-services.sh: cannot read $init_sql (is services/db mounted?)" >&2; exit 1; }

root_cnf() { printf '[client]\nuser=root\npassword=%s\n' "$MARIADB_ROOT_PASSWORD"; }
variables() {
  local s f pw
  for s in user place review bookmark nearspot; do
    f=/run/secrets/mysql-svc-$s-password
    [[ -r $f ]] || { echo "20-services.sh: cannot read $f" >&2; return 1; }
    pw=$(<"$f")
    [[ $pw =~ ^[A-Za-z0-9._-]{16,128}$ ]] || { echo "20-services.sh: unexpected password format in $f" >&2; return 1; }
    printf "SET @svc_%s_password = '%s';\n" "$s" "$pw"
  done
}

vars=$(variables)
{ printf '%s\n' "$vars"; cat "$init_sql"; } | mariadb --defaults-extra-file=<(root_cnf) --protocol=socket
echo "20-services.sh: schemas and accounts of user, place, review, bookmark, nearspot created ($init_sql)" >&2
