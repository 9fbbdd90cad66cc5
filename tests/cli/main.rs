//! The integration tests: the real `todo` binary against a real PostgreSQL
//! (see `support`).

mod support;

mod connect;
mod health;
mod help;
mod local;
mod migrate;
mod seed;
mod tasks;
mod users;
mod validation;
