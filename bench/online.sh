#!/usr/bin/env bash
# Online benchmark (SPEC §21): every admin command while the web
# application serves traffic. A database created by the backend (SPEC §1's
# SQL, 100 k users, 2 M tasks), web-like traffic from pgbench for the whole
# run (4 clients, 40 transactions/s in all: a user's newest 50 tasks, an
# INSERT, an UPDATE), then each admin command in turn, for the code before
# SPEC §21 and for this tree, each on its own copy of the database. For
# each command: its duration, the longest time any application transaction
# took while it ran (the statements' waits behind its locks), and how many
# took over 0.5 s (the lock budget). Target: none over 0.5 s.
#
# Usage: bash bench/online.sh
#   TASKS=2000000 USERS=100000  the size (defaults)
#   BEFORE=REV                  the code to compare with (default 61d211c,
#                               the last commit before SPEC §21), built once
#                               into /tmp/todo-before-REV (or OLD=path/to/todo)
set -euo pipefail
cd "$(dirname "$0")/.."
TASKS=${TASKS:-2000000}
USERS=${USERS:-100000}
BEFORE=${BEFORE:-61d211c}

cargo build --release -q
NEW=$PWD/target/release/todo
T=$NEW
if [ -z "${OLD:-}" ]; then
    OLD_DIR=/tmp/todo-before-$BEFORE
    if [ ! -x "$OLD_DIR/target/release/todo" ]; then
        echo "building $BEFORE into $OLD_DIR (once)..." >&2
        rm -rf "$OLD_DIR"
        mkdir -p "$OLD_DIR"
        git archive "$BEFORE" | tar -x -C "$OLD_DIR"
        (cd "$OLD_DIR" && cargo build --release -q)
    fi
    OLD=$OLD_DIR/target/release/todo
