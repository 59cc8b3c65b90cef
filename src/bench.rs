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
//!
//! Beside fiscal's throughput, the same run measures a ceiling: the job's two
//! statements (claim ten, complete them) in a loop on as many connections,
//! with nothing else. The ratio between the two is what fiscal's own work
//! costs; WAL bytes, statements, and the worker's and (for a server on this
//! host) the server's CPU per investigation say where.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::db::Conn as Client;
use anyhow::{bail, Context, Result};
use async_trait::async_trait;
use serde_json::json;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::config::Settings;
use crate::job::{Completion, Job, JobError, Phase, Pipeline, Progress};
use crate::pipeline::Pipelines;
use crate::queue::{self, ProgressWrite};
use crate::worker::Worker;

pub struct Options {
    pub database: String,
    pub finished_rows: i64,
    /// Claims timed, and investigations run, per measurement.
    pub samples: i64,
    pub concurrency: usize,
    /// Print the figures as JSON instead of a table.
    pub json: bool,
}

/// One column of the report.
#[derive(Debug, Clone, Copy, serde::Serialize)]
struct Figures {
    claim_p50_ms: f64,
    claim_p99_ms: f64,
    pickup_p50_ms: f64,
    pickup_p99_ms: f64,
    jobs_per_second: f64,
    /// The same job shape with nothing but its two statements: see [`ceiling`].
    ceiling_per_second: f64,
    /// The server's CPU per investigation in the ceiling loop.
    ceiling_server_cpu_ms_per_job: f64,
    /// WAL the worker's run wrote, per investigation (insert included).
    wal_bytes_per_job: f64,
    /// Statements the worker sent per investigation.
    statements_per_job: f64,
    /// CPU time of this process (the worker) per investigation.
    worker_cpu_ms_per_job: f64,
    /// CPU time of the PostgreSQL processes on this host per investigation;
    /// 0 when the server runs elsewhere.
    server_cpu_ms_per_job: f64,
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
    // Progress goes to stderr, so that --json leaves stdout to the figures.
    eprintln!(
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

    let empty = measure(&pool, &client, &settings, user, options.samples).await?;
    eprintln!(
        "filling {} completed investigations…",
        options.finished_rows
    );
    let started = Instant::now();
    fill_finished(&client, user, options.finished_rows).await?;
    eprintln!(
        "  filled and analysed in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let full = measure(&pool, &client, &settings, user, options.samples).await?;

    if options.json {
        let report = json!({
            "finished_rows": options.finished_rows,
            "samples": options.samples,
            "concurrency": options.concurrency,
            "empty": empty,
            "full": full,
        });
        println!("{report:#}");
    } else {
        print!("{}", render(&empty, &full, options.finished_rows));
    }
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
    pool: &crate::db::Pool,
    client: &Client,
    settings: &Settings,
    user: Uuid,
    samples: i64,
) -> Result<Figures> {
    let (claim_p50_ms, claim_p99_ms) = claim_latency(client, user, samples).await?;
    let hot_ratio = hot_ratio(client, user).await?;
    let run = run_worker(client, settings, user, samples).await?;
    let (ceiling_per_second, ceiling_server_cpu_ms_per_job) =
        ceiling(pool, client, user, samples, settings.worker.concurrency).await?;
    Ok(Figures {
        claim_p50_ms,
        claim_p99_ms,
        pickup_p50_ms: run.pickup_p50_ms,
        pickup_p99_ms: run.pickup_p99_ms,
        jobs_per_second: run.jobs_per_second,
        ceiling_per_second,
        ceiling_server_cpu_ms_per_job,
        wal_bytes_per_job: run.wal_bytes_per_job,
        statements_per_job: run.statements_per_job,
        worker_cpu_ms_per_job: run.cpu_ms_per_job,
        server_cpu_ms_per_job: run.server_cpu_ms_per_job,
        hot_ratio,
    })
}

/// Results of the size a worker writes for a small investigation (~1.5 KB).
fn typical_results() -> serde_json::Value {
    let finding = json!({
        "type": "price", "severity": "high", "confidence": 0.8,
        "description": "Contrato com valor muito acima do típico para o órgão e a modalidade.",
        "explanation": "O valor é 4,2 vezes a mediana de contratos semelhantes do mesmo órgão.",
        "evidence": {"value": 1234567.89, "median": 293944.73, "peers": 41},
        "affected_records": ["26240-82020-2020"]
    });
    json!([finding, finding, finding, finding])
}

/// The ceiling: the same job shape at the database's own speed. `concurrency`
/// connections each claim ten rows with SKIP LOCKED through the queue's index
/// and complete them in one fenced UPDATE writing typical results, with nothing
/// in between: no progress, no lease renewal, no pipeline. What fiscal adds on
/// top of these two statements is what the ratio shows.
const CEILING_CLAIM: &str = "
with c as (
    select id from public.investigations
    where status = 'pending' and run_after <= now()
    order by queue_at limit 10
    for update skip locked
)
update public.investigations i
set status = 'processing', attempts = i.attempts + 1, claim_token = gen_random_uuid(),
    locked_by = 'ceiling', lease_expires_at = now() + interval '1 minute', started_at = now()
from c where i.id = c.id
returning i.id, i.claim_token";

const CEILING_COMPLETE: &str = "
update public.investigations i
set status = 'completed', current_phase = 'completed', progress = 1, results = $3,
    summary = 'benchmark', completed_at = now(), lease_expires_at = null
from unnest($1::uuid[], $2::uuid[]) as held(id, token)
where i.id = held.id and i.status = 'processing' and i.claim_token = held.token";

async fn ceiling(
    pool: &crate::db::Pool,
    client: &Client,
    user: Uuid,
    samples: i64,
    concurrency: usize,
) -> Result<(f64, f64)> {
    use tokio_postgres::types::Type;
    enqueue(client, user, samples).await?;
    let results = typical_results();
    let server_cpu_before = server_cpu_seconds();
    let started = Instant::now();
    let mut loops = tokio::task::JoinSet::new();
    for _ in 0..concurrency.max(1) {
        let conn = pool
            .get()
            .await
            .context("a connection for the ceiling loop")?;
        let results = results.clone();
        loops.spawn(async move {
            loop {
                let rows = conn.rows(CEILING_CLAIM, &[]).await?;
                if rows.is_empty() {
                    return Ok::<(), tokio_postgres::Error>(());
                }
                let ids: Vec<Uuid> = rows.iter().map(|r| r.get(0)).collect();
                let tokens: Vec<Uuid> = rows.iter().map(|r| r.get(1)).collect();
                conn.run(
                    CEILING_COMPLETE,
                    &[
                        (&ids, Type::UUID_ARRAY),
                        (&tokens, Type::UUID_ARRAY),
                        (&results, Type::JSONB),
                    ],
                )
                .await?;
            }
        });
    }
    while let Some(done) = loops.join_next().await {
        done.context("a ceiling loop")?
            .context("the ceiling loop's statements")?;
    }
    let rate = samples as f64 / started.elapsed().as_secs_f64();
    let server_cpu_ms = (server_cpu_seconds() - server_cpu_before) * 1000.0 / samples as f64;
    if queue::has_unfinished(client).await? {
        bail!("the ceiling loop left investigations unfinished");
    }
    Ok((rate, server_cpu_ms))
}

/// CPU seconds (user + system) this process has used, from /proc; 0 where
/// /proc is not there.
fn own_cpu_seconds() -> f64 {
    cpu_seconds_of("/proc/self/stat").map_or(0.0, |(_, s)| s)
}

/// CPU seconds every PostgreSQL process on this host has used (backends,
/// WAL writer, checkpointer…): the server's side of the work when it runs
/// here, as in the benchmarks; 0 when none is visible.
fn server_cpu_seconds() -> f64 {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0.0;
    };
    dir.flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .filter_map(|e| cpu_seconds_of(e.path().join("stat")))
        .filter(|(command, _)| command == "postgres")
        .map(|(_, seconds)| seconds)
        .sum()
}

/// A process's command name and CPU seconds (user + system) from its
/// /proc/PID/stat line.
fn cpu_seconds_of(path: impl AsRef<std::path::Path>) -> Option<(String, f64)> {
    let stat = std::fs::read_to_string(path).ok()?;
    // The command name is in parentheses and may hold spaces.
    let (head, rest) = stat.rsplit_once(')')?;
    let command = head.split_once('(').map(|(_, c)| c.to_string())?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    Some((command, (ticks(11) + ticks(12)) / 100.0))
}

async fn wal_lsn(client: &Client) -> Result<i64> {
    Ok(client
        .query_one(
            "select pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::int8",
            &[],
        )
        .await
        .context("reading the WAL position")?
        .get(0))
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

/// What one worker run measured.
struct Run {
    pickup_p50_ms: f64,
    pickup_p99_ms: f64,
    jobs_per_second: f64,
    wal_bytes_per_job: f64,
    statements_per_job: f64,
    cpu_ms_per_job: f64,
    server_cpu_ms_per_job: f64,
}

/// A worker with the no-op pipeline: pick-up latency of investigations inserted
/// one by one into an idle queue (created_at to started_at, both the server's
/// clock), then the rate at which it empties a queue of `samples`, with what
/// each investigation cost it in WAL, statements and CPU.
async fn run_worker(client: &Client, settings: &Settings, user: Uuid, samples: i64) -> Result<Run> {
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

    let wal_before = wal_lsn(client).await?;
    let statements_before = crate::db::statements_sent();
    let cpu_before = own_cpu_seconds();
    let server_cpu_before = server_cpu_seconds();
    let started = Instant::now();
    enqueue(client, user, samples).await?;
    let polls = wait_until_idle(client).await?;
    let rate = samples as f64 / started.elapsed().as_secs_f64();
    let cpu = own_cpu_seconds() - cpu_before;
    let server_cpu = server_cpu_seconds() - server_cpu_before;
    // The polls are the benchmark's, not the worker's (the insert goes out
    // uncounted, past Conn::run).
    let statements = crate::db::statements_sent() - statements_before - polls;
    let wal = wal_lsn(client).await? - wal_before;

    stop.cancel();
    worker.await.context("the benchmark worker")??;
    let per_job = |x: f64| x / samples as f64;
    Ok(Run {
        pickup_p50_ms: percentile(&mut pickups, 0.5),
        pickup_p99_ms: percentile(&mut pickups, 0.99),
        jobs_per_second: rate,
        wal_bytes_per_job: per_job(wal as f64),
        statements_per_job: per_job(statements as f64),
        cpu_ms_per_job: per_job(cpu * 1000.0),
        server_cpu_ms_per_job: per_job(server_cpu * 1000.0),
    })
}

/// Waits until the queue is empty; returns how many times it asked.
async fn wait_until_idle(client: &Client) -> Result<u64> {
    let deadline = Instant::now() + Duration::from_secs(600);
    let mut polls = 0;
    loop {
        polls += 1;
        if !queue::has_unfinished(client).await? {
            return Ok(polls);
        }
        if Instant::now() > deadline {
            bail!("the benchmark worker did not empty the queue within 10 minutes");
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
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
        "ceiling, raw loop (investigations/s)",
        empty.ceiling_per_second,
        full.ceiling_per_second,
        1,
    );
    line(
        "fiscal / ceiling",
        empty.jobs_per_second / empty.ceiling_per_second,
        full.jobs_per_second / full.ceiling_per_second,
        3,
    );
    line(
        "WAL bytes per investigation",
        empty.wal_bytes_per_job,
        full.wal_bytes_per_job,
        0,
    );
    line(
        "statements per investigation",
        empty.statements_per_job,
        full.statements_per_job,
        2,
    );
    line(
        "worker CPU ms per investigation",
        empty.worker_cpu_ms_per_job,
        full.worker_cpu_ms_per_job,
        3,
    );
    line(
        "server CPU ms per investigation",
        empty.server_cpu_ms_per_job,
        full.server_cpu_ms_per_job,
        3,
    );
    line(
        "ceiling's server CPU ms per inv.",
        empty.ceiling_server_cpu_ms_per_job,
        full.ceiling_server_cpu_ms_per_job,
        3,
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
