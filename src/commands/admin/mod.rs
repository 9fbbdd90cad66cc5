//! `todo db …`: migrations, seed data, health, and the embedded local
//! database; one file per command group.

mod backup;
mod health;
mod local;
mod maintain;
mod migrate;
mod progress;
mod purge;
mod rls;
mod seed;
mod verify;
mod wait;

use clap::Subcommand;

use crate::commands::Context;
use crate::error::Result;
pub use backup::{BackupArgs, RestoreArgs};
pub use local::LocalCommand;
pub use maintain::MaintainArgs;
pub use migrate::{MigrateArgs, RevertArgs, StatusArgs};
pub use purge::PurgeArgs;
pub use rls::{GrantArgs, RlsCommand, RolesCommand};
pub use seed::SeedArgs;
pub use verify::VerifyArgs;
pub use wait::WaitArgs;

#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Apply pending migrations
    ///
    /// All pending migrations run in one transaction holding an advisory
    /// lock, so concurrent runs are safe and each migration applies once.
    ///
    /// Examples:
    ///   todo db migrate
    ///   todo db migrate --baseline    # adopt tables the web backend created
    #[command(verbatim_doc_comment)]
    Migrate(MigrateArgs),
    /// Show applied and pending migrations
    ///
    /// Example: todo db status --check || todo db migrate
    #[command(verbatim_doc_comment)]
    Status(StatusArgs),
    /// Revert the last applied migration
    ///
    /// Shows what it drops (with row counts) and asks for confirmation;
    /// without a terminal, pass --yes. Reverting the base migration while its
    /// tables hold rows also needs --force.
    ///
    /// Example: todo db revert --yes
    #[command(verbatim_doc_comment)]
    Revert(RevertArgs),
    /// Load deterministic sample data, or remove it with --clean
    ///
    /// Creates seed-user-1..N@seed.example with M tasks each (realistic
    /// titles, a mix of done and pending, dated in the 8 weeks before
    /// 2026-01-01). Existing seed users are left alone; only missing ones
    /// are added, so re-running adds nothing. Other rows are never touched.
    /// One transaction: an interrupted seed leaves nothing behind.
    ///
    /// Examples:
    ///   todo db seed
    ///   todo db seed --users 100000 --tasks-per-user 10 --seed 7
    ///   todo db seed --clean
    #[command(verbatim_doc_comment)]
    Seed(SeedArgs),
    /// Write a consistent, compressed, checksummed backup of users and tasks
    ///
    /// One REPEATABLE READ snapshot streamed with COPY into a self-describing
    /// file (format: docs/backup-format.md), written under a temporary name
    /// and renamed when complete. Needs only SELECT; works through a pooler
    /// and against any server version (no pg_dump).
    ///
    /// Examples:
    ///   todo db backup --verify
    ///   todo db backup -o /backups/todo-$(date +%F).todo
    ///   todo db backup -o - | ssh vault 'cat > todo.todo'
    #[command(verbatim_doc_comment)]
    Backup(BackupArgs),
    /// Load a backup into a migrated database, in one transaction
    ///
    /// Checksums are verified before COMMIT; ids are kept. An empty database
    /// is migrated first. A database that holds users or tasks is a conflict
    /// (exit 4) unless --replace. Exit 2 for a truncated, corrupt or foreign
    /// file; 6 for a backup from a newer schema.
    ///
    /// Example: todo db restore todo-backup-20261125T010000Z.todo
    #[command(verbatim_doc_comment)]
    Restore(RestoreArgs),
    /// Check a backup by restoring it into a throwaway local database
    ///
    /// Uses the embedded local server (created if needed); the configured
    /// database is never touched. Exit 0 when rows, checksums and schema
    /// match the manifest, 7 when they do not, 2 when the file is unreadable.
    ///
    /// Example: todo db verify todo-backup-20261125T010000Z.todo
    #[command(verbatim_doc_comment)]
    Verify(VerifyArgs),
    /// Check the database and print a report: OK / WARN / FAIL per check
    ///
    /// Checks: connection and round trip, server version, pending
    /// migrations, schema conformance, connections in use, transaction-id
    /// wraparound, tasks_id_seq headroom, dead tuples and vacuum of tasks,
    /// cache hit ratio, unused indexes, deadlocks, the oldest transaction,
    /// sessions idle in a transaction, lock waits, database size, row-level
    /// security, replication. Never writes; works for a read-only role.
    /// Exit 5 unreachable, 6 schema missing, 7 a check failed, else 0.
    ///
    /// Example: todo db health --json
    #[command(verbatim_doc_comment)]
    Health,
    /// Delete completed tasks older than a cutoff, in batches (retention)
    ///
    /// Completed tasks whose updated_at is before WHEN, in batches of --batch
    /// (each its own short transaction, so locks and WAL stay bounded on a
    /// live database); interrupted, a re-run finishes the job. --archive
    /// writes each batch's rows to a file (backup format) synced before the
    /// batch commits. Asks on a terminal; needs --yes otherwise.
    ///
    /// Examples:
    ///   todo db purge --done-before 90d --dry-run
    ///   todo db purge --done-before 1y --archive purged-2026.todo --yes
    #[command(verbatim_doc_comment)]
    Purge(PurgeArgs),
    /// Fix what db health finds: VACUUM (ANALYZE), REINDEX INDEX CONCURRENTLY
    ///
    /// VACUUM (ANALYZE) of users or tasks when dead tuples or stale
    /// statistics pass db health's thresholds; REINDEX INDEX CONCURRENTLY of
    /// an invalid index. Prints each action, why, and its result; waits for
    /// a lock at most --lock-timeout and reports the action skipped rather
    /// than blocking. Asks on a terminal; needs --yes otherwise. Run it on
    /// the direct host, not through a transaction pooler.
    ///
    /// Examples:
    ///   todo db maintain --dry-run
    ///   todo db maintain --yes --lock-timeout 5
    #[command(verbatim_doc_comment)]
    Maintain(MaintainArgs),
    /// Row-level security on tasks: each user's rows only, for app roles
    ///
    /// A role subject to it (not the owner, a superuser or BYPASSRLS) sees
    /// and changes only the tasks of the user named by the setting
    /// app.user_id, and cannot write tasks for another user; with the
    /// setting unset, it sees none. users stays readable. One transaction;
    /// enable and disable are idempotent and print what changed.
    ///
    /// Example: todo db rls enable && todo db rls status
    #[command(verbatim_doc_comment)]
    #[command(subcommand)]
    Rls(RlsCommand),
    /// Least-privilege grants for the app's and a read-only role
    ///
    /// Example: todo db roles grant --app todo_app && todo db roles status
    #[command(verbatim_doc_comment)]
    #[command(subcommand)]
    Roles(RolesCommand),
    /// Sizes, rows, vacuum and analyze times, scans, deadlocks, slowest statements
    ///
    /// For users and tasks and their indexes; the slowest statements come
    /// from pg_stat_statements when it is installed. Read-only.
    /// --format prometheus writes metrics for a textfile collector.
    ///
    /// Example: todo db stats --format prometheus > /var/lib/node_exporter/todo.prom
    #[command(verbatim_doc_comment)]
    Stats,
    /// Wait until the database accepts connections (for CI job ordering)
    ///
    /// Tries to connect every 250 ms until --timeout; with --migrated, also
    /// until no migration is pending. Exit 0 when ready, 5 when the server
    /// never answered, 6 when it stayed unmigrated.
    ///
    /// Example: todo db wait --timeout 60 --migrated && ./run-tests
    #[command(verbatim_doc_comment)]
    Wait(WaitArgs),
    /// The embedded local database (used with --local)
    ///
    /// A private PostgreSQL under $TODO_HOME (default ~/.local/share/todo,
    /// /var/lib/todo as root), reachable only through a Unix socket.
    ///
    /// Example: psql "$(todo db local url)"
    #[command(verbatim_doc_comment)]
    #[command(subcommand)]
    Local(LocalCommand),
}