fi
BIN=$(dirname "$(readlink -f "$(command -v initdb 2>/dev/null || echo /usr/lib/postgresql/15/bin/initdb)")")
WORK=$(mktemp -d /tmp/todo-bench-online-XXXXXX)
chmod 755 "$WORK"
# shellcheck source=bench/lib.sh
. bench/lib.sh
local_cluster
adm() { "$BIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 -d "$(url postgres)" -c "$1"; }
now() { date +%s.%N; }

echo "loading $USERS users and $TASKS tasks through the backend's schema..." >&2
adm "CREATE DATABASE backend" >/dev/null
# The base migration is SPEC §1's SQL verbatim (a test checks): the
# backend's schema, run by psql as the backend would.
"$BIN/psql" -X -q -v ON_ERROR_STOP=1 -d "$(url backend)" \
    -f migrations/2026-11-24-000001_create_users_and_tasks/up.sql
"$BIN/psql" -X -q -v ON_ERROR_STOP=1 -d "$(url backend)" <<SQL
INSERT INTO users (id, email, name, created_at, updated_at)
SELECT 'u' || i, 'user' || i || '@example.com', 'User ' || i,
       now() - interval '800 days', now() - interval '800 days'
  FROM generate_series(1, $USERS) i;
INSERT INTO tasks (title, description, completed, user_id, created_at, updated_at)
SELECT 'task ' || i, CASE WHEN i % 3 = 0 THEN 'details of task ' || i END, i % 2 = 0,
       'u' || (1 + i % $USERS), now() - (i % 730) * interval '1 day',
       now() - (i % 730) * interval '1 day'
  FROM generate_series(1, $TASKS) i;
VACUUM ANALYZE;
SQL

cat > "$WORK/app.sql" <<SQL
\set uid random(1, $USERS)
SELECT id, title, completed FROM tasks WHERE user_id = 'u' || :uid
 ORDER BY created_at DESC NULLS LAST, id DESC LIMIT 50;
INSERT INTO tasks (title, user_id) VALUES ('from the app', 'u' || :uid);
UPDATE tasks SET completed = NOT completed
 WHERE id = (SELECT max(id) FROM tasks WHERE user_id = 'u' || :uid);
SQL

PURGE_BEFORE=$(date -u -d '-700 days' +%Y-%m-%d)

# One side: a copy of the backend's database, traffic, every command.
side() {
    local name=$1 bin=$2
    adm "DROP DATABASE IF EXISTS run" >/dev/null
    adm "CHECKPOINT" >/dev/null
    adm "CREATE DATABASE run TEMPLATE backend" >/dev/null
    adm "DROP ROLE IF EXISTS bench_app" >/dev/null
    : > "$WORK/windows-$name"
    "$BIN/pgbench" -n -c 4 -j 2 -R 40 -T 36000 -f "$WORK/app.sql" -l \
        --log-prefix="$WORK/log-$name" "$(url run)" > "$WORK/pgbench-$name.out" 2>&1 &
    local pgbench=$!
    sleep 5
    step() {
        local label=$1
        shift
        local start end
        start=$(now)
        if ! DATABASE_URL=$(url run) "$bin" "$@" -q > /dev/null 2> "$WORK/err"; then
            echo "$name: todo $* failed: $(cat "$WORK/err")" >&2
        fi
        end=$(now)
        echo "$label|$start|$end" >> "$WORK/windows-$name"
        sleep 2
    }
    step "db migrate --baseline" db migrate --baseline
    step "db migrate (nothing to do)" db migrate
    step "db revert" db revert --yes
    step "db migrate" db migrate
    step "db rls enable" db rls enable
    step "db rls disable" db rls disable
    step "db roles grant" db roles grant --app bench_app --create
    step "db roles revoke" db roles revoke bench_app
    step "db seed (non-empty)" db seed --users 2000 --tasks-per-user 10
    step "db purge" db purge --done-before "$PURGE_BEFORE" --archive "$WORK/purged-$name.todo"
    step "db restore --append" db restore --append "$WORK/purged-$name.todo"
    step "db maintain" db maintain --yes
    step "db backup" db backup -o "$WORK/backup-$name.todo"
    # pgbench ends a -T run on SIGALRM, writing its logs out.
    kill -ALRM "$pgbench"
    wait "$pgbench" || true
}

echo "before ($BEFORE)..." >&2
side before "$OLD"
echo "after (this tree)..." >&2
side after "$NEW"

python3 - "$WORK" <<'PY'
import glob, sys
work = sys.argv[1]

def load(name):
    windows = []
    for line in open(f"{work}/windows-{name}"):
        label, start, end = line.strip().split("|")
        windows.append((label, float(start), float(end)))
    txs = []  # (start, end, latency s)
    for path in glob.glob(f"{work}/log-{name}*"):
        for line in open(path):
            f = line.split()
            latency = int(f[2]) / 1e6
            end = int(f[4]) + int(f[5]) / 1e6
            txs.append((end - latency, end, latency))
    return windows, txs

def measure(windows, txs):
    out = {}
    for label, s, e in windows:
        during = [t for t in txs if t[0] < e and t[1] > s]
        worst = max((t[2] for t in during), default=0.0)
        slow = sum(1 for t in during if t[2] > 0.5)
        out[label] = (e - s, worst, slow, len(during))
    return out

before = measure(*load("before"))
after = measure(*load("after"))
print("| command | before: time | before: longest app wait | before: waits > 0.5 s "
      "| after: time | after: longest app wait | after: waits > 0.5 s |")
print("|---|---:|---:|---:|---:|---:|---:|")
for label in after:
    b = before.get(label, (0, 0, 0, 0))
    a = after[label]
    print(f"| `{label}` | {b[0]:.2f} s | {b[1]*1000:.0f} ms | {b[2]} "
          f"| {a[0]:.2f} s | {a[1]*1000:.0f} ms | {a[2]} |")
worst = max(a[1] for a in after.values())
print(f"\nafter: longest application wait during any command {worst*1000:.0f} ms "
      f"({'meets' if worst <= 0.5 else 'MISSES'} the 0.5 s target)")
PY
for side in before after; do
    echo "pgbench ($side): $(grep -E '^(tps|latency average)' "$WORK/pgbench-$side.out" | tr '\n' ' ')"
done
