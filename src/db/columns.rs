//! The column lists of the bulk paths (COPY into and out of the tables), in
//! one place: `db seed`, `db backup`, `db restore`, `task import`. Their
//! order is the order of the fields in the rows (for backups, also
//! `backup_file::USERS_COLUMNS` / `TASKS_COLUMNS`).

use super::schema::{tasks, users};

pub type UserRow = (
    users::id,
    users::email,
    users::name,
    users::created_at,
    users::updated_at,
);
/// A user, as backed up, restored and seeded.
pub const USER_ROW: UserRow = (
    users::id,
    users::email,
    users::name,
    users::created_at,
    users::updated_at,
);

pub type TaskRow = (
    tasks::id,
    tasks::title,
    tasks::description,
    tasks::completed,
    tasks::user_id,
    tasks::created_at,
    tasks::updated_at,
);
/// A task with its id, as backed up and restored.
pub const TASK_ROW: TaskRow = (
    tasks::id,
    tasks::title,
    tasks::description,
    tasks::completed,
    tasks::user_id,
    tasks::created_at,
    tasks::updated_at,
);

pub type NewTaskRow = (
    tasks::title,
    tasks::description,
    tasks::completed,
    tasks::user_id,
    tasks::created_at,
    tasks::updated_at,
);
/// A new task (the id from `tasks_id_seq`), as seeded and imported.
pub const NEW_TASK_ROW: NewTaskRow = (
    tasks::title,
    tasks::description,
    tasks::completed,
    tasks::user_id,
    tasks::created_at,
    tasks::updated_at,
);
