//! `db migrate`, `db migrate --baseline`, `db status`, `db revert` (SPEC §1, §4a).

use crate::support::Outcome;
use crate::support::{expect_code, run_concurrently, TestDb};

/// The schema of SPEC §1, verbatim, as the web backend would create it.
pub const SPEC_SQL: &str = r#"
CREATE TABLE users (
    id VARCHAR(255) PRIMARY KEY,
    email VARCHAR(255) UNIQUE NOT NULL,
    name VARCHAR(255),
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX idx_users_email ON users(email);

CREATE TABLE tasks (
    id SERIAL PRIMARY KEY,
    title VARCHAR(255) NOT NULL,
    description TEXT,
    completed BOOLEAN DEFAULT FALSE,
    user_id VARCHAR(255) NOT NULL,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE
);
CREATE INDEX idx_tasks_user_id ON tasks(user_id);
CREATE INDEX idx_tasks_completed ON tasks(completed);
CREATE INDEX idx_tasks_user_completed ON tasks(user_id, completed);
CREATE INDEX idx_tasks_created_at ON tasks(created_at DESC);
CREATE INDEX idx_tasks_updated_at ON tasks(updated_at);
"#;

/// The base migration is this same schema (one source of truth, checked):
/// its statements, without comments and with whitespace folded, are the
/// statements above.
#[test]
fn the_base_migration_is_the_spec_schema() {
    let fold = |sql: &str| -> String {
        sql.lines()
            .map(|l| l.split("--").next().unwrap_or(""))
            .collect::<Vec<_>>()
            .join(" ")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    let migration =
        include_str!("../../migrations/2026-11-24-000001_create_users_and_tasks/up.sql");
    assert_eq!(fold(migration), fold(SPEC_SQL));
}

/// Everything the catalog says about the two tables: columns (type,
/// nullability, default), constraints, indexes and triggers, one per line.
const CATALOG_DUMP: &str = r#"
SELECT string_agg(line, E'\n' ORDER BY line) FROM (
  SELECT format('column %s.%s %s notnull=%s default=%s', c.relname, a.attname,
                format_type(a.atttypid, a.atttypmod), a.attnotnull,
                coalesce(pg_get_expr(d.adbin, d.adrelid), '-')) AS line
    FROM pg_class c
    JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
    LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
   WHERE c.relname IN ('users', 'tasks') AND c.relkind = 'r'
  UNION ALL
  SELECT format('constraint %s %s', c.relname, pg_get_constraintdef(k.oid))
    FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
   WHERE c.relname IN ('users', 'tasks')
  UNION ALL
  SELECT format('index %s', pg_get_indexdef(x.indexrelid))
    FROM pg_index x JOIN pg_class c ON c.oid = x.indrelid
   WHERE c.relname IN ('users', 'tasks')
  UNION ALL
  SELECT format('trigger %s', pg_get_triggerdef(t.oid))
    FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
   WHERE c.relname IN ('users', 'tasks') AND NOT t.tgisinternal
) lines
"#;

pub fn dump(db: &TestDb) -> Vec<String> {
    db.psql(CATALOG_DUMP).lines().map(str::to_string).collect()
}

/// What the migrations add on top of SPEC §1's SQL.
pub const EXTRAS: &[&str] = &[
    "constraint tasks CHECK ((char_length(description) <= 1000))",
    "constraint tasks CHECK ((length(btrim((title)::text)) > 0))",
    "index CREATE INDEX idx_tasks_user_created ON public.tasks USING btree (user_id, created_at DESC NULLS LAST, id DESC) INCLUDE (completed)",
    "index CREATE INDEX idx_users_email_lower ON public.users USING btree (lower((email)::text))",
    "index CREATE INDEX idx_users_email_natural_key ON public.users USING btree (\"substring\"((email)::text, '^\\D*'::text) COLLATE \"C\", ((\"substring\"((email)::text, '\\d+'::text))::numeric), email COLLATE \"C\", id)",
    "trigger CREATE TRIGGER tasks_set_updated_at BEFORE UPDATE ON public.tasks FOR EACH ROW EXECUTE FUNCTION todo_set_updated_at()",
    "trigger CREATE TRIGGER users_set_updated_at BEFORE UPDATE ON public.users FOR EACH ROW EXECUTE FUNCTION todo_set_updated_at()",
];

fn spec_db() -> TestDb {
    let db = TestDb::empty();
    db.psql(SPEC_SQL);
    db
}

#[test]
fn migrate_creates_exactly_the_spec_schema_plus_extras() {
    let spec = spec_db();
    let spec_dump = dump(&spec);
    // Sanity: the reference really holds the documented schema.
    for line in [
        "column tasks.id integer notnull=t default=nextval('tasks_id_seq'::regclass)",
        "column tasks.completed boolean notnull=f default=false",
        "column users.email character varying(255) notnull=t default=-",
        "constraint tasks FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE",
        "constraint users UNIQUE (email)",
        "index CREATE INDEX idx_tasks_created_at ON public.tasks USING btree (created_at DESC)",
        "index CREATE INDEX idx_tasks_user_completed ON public.tasks USING btree (user_id, completed)",
    ] {
        assert!(spec_dump.iter().any(|l| l == line), "reference lacks {line}: {spec_dump:#?}");
    }

    let db = TestDb::empty();
    let out = db.run(["db", "migrate", "--json"]).expect(0);
    assert_eq!(
        out.value(),
        serde_json::json!({"applied": ["20261124000001", "20261124000002", "20261124000003", "20261201000004", "20261201000005"]})
    );
    let migrated = dump(&db);
    let mut expected = spec_dump.clone();
    expected.extend(EXTRAS.iter().map(|s| s.to_string()));
    expected.sort();
    assert_eq!(migrated, expected);
}

#[test]
fn trigger_sets_updated_at_in_utc_whatever_the_session_time_zone() {
    let db = TestDb::migrated();
    db.psql("INSERT INTO users (id, email, updated_at) VALUES ('u1', 'a@b.co', '2000-01-01')");
    // A writer whose session is far from UTC.
    let lag = db.psql(
        "SET TIME ZONE 'Pacific/Kiritimati'; UPDATE users SET name = 'x' WHERE id = 'u1';
         SET TIME ZONE 'UTC';
         SELECT abs(extract(epoch FROM (now() AT TIME ZONE 'UTC') - updated_at)) < 60 FROM users",
    );
    assert_eq!(lag, "t");
}

#[test]
fn migrate_twice_applies_nothing_the_second_time() {
    let db = TestDb::empty();
    db.run(["db", "migrate"]).ok();
    let out = db.run(["db", "migrate", "--json"]).expect(0);
    assert_eq!(out.value(), serde_json::json!({"applied": []}));
    let out = db.run(["db", "migrate", "--format", "table"]).output();
    assert!(out.stdout().contains("up to date"), "{}", out.stdout());
}

#[test]
fn revert_all_then_migrate_round_trips() {
    let db = TestDb::empty();
    db.run(["db", "migrate"]).ok();
    let first = dump(&db);

    for version in [
        "20261201000005",
        "20261201000004",
        "20261124000003",
        "20261124000002",
    ] {
        let out = db.run(["db", "revert", "--yes", "--json"]).expect(0);
        assert_eq!(out.value(), serde_json::json!({ "reverted": version }));
    }
    let out = db.run(["db", "revert", "--yes", "--json"]).expect(0);
    assert_eq!(
        out.value(),
        serde_json::json!({"reverted": "20261124000001"})
    );
    assert_eq!(
        db.psql(
            "SELECT to_regclass('users') IS NULL AND to_regclass('tasks') IS NULL
                 AND to_regproc('todo_set_updated_at') IS NULL"
        ),
        "t"
    );
    let out = db.run(["db", "revert", "--yes"]).output();
    assert_eq!(out.code(), Some(6), "nothing left to revert");

    db.run(["db", "migrate"]).ok();
    assert_eq!(dump(&db), first);
}

#[test]
fn concurrent_migrates_all_succeed_and_apply_each_migration_once() {
    let db = TestDb::empty();
    let mut applied = Vec::new();
    for out in run_concurrently(&db.dir, 8, &db.url(), &["db", "migrate", "--json"]) {
        expect_code(&out, 0);
        for v in out.value()["applied"].as_array().unwrap() {
            applied.push(v.as_str().unwrap().to_string());
        }
    }
    applied.sort();
    assert_eq!(
        applied,
        [
            "20261124000001",
            "20261124000002",
            "20261124000003",
            "20261201000004",
            "20261201000005"
        ]
    );
    assert_eq!(
        db.psql("SELECT string_agg(version, ',' ORDER BY version) FROM __diesel_schema_migrations"),
        "20261124000001,20261124000002,20261124000003,20261201000004,20261201000005"
    );
}

#[test]
fn migrate_refuses_a_schema_it_did_not_create_and_baseline_adopts_it() {
    let db = spec_db();
    db.psql(
        "INSERT INTO users (id, email) VALUES ('u1', 'a@example.com');
             INSERT INTO tasks (title, user_id) VALUES ('kept', 'u1')",
    );

    let out = db.run(["db", "migrate"]).expect(6);
    assert!(
        out.stderr()
            .contains("hint: adopt them with: todo db migrate --baseline"),
        "{}",
        out.stderr()
    );

    let out = db.run(["db", "status", "--json"]).output();
    assert!(out.stderr().contains("--baseline"));
    assert_eq!(
        out.value(),
        serde_json::json!({"applied": [], "pending": ["20261124000001", "20261124000002", "20261124000003", "20261201000004", "20261201000005"], "run_on": {}, "incomplete": {}, "in_progress": null})
    );

    let out = db.run(["db", "migrate", "--baseline", "--json"]).expect(0);
    assert_eq!(
        out.value(),
        serde_json::json!({"applied": ["20261124000002", "20261124000003", "20261201000004", "20261201000005"]})
    );

    let fresh = TestDb::migrated();
    assert_eq!(
        dump(&db),
        dump(&fresh),
        "baselined schema equals a migrated one"
    );
    assert_eq!(db.psql("SELECT title FROM tasks"), "kept");
    db.run(["db", "status", "--check"]).ok();
}

#[test]
fn baseline_lists_every_difference_of_a_drifted_schema_and_changes_nothing() {
    let drifted = SPEC_SQL
        .replace("title VARCHAR(255) NOT NULL", "title VARCHAR(200) NOT NULL")
        .replace(
            "CREATE INDEX idx_tasks_created_at ON tasks(created_at DESC);",
            "",
        )
        .replace(" ON DELETE CASCADE", "");
    let db = TestDb::empty();
    db.psql(&drifted);
    let out = db.run(["db", "migrate", "--baseline"]).expect(6);
    let err = out.stderr();
    assert!(err.contains("3 differences"), "{err}");
    assert!(
        err.contains(
            "column tasks.title is character varying(200) (expected character varying(255))"
        ),
        "{err}"
    );
    assert!(
        err.contains("index idx_tasks_created_at on tasks is missing"),
        "{err}"
    );
    assert!(
        err.contains("FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE"),
        "{err}"
    );
    assert_eq!(
        db.psql("SELECT to_regclass('__diesel_schema_migrations') IS NULL"),
        "t"
    );

    let out = TestDb::empty()
        .cmd()
        .args(["db", "migrate", "--baseline"])
        .output();
    assert_eq!(
        out.code(),
        Some(6),
        "nothing to baseline on an empty database"
    );
    assert!(out.stderr().contains("todo db migrate"));
}

#[test]
fn status_check_exits_6_while_migrations_are_pending() {
    let db = TestDb::empty();
    let out = db.run(["db", "status", "--check", "--json"]).expect(6);
    assert_eq!(
        out.value(),
        serde_json::json!({"applied": [], "pending": ["20261124000001", "20261124000002", "20261124000003", "20261201000004", "20261201000005"], "run_on": {}, "incomplete": {}, "in_progress": null})
    );
    let err: serde_json::Value = serde_json::from_slice(&out.out.stderr).unwrap();
    assert_eq!(err["error"]["code"], 6);
    assert_eq!(err["error"]["kind"], "not_ready");

    let out = db.run(["db", "status"]).output();
    assert_eq!(
        out.code(),
        Some(0),
        "without --check pending is not an error"
    );
    assert_eq!(
        out.stdout(),
        "20261124000001\tcreate_users_and_tasks\tpending\t\n20261124000002\tconstraints_and_triggers\tpending\t\n\
         20261124000003\tindex_tasks_user_created\tpending\t\n\
         20261201000004\tusers_natural_order\tpending\t\n\
         20261201000005\tusers_natural_key\tpending\t\n"
    );

    db.run(["db", "migrate", "-q"]).ok().stdout_is("");
    let out = db.run(["db", "status", "--check"]).expect(0);
    let text = out.stdout();
    let fields: Vec<Vec<&str>> = text.lines().map(|l| l.split('\t').collect()).collect();
    let names: Vec<&str> = fields.iter().map(|f| f[1]).collect();
    assert_eq!(
        names,
        [
            "create_users_and_tasks",
            "constraints_and_triggers",
            "index_tasks_user_created",
            "users_natural_order",
            "users_natural_key"
        ]
    );
    assert!(fields
        .iter()
        .all(|f| f.len() == 4 && f[2] == "applied" && f[3].ends_with('Z')));
}

#[test]
fn revert_shows_what_it_drops_and_guards_the_base_migration() {
    let db = TestDb::migrated();
    db.psql(
        "INSERT INTO users (id, email) VALUES ('u1', 'a@example.com');
             INSERT INTO tasks (title, user_id) VALUES ('t', 'u1'), ('t2', 'u1')",
    );

    // No terminal and no --yes: refuse, change nothing.
    let out = db.run(["db", "revert"]).expect(2);
    assert!(
        out.stderr().contains("idx_users_email_natural_key"),
        "{}",
        out.stderr()
    );
    assert!(
        out.stderr().contains("hint: pass --yes"),
        "{}",
        out.stderr()
    );
    assert_eq!(
        db.psql("SELECT count(*) FROM __diesel_schema_migrations"),
        "5"
    );

    for _ in 0..3 {
        db.run(["db", "revert", "--yes"]).ok();
    }
    let out = db.run(["db", "revert", "--yes"]).expect(0);
    assert!(
        out.stderr().contains("idx_users_email_lower"),
        "{}",
        out.stderr()
    );

    // The base migration with rows needs --force too.
    let out = db.run(["db", "revert", "--yes"]).expect(2);
    let err = out.stderr();
    assert!(err.contains("users: 1 rows, tasks: 2 rows"), "{err}");
    assert!(err.contains("--force"), "{err}");
    assert_eq!(db.psql("SELECT count(*) FROM tasks"), "2");

    db.run(["db", "revert", "--yes", "--force"]).ok();
    assert_eq!(db.psql("SELECT to_regclass('tasks') IS NULL"), "t");
}

#[test]
fn migrate_gives_up_at_its_lock_timeout() {
    let db = TestDb::empty();
    // Another session holds the migration lock for a while.
    let _holder = db.hold(
        &format!(
            "SELECT pg_advisory_lock({}), pg_sleep(30)",
            todo::db::migrate::LOCK_KEY
        ),
        "SELECT EXISTS (SELECT FROM pg_locks WHERE locktype = 'advisory' AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database()))",
    );
    let out = db.run(["db", "migrate", "--lock-timeout", "1"]).expect(5);
    assert!(
        out.stderr().contains("gave up waiting for a lock"),
        "{}",
        out.stderr()
    );
    assert_eq!(db.psql("SELECT to_regclass('users') IS NULL"), "t");
}

/// `db status` says when each migration was applied (`run_on`, UTC).
#[test]
fn status_shows_when_each_migration_was_applied() {
    let db = TestDb::migrated();
    db.psql("UPDATE __diesel_schema_migrations SET run_on = '2026-01-02 03:04:05' WHERE version = '20261124000001'");
    let out = db.run(["db", "status", "--json"]).expect(0);
    let v = out.value();
    assert_eq!(v["run_on"]["20261124000001"], "2026-01-02T03:04:05.000000Z");
    assert_eq!(v["run_on"].as_object().unwrap().len(), 5);
    let out = db.run(["db", "status"]).output();
    assert!(
        out.stdout().starts_with(
            "20261124000001\tcreate_users_and_tasks\tapplied\t2026-01-02T03:04:05.000000Z\n"
        ),
        "{}",
        out.stdout()
    );
}
