//! Row-level security on `tasks` and least-privilege roles (SPEC §13).
//!
//! The policy: a role subject to row-level security (neither the table's
//! owner nor a superuser nor `BYPASSRLS`) sees and changes only the tasks
//! of the user named by `app.user_id` (`current_setting('app.user_id',
//! true)`, NULL when unset: then no task), and may not insert or move a
//! task to another user (`WITH CHECK`). The setting is read in a sub-select
//! so the planner evaluates it once per statement (an initplan).
//!
//! `users` (SPEC §17): such a role may read and insert any user (the auth
//! service looks users up by email before any user is known, and signs new
//! ones up), but update and delete only the row whose `id` is
//! `app.user_id`. Without this, `DELETE FROM users WHERE id = 'other'` would
//! delete another user's tasks through the cascade (which runs as the
//! owner), and `UPDATE users SET email = …` would take over any account.
//!
//! Role names are quoted by the server (`format('%I')`), never by us.

use crate::db::PgConn;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Text};

/// The policy's name.
pub const POLICY: &str = "todo_user_isolation";

/// The policies `enable` creates on `users` and `disable` drops:
/// (name, create statement, drop statement).
const USERS_POLICIES: [(&str, &str, &str); 4] = [
    (
        "todo_users_select",
        "CREATE POLICY todo_users_select ON users FOR SELECT USING (true)",
        "DROP POLICY todo_users_select ON users",
    ),
    (
        "todo_users_insert",
        "CREATE POLICY todo_users_insert ON users FOR INSERT WITH CHECK (true)",
        "DROP POLICY todo_users_insert ON users",
    ),
    (
        "todo_users_update",
        "CREATE POLICY todo_users_update ON users FOR UPDATE
           USING (id = (SELECT current_setting('app.user_id', true)))
           WITH CHECK (id = (SELECT current_setting('app.user_id', true)))",
        "DROP POLICY todo_users_update ON users",
    ),
    (
        "todo_users_delete",
        "CREATE POLICY todo_users_delete ON users FOR DELETE
           USING (id = (SELECT current_setting('app.user_id', true)))",
        "DROP POLICY todo_users_delete ON users",
    ),
];

/// The tables whose rows row-level security filters for the connected
/// role, as a comma-separated text ('' when none): one expression, to fold
/// into a statement a command runs anyway.
macro_rules! row_security_tables {
    () => {
        "concat_ws(',', CASE WHEN row_security_active('users') THEN 'users' END, \
                        CASE WHEN row_security_active('tasks') THEN 'tasks' END)"
    };
}
pub(crate) use row_security_tables;

/// The tables whose rows row-level security filters for this role.
pub fn row_security_hides(conn: &mut PgConn) -> QueryResult<Vec<String>> {
    let tables: String =
        diesel::select(diesel::dsl::sql::<Text>(row_security_tables!())).get_result(conn)?;
    Ok(split_tables(&tables))
}

/// The list [`row_security_tables`] gives.
pub fn split_tables(tables: &str) -> Vec<String> {
    tables
        .split(',')
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect()
}

/// The current state: whether RLS is enabled (and forced) on `tasks`, its
/// policies, and the roles that bypass them.
#[derive(Debug, Clone)]
pub struct Status {
    pub enabled: bool,
    pub forced: bool,
    /// Whether RLS is enabled on `users`.
    pub users_enabled: bool,
    pub policies: Vec<Policy>,
    /// Roles that are not subject to the policies: the owner, superusers,
    /// roles with BYPASSRLS (login roles only, and the owner).
    pub bypass: Vec<String>,
}

#[derive(Debug, Clone, QueryableByName)]
pub struct Policy {
    #[diesel(sql_type = Text)]
    pub table: String,
    #[diesel(sql_type = Text)]
    pub name: String,
    #[diesel(sql_type = Text)]
    pub command: String,
    #[diesel(sql_type = Text)]
    pub using: String,
    #[diesel(sql_type = Text)]
    pub check: String,
}

