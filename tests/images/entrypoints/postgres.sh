#!/bin/sh
# docker-entrypoint.sh of localhost/genai-stack-test/postgres (a TEST image): PostgreSQL 15
# serving the official `postgres` image's contract.
#   POSTGRES_PASSWORD (needed to initialise unless POSTGRES_HOST_AUTH_METHOD=trust),
#   POSTGRES_USER (postgres), POSTGRES_DB (= user), POSTGRES_INITDB_ARGS,
#   POSTGRES_HOST_AUTH_METHOD (scram-sha-256; md5 also sets password_encryption=md5), each of
#   the first three also as *_FILE; PGDATA (/var/lib/postgresql/data), initialised only when
#   it holds no cluster; /docker-entrypoint-initdb.d/*.sql|.sh run once; port 5432 on every
#   address; socket in /var/run/postgresql (pg_isready works without arguments).
# Started as root it prepares PGDATA and drops to the postgres user; started as any other uid
# it runs as that uid (nss_wrapper gives an unnamed uid a passwd entry, as upstream does).
set -eu
log() { echo "$(date -u +%FT%TZ) [entrypoint] $*"; }
die() { log "error: $*" >&2; exit 1; }
file_env() {
  eval "val=\${$1:-}"; eval "file=\${$1_FILE:-}"
  if [ -n "$val" ] && [ -n "$file" ]; then die "both $1 and $1_FILE are set"; fi
  if [ -n "$file" ]; then export "$1=$(cat "$file")"; fi
}
for v in POSTGRES_PASSWORD POSTGRES_USER POSTGRES_DB POSTGRES_INITDB_ARGS; do file_env "$v"; done

case "${1:-postgres}" in
  -*) set -- postgres "$@" ;;
esac
case "${1:-postgres}" in
  postgres) [ $# -gt 0 ] && shift ;;
  *) exec "$@" ;;
esac

BIN=/usr/lib/postgresql/15/bin
export PGDATA="${PGDATA:-/var/lib/postgresql/data}"
POSTGRES_USER=${POSTGRES_USER:-postgres}
POSTGRES_DB=${POSTGRES_DB:-$POSTGRES_USER}
AUTH=${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}
SOCKDIR=/var/run/postgresql
RUN_AS=""
if [ "$(id -u)" = 0 ]; then
  mkdir -p "$PGDATA" "$SOCKDIR"
  find "$PGDATA" "$SOCKDIR" \! -user postgres -exec chown postgres:postgres {} + 2>/dev/null || true
  chmod 700 "$PGDATA"
  RUN_AS="setpriv --reuid=postgres --regid=postgres --init-groups"
else
  mkdir -p "$PGDATA" 2>/dev/null || true
  chmod 700 "$PGDATA" 2>/dev/null || true
  [ -w "$PGDATA" ] || die "$PGDATA is not writable by uid $(id -u) (mount a volume with fsGroup, or start as root)"
  mkdir -p "$SOCKDIR" 2>/dev/null || true
  if [ ! -w "$SOCKDIR" ]; then
    # /run is an empty tmpfs under some runtimes (not under Kubernetes, which keeps the image's).
    log "$SOCKDIR is not writable by uid $(id -u): socket in /tmp (pg_isready -h 127.0.0.1 or -h /tmp)"
    SOCKDIR=/tmp
  fi
  if [ "$(stat -c %u "$PGDATA")" != "$(id -u)" ]; then
    die "$PGDATA belongs to uid $(stat -c %u "$PGDATA"), not $(id -u): PostgreSQL needs its own directory; set PGDATA to a subdirectory of the volume (e.g. $PGDATA/pgdata)"
  fi
  if ! getent passwd "$(id -u)" >/dev/null 2>&1 && [ -e /usr/lib/x86_64-linux-gnu/libnss_wrapper.so ]; then
    NSS_WRAPPER_PASSWD=$(mktemp /tmp/nss_passwd.XXXXXX)
    NSS_WRAPPER_GROUP=$(mktemp /tmp/nss_group.XXXXXX)
    { cat /etc/passwd; echo "postgres:x:$(id -u):$(id -g):PostgreSQL:/var/lib/postgresql:/bin/sh"; } >"$NSS_WRAPPER_PASSWD"
    { cat /etc/group; getent group "$(id -g)" >/dev/null || echo "postgres:x:$(id -g):"; } >"$NSS_WRAPPER_GROUP"
    export NSS_WRAPPER_PASSWD NSS_WRAPPER_GROUP LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libnss_wrapper.so
  fi
fi

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  if [ -z "${POSTGRES_PASSWORD:-}" ] && [ "$AUTH" != trust ]; then
    echo "Error: Database is uninitialized and superuser password is not specified." >&2
    echo "       You must specify POSTGRES_PASSWORD to a non-empty value for the" >&2
    echo "       superuser. For example, \"-e POSTGRES_PASSWORD=password\" on \"docker run\"." >&2
    exit 1
  fi
  log "initialising $PGDATA"
  pwfile=$(mktemp /tmp/pgpw.XXXXXX)
  printf '%s\n' "${POSTGRES_PASSWORD:-}" >"$pwfile"
  [ "$(id -u)" = 0 ] && chown postgres "$pwfile"
  # shellcheck disable=SC2086  # POSTGRES_INITDB_ARGS is a list of words, as upstream
  $RUN_AS "$BIN/initdb" -D "$PGDATA" --username="$POSTGRES_USER" --pwfile="$pwfile" \
    --auth-local=trust --auth-host="$AUTH" ${POSTGRES_INITDB_ARGS:-} >/tmp/initdb.log 2>&1 \
    || { cat /tmp/initdb.log >&2; rm -f "$pwfile"; die "initdb failed"; }
  rm -f "$pwfile"
  printf '\nhost all all all %s\n' "$AUTH" >>"$PGDATA/pg_hba.conf"
  if [ "$AUTH" = md5 ]; then echo "password_encryption = md5" >>"$PGDATA/postgresql.conf"; fi
  # A temporary server on the socket only (no TCP: probes must not see it as ready).
  $RUN_AS "$BIN/pg_ctl" -D "$PGDATA" -o "-c listen_addresses='' -k $SOCKDIR -c jit=off" -w start >/tmp/pg-init.log 2>&1 \
    || { cat /tmp/pg-init.log >&2; die "temporary server did not start"; }
  psql() { $RUN_AS "$BIN/psql" -v ON_ERROR_STOP=1 -h "$SOCKDIR" -U "$POSTGRES_USER" -q "$@"; }
  if [ "$POSTGRES_DB" != postgres ]; then
    echo "CREATE DATABASE \"$POSTGRES_DB\";" | psql -d postgres
  fi
  for f in /docker-entrypoint-initdb.d/*; do
    [ -e "$f" ] || continue
    case "$f" in
      *.sh) log "running $f"
        # shellcheck disable=SC1090  # the init scripts are the user's
        . "$f" ;;
      *.sql) log "running $f"; psql -d "$POSTGRES_DB" -f "$f" ;;
      *.sql.gz) log "running $f"; gzip -dc "$f" | psql -d "$POSTGRES_DB" ;;
      *) log "ignoring $f" ;;
    esac
  done
  $RUN_AS "$BIN/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null
  log "initialised; starting the server"
fi
exec $RUN_AS "$BIN/postgres" -D "$PGDATA" -c listen_addresses='*' -c unix_socket_directories="$SOCKDIR" -c jit=off "$@"
