//! Integration tests: one binary, one harness, a real PostgreSQL.

mod agreements;
mod biddings;
mod commands;
mod deploy;
mod expenses;
mod faults;
mod harness;
mod hostile_input;
mod import;
mod layering;
mod load;
mod pgbouncer;
mod scripted;
mod secrets;
mod servants;
mod tls;
mod web;
mod whole_database;

mod child;
mod migrations;
mod netns;
mod operator;
mod pipeline_end_to_end;
mod poison;
mod portal_api;
mod processes;
mod question;
mod queue_protocol;
mod realtime;
mod rls;
mod worker_behaviour;
