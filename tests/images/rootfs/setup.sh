#!/bin/sh
# Post-debootstrap clean-up of the shared test-image root filesystem (run on the host,
# as root, with the rootfs directory as $1). Its content is part of the rootfs cache key.
set -eu
R=$1
[ -x "$R/usr/bin/python3" ] || { echo "setup.sh: $R is not a debootstrapped rootfs" >&2; exit 1; }

# No package manager runs in the images: drop its caches, the docs and the translations.
rm -rf "$R"/var/cache/apt/* "$R"/var/lib/apt/lists/* "$R"/var/cache/debconf/*-old \
  "$R"/usr/share/doc/* "$R"/usr/share/man/* "$R"/usr/share/info/* "$R"/usr/share/locale/* \
  "$R"/usr/share/i18n "$R"/usr/share/lintian "$R"/var/log/* "$R"/tmp/* "$R"/root/.cache
# Host specifics that debootstrap copied in; the runtime mounts its own.
rm -f "$R"/etc/resolv.conf "$R"/etc/hostname "$R"/etc/machine-id "$R"/var/lib/dbus/machine-id
: > "$R/etc/hostname"

# PostgreSQL's JIT (LLVM, ~150 MB with libz3 and the bitcode) is not needed by a test
# server: the postgres entrypoint runs with jit=off and postgres itself does not link LLVM.
rm -rf "$R"/usr/lib/postgresql/15/lib/llvmjit* "$R"/usr/lib/postgresql/15/lib/bitcode
rm -f "$R"/usr/lib/x86_64-linux-gnu/libLLVM-14.so* "$R"/usr/lib/llvm-14/lib/libLLVM* \
  "$R"/usr/lib/x86_64-linux-gnu/libz3.so*
# MariaDB's offline table tools (aria_*, myisam*, ...): ~50 MB the images never run.
for tool in aria_chk aria_dump_log aria_ftdump aria_pack aria_read_log myisamchk myisamlog \
  myisampack myisam_ftdump innochecksum mariadb-conv mariadb-plugin mariadb-slap mariadb-binlog \
  mysqlbinlog mysqlslap mariadb-import mysqlimport mariadb-tzinfo-to-sql mysql_tzinfo_to_sql; do
  rm -f "$R/usr/bin/$tool"
done

# The package scripts created a cluster and a datadir at install time; the entrypoints
# create their own (only when the data directory is empty), as the official images do.
rm -rf "$R"/var/lib/mysql/* "$R"/var/lib/postgresql/* "$R"/etc/postgresql/15/main \
  "$R"/var/lib/redis/*

# Directories the servers and stand-ins write to: writable by any uid (Kubernetes may run
# the image as an arbitrary uid; volumes mounted there bring their own ownership).
# (run/..., never var/run/...: /var/run is an absolute symlink that would lead to the host.)
for d in var/lib/mysql run/mysqld var/lib/postgresql run/postgresql data qdrant/storage \
  var/lib/redis var/log/mysql; do
  mkdir -p "$R/$d"
  chmod 0777 "$R/$d"
done
chmod 1777 "$R/tmp" "$R/run"
exit 0
