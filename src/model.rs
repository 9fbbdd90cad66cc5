//! The domain's types: tasks, users and how a USER argument names one. A
//! leaf: it imports no module of the tool, and every layer (data, files,
//! import, output, commands) uses it. The user types derive diesel's
//! `QueryableByName` so that statements return them as they are.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text, Timestamp};

/// A task. `completed` may be NULL in rows written by other programs
/// (treated as pending); timestamps may be NULL too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    pub id: i32,
    pub title: String,
    pub description: Option<String>,
    pub completed: Option<bool>,
    pub user_id: String,
    pub created_at: Option<NaiveDateTime>,
    pub updated_at: Option<NaiveDateTime>,
}

impl Task {
    pub fn is_done(&self) -> bool {
        self.completed == Some(true)
    }
}

/// A task to create (`task import`); missing times become now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTask {
    pub title: String,
    pub description: Option<String>,
    pub completed: bool,
    pub created_at: Option<NaiveDateTime>,
    pub updated_at: Option<NaiveDateTime>,
}

/// A user's own columns.
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct Account {
    #[diesel(sql_type = Text)]
    pub id: String,
    #[diesel(sql_type = Text)]
    pub email: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub name: Option<String>,
    #[diesel(sql_type = Nullable<Timestamp>)]
    pub created_at: Option<NaiveDateTime>,
    #[diesel(sql_type = Nullable<Timestamp>)]
    pub updated_at: Option<NaiveDateTime>,
}

/// A user with their task counts; the counts are NULL when row-level
/// security hides the user's tasks from the connected role (SPEC §17:
/// never a false 0).
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct User {
    #[diesel(embed)]
    pub account: Account,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub total: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub done: Option<i64>,
}

/// Task counts of one user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    pub total: i64,
    pub pending: i64,
    pub done: i64,
}

impl Counts {
    pub fn new(total: i64, done: i64) -> Counts {
        Counts {
            total,
            pending: total - done,
            done,
        }
    }
}

impl User {
    /// The task counts, or None when row-level security hid them.
    pub fn counts(&self) -> Option<Counts> {
        Some(Counts::new(self.total?, self.done?))
    }
}

/// How a USER argument names a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserRef {
    /// Contains `@`: matched case-insensitively by the server's `lower()`.
    Email(String),
    Id(String),
}

impl UserRef {
    /// The email, lower-cased for display, when the user was named by it.
    pub fn email(&self) -> Option<String> {
        match self {
            UserRef::Email(e) => Some(e.to_lowercase()),
            UserRef::Id(_) => None,
        }
    }

    /// The value bound as `$1` in scoped statements.
    pub fn key(&self) -> &str {
        match self {
            UserRef::Email(e) | UserRef::Id(e) => e,
        }
    }
}

impl std::fmt::Display for UserRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.key())
    }
}

/// How many users a USER argument matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserMatch {
    None,
    One,
    /// Several accounts (emails differing only in letter case, or an email
    /// that is also another user's id).
    Ambiguous,
}

impl UserMatch {
    pub fn from_count(n: i64) -> UserMatch {
        match n {
            0 => UserMatch::None,
            1 => UserMatch::One,
            _ => UserMatch::Ambiguous,
        }
    }
}

/// A statement's result scoped to the user a USER argument names: `value`
/// holds rows only when `user` is [`UserMatch::One`]. `rls_unscoped`: row-level
/// security hid the user's tasks (see `tasks::scoped_run`).
#[derive(Debug)]
pub struct Scoped<T> {
    pub user: UserMatch,
    pub value: T,
    pub rls_unscoped: bool,
}

/// What a multi-id statement did: the ids that exist for the user, and the
/// tasks changed (none unless every id was found).
#[derive(Debug)]
pub struct Changed {
    pub found: Vec<i32>,
    pub tasks: Vec<Task>,
}

/// A deleted user and how many of their tasks went with them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeletedUser {
    pub account: Account,
    pub tasks_deleted: i64,
}
