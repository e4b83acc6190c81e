#!/bin/sh
# docker-entrypoint.sh of localhost/genai-stack-test/redis (a TEST image): redis-server like
# the official `redis` image: port 6379 on every address, protected mode off, data in /data
# (the working directory), extra arguments passed on; REDIS_PASSWORD sets requirepass and
# REDIS_ARGS adds arguments. Started as root it drops to the redis user.
set -eu
case "${1:-redis-server}" in
  -*|*.conf) set -- redis-server "$@" ;;
esac
if [ "${1:-redis-server}" != redis-server ]; then exec "$@"; fi
[ $# -gt 0 ] && shift
if [ -n "${REDIS_PASSWORD:-}" ]; then set -- "$@" --requirepass "$REDIS_PASSWORD"; fi
# shellcheck disable=SC2086  # REDIS_ARGS is a list of words
if [ -n "${REDIS_ARGS:-}" ]; then set -- "$@" $REDIS_ARGS; fi
cd /data 2>/dev/null || cd /tmp
if [ "$(id -u)" = 0 ]; then
  find . \! -user redis -exec chown redis:redis {} + 2>/dev/null || true
  exec setpriv --reuid=redis --regid=redis --init-groups redis-server "$@"
fi
exec redis-server "$@"
