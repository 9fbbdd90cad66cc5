//! `db rls enable|disable|status` and `db roles grant|revoke|status`
//! (SPEC §13).
//!
//! Round trips: `grant` 2 (the role's lookup, then one transaction of the
//! grants, each statement quoted by the server: 2 + 2 × 3 statements, and
//! the transaction's lock budget: 1),
//! `revoke` likewise, `status` 1. `enable`, `disable`, `grant` and
//! `revoke` run in one transaction tried with the lock budget (SPEC §21:
//! they never queue in front of the application longer than 0.5 s).

use clap::{Args, Subcommand};

use crate::commands::{brief, query, Context};
use crate::db::rls;
use crate::error::{Error, Result};
use crate::output::ops::{Changes, Grants, RlsState};

#[derive(Debug, Subcommand)]
pub enum RlsCommand {
    /// Enable row-level security on tasks, keyed on app.user_id (idempotent)
    Enable,
    /// Disable it and drop the policy (idempotent)
    Disable,
    /// Show whether it is enabled, the policies, and who bypasses them
    Status,
}

#[derive(Debug, Subcommand)]
pub enum RolesCommand {
    /// Grant a role least privileges on users and tasks
    ///
    /// --app: SELECT, INSERT, UPDATE, DELETE on users and tasks and USAGE on
    /// tasks_id_seq (no DDL, no TRUNCATE). --readonly: SELECT. The role must
    /// exist unless --create (a LOGIN role without a password: set one with
    /// ALTER ROLE … PASSWORD or psql's \password).
    ///
    /// Examples:
    ///   todo db roles grant --app todo_app --create
    ///   todo db roles grant --readonly todo_reporting
    #[command(verbatim_doc_comment)]
    Grant(GrantArgs),
    /// Revoke every privilege a role has on users, tasks and tasks_id_seq
    ///
    /// The role itself is kept (DROP ROLE it in psql). The tables' owner is
    /// refused.
    ///
    /// Example: todo db roles revoke todo_reporting
    #[command(verbatim_doc_comment)]
    Revoke(RevokeArgs),
    /// Each role's privileges on users, tasks and tasks_id_seq
    Status,
}

#[derive(Debug, Args)]
pub struct GrantArgs {
    #[command(flatten)]
    pub role: GrantRole,
    /// Grant --app to a superuser or BYPASSRLS role anyway (row-level
    /// security does not apply to it)
    #[arg(long)]
    pub force: bool,
    /// Create the role (LOGIN, no password) when it does not exist
    #[arg(long)]
    pub create: bool,
}

#[derive(Debug, Args)]
pub struct RevokeArgs {
    /// The role
    pub role: String,
}

#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct GrantRole {
    /// The web app's role: read and write rows, nothing else
    #[arg(long, value_name = "ROLE")]
    pub app: Option<String>,
    /// A reporting or monitoring role: read only
    #[arg(long, value_name = "ROLE")]
    pub readonly: Option<String>,
}

pub fn rls(ctx: &Context, cmd: RlsCommand) -> Result<()> {
    let mut conn = ctx.conn()?;
    match cmd {
        RlsCommand::Enable => {
            let changes = brief(ctx, &mut conn, rls::enable).map_err(owner_only)?;
            ctx.emit(&Changes(changes))
        }
        RlsCommand::Disable => {
            let changes = brief(ctx, &mut conn, rls::disable).map_err(owner_only)?;
            ctx.emit(&Changes(changes))
        }
        RlsCommand::Status => {
            let status = query(&mut conn, rls::status)?;
            ctx.emit(&RlsState(status))
        }
    }
}

