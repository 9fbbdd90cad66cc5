//! The migrations of this build as online steps (SPEC §21): each `up.sql`
//! and `down.sql` is cut into its statements, and each statement is one
//! step, classified by what it locks.
//!
//! The files stay plain SQL that `psql -f` runs. diesel's CLI cannot run
//! them: it sends a whole file as one query, which PostgreSQL runs as one
//! implicit transaction, where `CREATE INDEX CONCURRENTLY` is refused (a
//! `metadata.toml` with `run_in_transaction = false` does not change that).
//! todo runs them itself, and records versions in diesel's table
//! `__diesel_schema_migrations` as diesel does (no checksums: rewriting an
//! applied migration changes nothing for databases that ran it).
//!
//! A comment line `-- todo: when QUERY` right before a statement makes the
//! step conditional: it runs only when `QUERY` (a whole statement of the
//! file, returning one boolean column `ok`) gives true
//! (migration 4's index needs the ICU collation the step before may not
//! have been able to create).

/// One migration: its version, name and SQL.
#[derive(Debug, Clone, Copy)]
pub struct Source {
    pub version: &'static str,
    pub name: &'static str,
    pub up: &'static str,
    pub down: &'static str,
}

macro_rules! source {
    ($version:literal, $dir:literal, $name:literal) => {
        Source {
            version: $version,
            name: $name,
            up: include_str!(concat!("../../../migrations/", $dir, "/up.sql")),
            down: include_str!(concat!("../../../migrations/", $dir, "/down.sql")),
        }
    };
}

/// Every migration of this build, oldest first (a test checks this list
/// against the `migrations/` directory).
pub const SOURCES: &[Source] = &[
    source!(
        "20261124000001",
        "2026-11-24-000001_create_users_and_tasks",
        "create_users_and_tasks"
    ),
    source!(
        "20261124000002",
        "2026-11-24-000002_constraints_and_triggers",
        "constraints_and_triggers"
    ),
    source!(
        "20261124000003",
        "2026-11-24-000003_index_tasks_user_created",
        "index_tasks_user_created"
    ),
    source!(
        "20261201000004",
        "2026-12-01-000004_users_natural_order",
        "users_natural_order"
    ),
    source!(
        "20261201000005",
        "2026-12-01-000005_users_natural_key",
        "users_natural_key"
    ),
];

/// The table lock a step takes, weakest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Lock {
    /// No lock on a table the application uses (a function, a collation,
    /// a new table).
    None,
    /// `SHARE UPDATE EXCLUSIVE`: concurrent builds, validations. Blocks
    /// neither reads nor writes.
    ShareUpdateExclusive,
    /// `SHARE`: a plain index build. Blocks writes.
    Share,
    /// `SHARE ROW EXCLUSIVE`: a trigger. Blocks writes.
    ShareRowExclusive,
    /// `ACCESS EXCLUSIVE`: most of ALTER TABLE, DROP. Blocks reads and
    /// writes.
    AccessExclusive,
}

impl Lock {
    /// The lock mode's name in PostgreSQL's documentation.
    pub fn mode(self) -> &'static str {
        match self {
            Lock::None => "none",
            Lock::ShareUpdateExclusive => "SHARE UPDATE EXCLUSIVE",
            Lock::Share => "SHARE",
            Lock::ShareRowExclusive => "SHARE ROW EXCLUSIVE",
            Lock::AccessExclusive => "ACCESS EXCLUSIVE",
        }
    }

    /// What the lock blocks of the application's statements: `nothing`,
    /// `writes` or `reads and writes`.
    pub fn blocks(self) -> &'static str {
        match self {
            Lock::None | Lock::ShareUpdateExclusive => "nothing",
            Lock::Share | Lock::ShareRowExclusive => "writes",
            Lock::AccessExclusive => "reads and writes",
        }
    }
}

/// How a step runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// In a transaction (consecutive ones share it), tried with a short
    /// `lock_timeout` and retried.
    Transactional,
    /// `CREATE INDEX CONCURRENTLY` of `index`: alone, outside a
    /// transaction, on a session (an INVALID index of that name, left by
    /// an interrupted build, is dropped first).
    Build { index: String },
    /// `DROP INDEX CONCURRENTLY`: alone, outside a transaction.
    DropIndex,
    /// `ALTER TABLE … VALIDATE CONSTRAINT`: alone, in its own transaction.
    Validate,
}