/// Runs a `db` command. Those that read or lock the tables run under the
/// lock watchdog (SPEC §17): past `--lock-timeout` (default 10 s) behind
/// another session's lock they fail with exit 5 naming the blocker (`db
/// health` reports the check it could not make as FAIL and prints the
/// rest). `migrate`, `revert` and `maintain` bound their waits with the
/// server's `lock_timeout` instead (they take the locks themselves), and
/// so do `rls enable|disable` and `roles grant|revoke` (tries of the lock
/// budget until `--lock-timeout`, SPEC §21: a watchdog cancelling one try
/// would cut the tries short); `wait`, `verify` and `local` touch no
/// configured table.
pub fn run(ctx: &Context, cmd: DbCommand) -> Result<()> {
    let watched = !matches!(
        cmd,
        DbCommand::Migrate(_)
            | DbCommand::Revert(_)
            | DbCommand::Maintain(_)
            | DbCommand::Wait(_)
            | DbCommand::Verify(_)
            | DbCommand::Local(_)
            | DbCommand::Rls(RlsCommand::Enable | RlsCommand::Disable)
            | DbCommand::Roles(RolesCommand::Grant(_) | RolesCommand::Revoke(_))
    );
    let _watch =
        watched.then(|| super::watchdog::start(ctx.connect_options(), ctx.lock_timeout(10)));
    match cmd {
        DbCommand::Migrate(args) => migrate::migrate(ctx, args),
        DbCommand::Status(args) => migrate::status(ctx, args),
        DbCommand::Revert(args) => migrate::revert(ctx, args),
        DbCommand::Seed(args) if args.clean => seed::clean(ctx, args),
        DbCommand::Seed(args) => seed::seed(ctx, args),
        DbCommand::Health => health::health(ctx),
        DbCommand::Backup(args) => backup::backup(ctx, args),
        DbCommand::Restore(args) => backup::restore(ctx, args),
        DbCommand::Verify(args) => verify::verify(ctx, args),
        DbCommand::Local(cmd) => local::local(ctx, cmd),
        DbCommand::Wait(args) => wait::wait(ctx, args),
        DbCommand::Purge(args) => purge::purge(ctx, args),
        DbCommand::Maintain(args) => maintain::maintain(ctx, args),
        DbCommand::Rls(cmd) => rls::rls(ctx, cmd),
        DbCommand::Roles(cmd) => rls::roles(ctx, cmd),
        DbCommand::Stats => {
            let mut conn = ctx.read_conn()?;
            let stats = crate::db::stats::read(&mut conn)
                .map_err(|e| crate::commands::errors::classify(&mut conn, e))?;
            ctx.emit(&stats)
        }
    }
}
