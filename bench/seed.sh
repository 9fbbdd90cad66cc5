#!/usr/bin/env bash
# Seed benchmark (SPEC §10): `todo db seed --users 100000 --tasks-per-user 10`
# against `psql -1 \copy` of the same rows (grouped by user) into the same
# migrated schema, on an empty and on a non-empty database, side by side on a
# private server. Prints medians of alternating runs and the ratios.
# Usage: bash bench/seed.sh [RUNS]   (default 3)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-3}
USERS=100000
PER_USER=10

cargo build --release -q
T=$PWD/target/release/todo
export TODO_HOME
TODO_HOME=$(mktemp -d /tmp/todo-bench-XXXXXX)
DATA=$(mktemp -d /tmp/todo-bench-data-XXXXXX)
chmod 755 "$DATA"
cleanup() { "$T" db local stop -q || true; rm -rf "$TODO_HOME" "$DATA"; }
trap cleanup EXIT
unset DATABASE_URL TODO_DATABASE_URL TODO_LOCAL

"$T" db local start -q
BASE=$("$T" db local url)
url() { echo "${BASE/\/todo?//$1?}"; }
sql() { psql -X -q -d "$BASE" -c "$1"; }
fresh() { # fresh migrated database $1, optionally with one non-seed task
    sql "DROP DATABASE IF EXISTS $1" && sql "CREATE DATABASE $1"
    DATABASE_URL=$(url "$1") "$T" db migrate -q
    if [ "${2:-}" = nonempty ]; then
        psql -X -q -d "$(url "$1")" -c "INSERT INTO users (id, email) VALUES ('other', 'other@example.com');
            INSERT INTO tasks (title, user_id) VALUES ('existing', 'other')"
    fi
}
now() { date +%s.%N; }

echo "generating the rows once with todo, exporting them for psql..." >&2
fresh gen
DATABASE_URL=$(url gen) "$T" db seed --users $USERS --tasks-per-user $PER_USER -q
psql -X -q -d "$(url gen)" \
  -c "\copy (SELECT id, email, name, created_at, updated_at FROM users ORDER BY id) TO '$DATA/users.tsv'" \
  -c "\copy (SELECT title, description, completed, user_id, created_at, updated_at FROM tasks ORDER BY id) TO '$DATA/tasks.tsv'"

declare -A times
for run in $(seq "$RUNS"); do
    for state in empty nonempty; do
        for tool in psql todo; do
            fresh b "$state"
            start=$(now)
            if [ $tool = psql ]; then
                psql -X -q -1 -d "$(url b)" \
                  -c "\copy users (id, email, name, created_at, updated_at) FROM '$DATA/users.tsv'" \
                  -c "\copy tasks (title, description, completed, user_id, created_at, updated_at) FROM '$DATA/tasks.tsv'"
            else
                DATABASE_URL=$(url b) "$T" db seed --users $USERS --tasks-per-user $PER_USER -q
            fi
            t=$(echo "$(now) - $start" | bc)
            times[$state-$tool]+="$t "
            printf 'run %s %-8s %-4s %6.2f s\n' "$run" "$state" "$tool" "$t" >&2
        done
    done
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
printf '\n%-34s %10s %10s %7s  %s\n' "db seed 100k users x 10 tasks" "psql \\copy" "todo" "ratio" "target"
for state in empty nonempty; do
    p=$(echo "${times[$state-psql]}" | median)
    t=$(echo "${times[$state-todo]}" | median)
    r=$(echo "scale=2; $t / $p" | bc)
    target=$([ $state = empty ] && echo "<= 0.60" || echo "<= 1.00")
    printf '%-34s %9.2fs %9.2fs %7s  %s\n' "into an $state database" "$p" "$t" "$r" "$target"
done
echo "($RUNS alternating runs, medians; $(nproc) cores; $(psql --version | head -1))"