pub fn status(conn: &mut PgConn) -> QueryResult<Status> {
    #[derive(QueryableByName)]
    struct Flags {
        #[diesel(sql_type = Bool)]
        enabled: bool,
        #[diesel(sql_type = Bool)]
        forced: bool,
        #[diesel(sql_type = Bool)]
        users_enabled: bool,
    }
    #[derive(QueryableByName)]
    struct Name {
        #[diesel(sql_type = Text)]
        name: String,
    }
    let flags: Flags = diesel::sql_query(
        "SELECT relrowsecurity AS enabled, relforcerowsecurity AS forced,
                (SELECT relrowsecurity FROM pg_class WHERE oid = 'users'::regclass) AS users_enabled
         FROM pg_class WHERE oid = 'tasks'::regclass",
    )
    .get_result(conn)?;
    let policies: Vec<Policy> = diesel::sql_query(
        "SELECT tablename::text AS table, policyname::text AS name, cmd::text AS command,
                coalesce(qual, '') AS using, coalesce(with_check, '') AS check
         FROM pg_policies
         WHERE schemaname = current_schema() AND tablename IN ('tasks', 'users')
         ORDER BY tablename = 'users', policyname",
    )
    .load(conn)?;
    let bypass: Vec<Name> = diesel::sql_query(
        "SELECT rolname::text || CASE
                  WHEN oid = (SELECT relowner FROM pg_class WHERE oid = 'tasks'::regclass)
                  THEN ' (owner)' WHEN rolsuper THEN ' (superuser)' ELSE ' (bypassrls)' END AS name
         FROM pg_roles
         WHERE (rolsuper OR rolbypassrls) AND rolcanlogin
            OR oid = (SELECT relowner FROM pg_class WHERE oid = 'tasks'::regclass)
         ORDER BY rolname",
    )
    .load(conn)?;
    Ok(Status {
        enabled: flags.enabled,
        forced: flags.forced,
        users_enabled: flags.users_enabled,
        policies,
        bypass: bypass.into_iter().map(|n| n.name).collect(),
    })
}

/// Enables row-level security with the policy; returns what changed
/// (nothing when it was already so). Run in one transaction tried with the
/// lock budget ([`super::brief::retry`]): ENABLE ROW LEVEL SECURITY and
/// CREATE POLICY take ACCESS EXCLUSIVE locks, briefly.
pub fn enable(conn: &mut PgConn) -> QueryResult<Vec<String>> {
    {
        let before = status(conn)?;
        let mut changed = Vec::new();
        if !before.policies.iter().any(|p| p.name == POLICY) {
            diesel::sql_query(
                "CREATE POLICY todo_user_isolation ON tasks
                   USING (user_id = (SELECT current_setting('app.user_id', true)))
                   WITH CHECK (user_id = (SELECT current_setting('app.user_id', true)))",
            )
            .execute(conn)?;
            changed.push(format!("created policy {POLICY} on tasks"));
        }
        if !before.enabled {
            diesel::sql_query("ALTER TABLE tasks ENABLE ROW LEVEL SECURITY").execute(conn)?;
            changed.push("enabled row-level security on tasks".to_string());
        }
        for (name, create, _) in USERS_POLICIES {
            if !before.policies.iter().any(|p| p.name == name) {
                diesel::sql_query(create).execute(conn)?;
                changed.push(format!("created policy {name} on users"));
            }
        }
        if !before.users_enabled {
            diesel::sql_query("ALTER TABLE users ENABLE ROW LEVEL SECURITY").execute(conn)?;
            changed.push("enabled row-level security on users".to_string());
        }
        Ok(changed)
    }
}

/// Disables row-level security and drops the policy; returns what
/// changed. Run as [`enable`] is.
pub fn disable(conn: &mut PgConn) -> QueryResult<Vec<String>> {
    {
        let before = status(conn)?;
        let mut changed = Vec::new();
        if before.enabled {
            diesel::sql_query("ALTER TABLE tasks DISABLE ROW LEVEL SECURITY").execute(conn)?;
            changed.push("disabled row-level security on tasks".to_string());
        }
        if before.policies.iter().any(|p| p.name == POLICY) {
            diesel::sql_query("DROP POLICY todo_user_isolation ON tasks").execute(conn)?;
            changed.push(format!("dropped policy {POLICY}"));
        }
        if before.users_enabled {
            diesel::sql_query("ALTER TABLE users DISABLE ROW LEVEL SECURITY").execute(conn)?;
            changed.push("disabled row-level security on users".to_string());
        }
        for (name, _, drop) in USERS_POLICIES {
            if before.policies.iter().any(|p| p.name == name) {
                diesel::sql_query(drop).execute(conn)?;
                changed.push(format!("dropped policy {name}"));
            }
        }
        Ok(changed)
    }
}

/// What `db roles grant` needs to know of a role.
#[derive(Debug, Clone, QueryableByName)]
pub struct Role {
    #[diesel(sql_type = Bool)]
    pub exists: bool,
    /// Superusers and BYPASSRLS roles are not subject to row-level security.
    #[diesel(sql_type = Bool)]
    pub superuser: bool,
    #[diesel(sql_type = Bool)]
    pub bypassrls: bool,
    /// The name quoted as an SQL identifier by the server (for hints).
    #[diesel(sql_type = Text)]
    pub quoted: String,
    /// It owns `tasks` (revoking from the owner is refused).
    #[diesel(sql_type = Bool)]
    pub owner: bool,
    /// It is the role connected (advice to demote it would lock the
    /// caller out).
    #[diesel(sql_type = Bool)]
    pub current: bool,
}

