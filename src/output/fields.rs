//! The fields of the JSON objects each command prints, for `--json FIELDS`
//! (checked before the command runs) and its error listing them. They are
//! the shapes of docs/reference.md; `tests/cli/reference.rs` checks that
//! each command's list here is the keys it really prints.

/// A task object (`task add`, `show`, `edit`, and each element of `task
/// list`, `done`, `undo`, `rm`).
const TASK: &[&str] = &[
    "id",
    "title",
    "description",
    "completed",
    "user_id",
    "created_at",
    "updated_at",
];

/// A user object with its task counts (`tasks.total` picks one).
const USER: &[&str] = &[
    "id",
    "email",
    "name",
    "created_at",
    "updated_at",
    "tasks",
    "tasks.total",
    "tasks.pending",
    "tasks.done",
];

const LOCAL: &[&str] = &["state", "home", "url", "version", "bindir"];

/// The fields `command` (its path: `task list`) prints; `None` when it
/// prints no JSON objects (`db local url`, `config get`, …).
pub fn of(command: &str) -> Option<&'static [&'static str]> {
    Some(match command {
        "user add" | "user list" | "user show" => USER,
        "user rm" => &[
            "id",
            "email",
            "name",
            "created_at",
            "updated_at",
            "tasks_deleted",
        ],
        "user export" => &["user", "tasks"],
        "task add" | "task list" | "task show" | "task done" | "task undo" | "task edit"
        | "task rm" | "task export" => TASK,
        "task stats" => &["total", "pending", "done"],
        "task import" => &["imported", "skipped", "dry_run"],
        "db migrate" => &["applied", "pending", "one_transaction"],
        "db status" => &["applied", "pending", "run_on", "incomplete", "in_progress"],
        "db revert" => &["reverted"],
        "db seed" => &[
            "users_created",
            "tasks_created",
            "users_deleted",
            "tasks_deleted",
            "elapsed_ms",
        ],
        "db health" => &["status", "checks"],
        "db stats" => &[
            "database",
            "tables",
            "indexes",
            "statements",
            "statements_unavailable",
        ],
        "db wait" => &["ready", "elapsed_ms"],
        "db backup" => &["file", "users", "tasks", "bytes", "sha256", "elapsed_ms"],
        "db restore" => &["users", "tasks", "elapsed_ms"],
        "db verify" => &["file", "users", "tasks", "ok"],
        "db purge" => &["deleted", "archived", "batches", "elapsed_ms", "dry_run"],
        "db maintain" => &["actions"],
        "db rls enable" | "db rls disable" | "db roles grant" | "db roles revoke" => &["changed"],
        "db rls status" => &["enabled", "forced", "users_enabled", "policies", "bypass"],
        "db roles status" => &["role", "object", "privileges"],
        "db local status" | "db local start" | "db local stop" | "db local destroy"
        | "db local reset" => LOCAL,
        "config list" => &["user", "database", "read_url", "pager", "color"],
        _ => return None,
    })
}

/// Every field any command prints (to tell `--json title` from an
/// argument, see [`super::shape::looks_like_fields`]).
pub fn all() -> Vec<&'static str> {
    const COMMANDS: &[&str] = &[
        "user add",
        "user rm",
        "user export",
        "task add",
        "task stats",
        "task import",
        "db migrate",
        "db status",
        "db revert",
        "db seed",
        "db health",
        "db stats",
        "db wait",
        "db backup",
        "db restore",
        "db verify",
        "db purge",
        "db maintain",
        "db rls enable",
        "db rls status",
        "db roles status",
        "db local status",
        "config list",
    ];
    let mut all: Vec<&str> = COMMANDS
        .iter()
        .filter_map(|c| of(c))
        .flatten()
        .copied()
        .collect();
    all.sort_unstable();
    all.dedup();
    all
}
