//! Integration tests: one binary, one harness, a real PostgreSQL.

mod harness;
mod scripted;

mod child;
mod migrations;
mod processes;
mod queue_protocol;
mod worker_behaviour;
