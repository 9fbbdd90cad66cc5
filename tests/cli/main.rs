//! The integration tests: the real `todo` binary against a real PostgreSQL
//! (see `support`).

mod support;

mod backup;
mod completion;
mod config;
mod conn;
mod connect;
mod conventions;
mod export;
mod fast_path;
mod faults;
mod health;
mod help;
mod import;
mod languages;
mod local;
mod local_trust;
mod migrate;
mod online;
mod ops;
mod pooler;
mod readme;
mod reference;
mod replica;
mod rls;
mod round_trips;
mod scale;
mod scripting;
mod secrets;
mod seed;
mod shared;
mod signals;
mod task_output;
mod tasks;
mod terminal;
mod tls;
mod trust_files;
mod trust_input;
mod trust_ops;
mod trust_rls;
mod untrusted;
mod users;
mod validation;
mod versions;