/// One statement of a migration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// The statement, without the comments before it.
    pub sql: String,
    pub kind: Kind,
    pub lock: Lock,
    /// The table the lock is on, when it is one the application uses.
    pub table: Option<String>,
    /// Whether the statement reads every row of `table` (an index build,
    /// a validation) rather than changing only the catalog.
    pub scans: bool,
    /// `-- todo: when QUERY`: run only when `QUERY`'s `ok` is true.
    pub when: Option<String>,
}

impl Step {
    /// Whether the step needs a session of its own, outside any
    /// transaction (which a transaction pooler does not give).
    pub fn needs_session(&self) -> bool {
        matches!(self.kind, Kind::Build { .. } | Kind::DropIndex)
    }

    /// The statement as one transaction runs it, where the tables hold no
    /// rows (SPEC §21's fast path): `CONCURRENTLY` removed.
    pub fn in_transaction(&self) -> String {
        if self.needs_session() {
            self.sql.replacen(" CONCURRENTLY", "", 1)
        } else {
            self.sql.clone()
        }
    }
}

/// The steps of a migration's `up.sql` or `down.sql`.
pub fn steps(sql: &str) -> Vec<Step> {
    split(sql)
        .into_iter()
        .map(|(when, sql)| classify(sql, when))
        .collect()
}

/// The migration `version` of this build.
pub fn source(version: &str) -> Option<&'static Source> {
    SOURCES.iter().find(|s| s.version == version)
}

/// Cuts SQL into statements at top-level semicolons (outside quotes,
/// dollar quotes and comments). Returns each with the `-- todo: when`
/// condition written before it; comments before a statement are dropped.
fn split(sql: &str) -> Vec<(Option<String>, String)> {
    let bytes = sql.as_bytes();
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                i = sql[i..].find('\n').map_or(bytes.len(), |n| i + n);
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i = sql[i + 2..]
                    .find("*/")
                    .map_or(bytes.len(), |n| i + 2 + n + 2);
            }
            quote @ (b'\'' | b'"') => {
                i += 1;
                while i < bytes.len() && bytes[i] != quote {
                    i += 1;
                }
                i += 1;
            }
            b'$' => {
                let tag_end = sql[i + 1..]
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .map(|n| i + 1 + n);
                match tag_end {
                    Some(end) if bytes[end] == b'$' => {
                        let tag = &sql[i..=end];
                        i = sql[end + 1..]
                            .find(tag)
                            .map_or(bytes.len(), |n| end + 1 + n + tag.len());
                    }
                    _ => i += 1,
                }
            }
            b';' => {
                out.extend(statement(&sql[start..i]));
                i += 1;
                start = i;
            }
            _ => i += 1,
        }
    }
    out.extend(statement(&sql[start..]));
    out
}

/// A statement's text without the comment lines before it, and its
/// `-- todo: when` condition; None when there is no statement.
fn statement(text: &str) -> Option<(Option<String>, String)> {
    let mut when = None;
    let mut rest = text.trim_start();
    while let Some(comment) = rest.strip_prefix("--") {
        let (line, after) = comment.split_once('\n').unwrap_or((comment, ""));
        if let Some(cond) = line.trim().strip_prefix("todo: when ") {
            when = Some(cond.trim().to_string());
        }
        rest = after.trim_start();
    }
    let sql = rest.trim_end();
    (!sql.is_empty()).then(|| (when, sql.to_string()))
}

/// The words of `sql`, upper-cased, outside its first dollar-quoted body
/// (for a DO block: the body's words are searched separately).
fn words(sql: &str) -> Vec<String> {
    sql.split(|c: char| c.is_whitespace() || c == '(' || c == ';')
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_uppercase)
        .collect()
}

