#!/usr/bin/env bash
# scripts/pg.sh -- a throwaway PostgreSQL 15 cluster for tests and benchmarks. It listens on a free
# loopback port only, uses trust auth and its own socket directory, and touches no other cluster.
#
#   scripts/pg.sh start [DIR]   creates the cluster in DIR (default: a new temp dir), starts it and
#                               prints its URL, postgres://postgres@127.0.0.1:PORT/tether, on
#                               stdout (also written to DIR/url). Progress goes to stderr.
#   scripts/pg.sh newdb URL     creates a new empty database on that cluster and prints its URL.
#   scripts/pg.sh stop DIR      stops the cluster (fast shutdown) and removes DIR.
#
# TETHER_PG_OPTS replaces the default extra server options ("-c fsync=off": test data is
# throwaway). As root the server programs run as the postgres user (initdb refuses root). Installs
# postgresql-15 from Debian when it is missing.
set -euo pipefail
PGBIN=/usr/lib/postgresql/15/bin

die() { echo "pg.sh: $*" >&2; exit 1; }

as_pg() { # runs a command as the cluster's owner
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

ensure_installed() {
  [ -x "$PGBIN/postgres" ] && command -v psql >/dev/null && return 0
  echo "pg.sh: installing postgresql-15" >&2
  local sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
    postgresql-15 postgresql-client-15 >/dev/null
  [ -x "$PGBIN/postgres" ] || die "postgresql-15 is not installed"
}

start() {
  ensure_installed
  local dir=${1:-}
  [ -n "$dir" ] || dir=$(mktemp -d "${TMPDIR:-/tmp}/tether-pg.XXXXXX")
  mkdir -p "$dir"
  [ "$(id -u)" = 0 ] && chown postgres "$dir"
  chmod 0700 "$dir"
  as_pg "$PGBIN/initdb" -D "$dir/data" -A trust -U postgres -E UTF8 --locale=C.UTF-8 -N \
    >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; die "initdb failed"; }
  local port="" try
  for try in 1 2 3 4 5 6 7 8; do
    local p=$(( 20000 + (RANDOM * 32768 + RANDOM) % 40000 ))
    # Skip ports something already listens on; postgres itself refuses a taken port anyway.
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && continue
    if as_pg "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 30 -o \
        "-c listen_addresses=127.0.0.1 -p $p -k $dir -c max_connections=200 ${TETHER_PG_OPTS:--c fsync=off}" \
        start >/dev/null 2>&1; then
      port=$p; break
    fi
  done
  [ -n "$port" ] || { tail -20 "$dir/log" >&2 || true; die "cannot start postgres"; }
  as_pg psql -h "$dir" -p "$port" -U postgres -qAt -c "CREATE DATABASE tether" >/dev/null
  local url="postgres://postgres@127.0.0.1:$port/tether"
  echo "$url" >"$dir/url"
  echo "pg.sh: cluster in $dir" >&2
  echo "$url"
}

newdb() {
  local url=${1:?usage: pg.sh newdb URL}
  local name="t_$(date +%s%N | tail -c 10)_$RANDOM"
  psql "$url" -qAt -c "CREATE DATABASE $name" >/dev/null
  echo "${url%/*}/$name"
}

stop() {
  local dir=${1:?usage: pg.sh stop DIR}
  [ -d "$dir/data" ] || die "no cluster in $dir"
  as_pg "$PGBIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 ||
    as_pg "$PGBIN/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}

case "${1:-}" in
  start) shift; start "$@" ;;
  newdb) shift; newdb "$@" ;;
  stop) shift; stop "$@" ;;
  *) echo "usage: scripts/pg.sh start [DIR] | newdb URL | stop DIR" >&2; exit 2 ;;
esac
