#!/bin/sh
# docker-entrypoint.sh of localhost/genai-stack-test/mysql (a TEST image): MariaDB serving
# the official `mysql` image's contract.
#   MYSQL_ROOT_PASSWORD | MYSQL_ALLOW_EMPTY_PASSWORD | MYSQL_RANDOM_ROOT_PASSWORD (one needed
#   to initialise), MYSQL_ROOT_HOST (default %), MYSQL_DATABASE, MYSQL_USER + MYSQL_PASSWORD,
#   each also as *_FILE and with the MARIADB_ prefix; /docker-entrypoint-initdb.d/*.sql|.sh
#   run once; data in /var/lib/mysql, initialised only when it holds no database yet;
#   port 3306 on every address; socket /run/mysqld/mysqld.sock (mysqladmin ping works).
# Started as root it prepares the directories and drops to the mysql user; started as any
# other uid (Kubernetes runAsUser, OpenShift) it runs as that uid if the directories are
# writable (fsGroup volumes are).
set -eu
log() { echo "$(date -u +%FT%TZ) [entrypoint] $*"; }
die() { log "error: $*" >&2; exit 1; }

# file_env VAR: VAR from VAR, VAR_FILE, MARIADB_VAR or MARIADB_VAR_FILE (mysql names win).
file_env() {
  var=$1 alt=MARIADB_${1#MYSQL_}
  for name in "$var" "$alt"; do
    eval "val=\${$name:-}" ; eval "file=\${${name}_FILE:-}"
    if [ -n "$val" ] && [ -n "$file" ]; then die "both $name and ${name}_FILE are set"; fi
    if [ -n "$file" ]; then val=$(cat "$file"); fi
    if [ -n "$val" ]; then export "$var=$val"; return 0; fi
  done
}
for v in MYSQL_ROOT_PASSWORD MYSQL_ALLOW_EMPTY_PASSWORD MYSQL_RANDOM_ROOT_PASSWORD MYSQL_ROOT_HOST \
         MYSQL_DATABASE MYSQL_USER MYSQL_PASSWORD; do file_env "$v"; done

# Arguments: options go to the server; any other command runs as is (e.g. `bash`).
case "${1:-mysqld}" in
  -*) set -- mysqld "$@" ;;
esac
case "${1:-mysqld}" in
  mysqld|mariadbd) [ $# -gt 0 ] && shift ;;
  *) exec "$@" ;;
esac

DATADIR=/var/lib/mysql
SOCKET=/run/mysqld/mysqld.sock
RUN_AS=""
if [ "$(id -u)" = 0 ]; then
  mkdir -p "$DATADIR" /run/mysqld
  # Only chown what is not the mysql user's yet: a big restored datadir stays untouched.
  find "$DATADIR" /run/mysqld \! -user mysql -exec chown mysql:mysql {} + 2>/dev/null || true
  RUN_AS="setpriv --reuid=mysql --regid=mysql --init-groups"
else
  [ -w "$DATADIR" ] || die "$DATADIR is not writable by uid $(id -u) gid $(id -g) (mount a volume there with fsGroup, or start as root)"
  mkdir -p /run/mysqld 2>/dev/null || true
  if [ ! -w /run/mysqld ]; then
    # /run is an empty tmpfs under some runtimes (not under Kubernetes, which keeps the image's).
    SOCKET=/tmp/mysqld.sock
    log "/run/mysqld is not writable by uid $(id -u): socket at $SOCKET (use mysqladmin -h 127.0.0.1 or --socket)"
  fi
fi
sql_quote() { printf '%s' "$1" | sed "s/'/''/g"; }
# shellcheck disable=SC2016  # the backquotes are SQL, not shell
ident_quote() { printf '%s' "$1" | sed 's/`/``/g'; }

