//! Rows as the commands see them.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Bool, Integer, Nullable, Text, Timestamp};

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

/// A user, with task counts where the command shows them.
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct User {
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
    #[diesel(sql_type = BigInt)]
    pub total: i64,
    #[diesel(sql_type = BigInt)]
    pub done: i64,
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
    pub fn counts(&self) -> Counts {
        Counts::new(self.total, self.done)
    }
}

/// One row of a task statement scoped to a user: how many users matched
/// the USER argument (0 unknown, 1 found, 2 ambiguous), which of the
/// requested ids exist for that user (multi-id commands), and a task (absent
/// when the statement produced none).
#[derive(Debug, QueryableByName)]
pub struct ScopedRow {
    #[diesel(sql_type = BigInt)]
    pub matches: i64,
    #[diesel(sql_type = Nullable<Array<Integer>>)]
    pub found: Option<Vec<i32>>,
    #[diesel(sql_type = Nullable<Integer>)]
    id: Option<i32>,
    #[diesel(sql_type = Nullable<Text>)]
    title: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    description: Option<String>,
    #[diesel(sql_type = Nullable<Bool>)]
    completed: Option<bool>,
    #[diesel(sql_type = Nullable<Text>)]
    user_id: Option<String>,
    #[diesel(sql_type = Nullable<Timestamp>)]
    created_at: Option<NaiveDateTime>,
    #[diesel(sql_type = Nullable<Timestamp>)]
    updated_at: Option<NaiveDateTime>,
}

impl ScopedRow {
    pub fn task(self) -> Option<Task> {
        Some(Task {
            id: self.id?,
            title: self.title?,
            description: self.description,
            completed: self.completed,
            user_id: self.user_id?,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

/// Counts of one user, scoped like [`ScopedRow`].
#[derive(Debug, QueryableByName)]
pub struct ScopedCounts {
    #[diesel(sql_type = BigInt)]
    pub matches: i64,
    #[diesel(sql_type = BigInt)]
    pub total: i64,
    #[diesel(sql_type = BigInt)]
    pub done: i64,
}

/// The result of `user rm`'s statement.
#[derive(Debug, QueryableByName)]
pub struct DeletedUser {
    #[diesel(sql_type = BigInt)]
    pub matches: i64,
    #[diesel(sql_type = Nullable<Text>)]
    pub id: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub email: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub name: Option<String>,
    #[diesel(sql_type = Nullable<Timestamp>)]
    pub created_at: Option<NaiveDateTime>,
    #[diesel(sql_type = Nullable<Timestamp>)]
    pub updated_at: Option<NaiveDateTime>,
    #[diesel(sql_type = BigInt)]
    pub tasks_deleted: i64,
}