pub fn roles(ctx: &Context, cmd: RolesCommand) -> Result<()> {
    let mut conn = ctx.conn()?;
    match cmd {
        RolesCommand::Grant(args) => {
            let (role, app) = match (args.role.app, args.role.readonly) {
                (Some(role), _) => (role, true),
                (None, Some(role)) => (role, false),
                (None, None) => return Err(Error::usage("pass --app ROLE or --readonly ROLE")),
            };
            check_role_name(&role)?;
            let found = query(&mut conn, |c| rls::role(c, &role))?;
            if !found.exists && !args.create {
                return Err(missing_role(&role, &found.quoted));
            }
            if !found.exists && role.starts_with("pg_") {
                return Err(Error::usage(format!(
                    "invalid role name {:?}: names starting with pg_ are reserved for the \
                     server's own roles",
                    crate::text::terminal_safe(&role, false)
                )));
            }
            if app && (found.superuser || found.bypassrls) && !args.force {
                let what = if found.superuser {
                    "a superuser"
                } else {
                    "a BYPASSRLS role"
                };
                // Demoting the role connected would lock the caller out
                // of what only it may do: a role of the app's own, then.
                let hint = if found.current {
                    format!(
                        "{role} is the role you are connected as: give the web app a role of \
                         its own (todo db roles grant --app APP_ROLE --create), or pass --force"
                    )
                } else {
                    format!(
                        "use an ordinary role (ALTER ROLE {} NOSUPERUSER NOBYPASSRLS), or pass \
                         --force",
                        found.quoted
                    )
                };
                return Err(Error::usage(format!(
                    "role {role} is {what}: row-level security would not apply to the web app"
                ))
                .with_hint(hint));
            }
            let create = !found.exists;
            let done = brief(ctx, &mut conn, |c| rls::grant(c, &role, app, create)).map_err(|e| {
                // No grant can help here: it takes CREATEROLE, or the
                // tables' owner.
                let hint = if create {
                    "creating a role takes CREATEROLE: run this as a role that has it, or create \
                     the role first (CREATE ROLE name LOGIN) and grant without --create"
                } else {
                    "granting on the tables takes their owner: run this as the owner of users \
                     and tasks (or a superuser)"
                };
                forbidden_hint(e, hint)
            })?;
            if create {
                // On stderr in every format: the role cannot log in yet.
                eprintln!(
                    "note: created role {role} without a password: set one with \
                     ALTER ROLE {} PASSWORD '…' (or psql's \\password)",
                    found.quoted
                );
            }
            ctx.emit(&Changes(done))
        }
        RolesCommand::Revoke(args) => {
            check_role_name(&args.role)?;
            let found = query(&mut conn, |c| rls::role(c, &args.role))?;
            if !found.exists {
                return Err(missing_role(&args.role, &found.quoted));
            }
            if found.owner {
                return Err(Error::usage(format!(
                    "role {} owns the tables: revoking would lock the owner out",
                    args.role
                )));
            }
            let done = brief(ctx, &mut conn, |c| rls::revoke(c, &args.role))?;
            ctx.emit(&Changes(done))
        }
        RolesCommand::Status => {
            let grants = query(&mut conn, rls::grants)?;
            ctx.emit(&Grants(grants))
        }
    }
}

/// A refused permission whose usual hint (a grant) cannot help.
fn forbidden_hint(err: Error, hint: &str) -> Error {
    if err.kind == crate::error::Kind::Forbidden {
        err.with_hint(hint)
    } else {
        err
    }
}

/// Row-level security is the tables' owner's to change.
fn owner_only(err: Error) -> Error {
    forbidden_hint(
        err,
        "only the owner of users and tasks (or a superuser) can change row-level security: \
         run this as the owner",
    )
}

/// A role name PostgreSQL would refuse or change, refused before anything
/// is sent (exit 2): empty, or longer than 63 bytes (the server would cut
/// it silently, and grant to another name than the one given). A new role
/// may not be named `pg_…` either (the server's own, such as pg_monitor,
/// may be granted to).
fn check_role_name(role: &str) -> Result<()> {
    let why = if role.is_empty() {
        "it is empty"
    } else if role.len() > 63 {
        "it is longer than 63 bytes, where PostgreSQL would cut it"
    } else if role.contains('\0') {
        "it contains a NUL character"
    } else {
        return Ok(());
    };
    Err(Error::usage(format!(
        "invalid role name {:?}: {why}",
        crate::text::terminal_safe(role, false)
    )))
}

/// A role that does not exist (exit 3), with how to create it.
fn missing_role(role: &str, quoted: &str) -> Error {
    Error::not_found(format!("role {role} does not exist")).with_hint(format!(
        "create it: CREATE ROLE {quoted} LOGIN PASSWORD '…', or pass --create to db roles grant"
    ))
}
