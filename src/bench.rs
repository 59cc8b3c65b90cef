//! `fiscal bench`: the queue's own speed against a real server, and whether it
//! holds as finished investigations pile up (they are kept: they are the
//! citizens' records). Every figure is measured twice in the same run, on an
//! empty table and after `finished_rows` completed rows are added, and reported
//! with the ratio between the two.
//!
//! It works in a database of its own (`--database`, default `fiscal_queue_bench`, dropped and created anew) on
//! the server `database.url` points at, with a pipeline that does nothing, so
//! what is measured is the queue: the claim statement, pick-up through NOTIFY,
//! end-to-end throughput, and whether progress writes are HOT updates.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::db::Conn as Client;
use anyhow::{bail, Context, Result};
use async_trait::async_trait;
use serde_json::json;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::config::Settings;
use crate::pipeline::{Completion, Job, JobError, Phase, Pipeline, Pipelines, Progress};
use crate::queue::{self, ProgressWrite};
use crate::worker::Worker;

pub struct Options {
    pub database: String,
    pub finished_rows: i64,
    /// Claims timed, and investigations run, per measurement.
    pub samples: i64,
    pub concurrency: usize,
}

/// One column of the report.
#[derive(Debug, Clone, Copy)]
struct Figures {
    claim_p50_ms: f64,
    claim_p99_ms: f64,
    pickup_p50_ms: f64,
    pickup_p99_ms: f64,
    jobs_per_second: f64,
    hot_ratio: f64,
}

pub async fn run(mut settings: Settings, options: Options) -> Result<()> {
    let url = database_url(&settings.database.url, &options.database)?;
    recreate_database(&settings, &options.database).await?;
    settings.database.url = url.clone();
    settings.database.migrate_url = String::new();
    settings.http.listen = String::new();
    settings.worker.concurrency = options.concurrency;
    settings.database.max_connections = settings
        .database
        .max_connections
        .max(options.concurrency + 4);
    crate::db::migrate::run(&settings).await?;
    println!(
        "benchmark database {} (server of database.url); {} samples per figure, {} jobs at once",
        options.database, options.samples, options.concurrency
    );

    let pool = crate::db::pool(&settings.database)?;
    let client = pool
        .get()
        .await
        .with_context(|| format!("connecting to {}", crate::db::redacted(&url)))?;
    let user = Uuid::new_v4();
    client
        .execute("insert into auth.users (id) values ($1)", &[&user])
        .await
        .context("creating the benchmark's citizen")?;

    let empty = measure(&client, &settings, user, options.samples).await?;
    println!(
        "filling {} completed investigations…",
        options.finished_rows
    );
    let started = Instant::now();
    fill_finished(&client, user, options.finished_rows).await?;
    println!(
        "  filled and analysed in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let full = measure(&client, &settings, user, options.samples).await?;

    print!("{}", render(&empty, &full, options.finished_rows));
    Ok(())
}

/// The same server and credentials, another database. Only URLs
/// (`postgres://…/name?…`) can be rewritten.
fn database_url(url: &str, database: &str) -> Result<String> {
    let Some(rest) = url
        .strip_prefix("postgres://")
        .or_else(|| url.strip_prefix("postgresql://"))
    else {
        bail!("fiscal bench needs database.url as a postgres:// URL");
    };
    let (authority, query) = match rest.split_once('/') {
        Some((authority, path)) => (
            authority,
            path.split_once('?')
                .map(|(_, q)| format!("?{q}"))
                .unwrap_or_default(),
        ),
        None => (rest, String::new()),
    };
    Ok(format!("postgres://{authority}/{database}{query}"))
}

async fn recreate_database(settings: &Settings, name: &str) -> Result<()> {
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        bail!("--database must be letters, digits and underscores");
    }
    let (client, driver) =
        crate::db::connect_driven(settings.migrate_url(), &settings.database).await?;
    // Two statements: a multi-statement string would run as one transaction.
    for statement in [
        format!("drop database if exists {name} with (force)"),
        format!("create database {name}"),
    ] {
        client
            .batch_execute(&statement)
            .await
            .with_context(|| format!("creating the benchmark database {name}"))?;
    }
    drop(client);
    let _ = driver.await;
    Ok(())
}

async fn measure(
    client: &Client,
    settings: &Settings,
    user: Uuid,
    samples: i64,
) -> Result<Figures> {
    let (claim_p50_ms, claim_p99_ms) = claim_latency(client, user, samples).await?;
    let hot_ratio = hot_ratio(client, user).await?;
    let (pickup_p50_ms, pickup_p99_ms, jobs_per_second) =
        run_worker(client, settings, user, samples).await?;
    Ok(Figures {
        claim_p50_ms,
        claim_p99_ms,
        pickup_p50_ms,
        pickup_p99_ms,
        jobs_per_second,
        hot_ratio,
    })
}

