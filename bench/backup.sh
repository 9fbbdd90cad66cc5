#!/usr/bin/env bash
# Backup benchmark (SPEC §11): 100 k users + 1 M tasks on a private server,
# side by side in one run:
#   - `todo db backup`  vs `pg_dump -Fc -t users -t tasks` (target <= 1.0x);
#   - `todo db restore` into an empty migrated database vs
#     `pg_restore --single-transaction` of that dump (tables, rows, then
#     indexes and constraints) into an empty database (target <= 0.8x).
# Medians of alternating runs; file sizes; rows/s. pg_dump/pg_restore are
# the server's own (same major version), as the comparison needs.
# Usage: bash bench/backup.sh [RUNS]   (default 3)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-3}
USERS=100000
PER_USER=10

cargo build --release -q
T=$PWD/target/release/todo
BIN=$(dirname "$(readlink -f "$(command -v initdb 2>/dev/null || echo /usr/lib/postgresql/15/bin/initdb)")")
WORK=$(mktemp -d /tmp/todo-bench-backup-XXXXXX)
chmod 755 "$WORK"
export TODO_HOME=$WORK/home
unset DATABASE_URL TODO_DATABASE_URL TODO_LOCAL
cleanup() { "$T" db local stop -q || true; rm -rf "$WORK"; }
trap cleanup EXIT

"$T" db local start -q
BASE=$("$T" db local url)
url() { echo "${BASE/\/todo?//$1?}"; }
adm() { "$BIN/psql" -X -q -A -t -d "$(url postgres)" -c "$1"; }
fresh() { adm "DROP DATABASE IF EXISTS $1" >/dev/null; adm "CREATE DATABASE $1" >/dev/null
          DATABASE_URL=$(url "$1") "$T" db migrate -q; }
now() { date +%s.%N; }

echo "loading $USERS users x $PER_USER tasks..." >&2
fresh src
DATABASE_URL=$(url src) "$T" db seed --users $USERS --tasks-per-user $PER_USER -q
"$BIN/psql" -X -q -d "$(url src)" -c "VACUUM ANALYZE"

# `pg_dump -t` leaves out the trigger's function: the pg_restore target gets
# it first (the only object of an otherwise empty database).
FUNCS=$("$BIN/psql" -X -q -A -t -d "$(url src)" -c \
    "SELECT string_agg(pg_get_functiondef(p.oid), E';\n') || ';' FROM pg_proc p
     JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public'")

declare -A times
for run in $(seq "$RUNS"); do
    rm -f "$WORK/b.todo" "$WORK/b.dump"
    start=$(now); "$BIN/pg_dump" -Fc -t users -t tasks -f "$WORK/b.dump" -d "$(url src)"
    times[dump]+="$(echo "$(now) - $start" | bc) "
    start=$(now); DATABASE_URL=$(url src) "$T" db backup -q -o "$WORK/b.todo"
    times[backup]+="$(echo "$(now) - $start" | bc) "

    adm "DROP DATABASE IF EXISTS dst" >/dev/null; adm "CREATE DATABASE dst" >/dev/null
    "$BIN/psql" -X -q -d "$(url dst)" -c "$FUNCS"
    # Each restore starts with nothing dirty: the other's rows would be
    # written out during it otherwise (and todo's follows pg_restore's).
    adm CHECKPOINT >/dev/null
    start=$(now); "$BIN/pg_restore" --single-transaction -d "$(url dst)" "$WORK/b.dump"
    times[pg_restore]+="$(echo "$(now) - $start" | bc) "
    fresh dst
    adm CHECKPOINT >/dev/null
    start=$(now); DATABASE_URL=$(url dst) "$T" db restore -q "$WORK/b.todo"
    times[restore]+="$(echo "$(now) - $start" | bc) "
    echo "run $run: ${times[*]}" >&2
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
rows=$((USERS + USERS * PER_USER))
d=$(echo "${times[dump]}" | median); b=$(echo "${times[backup]}" | median)
r=$(echo "${times[pg_restore]}" | median); t=$(echo "${times[restore]}" | median)
printf '\n| measurement | pg_dump / pg_restore | todo | ratio | target |\n|---|---|---|---|---|\n'
printf '| backup of %s rows | %.2f s (%s bytes) | %.2f s (%s bytes, %.0f rows/s) | %.2f | <= 1.00 |\n' \
    "$rows" "$d" "$(stat -c %s "$WORK/b.dump")" "$b" "$(stat -c %s "$WORK/b.todo")" \
    "$(echo "$rows / $b" | bc -l)" "$(echo "$b / $d" | bc -l)"
printf '| restore into an empty migrated database | %.2f s | %.2f s (%.0f rows/s) | %.2f | <= 0.80 |\n' \
    "$r" "$t" "$(echo "$rows / $t" | bc -l)" "$(echo "$t / $r" | bc -l)"
echo "($RUNS alternating runs, medians; $(nproc) cores; $("$BIN/postgres" --version))"
