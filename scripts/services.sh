#!/usr/bin/env bash
# Private test services for this checkout: PostgreSQL, Redis and OpenLDAP on 127.0.0.1 only,
# plus Debian's Chromium for the browser tests (DESIGN.md: tests/integration uses real
# PostgreSQL, Redis, LDAP).
#
#   scripts/services.sh          install what is missing, start what is not running,
#                                write var/services/env.sh (idempotent, ~0.1 s when all is up)
#   scripts/services.sh stop     stop the three servers (data is kept)
#   scripts/services.sh status   say what is running
#
# Everything lives under var/services/ (data, logs, pid files, configs). The instances are
# for tests only: PostgreSQL trusts loopback connections, fsync is off, Redis keeps nothing
# on disk. Never point production at them (docs/operations.md says how to run a node).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SV="$ROOT/var/services"
PG_PORT=${IDP_TEST_PG_PORT:-55432}
REDIS_PORT=${IDP_TEST_REDIS_PORT:-56379}
LDAP_PORT=${IDP_TEST_LDAP_PORT:-53389}
LDAP_BASE="dc=gov,dc=test"
LDAP_ADMIN="cn=admin,$LDAP_BASE"
LDAP_PASSWORD="idp-test-ldap-admin"   # a throwaway test instance on loopback
CHROMIUM=/usr/bin/chromium

log() { printf 'services: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"
    elif command -v sudo >/dev/null; then sudo "$@"
    else die "need root to run: $*"; fi
}

# ---------------------------------------------------------------- install (only what is missing)

pg_bindir() {
    local d
    d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    [ -n "$d" ] && [ -x "$d/initdb" ] && echo "$d"
}

missing_packages() {
    local pkgs=()
    pg_bindir >/dev/null || pkgs+=(postgresql)
    command -v redis-server >/dev/null || pkgs+=(redis-server)
    [ -x /usr/sbin/slapd ] || pkgs+=(slapd)
    command -v ldapadd >/dev/null || pkgs+=(ldap-utils)
    [ -x "$CHROMIUM" ] || pkgs+=(chromium)
    [ -e /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc ] || pkgs+=(fonts-noto-cjk)  # Chinese in browser screenshots
    [ -x /usr/sbin/nginx ] || pkgs+=(nginx)  # tests/gateway: the legacy gateway under a real nginx
    command -v node >/dev/null || pkgs+=(nodejs)  # tests/connectors: connectors/node (needs node >= 20)
    command -v npm >/dev/null || pkgs+=(npm)
    command -v wrk >/dev/null || pkgs+=(wrk)  # bench/wrk.py (make bench) and tests/unit/test_bench_wrk.py
    echo "${pkgs[@]}"
}

install_missing() {
    local pkgs
    pkgs=$(missing_packages)
    [ -z "$pkgs" ] && return 0
    log "installing: $pkgs"
    # slapd: configure nothing system-wide (no /etc/ldap/slapd.d database, no daemon on :389);
    # our own instance below has its own config.
    as_root debconf-set-selections <<'EOF'
slapd slapd/no_configuration boolean true
slapd slapd/password1 password
slapd slapd/password2 password
EOF
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
    # shellcheck disable=SC2086
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $pkgs
}

# ---------------------------------------------------------------- helpers

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() {  # wait_port PORT NAME LOGFILE
    local i
    for i in $(seq 1 100); do
        port_open "$1" && return 0
        sleep 0.1
    done
    [ -f "$3" ] && tail -n 20 "$3" >&2
    die "$2 did not start on 127.0.0.1:$1"
}

# A pid file left by a server that died with the machine: remove it unless its pid is alive
# and really is that program (after a restart the pid may belong to something else).
clear_stale_pid() {  # clear_stale_pid FILE PROGRAM
    local pid
    [ -f "$1" ] || return 0
    pid=$(head -n 1 "$1" 2>/dev/null || true)
    if [ -n "$pid" ] && [ -r "/proc/$pid/comm" ] && grep -q "$2" "/proc/$pid/comm"; then
        return 0
    fi
    log "removing stale pid file $1"
    rm -f "$1"
}

# ---------------------------------------------------------------- PostgreSQL

# postgres refuses to run as root: as root, run it as the `postgres` system user (created by
# the package). That user must reach the data directory; a checkout under a private home
# (e.g. /root) is not reachable, so the cluster then lives under /var/tmp, linked from var/.
pg_user() { [ "$(id -u)" -eq 0 ] && echo postgres || id -un; }