async fn enqueue(client: &Client, user: Uuid, n: i64) -> Result<()> {
    client
        .execute(
            "insert into public.investigations (user_id, query, data_source)
             select $1, 'bench ' || g, 'contracts' from generate_series(1, $2::int8) g",
            &[&user, &n],
        )
        .await
        .context("enqueueing benchmark investigations")?;
    Ok(())
}

/// What finishing looks like to the table, without a worker: the claimed rows
/// become completed in one statement.
async fn finish_claimed(client: &Client) -> Result<()> {
    client
        .execute(
            "update public.investigations
             set status = 'completed', current_phase = 'completed', progress = 1,
                 completed_at = now(), lease_expires_at = null, claim_token = null
             where status = 'processing'",
            &[],
        )
        .await
        .context("completing claimed benchmark rows")?;
    Ok(())
}

/// The claim statement alone, one row at a time, as a worker with one free slot
/// runs it.
async fn claim_latency(client: &Client, user: Uuid, samples: i64) -> Result<(f64, f64)> {
    enqueue(client, user, samples).await?;
    let mut times = Vec::with_capacity(samples as usize);
    for _ in 0..samples {
        let started = Instant::now();
        let claimed = queue::claim(client, "bench", 1, Duration::from_secs(60)).await?;
        times.push(started.elapsed());
        if claimed.len() != 1 {
            bail!("the claim returned {} rows instead of 1", claimed.len());
        }
    }
    finish_claimed(client).await?;
    Ok((percentile(&mut times, 0.5), percentile(&mut times, 0.99)))
}

/// The share of progress writes PostgreSQL made as HOT updates (no index
/// touched), from the table's statistics before and after.
async fn hot_ratio(client: &Client, user: Uuid) -> Result<f64> {
    const ROWS: i64 = 50;
    const WRITES: usize = 20;
    enqueue(client, user, ROWS).await?;
    let claimed = queue::claim(client, "bench", ROWS as usize, Duration::from_secs(60)).await?;
    let before = update_counts(client).await?;
    for i in 0..WRITES {
        for row in &claimed {
            let write = ProgressWrite {
                phase: "anomaly_detection",
                fraction: i as f64 / WRITES as f64,
                records_analyzed: Some(i as i32),
            };
            let written =
                queue::report_progress(client, row.fence, &write, Duration::from_secs(60)).await?;
            if !matches!(written, queue::Fenced::Written) {
                bail!("the fence refused a progress write of a row the benchmark holds");
            }
        }
    }
    let after = update_counts(client).await?;
    finish_claimed(client).await?;
    let updates = (after.0 - before.0) as f64;
    if updates <= 0.0 {
        bail!("the table statistics saw no update; is track_counts off?");
    }
    Ok((after.1 - before.1) as f64 / updates)
}

/// (updates, HOT updates) of `investigations`, this session's pending counts
/// flushed first.
async fn update_counts(client: &Client) -> Result<(i64, i64)> {
    client
        .batch_execute("select pg_stat_force_next_flush()")
        .await
        .context("flushing statistics")?;
    let row = client
        .query_one(
            "select pg_stat_clear_snapshot(), n_tup_upd, n_tup_hot_upd from pg_stat_user_tables
             where relid = 'public.investigations'::regclass",
            &[],
        )
        .await
        .context("reading the table statistics")?;
    Ok((row.get(1), row.get(2)))
}

struct Noop;

#[async_trait]
impl Pipeline for Noop {
    async fn run(
        &self,
        _job: &Job,
        progress: &Progress,
        _cancel: &CancellationToken,
    ) -> Result<Completion, JobError> {
        progress.set(Phase::DataRetrieval, 0.3);
        progress.set(Phase::AnomalyDetection, 0.6);
        Ok(Completion {
            results: json!([]),
            anomalies_found: 0,
            total_records_analyzed: 0,
            confidence_score: None,
            summary: "benchmark".into(),
            metadata: json!({}),
        })
    }
}

