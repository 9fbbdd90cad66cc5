//! The COPY statements of the bulk paths, with their column lists in one
//! place: `db seed`, `db backup`, `db restore`, `task import`. The order of
//! the columns is the order of the fields in the rows (for backups, also
//! `backup_file::USERS_COLUMNS` / `TASKS_COLUMNS`, checked by a test).

/// A user, as backed up, restored and seeded.
macro_rules! user_columns {
    () => {
        "users (id, email, name, created_at, updated_at)"
    };
}

/// A task with its id, as backed up and restored.
macro_rules! task_columns {
    () => {
        "tasks (id, title, description, completed, user_id, created_at, updated_at)"
    };
}

/// A new task (the id from `tasks_id_seq`), as seeded and imported.
macro_rules! new_task_columns {
    () => {
        "tasks (title, description, completed, user_id, created_at, updated_at)"
    };
}

pub const USERS_OUT: &str = concat!("COPY ", user_columns!(), " TO STDOUT");
pub const TASKS_OUT: &str = concat!("COPY ", task_columns!(), " TO STDOUT");
pub const NEW_TASKS_IN: &str = concat!("COPY ", new_task_columns!(), " FROM STDIN");
pub const TASKS_IN_BINARY: &str =
    concat!("COPY ", task_columns!(), " FROM STDIN WITH (FORMAT binary)");
/// A backup's rows, turned into COPY's binary format on the client
/// (`backup_file::binary`), for `db restore` and `db verify`; `db restore
/// --append` stages them in temporary tables named `todo_append_users` /
/// `todo_append_tasks` (see `db::append`).
pub const STAGED_USERS_IN_BINARY: &str = concat!(
    "COPY todo_append_",
    user_columns!(),
    " FROM STDIN WITH (FORMAT binary)"
);
pub const STAGED_TASKS_IN_BINARY: &str = concat!(
    "COPY todo_append_",
    task_columns!(),
    " FROM STDIN WITH (FORMAT binary)"
);
pub const USERS_IN_BINARY: &str =
    concat!("COPY ", user_columns!(), " FROM STDIN WITH (FORMAT binary)");
/// A restore's rows into tables truncated in its transaction (see
/// `db::fast_path`): written frozen, their pages all-visible.
pub const USERS_IN_FROZEN: &str = concat!(
    "COPY ",
    user_columns!(),
    " FROM STDIN WITH (FORMAT binary, FREEZE)"
);
pub const TASKS_IN_FROZEN: &str = concat!(
    "COPY ",
    task_columns!(),
    " FROM STDIN WITH (FORMAT binary, FREEZE)"
);
pub const NEW_TASKS_IN_BINARY: &str = concat!(
    "COPY ",
    new_task_columns!(),
    " FROM STDIN WITH (FORMAT binary)"
);

#[cfg(test)]
mod tests {
    /// The backup format names the same columns in the same order.
    #[test]
    fn backups_and_copy_agree_on_the_columns() {
        let list = |sql: &str| {
            let open = sql.find('(').unwrap();
            let close = sql.find(')').unwrap();
            sql[open + 1..close].replace(' ', "")
        };
        assert_eq!(list(super::USERS_OUT), crate::backup_file::USERS_COLUMNS);
        assert_eq!(list(super::TASKS_OUT), crate::backup_file::TASKS_COLUMNS);
    }
}
