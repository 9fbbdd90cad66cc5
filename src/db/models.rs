//! Rows as statements return them, turned into the domain's types
//! ([`crate::model`]).

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Bool, Integer, Nullable, Text, Timestamp};

use crate::model::*;

/// A `tasks` row as a statement returns it.
#[derive(Debug, QueryableByName)]
pub(super) struct TaskRow {
    #[diesel(sql_type = Integer)]
    id: i32,
    #[diesel(sql_type = Text)]
    title: String,
    #[diesel(sql_type = Nullable<Text>)]
    description: Option<String>,
    #[diesel(sql_type = Nullable<Bool>)]
    completed: Option<bool>,
    #[diesel(sql_type = Text)]
    user_id: String,
    #[diesel(sql_type = Nullable<Timestamp>)]
    created_at: Option<NaiveDateTime>,
    #[diesel(sql_type = Nullable<Timestamp>)]
    updated_at: Option<NaiveDateTime>,
}

impl From<TaskRow> for Task {
    fn from(r: TaskRow) -> Task {
        Task {
            id: r.id,
            title: r.title,
            description: r.description,
            completed: r.completed,
            user_id: r.user_id,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// One row of a task statement scoped to a user: how many users matched
/// the USER argument, which of the requested ids exist for that user
/// (multi-id commands), and a task (absent when the statement produced
/// none). Every such statement returns at least one row.
#[derive(Debug, QueryableByName)]
pub(super) struct ScopedRow {
    #[diesel(sql_type = BigInt)]
    matches: i64,
    #[diesel(sql_type = Bool)]
    rls_unscoped: bool,
    #[diesel(sql_type = Nullable<Array<Integer>>)]
    found: Option<Vec<i32>>,
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
    /// The transaction's id when the statement wrote (for read replicas).
    #[diesel(sql_type = Nullable<Text>)]
    xid: Option<String>,
}

impl ScopedRow {
    fn task(self) -> Option<Task> {
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

    /// The one row of a single-task statement.
    pub(super) fn into_one(self) -> Scoped<Option<Task>> {
        super::replica::note_write(self.xid.as_deref());
        Scoped {
            user: UserMatch::from_count(self.matches),
            rls_unscoped: self.rls_unscoped,
            value: self.task(),
        }
    }

    /// The rows of a multi-task statement (the first carries the counts).
    pub(super) fn into_changed(rows: Vec<ScopedRow>) -> Scoped<Changed> {
        let (matches, found, rls_unscoped) = rows.first().map_or((0, None, false), |r| {
            (r.matches, r.found.clone(), r.rls_unscoped)
        });
        super::replica::note_write(rows.first().and_then(|r| r.xid.as_deref()));
        Scoped {
            user: UserMatch::from_count(matches),
            rls_unscoped,
            value: Changed {
                found: found.unwrap_or_default(),
                tasks: rows.into_iter().filter_map(ScopedRow::task).collect(),
            },
        }
    }

    /// A stream of rows: the first is read now for the user match; the
    /// tasks follow as they arrive.
    pub(super) fn into_stream<'c>(
        mut rows: impl Iterator<Item = QueryResult<ScopedRow>> + 'c,
    ) -> QueryResult<Scoped<impl Iterator<Item = QueryResult<Task>> + 'c>> {
        let first = rows.next().transpose()?;
        let matches = first.as_ref().map_or(0, |r| r.matches);
        let rls_unscoped = first.as_ref().is_some_and(|r| r.rls_unscoped);
        let head = first.and_then(ScopedRow::task).map(Ok);
        let rest = rows.filter_map(|row| match row {
            Ok(row) => row.task().map(Ok),
            Err(e) => Some(Err(e)),
        });
        Ok(Scoped {
            user: UserMatch::from_count(matches),
            rls_unscoped,
            value: head.into_iter().chain(rest),
        })
    }
}

/// Counts of one user, scoped like [`ScopedRow`].
#[derive(Debug, QueryableByName)]
pub(super) struct ScopedCounts {
    #[diesel(sql_type = BigInt)]
    matches: i64,
    #[diesel(sql_type = Bool)]
    rls_unscoped: bool,
    #[diesel(sql_type = BigInt)]
    total: i64,
    #[diesel(sql_type = BigInt)]
    done: i64,
}

impl ScopedCounts {
    pub(super) fn into_scoped(self) -> Scoped<Counts> {
        Scoped {
            user: UserMatch::from_count(self.matches),
            rls_unscoped: self.rls_unscoped,
            value: Counts::new(self.total, self.done),
        }
    }
}

/// A user's columns that a statement may or may not have produced (an
/// INSERT or DELETE that did nothing).
#[derive(Debug, QueryableByName)]
pub(super) struct MaybeUser {
    #[diesel(sql_type = Nullable<Text>)]
    id: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    email: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    name: Option<String>,
    #[diesel(sql_type = Nullable<Timestamp>)]
    created_at: Option<NaiveDateTime>,
    #[diesel(sql_type = Nullable<Timestamp>)]
    updated_at: Option<NaiveDateTime>,
}

impl MaybeUser {
    /// The user, if the statement produced one.
    pub(super) fn into_account(self) -> Option<Account> {
        Some(Account {
            id: self.id?,
            email: self.email?,
            name: self.name,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

/// The row of `user rm`'s statement.
#[derive(Debug, QueryableByName)]
pub(super) struct DeletedRow {
    #[diesel(sql_type = BigInt)]
    matches: i64,
    #[diesel(embed)]
    user: MaybeUser,
    #[diesel(sql_type = BigInt)]
    tasks_deleted: i64,
    #[diesel(sql_type = Nullable<Text>)]
    xid: Option<String>,
    #[diesel(sql_type = Bool)]
    rls_unscoped: bool,
}

impl DeletedRow {
    pub(super) fn into_scoped(self) -> Scoped<Option<DeletedUser>> {
        super::replica::note_write(self.xid.as_deref());
        let tasks_deleted = self.tasks_deleted;
        let user = self.user.into_account().map(|account| DeletedUser {
            account,
            tasks_deleted,
        });
        Scoped {
            user: UserMatch::from_count(self.matches),
            rls_unscoped: self.rls_unscoped,
            value: user,
        }
    }
}

/// The users a USER argument matched (at most two were read).
pub(super) fn scoped_user(mut found: Vec<User>) -> Scoped<Option<User>> {
    let user = UserMatch::from_count(found.len() as i64);
    let value = (user == UserMatch::One).then(|| found.remove(0));
    Scoped {
        user,
        value,
        rls_unscoped: false,
    }
}
