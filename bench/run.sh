#!/usr/bin/env bash
# The SPEC §10 benchmark, side by side on a private PostgreSQL started here:
#   1. every user/task command that reads or writes rows: todo vs a minimal C
#      libpq client (bench/baseline.c) running the exact SQL todo sends, one
#      run of each in turn (bench/interleave.py);
#   2. connections and statements per command (pg_stat_database.sessions,
#      pg_stat_statements);
#   3. task list at 10 k vs 10 M tasks (with the plan), heavy vs light user;
#   4. peak RSS of task list --limit 50, and of listing 100 k tasks (plain, JSON);
#   5. db seed vs psql \copy (bench/seed.sh).
# Usage: bash bench/run.sh [--quick]     (--quick: 1 M tasks instead of 10 M,
#        no seed comparison; BENCH_LATENCY_RUNS=N alternating runs per command
#        in part 1, default 100; BENCH_RUNS=N hyperfine runs elsewhere, default 40)
set -euo pipefail
cd "$(dirname "$0")/.."
QUICK=0
[ "${1:-}" = --quick ] && QUICK=1
RUNS=${BENCH_RUNS:-40}
LATENCY_RUNS=${BENCH_LATENCY_RUNS:-100}
BIG_USERS=$([ $QUICK = 1 ] && echo 10000 || echo 100000)   # x 100 tasks each
HEAVY_N=$((BIG_USERS + 1))                                  # one user with 100 000 tasks

