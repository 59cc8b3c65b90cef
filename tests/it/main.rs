//! Integration tests: one binary, one harness, a real PostgreSQL.

mod commands;
mod deploy;
mod harness;
mod import;
mod pgbouncer;
mod scripted;
mod tls;

mod child;
mod migrations;
mod pipeline_end_to_end;
mod processes;
mod queue_protocol;
mod worker_behaviour;
