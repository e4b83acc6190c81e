#!/bin/sh
# Test image: redis-server on 6379 with data in /data; REDIS_PASSWORD sets requirepass.
set -eu
mkdir -p /data 2>/dev/null || true
if [ -n "${REDIS_PASSWORD:-}" ]; then
  set -- --requirepass "$REDIS_PASSWORD" "$@"
fi
exec redis-server --bind 0.0.0.0 --protected-mode no --dir /data --save 60 1 --appendonly no "$@"