/// The word after the first occurrence of `keyword` (and of `IF NOT
/// EXISTS` / `IF EXISTS`, `ONLY`), lower-cased as PostgreSQL folds it.
fn after(words: &[String], keyword: &str) -> Option<String> {
    let at = words.iter().position(|w| w == keyword)?;
    words[at + 1..]
        .iter()
        .find(|w| {
            !matches!(
                w.as_str(),
                "IF" | "NOT" | "EXISTS" | "ONLY" | "CONCURRENTLY"
            )
        })
        .map(|w| w.to_ascii_lowercase())
}

fn classify(sql: String, when: Option<String>) -> Step {
    let w = words(&sql);
    let starts =
        |prefix: &[&str]| w.len() >= prefix.len() && w.iter().zip(prefix).all(|(a, b)| a == b);
    let step = |kind, lock, table: Option<String>, scans| Step {
        sql: sql.clone(),
        kind,
        lock,
        table,
        scans,
        when: when.clone(),
    };
    let concurrently = w.iter().take(4).any(|x| x == "CONCURRENTLY");
    if starts(&["CREATE", "INDEX"]) || starts(&["CREATE", "UNIQUE", "INDEX"]) {
        let table = after(&w, "ON");
        if concurrently {
            let index = after(&w, "CONCURRENTLY").unwrap_or_default();
            return step(
                Kind::Build { index },
                Lock::ShareUpdateExclusive,
                table,
                true,
            );
        }
        return step(Kind::Transactional, Lock::Share, table, true);
    }
    if starts(&["DROP", "INDEX"]) {
        if concurrently {
            return step(Kind::DropIndex, Lock::ShareUpdateExclusive, None, false);
        }
        return step(Kind::Transactional, Lock::AccessExclusive, None, false);
    }
    if starts(&["ALTER", "TABLE"]) {
        let table = after(&w, "TABLE");
        if w.iter().any(|x| x == "VALIDATE") {
            return step(Kind::Validate, Lock::ShareUpdateExclusive, table, true);
        }
        return step(Kind::Transactional, Lock::AccessExclusive, table, false);
    }
    if starts(&["CREATE", "TRIGGER"]) || starts(&["CREATE", "OR", "REPLACE", "TRIGGER"]) {
        let table = after(&w, "ON");
        return step(Kind::Transactional, Lock::ShareRowExclusive, table, false);
    }
    if starts(&["DROP", "TRIGGER"]) {
        let table = after(&w, "ON");
        return step(Kind::Transactional, Lock::AccessExclusive, table, false);
    }
    if starts(&["DROP", "TABLE"]) {
        let table = after(&w, "TABLE");
        return step(Kind::Transactional, Lock::AccessExclusive, table, false);
    }
    if starts(&["DO"]) {
        // A DO block: the strongest statement in its body decides.
        if let Some(at) = w.iter().position(|x| x == "ALTER") {
            if w.get(at + 1).map(String::as_str) == Some("TABLE") {
                let table = after(&w[at..], "TABLE");
                return step(Kind::Transactional, Lock::AccessExclusive, table, false);
            }
        }
        if w.iter().any(|x| x == "INDEX") {
            let table = after(&w, "ON");
            return step(Kind::Transactional, Lock::Share, table, true);
        }
    }
    // CREATE TABLE (a new table), functions, collations.
    step(Kind::Transactional, Lock::None, None, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The list above is the `migrations/` directory, in order.
    #[test]
    fn sources_are_the_migrations_directory() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
        let mut dirs: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        dirs.sort();
        let listed: Vec<String> = SOURCES
            .iter()
            .map(|s| {
                let digits: String = s.version.to_string();
                format!(
                    "{}-{}-{}-{}_{}",
                    &digits[0..4],
                    &digits[4..6],
                    &digits[6..8],
                    &digits[8..],
                    s.name
                )
            })
            .collect();
        assert_eq!(dirs, listed);
    }

    fn summary(sql: &str) -> Vec<String> {
        steps(sql)
            .iter()
            .map(|s| {
                format!(
                    "{:?} {} {} scans={} when={}",
                    s.kind,
                    s.lock.mode(),
                    s.table.as_deref().unwrap_or("-"),
                    s.scans,
                    s.when.is_some()
                )
            })
            .collect()
    }

    /// Every step of every migration, as the runner and `--plan` see it.
    #[test]
    fn every_step_is_classified() {
        let all: Vec<Vec<String>> = SOURCES
            .iter()
            .flat_map(|s| [summary(s.up), summary(s.down)])
            .collect();
        let expected: Vec<Vec<&str>> = vec![
            // 1 up
            vec![
                "Transactional none - scans=false when=false",
                "Transactional SHARE users scans=true when=false",
                "Transactional none - scans=false when=false",
                "Transactional SHARE tasks scans=true when=false",
                "Transactional SHARE tasks scans=true when=false",
                "Transactional SHARE tasks scans=true when=false",
                "Transactional SHARE tasks scans=true when=false",
                "Transactional SHARE tasks scans=true when=false",
            ],
            vec![
                "Transactional ACCESS EXCLUSIVE tasks scans=false when=false",
                "Transactional ACCESS EXCLUSIVE users scans=false when=false",
            ],
            // 2 up
            vec![
                "Transactional ACCESS EXCLUSIVE tasks scans=false when=false",
                "Validate SHARE UPDATE EXCLUSIVE tasks scans=true when=false",
                "Validate SHARE UPDATE EXCLUSIVE tasks scans=true when=false",
                "Transactional none - scans=false when=false",
                "Transactional SHARE ROW EXCLUSIVE users scans=false when=false",
                "Transactional SHARE ROW EXCLUSIVE tasks scans=false when=false",
                "Build { index: \"idx_users_email_lower\" } SHARE UPDATE EXCLUSIVE users scans=true when=false",
            ],
            vec![
                "DropIndex SHARE UPDATE EXCLUSIVE - scans=false when=false",
                "Transactional ACCESS EXCLUSIVE tasks scans=false when=false",
                "Transactional ACCESS EXCLUSIVE users scans=false when=false",
                "Transactional none - scans=false when=false",
                "Transactional ACCESS EXCLUSIVE tasks scans=false when=false",
                "Transactional ACCESS EXCLUSIVE tasks scans=false when=false",
            ],
            // 3
            vec!["Build { index: \"idx_tasks_user_created\" } SHARE UPDATE EXCLUSIVE tasks scans=true when=false"],
            vec!["DropIndex SHARE UPDATE EXCLUSIVE - scans=false when=false"],
            // 4
            vec![
                "Transactional none - scans=false when=false",
                "Build { index: \"idx_users_email_natural\" } SHARE UPDATE EXCLUSIVE users scans=true when=true",
            ],
            vec![
                "DropIndex SHARE UPDATE EXCLUSIVE - scans=false when=false",
                "Transactional none - scans=false when=false",
            ],
            // 5
            vec![
                "Build { index: \"idx_users_email_natural_key\" } SHARE UPDATE EXCLUSIVE users scans=true when=false",
                "DropIndex SHARE UPDATE EXCLUSIVE - scans=false when=false",
                "Transactional none - scans=false when=false",
            ],
            vec![
                "Transactional none - scans=false when=false",
                "Build { index: \"idx_users_email_natural\" } SHARE UPDATE EXCLUSIVE users scans=true when=true",
                "DropIndex SHARE UPDATE EXCLUSIVE - scans=false when=false",
            ],
        ];
        assert_eq!(all, expected);
    }

    #[test]
    fn splitting_respects_quotes_comments_and_dollar_quotes() {
        let sql = "-- a; comment\nSELECT 'a;b', \"c;d\"; /* x; */ DO $$ BEGIN; END $$;\n\
                   -- todo: when SELECT true AS ok\nSELECT $t$;$t$;";
        let got = split(sql);
        assert_eq!(
            got,
            vec![
                (None, "SELECT 'a;b', \"c;d\"".to_string()),
                (None, "/* x; */ DO $$ BEGIN; END $$".to_string()),
                (
                    Some("SELECT true AS ok".to_string()),
                    "SELECT $t$;$t$".to_string()
                ),
            ]
        );
    }

    #[test]
    fn the_fast_path_drops_concurrently() {
        let s = &steps("CREATE INDEX CONCURRENTLY IF NOT EXISTS i ON t (a);")[0];
        assert_eq!(s.in_transaction(), "CREATE INDEX IF NOT EXISTS i ON t (a)");
        assert!(s.needs_session());
    }
}