need=()
command -v hyperfine >/dev/null || need+=(hyperfine)
command -v gcc >/dev/null || need+=(gcc)
[ -e /usr/include/postgresql/libpq-fe.h ] || need+=(libpq-dev)
[ -x /usr/bin/time ] || need+=(time)
command -v bc >/dev/null || need+=(bc)
if [ ${#need[@]} -gt 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

cargo build --release -q
T=$PWD/target/release/todo
WORK=$(mktemp -d /tmp/todo-benchrun-XXXXXX)
chmod 755 "$WORK"
gcc -O2 -o "$WORK/baseline" bench/baseline.c -I/usr/include/postgresql -lpq
B=$WORK/baseline
log() { echo "bench: $*" >&2; }
. bench/lib.sh
local_cluster
adm() { psql -X -q -A -t -d "$(url postgres)" -c "$1"; }
adm "ALTER SYSTEM SET shared_preload_libraries = plpgsql, pg_stat_statements" >/dev/null
"$T" db local stop -q && "$T" db local start -q
adm "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" >/dev/null

log "loading: small = 100 users x 100 tasks, big = $BIG_USERS users x 100 tasks + 1 user x 100 000"
for db in small big; do adm "CREATE DATABASE $db" >/dev/null; DATABASE_URL=$(url $db) "$T" db migrate -q; done
DATABASE_URL=$(url small) "$T" db seed --users 100 --tasks-per-user 100 -q
DATABASE_URL=$(url big) "$T" db seed --users "$BIG_USERS" --tasks-per-user 100 -q
DATABASE_URL=$(url big) "$T" db seed --users "$HEAVY_N" --tasks-per-user 100000 -q
for db in small big; do psql -X -q -d "$(url $db)" -c "VACUUM ANALYZE"; done
LIGHT=seed-user-1@seed.example
HEAVY=seed-user-$HEAVY_N@seed.example
SMALL=$(url small); BIG=$(url big)

# The exact SQL todo sends, from its --verbose log, for the C baseline.
capture() { # name db args... : writes $WORK/name.sql (the command's one statement)
    DATABASE_URL=$2 "$T" -v "${@:3}" 2>&1 >/dev/null | grep 'todo: sql' | tail -1 \
        | sed -E 's/^todo: sql \([^)]*\): //; s/ -- binds: .*$//' > "$WORK/$1.sql"
}
capture list "$SMALL" task list --user $LIGHT --limit 50
psql_sql() { # SQL file with $n replaced by literals
    local sql; sql=$(cat "$WORK/$1.sql"); shift; local i=1
    for v in "$@"; do sql=${sql//\$$i/$v}; i=$((i + 1)); done
    echo "$sql"
}

median_ms() { # hyperfine JSON, command index
    python3 -c "import json,sys; print('%.2f' % (json.load(open(sys.argv[1]))['results'][int(sys.argv[2])]['median']*1000))" "$1" "$2"
}
ROWS=()
row() { ROWS+=("$(printf '| %s | %s | %s | %s | %s |' "$@")"); }
verdict() { # value op limit
    if [ "$(echo "$1 $2 $3" | bc)" = 1 ]; then echo "met"; else echo "**missed**"; fi
}

log "1. latency vs C libpq, alternating runs ($LATENCY_RUNS each)"
compare() { # label name "todo args" "C params": todo against the C client running its SQL
    local t c r
    # shellcheck disable=SC2086  # the argument strings are split on purpose
    capture "$2" "$SMALL" $3
    # shellcheck disable=SC2086
    read -r t c <<<"$(python3 bench/interleave.py "$LATENCY_RUNS" "$T" --database-url "$SMALL" $3 -- "$B" "$SMALL" "$WORK/$2.sql" $4)"
    r=$(printf '%.2f' "$(echo "scale=3; $t / $c" | bc)")
    row "\`$1\`: todo $t ms, C libpq $c ms" "ratio to C" "$r" "<= 1.00" "$(verdict "$r" "<=" 1.00)"
}
compare "task list --limit 50" list "task list --user $LIGHT --limit 50" "$LIGHT @null 50"
compare "task add" add "task add Bench --user $LIGHT -q" "$LIGHT Bench @null"
compare "task done" done "task done 1 --user $LIGHT" "$LIGHT {1} t"
compare "task show" show "task show 1 --user $LIGHT" "$LIGHT 1"
compare "task stats" stats "task stats --user $LIGHT" "$LIGHT"
compare "user show" ushow "user show $LIGHT" "$LIGHT"
compare "user list --limit 50" ulist "user list --limit 50" "50"

hf() {
    hyperfine -N --warmup 5 --runs "$RUNS" --export-json "$WORK/$1.json" "${@:2}" >"$WORK/hf.log" 2>&1 \
        || { cat "$WORK/hf.log" >&2; exit 1; }
}

log "2. connections and statements per command"
per_command() { # label args...
    local s0 c0 s1 c1
    adm "SELECT pg_stat_statements_reset()" >/dev/null
    s0=$(adm "SELECT sessions FROM pg_stat_database WHERE datname = 'small'")
    DATABASE_URL=$SMALL "$T" "$@" >/dev/null
    sleep 0.6   # statistics are flushed at session end, at most every 500 ms
    s1=$(adm "SELECT sessions FROM pg_stat_database WHERE datname = 'small'")
    c1=$(adm "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = 'small'")
    row "\`todo $*\`" "connections / statements" "$((s1 - s0)) / $c1" "1 / setup + 1" "$([ $((s1 - s0)) = 1 ] && echo met || echo '**missed**')"
}
per_command task list --user $LIGHT --limit 50
per_command task add Counted --user $LIGHT
per_command task done 1 2 3 --user $LIGHT
per_command task stats --user $LIGHT
per_command user show $LIGHT

log "3. list latency by table size and by user"
hf scale \
  "$T --database-url $SMALL task list --user $LIGHT --limit 50" \
  "$T --database-url $BIG task list --user $LIGHT --limit 50" \
  "$T --database-url $BIG task list --user $HEAVY --limit 50"
s=$(median_ms "$WORK/scale.json" 0); b=$(median_ms "$WORK/scale.json" 1); h=$(median_ms "$WORK/scale.json" 2)
BIGN=$(psql -X -A -t -d "$BIG" -c "SELECT count(*) FROM tasks")
r=$(printf '%.2f' "$(echo "scale=3; $b / $s" | bc)")
row "task list --limit 50: $BIGN tasks $b ms vs 10 000 tasks $s ms" "ratio" "$r" "<= 1.20" "$(verdict "$r" "<=" 1.20)"
r=$(printf '%.2f' "$(echo "scale=3; $h / $b" | bc)")
row "task list --limit 50: user with 100 000 tasks $h ms vs light user $b ms" "ratio" "$r" "<= 1.20" "$(verdict "$r" "<=" 1.20)"
PLAN=$(psql -X -A -t -d "$BIG" -c "EXPLAIN $(psql_sql list "'$HEAVY'" NULL::boolean 50)" | grep -oE '(Seq Scan|Index Only Scan|Bitmap Index Scan|Index Scan|Bitmap Heap Scan)( using [a-z_]+)?( on [a-z_]+)?' | sort -u | paste -sd ';' -)
row "plan at $BIGN tasks (heavy user)" "scans" "$PLAN" "index scans only" "$(echo "$PLAN" | grep -q 'Seq Scan' && echo '**missed**' || echo met)"

log "4. peak RSS"
rss() { /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -1; }
r50=$(rss "$T" --database-url "$BIG" task list --user $LIGHT --limit 50)
rplain=$(rss "$T" --database-url "$BIG" task list --user $HEAVY)
rjson=$(rss "$T" --database-url "$BIG" task list --user $HEAVY --json)
row "peak RSS, task list --limit 50" "KiB" "$r50" "< 15360" "$(verdict "$r50" "<" 15360)"
row "peak RSS, listing 100 000 tasks, plain" "KiB" "$rplain" "<= 2 x $r50" "$(verdict "$rplain" "<=" $((2 * r50)))"
row "peak RSS, listing 100 000 tasks, JSON" "KiB" "$rjson" "<= 2 x $r50" "$(verdict "$rjson" "<=" $((2 * r50)))"
# --json FIELDS and an element filter stream; a whole-list filter collects.
rfields=$(rss "$T" --database-url "$BIG" task list --user $HEAVY --json id,title)
rjq=$(rss "$T" --database-url "$BIG" task list --user $HEAVY --jq '.[] | .title')
rall=$(rss "$T" --database-url "$BIG" task list --user $HEAVY --jq 'length')
row "peak RSS, listing 100 000 tasks, --json id,title" "KiB" "$rfields" "<= 2 x $r50" "$(verdict "$rfields" "<=" $((2 * r50)))"
row "peak RSS, listing 100 000 tasks, --jq '.[] | .title'" "KiB" "$rjq" "<= 2 x $r50" "$(verdict "$rjq" "<=" $((2 * r50)))"
row "peak RSS, listing 100 000 tasks, --jq 'length' (collects)" "KiB" "$rall" "(documented)" "-"

echo
echo "todo benchmark, $(date -u +%Y-%m-%d), $(nproc) cores, $(psql --version | head -1), medians of $LATENCY_RUNS alternating runs (part 1), else hyperfine medians of $RUNS runs"
echo
echo "| measurement | metric | value | target | |"
echo "|---|---|---|---|---|"
printf '%s\n' "${ROWS[@]}"
if [ $QUICK = 0 ]; then
    echo
    "$T" db local stop -q
    bash bench/seed.sh 3
fi
