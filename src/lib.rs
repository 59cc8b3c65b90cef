//! fiscal: a PostgreSQL-queue worker that runs anomaly investigations over
//! Brazilian federal procurement data. See DESIGN.md for the contract with the
//! frontend (table, states, result JSON) and README.md for running it.

#![forbid(unsafe_code)]

pub mod analysis;
pub mod bench;
pub mod config;
pub mod db;
pub mod dev;
pub mod domain;
pub mod enqueue;
pub mod http;
pub mod input;
pub mod job;
pub mod metrics;
pub mod operator;
pub mod pg_server;
pub mod pipeline;
pub mod question;
pub mod queue;
pub mod signals;
pub mod sources;
pub mod status;
pub mod telemetry;
pub mod watch;
pub mod web;
pub mod worker;