as_pg() {
    if [ "$(id -u)" -eq 0 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}

pg_datadir() {  # prints the real path (postgres may not traverse a symlink's directory)
    if [ -L "$SV/pg" ] || [ -d "$SV/pg" ]; then readlink -f "$SV/pg"; return; fi
    if as_pg test -x "$SV"; then
        as_root install -d -o "$(pg_user)" -m 700 "$SV/pg"
    else
        local ext
        ext="/var/tmp/idp-test-services/$(printf '%s' "$ROOT" | cksum | cut -d' ' -f1)/pg"
        log "postgres cannot reach $SV; keeping its cluster in $ext"
        mkdir -p "$(dirname "$ext")"
        install -d -o "$(pg_user)" -m 700 "$ext"
        ln -sfn "$ext" "$SV/pg"
    fi
    readlink -f "$SV/pg"
}

start_postgres() {
    local bin data
    bin=$(pg_bindir) || die "PostgreSQL is not installed"
    if port_open "$PG_PORT"; then return 0; fi
    data=$(pg_datadir)
    if [ ! -f "$data/PG_VERSION" ]; then
        log "creating PostgreSQL cluster in $data"
        as_pg "$bin/initdb" -D "$data" -U postgres --auth=trust --encoding=UTF8 \
            --locale=C.UTF-8 --no-sync >/dev/null
        # Test instance: loopback only, no unix socket (no /var/run permissions needed),
        # durability traded for speed (a crash loses test data only).
        as_pg tee -a "$data/postgresql.conf" >/dev/null <<EOF

# --- idp test instance (scripts/services.sh) ---
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = ''
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
shared_buffers = 128MB
log_min_messages = warning
EOF
    fi
    clear_stale_pid "$data/postmaster.pid" postgres
    log "starting PostgreSQL on 127.0.0.1:$PG_PORT"
    # The log is kept in the data directory: postgres owns it and can write there.
    as_pg "$bin/pg_ctl" -D "$data" -l "$data/server.log" -w -t 60 start >/dev/null \
        || { tail -n 20 "$data/server.log" >&2; die "PostgreSQL did not start"; }
}

stop_postgres() {
    local bin
    bin=$(pg_bindir) || return 0
    [ -f "$SV/pg/postmaster.pid" ] || return 0
    as_pg "$bin/pg_ctl" -D "$(readlink -f "$SV/pg")" -m fast -w stop >/dev/null 2>&1 || true
}

# ---------------------------------------------------------------- Redis

start_redis() {
    local dir="$SV/redis"
    if port_open "$REDIS_PORT"; then return 0; fi
    mkdir -p "$dir"
    # Nothing persisted: test state is ephemeral (docs/operations.md covers production).
    cat >"$dir/redis.conf" <<EOF
bind 127.0.0.1
port $REDIS_PORT
protected-mode yes
daemonize yes
pidfile $dir/redis.pid
logfile $dir/redis.log
dir $dir
save ""
appendonly no
databases 16
EOF
    clear_stale_pid "$dir/redis.pid" redis
    log "starting Redis on 127.0.0.1:$REDIS_PORT"
    redis-server "$dir/redis.conf"
    wait_port "$REDIS_PORT" Redis "$dir/redis.log"
}

stop_redis() {
    port_open "$REDIS_PORT" && redis-cli -h 127.0.0.1 -p "$REDIS_PORT" shutdown nosave \
        >/dev/null 2>&1 || true
}

# ---------------------------------------------------------------- OpenLDAP

write_slapd_conf() {
    local dir=$1 hash
    hash=$(slappasswd -s "$LDAP_PASSWORD")
    cat >"$dir/slapd.conf" <<EOF
# idp test directory (scripts/services.sh); staff entries are seeded by the tests.
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/nis.schema
include /etc/ldap/schema/inetorgperson.schema
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile $dir/slapd.pid
argsfile $dir/slapd.args
loglevel none

database mdb
maxsize 104857600
suffix "$LDAP_BASE"
rootdn "$LDAP_ADMIN"
rootpw $hash
directory $dir/data
index objectClass eq
index uid,cn eq
EOF
}

start_slapd() {
    local dir="$SV/ldap"
    if port_open "$LDAP_PORT"; then return 0; fi
    mkdir -p "$dir/data"
    [ -f "$dir/slapd.conf" ] || write_slapd_conf "$dir"
    clear_stale_pid "$dir/slapd.pid" slapd
    log "starting slapd on 127.0.0.1:$LDAP_PORT"
    /usr/sbin/slapd -f "$dir/slapd.conf" -h "ldap://127.0.0.1:$LDAP_PORT/" \
        || die "slapd did not start (slapd -d 1 -f $dir/slapd.conf shows why)"
    wait_port "$LDAP_PORT" slapd /dev/null
    seed_ldap_base
}

seed_ldap_base() {
    local url="ldap://127.0.0.1:$LDAP_PORT"
    if ldapsearch -x -LLL -H "$url" -b "$LDAP_BASE" -s base dn >/dev/null 2>&1; then
        return 0
    fi
    ldapadd -x -H "$url" -D "$LDAP_ADMIN" -w "$LDAP_PASSWORD" >/dev/null <<EOF
dn: $LDAP_BASE
objectClass: dcObject
objectClass: organization
dc: gov
o: idp test directory
EOF
}

stop_slapd() {
    local pid
    [ -f "$SV/ldap/slapd.pid" ] || return 0
    pid=$(cat "$SV/ldap/slapd.pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
}

# ---------------------------------------------------------------- env file

write_env() {
    cat >"$SV/env.sh.tmp" <<EOF
# Written by scripts/services.sh: connection settings of the private test services.
export IDP_TEST_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:$PG_PORT/postgres
export IDP_TEST_REDIS_URL=redis://127.0.0.1:$REDIS_PORT/0
export IDP_TEST_LDAP_URL=ldap://127.0.0.1:$LDAP_PORT
export IDP_TEST_LDAP_BASE_DN=$LDAP_BASE
export IDP_TEST_LDAP_BIND_DN=$LDAP_ADMIN
export IDP_TEST_LDAP_BIND_PASSWORD=$LDAP_PASSWORD
export IDP_TEST_CHROMIUM=$CHROMIUM
EOF
    mv "$SV/env.sh.tmp" "$SV/env.sh"
}

status() {
    local name port
    for pair in "PostgreSQL:$PG_PORT" "Redis:$REDIS_PORT" "slapd:$LDAP_PORT"; do
        name=${pair%%:*}; port=${pair##*:}
        if port_open "$port"; then log "$name up on 127.0.0.1:$port"
        else log "$name down"; fi
    done
}

main() {
    mkdir -p "$SV"
    case "${1:-start}" in
        start)
            install_missing
            start_postgres
            start_redis
            start_slapd
            write_env
            cat "$SV/env.sh"
            ;;
        stop) stop_slapd; stop_redis; stop_postgres; log "stopped" ;;
        status) status ;;
        *) die "usage: $0 [start|stop|status]" ;;
    esac
}

main "$@"