/// A worker with the no-op pipeline: pick-up latency of investigations inserted
/// one by one into an idle queue (created_at to started_at, both the server's
/// clock), then the rate at which it empties a queue of `samples`.
async fn run_worker(
    client: &Client,
    settings: &Settings,
    user: Uuid,
    samples: i64,
) -> Result<(f64, f64, f64)> {
    let stop = CancellationToken::new();
    let pipelines = Pipelines::default().with("contracts", Arc::new(Noop));
    let worker =
        tokio::spawn(Worker::new(settings.clone(), pipelines).run(stop.clone().cancelled_owned()));
    // Let it register and LISTEN before timing anything.
    tokio::time::sleep(Duration::from_secs(1)).await;

    let singles = samples.min(200);
    let since: chrono::DateTime<chrono::Utc> = client.query_one("select now()", &[]).await?.get(0);
    for _ in 0..singles {
        enqueue(client, user, 1).await?;
        wait_until_idle(client).await?;
    }
    let pickups = client
        .query(
            "select extract(epoch from started_at - created_at)::float8 * 1000
             from public.investigations where created_at >= $1 and status = 'completed'",
            &[&since],
        )
        .await?;
    let mut pickups: Vec<Duration> = pickups
        .iter()
        .map(|r| Duration::from_secs_f64(r.get::<_, f64>(0).max(0.0) / 1000.0))
        .collect();

    let started = Instant::now();
    enqueue(client, user, samples).await?;
    wait_until_idle(client).await?;
    let rate = samples as f64 / started.elapsed().as_secs_f64();

    stop.cancel();
    worker.await.context("the benchmark worker")??;
    Ok((
        percentile(&mut pickups, 0.5),
        percentile(&mut pickups, 0.99),
        rate,
    ))
}

async fn wait_until_idle(client: &Client) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(600);
    while queue::has_unfinished(client).await? {
        if Instant::now() > deadline {
            bail!("the benchmark worker did not empty the queue within 10 minutes");
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    Ok(())
}

/// Completed rows as a worker leaves them, with small results and summaries, in
/// one statement; then VACUUM ANALYZE, as autovacuum would in time.
async fn fill_finished(client: &Client, user: Uuid, n: i64) -> Result<()> {
    client
        .execute(
            "insert into public.investigations
                 (user_id, query, data_source, status, current_phase, progress, attempts,
                  anomalies_found, total_records_analyzed, confidence_score, summary, results,
                  created_at, started_at, completed_at, processing_time_ms)
             select $1, 'contratos acima de R$ 1 milhão ' || g, 'contracts', 'completed',
                    'completed', 1, 1, 3, 1200, 0.9,
                    'Analisamos 1.200 contratos e encontramos 3 anomalias.',
                    jsonb_build_array(jsonb_build_object('type', 'price', 'severity', 'high',
                        'description', 'Contrato ' || g || ' acima do típico')),
                    now() - g * interval '1 second' - interval '1 minute',
                    now() - g * interval '1 second' - interval '50 seconds',
                    now() - g * interval '1 second', 10000
             from generate_series(1, $2::int8) g",
            &[&user, &n],
        )
        .await
        .context("filling completed investigations")?;
    client
        .batch_execute("vacuum analyze public.investigations")
        .await
        .context("vacuuming")?;
    // The load wrote a gigabyte of WAL: without this, the checkpoint it triggers
    // lands in the measurement and is taken for the table's size.
    if let Err(e) = client.batch_execute("checkpoint").await {
        tracing::warn!(error = %e, "could not force a checkpoint after the load; figures may include it");
    }
    Ok(())
}

fn percentile(times: &mut [Duration], q: f64) -> f64 {
    if times.is_empty() {
        return f64::NAN;
    }
    times.sort_unstable();
    let i = ((times.len() - 1) as f64 * q).round() as usize;
    times[i].as_secs_f64() * 1000.0
}

fn render(empty: &Figures, full: &Figures, rows: i64) -> String {
    let mut out = format!(
        "\n{:<34} {:>12} {:>16} {:>8}\n",
        "",
        "empty table",
        format!("+{rows} done"),
        "ratio"
    );
    let mut line = |name: &str, a: f64, b: f64, digits: usize| {
        out.push_str(&format!(
            "{name:<34} {a:>12.digits$} {b:>16.digits$} {:>8.2}\n",
            b / a
        ));
    };
    line("claim, p50 (ms)", empty.claim_p50_ms, full.claim_p50_ms, 3);
    line("claim, p99 (ms)", empty.claim_p99_ms, full.claim_p99_ms, 3);
    line(
        "pick-up via NOTIFY, p50 (ms)",
        empty.pickup_p50_ms,
        full.pickup_p50_ms,
        2,
    );
    line(
        "pick-up via NOTIFY, p99 (ms)",
        empty.pickup_p99_ms,
        full.pickup_p99_ms,
        2,
    );
    line(
        "throughput (investigations/s)",
        empty.jobs_per_second,
        full.jobs_per_second,
        1,
    );
    line(
        "progress writes that were HOT",
        empty.hot_ratio,
        full.hot_ratio,
        3,
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bench_database_url_keeps_server_credentials_and_parameters() {
        assert_eq!(
            database_url(
                "postgres://u:p@h:6543/postgres?sslmode=require",
                "fiscal_bench"
            )
            .expect("a URL"),
            "postgres://u:p@h:6543/fiscal_bench?sslmode=require"
        );
        assert_eq!(
            database_url("postgresql://u@h", "b").expect("a URL"),
            "postgres://u@h/b"
        );
        assert!(database_url("host=h dbname=x", "b").is_err());
    }
}
