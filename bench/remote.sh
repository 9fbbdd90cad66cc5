#!/usr/bin/env bash
# The remote benchmark of SPEC §16: todo, a minimal C libpq client running the
# same main statement (bench/baseline.c) and psql, each through a delay proxy
# (bench/delay_proxy.py) in front of a private PostgreSQL with TLS and SCRAM,
# as a hosted database is reached. Per command: the median wall time and the
# round trips the proxy counted (every exchange on the wire: TCP aside, the
# TLS and SCRAM handshakes, diesel's setup, the statements).
# Usage: bash bench/remote.sh [--delay-ms MS] [--plain|--neon]   (one way;
#        default 10, so a 20 ms round trip; --plain: TCP without TLS, SCRAM
#        still; --neon: TLS ends at a proxy in front of the server, as Neon's
#        does (bench/tls_proxy.py, which also takes direct TLS), and todo is
#        timed a second time with sslnegotiation=direct;
#        BENCH_RUNS=N runs per command, default 5; TODO_BIN=path times
#        another build of todo, e.g. an older one for a before/after table)
set -euo pipefail
cd "$(dirname "$0")/.."
DELAY=10
PLAIN=0
NEON=0
while [ $# -gt 0 ]; do
    case $1 in
        --delay-ms) DELAY=$2; shift 2 ;;
        --plain) PLAIN=1; shift ;;
        --neon) PLAIN=1; NEON=1; shift ;;
        *) echo "usage: bash bench/remote.sh [--delay-ms MS] [--plain|--neon]" >&2; exit 2 ;;
    esac
done
RUNS=${BENCH_RUNS:-5}