if [ ! -d "$DATADIR/mysql" ]; then
  if [ -z "${MYSQL_ROOT_PASSWORD:-}" ] && [ -z "${MYSQL_ALLOW_EMPTY_PASSWORD:-}" ] && [ -z "${MYSQL_RANDOM_ROOT_PASSWORD:-}" ]; then
    echo "error: database is uninitialized and password option is not specified" >&2
    echo "  You need to specify one of MYSQL_ROOT_PASSWORD, MYSQL_ALLOW_EMPTY_PASSWORD and MYSQL_RANDOM_ROOT_PASSWORD" >&2
    exit 1
  fi
  if [ -n "${MYSQL_RANDOM_ROOT_PASSWORD:-}" ] && [ -z "${MYSQL_ROOT_PASSWORD:-}" ]; then
    MYSQL_ROOT_PASSWORD=$(tr -dc 'A-Za-z0-9' </dev/urandom | head -c 32)
    echo "GENERATED ROOT PASSWORD: $MYSQL_ROOT_PASSWORD"
  fi
  log "initialising database files in $DATADIR"
  $RUN_AS mariadb-install-db --datadir="$DATADIR" --skip-test-db --auth-root-authentication-method=normal \
    --skip-name-resolve >/tmp/mysql-install.log 2>&1 || { cat /tmp/mysql-install.log >&2; false; } || die "mariadb-install-db failed"

  # A temporary server on the socket only (no TCP: probes must not see it as ready).
  $RUN_AS mariadbd --datadir="$DATADIR" --socket="$SOCKET" --skip-networking --skip-name-resolve \
    --pid-file="${SOCKET%.sock}-init.pid" >/tmp/mysql-init.log 2>&1 &
  pid=$!
  i=0
  until mariadb-admin --socket="$SOCKET" -uroot ping >/dev/null 2>&1; do
    i=$((i + 1))
    kill -0 "$pid" 2>/dev/null || { cat /tmp/mysql-init.log >&2; die "temporary server died"; }
    [ $i -lt 60 ] || die "temporary server did not start in 60s"
    sleep 1
  done
  root_pw=$(sql_quote "${MYSQL_ROOT_PASSWORD:-}")
  root_host=$(sql_quote "${MYSQL_ROOT_HOST:-%}")
  {
    echo "SET @@SESSION.SQL_LOG_BIN=0;"
    echo "DELETE FROM mysql.global_priv WHERE User='' OR (User='root' AND Host<>'localhost');"
    echo "FLUSH PRIVILEGES;"
    echo "ALTER USER 'root'@'localhost' IDENTIFIED BY '$root_pw';"
    if [ "$root_host" != localhost ]; then
      echo "CREATE USER 'root'@'$root_host' IDENTIFIED BY '$root_pw';"
      echo "GRANT ALL ON *.* TO 'root'@'$root_host' WITH GRANT OPTION;"
    fi
    if [ -n "${MYSQL_DATABASE:-}" ]; then
      echo "CREATE DATABASE IF NOT EXISTS \`$(ident_quote "$MYSQL_DATABASE")\`;"
    fi
    if [ -n "${MYSQL_USER:-}" ] && [ -n "${MYSQL_PASSWORD:-}" ]; then
      echo "CREATE USER '$(sql_quote "$MYSQL_USER")'@'%' IDENTIFIED BY '$(sql_quote "$MYSQL_PASSWORD")';"
      if [ -n "${MYSQL_DATABASE:-}" ]; then
        echo "GRANT ALL ON \`$(ident_quote "$MYSQL_DATABASE")\`.* TO '$(sql_quote "$MYSQL_USER")'@'%';"
      fi
    fi
    echo "FLUSH PRIVILEGES;"
  } | mariadb --socket="$SOCKET" -uroot || die "initial SQL failed"
  export MYSQL_PWD="${MYSQL_ROOT_PASSWORD:-}"
  for f in /docker-entrypoint-initdb.d/*; do
    [ -e "$f" ] || continue
    case "$f" in
      *.sh) log "running $f"
        # shellcheck disable=SC1090  # the init scripts are the user's
        . "$f" ;;
      *.sql) log "running $f"; mariadb --socket="$SOCKET" -uroot ${MYSQL_DATABASE:+"$MYSQL_DATABASE"} <"$f" ;;
      *.sql.gz) log "running $f"; gzip -dc "$f" | mariadb --socket="$SOCKET" -uroot ${MYSQL_DATABASE:+"$MYSQL_DATABASE"} ;;
      *) log "ignoring $f" ;;
    esac
  done
  unset MYSQL_PWD
  kill "$pid"
  wait "$pid" || true
  log "initialised; starting the server"
fi
exec $RUN_AS mariadbd --datadir="$DATADIR" --bind-address=0.0.0.0 --port=3306 --socket="$SOCKET" \
  --skip-name-resolve --character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci "$@"