/// Looks a role up.
pub fn role(conn: &mut PgConn, role: &str) -> QueryResult<Role> {
    diesel::sql_query(
        "SELECT r.oid IS NOT NULL AS exists, coalesce(r.rolsuper, false) AS superuser,
                coalesce(r.rolbypassrls, false) AS bypassrls, quote_ident($1) AS quoted,
                coalesce(r.oid = (SELECT relowner FROM pg_class
                                  WHERE oid = to_regclass('tasks')), false) AS owner,
                coalesce(r.rolname = current_user, false) AS current
         FROM (SELECT 1) one LEFT JOIN pg_roles r ON r.rolname = $1",
    )
    .bind::<Text, _>(role)
    .get_result(conn)
}

/// The grants of each kind of role, as statements for `%I` = the role.
const APP_GRANTS: [&str; 3] = [
    "GRANT SELECT, INSERT, UPDATE, DELETE ON users, tasks TO %I",
    "GRANT USAGE ON SEQUENCE tasks_id_seq TO %I",
    "GRANT SELECT ON __diesel_schema_migrations TO %I",
];
const READONLY_GRANTS: [&str; 3] = [
    "GRANT SELECT ON users, tasks TO %I",
    "GRANT SELECT ON SEQUENCE tasks_id_seq TO %I",
    "GRANT SELECT ON __diesel_schema_migrations TO %I",
];

/// `db roles grant --create`: a login role without a password (the DBA
/// sets one with `ALTER ROLE … PASSWORD` or psql's `\password`).
const CREATE_ROLE: &str = "CREATE ROLE %I LOGIN";

/// `db roles revoke`: everything on the tool's objects, whatever granted it.
const REVOKES: [&str; 2] = [
    "REVOKE ALL ON users, tasks, __diesel_schema_migrations FROM %I",
    "REVOKE ALL ON SEQUENCE tasks_id_seq FROM %I",
];

/// Grants a role what the web app needs (`app`) or read access, creating
/// it first when `create` (and it does not exist); returns the statements
/// run. Nothing else is granted (no DDL, no TRUNCATE). Run in one
/// transaction tried with the lock budget, as [`enable`] is.
pub fn grant(conn: &mut PgConn, role: &str, app: bool, create: bool) -> QueryResult<Vec<String>> {
    let templates = if app { APP_GRANTS } else { READONLY_GRANTS };
    let mut done = Vec::new();
    if create {
        done.push(super::run_ddl(conn, CREATE_ROLE, role)?);
    }
    for template in templates {
        done.push(super::run_ddl(conn, template, role)?);
    }
    Ok(done)
}

/// Revokes every privilege on the tool's tables and sequence from a role;
/// returns the statements run. Run as [`grant`] is.
pub fn revoke(conn: &mut PgConn, role: &str) -> QueryResult<Vec<String>> {
    REVOKES
        .iter()
        .map(|template| super::run_ddl(conn, template, role))
        .collect()
}

/// Each role's privileges on the tool's tables and sequence.
#[derive(Debug, Clone, QueryableByName)]
pub struct Grant {
    #[diesel(sql_type = Text)]
    pub role: String,
    #[diesel(sql_type = Text)]
    pub object: String,
    #[diesel(sql_type = Text)]
    pub privileges: String,
}

pub fn grants(conn: &mut PgConn) -> QueryResult<Vec<Grant>> {
    diesel::sql_query(
        "SELECT grantee::text AS role, table_name::text AS object,
                string_agg(privilege_type, ', ' ORDER BY privilege_type) AS privileges
         FROM information_schema.role_table_grants
         WHERE table_schema = current_schema() AND table_name IN ('users', 'tasks')
         GROUP BY grantee, table_name
         UNION ALL
         SELECT r.rolname::text, 'tasks_id_seq',
                concat_ws(', ',
                  CASE WHEN has_sequence_privilege(r.oid, 'tasks_id_seq', 'SELECT') THEN 'SELECT' END,
                  CASE WHEN has_sequence_privilege(r.oid, 'tasks_id_seq', 'USAGE') THEN 'USAGE' END)
         FROM pg_roles r
         WHERE r.rolcanlogin AND NOT r.rolsuper
           AND (has_sequence_privilege(r.oid, 'tasks_id_seq', 'SELECT')
                OR has_sequence_privilege(r.oid, 'tasks_id_seq', 'USAGE'))
         ORDER BY 1, 2",
    )
    .load(conn)
}