need=()
command -v gcc >/dev/null || need+=(gcc)
command -v python3 >/dev/null || need+=(python3)
command -v openssl >/dev/null || need+=(openssl)
[ -e /usr/include/postgresql/libpq-fe.h ] || need+=(libpq-dev)
if [ ${#need[@]} -gt 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
PSQL=$BIN/psql   # the real binary, not Debian's Perl wrapper

cargo build --release -q
T=${TODO_BIN:-$PWD/target/release/todo}
WORK=$(mktemp -d /tmp/todo-remote-XXXXXX)
chmod 755 "$WORK"
gcc -O2 -o "$WORK/baseline" bench/baseline.c -I/usr/include/postgresql -lpq
B=$WORK/baseline
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
[ "$(id -u)" = 0 ] && chown postgres "$WORK"
PORT=$((20000 + RANDOM % 10000)); PROXY_PORT=$((PORT + 1)); TLS_PORT=$((PORT + 2))
PROXY_PID=; TLS_PID=
cleanup() {
    [ -n "$PROXY_PID" ] && kill "$PROXY_PID" 2>/dev/null || true
    [ -n "$TLS_PID" ] && kill "$TLS_PID" 2>/dev/null || true
    as_pg "$BIN/pg_ctl" -D "$WORK/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT
log() { echo "bench: $*" >&2; }

log "a private server with TLS and SCRAM on 127.0.0.1:$PORT"
as_pg "$BIN/initdb" -D "$WORK/data" -U postgres -E UTF8 --locale=C.UTF-8 \
    --auth-local=trust --auth-host=scram-sha-256 >/dev/null
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost \
    -keyout "$WORK/data/server.key" -out "$WORK/data/server.crt" 2>/dev/null
chmod 600 "$WORK/data/server.key"
[ "$(id -u)" = 0 ] && chown postgres "$WORK/data/server.key" "$WORK/data/server.crt"
if [ $PLAIN = 1 ]; then
    printf 'local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\n' > "$WORK/data/pg_hba.conf"
    SSLMODE=disable
else
    printf 'local all all trust\nhostssl all all 127.0.0.1/32 scram-sha-256\n' > "$WORK/data/pg_hba.conf"
    SSLMODE=require
fi
as_pg "$BIN/pg_ctl" -D "$WORK/data" -w -l "$WORK/server.log" -o \
    "-c port=$PORT -c listen_addresses=127.0.0.1 -c unix_socket_directories=$WORK -c ssl=on" start >/dev/null
adm() { "$PSQL" -X -q -A -t -h "$WORK" -p "$PORT" -U postgres -d postgres -c "$1"; }
adm "CREATE ROLE bench LOGIN PASSWORD 'bench-secret'" >/dev/null
adm "CREATE DATABASE bench OWNER bench" >/dev/null
DIRECT="postgresql://bench:bench-secret@127.0.0.1:$PORT/bench?sslmode=$SSLMODE"
REMOTE="postgresql://bench:bench-secret@127.0.0.1:$PROXY_PORT/bench?sslmode=$SSLMODE"
FRONT=$PORT   # what the delay proxy forwards to
if [ $NEON = 1 ]; then
    python3 bench/tls_proxy.py --listen "$TLS_PORT" --target "127.0.0.1:$PORT" \
        --cert "$WORK/data/server.crt" --key "$WORK/data/server.key" &
    TLS_PID=$!
    FRONT=$TLS_PORT
    REMOTE="postgresql://bench:bench-secret@127.0.0.1:$PROXY_PORT/bench?sslmode=require"
fi
DATABASE_URL=$DIRECT "$T" db migrate -q
DATABASE_URL=$DIRECT "$T" db seed --users 100 --tasks-per-user 100 -q
python3 bench/delay_proxy.py --listen "$PROXY_PORT" --target "127.0.0.1:$FRONT" \
    --delay-ms "$DELAY" --log "$WORK/proxy.log" &
PROXY_PID=$!
for _ in $(seq 50); do (echo > "/dev/tcp/127.0.0.1/$PROXY_PORT") 2>/dev/null && break; sleep 0.1; done
: > "$WORK/proxy.log"   # the probe's connection
U=seed-user-1@seed.example

# The main statement todo sends for a command, from its --verbose log.
capture() { # file args...
    DATABASE_URL=$DIRECT "$T" -v "${@:2}" 2>&1 >/dev/null | grep '^todo: sql' | grep -v -E ': (BEGIN|COMMIT)' \
        | head -1 | sed -E 's/^todo: sql \([^)]*\): //; s/ -- binds: .*$//' > "$WORK/$1.sql"
}
psql_sql() { # SQL file with $n replaced by literals
    local sql; sql=$(cat "$WORK/$1.sql"); shift; local i=1
    for v in "$@"; do sql=${sql//\$$i/$v}; i=$((i + 1)); done
    echo "$sql"
}

# Runs a command RUNS times through the proxy: "median_ms round_trips".
measure() {
    local times=() before after
    : > "$WORK/proxy.log"
    for _ in $(seq "$RUNS"); do
        local start end
        start=$(date +%s%N)
        "$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; exit 1; }
        end=$(date +%s%N)
        times+=($(( (end - start) / 1000 )))
    done
    sleep $(echo "scale=3; 3 * $DELAY / 1000 + 0.05" | bc)   # the proxy logs at close
    local rt
    rt=$(awk '{ n[$2]++ } END { for (k in n) printf "%s%s", (c++ ? "/" : ""), k }' "$WORK/proxy.log")
    local median
    median=$(printf '%s\n' "${times[@]}" | sort -n | awk '{ a[NR] = $1 } END { printf "%.1f", a[int((NR + 1) / 2)] / 1000 }')
    echo "$median $rt"
}

ROWS=()
compare() { # label todo-args... -- baseline-sql-name baseline-params... -- psql-sql
    local label=$1; shift
    local todo_args=() base=() psql_q
    while [ "$1" != -- ]; do todo_args+=("$1"); shift; done; shift
    while [ "$1" != -- ]; do base+=("$1"); shift; done; shift
    psql_q=$1
    read -r tm tr <<<"$(measure env DATABASE_URL="$REMOTE" TODO_USER=$U "$T" "${todo_args[@]}")"
    local direct=""
    if [ $NEON = 1 ]; then
        read -r dm dr <<<"$(measure env DATABASE_URL="$REMOTE&sslnegotiation=direct" TODO_USER=$U "$T" "${todo_args[@]}")"
        direct=" $dm | $dr |"
    fi
    read -r cm cr <<<"$(measure "$B" "$REMOTE" "$WORK/${base[0]}.sql" "${base[@]:1}")"
    read -r pm pr <<<"$(measure "$PSQL" -X -A -t -d "$REMOTE" -c "$psql_q")"
    local extra=$(( ${tr%%/*} - ${cr%%/*} ))
    [ "$extra" -ge 0 ] && extra="+$extra"
    ROWS+=("| \`$label\` | $tm | $tr |$direct $cm | $cr | $pm | $pr | $extra |")
}

capture list task list --user $U --limit 50
capture add task add Bench --user $U
capture show task show 1 --user $U
capture done task done 1 --user $U
capture stats task stats --user $U
capture ulist user list --limit 50
capture ushow user show $U
capture health db health
capture status db status

log "measuring, $RUNS runs per command, ${DELAY} ms each way"
compare "task list --limit 50" task list --limit 50 -- list $U @null 50 -- "$(psql_sql list "'$U'" NULL::boolean 50)"
compare "task add" task add Bench -q -- add $U Bench @null -- "$(psql_sql add "'$U'" "'Bench'" NULL)"
compare "task show" task show 1 -- show $U 1 -- "$(psql_sql show "'$U'" 1)"
compare "task done" task done 1 -- done $U '{1}' t -- "$(psql_sql done "'$U'" "'{1}'::int[]" true)"
compare "task stats" task stats -- stats $U -- "$(psql_sql stats "'$U'")"
compare "user list --limit 50" user list --limit 50 -- ulist 50 -- "$(psql_sql ulist 50)"
compare "user show" user show $U -- ushow $U -- "$(psql_sql ushow "'$U'")"
compare "db health" db health -- health -- "$(cat "$WORK/health.sql")"
compare "db status" db status -- status -- "$(cat "$WORK/status.sql")"
compare "db migrate (nothing to do)" db migrate -- status -- "$(cat "$WORK/status.sql")"

echo
echo "todo remote benchmark, $(date -u +%Y-%m-%d), $(nproc) cores, PostgreSQL $(adm 'SHOW server_version'), $([ $NEON = 1 ] && echo 'TLS to a TLS-terminating proxy' || { [ $PLAIN = 1 ] && echo 'plain TCP' || echo TLS; }) + SCRAM through a proxy adding ${DELAY} ms each way; median of $RUNS runs; todo: $T"
echo
if [ $NEON = 1 ]; then
    echo "| command | todo ms | todo round trips | todo direct TLS ms | round trips | C libpq ms | C round trips | psql ms | psql round trips | todo beyond C |"
    echo "|---|---|---|---|---|---|---|---|---|---|"
else
    echo "| command | todo ms | todo round trips | C libpq ms | C round trips | psql ms | psql round trips | todo beyond C |"
    echo "|---|---|---|---|---|---|---|---|"
fi
printf '%s\n' "${ROWS[@]}"
echo
echo "The C client runs the command's main statement only (for db health the measuring one, for db status/migrate the catalog one)."
