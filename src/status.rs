//! `fiscal status`: what an operator asks first — how deep the queue is, how old
//! its oldest pending investigation, which workers are alive, what failed lately.
//!
//! Every query reads the partial indexes over pending and processing rows or the
//! small worker table, so the command stays instant with millions of finished
//! investigations; totals of finished rows are deliberately not counted.

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio_postgres::types::Type;
use tokio_postgres::Client;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Status {
    #[serde(flatten)]
    pub queue: QueueDepth,
    /// `fiscal pause` is in force: no worker claims.
    pub claims_paused: bool,
    pub workers: Vec<WorkerRow>,
    pub recent_failures: Vec<Failure>,
}

/// Pending and processing rows, read through the partial indexes only.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueueDepth {
    pub pending: i64,
    /// Pending rows whose back-off is over: what a free worker would claim now.
    pub runnable: i64,
    pub processing: i64,
    /// Processing rows whose lease ran out (their worker died; the sweep will
    /// requeue them).
    pub expired_leases: i64,
    pub oldest_pending_seconds: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WorkerRow {
    pub worker_id: String,
    pub hostname: String,
    pub pid: i32,
    pub version: String,
    pub concurrency: i32,
    pub running: i32,
    pub last_seen_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Failure {
    pub id: uuid::Uuid,
    pub data_source: String,
    pub attempts: i32,
    pub failed_at: Option<DateTime<Utc>>,
    pub error_message: Option<String>,
}

impl Failure {
    /// "ID contracts after 3 attempt(s) at 2026-12-03 10:00:00 UTC".
    fn headline(&self) -> String {
        format!(
            "{} {} after {} attempt(s) at {}",
            self.id,
            self.data_source,
            self.attempts,
            self.failed_at.map(at).unwrap_or_else(|| "?".into())
        )
    }
}

/// A failed investigation as `fiscal failed` lists it: the dead letters, each
/// with what the citizen read and what the operator needs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeadLetter {
    #[serde(flatten)]
    pub failure: Failure,
    pub query: String,
    /// The operator's detail of the last attempt's error (metadata `last_error`).
    pub last_error: Option<String>,
}

/// The `limit` most recent failed investigations, newest first, through
/// `idx_investigations_failed`.
pub async fn dead_letters(client: &Client, limit: i64) -> Result<Vec<DeadLetter>> {
    Ok(client
        .query_typed(
            "select id, data_source, attempts, completed_at, error_message, left(query, 200),
                 investigation_metadata->>'last_error'
             from public.investigations where status = 'failed'
             order by completed_at desc nulls last limit $1",
            &[(&limit, Type::INT8)],
        )
        .await
        .context("reading failed investigations")?
        .iter()
        .map(|r| DeadLetter {
            failure: Failure {
                id: r.get(0),
                data_source: r.get(1),
                attempts: r.get(2),
                failed_at: r.get(3),
                error_message: r.get(4),
            },
            query: r.get(5),
            last_error: r.get(6),
        })
        .collect())
}

/// `fiscal failed [--limit N] [--json]`: the dead letters, to read and retry.
pub async fn run_failed(settings: &crate::config::Settings, limit: i64, json: bool) -> Result<()> {
    let (client, driver) =
        crate::db::connect_driven(&settings.database.url, &settings.database).await?;
    let letters = dead_letters(&client, limit.max(0)).await;
    drop(client);
    let _ = driver.await;
    let letters = letters?;
    if json {
        println!("{}", serde_json::to_string_pretty(&letters)?);
        return Ok(());
    }
    if letters.is_empty() {
        println!("no failed investigations");
    }
    for d in &letters {
        let f = &d.failure;
        println!(
            "{}\n  asked: {}\n  told the citizen: {}\n  last error: {}\n  retry: fiscal \
             retry {}",
            f.headline(),
            d.query,
            f.error_message.as_deref().unwrap_or(""),
            d.last_error.as_deref().unwrap_or("(none recorded)"),
            f.id
        );
    }
    Ok(())
}

/// A processing investigation, for the operator view.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunningJob {
    pub id: uuid::Uuid,
    pub data_source: String,
    pub phase: Option<String>,
    pub progress: f64,
    pub worker_id: Option<String>,
    pub attempts: i32,
    pub started_at: Option<DateTime<Utc>>,
}

/// The `limit` longest-running investigations, through the partial index over
/// processing rows (as few as the fleet's slots).
pub async fn running_jobs(client: &Client, limit: i64) -> Result<Vec<RunningJob>> {
    Ok(client
        .query_typed(
            "select id, data_source, current_phase, coalesce(progress, 0)::float8, locked_by,
                 attempts, started_at
             from public.investigations where status = 'processing'
             order by started_at nulls last limit $1",
            &[(&limit, Type::INT8)],
        )
        .await
        .context("reading running investigations")?
        .iter()
        .map(|r| RunningJob {
            id: r.get(0),
            data_source: r.get(1),
            phase: r.get(2),
            progress: r.get(3),
            worker_id: r.get(4),
            attempts: r.get(5),
            started_at: r.get(6),
        })
        .collect())
}

/// Workers silent for longer than this many heartbeats are not listed as alive.
const ALIVE_HEARTBEATS: u32 = 3;
const RECENT_FAILURES: i64 = 5;

/// `fiscal status [--json]`.
pub async fn run(settings: &crate::config::Settings, json: bool) -> Result<()> {
    let (client, driver) =
        crate::db::connect_driven(&settings.database.url, &settings.database).await?;
    let status = collect(&client, settings.worker.heartbeat()).await;
    drop(client);
    let _ = driver.await;
    let status = status?;
    if json {
        println!("{}", serde_json::to_string_pretty(&status)?);
    } else {
        print!("{}", render(&status));
    }
    Ok(())
}

pub async fn queue_depth(client: &Client) -> Result<QueueDepth> {
    let queue = client
        .query_typed_one(
            "select
                 (select count(*) from public.investigations where status = 'pending'),
                 (select count(*) from public.investigations
                  where status = 'pending' and run_after <= now()),
                 (select count(*) from public.investigations where status = 'processing'),
                 (select count(*) from public.investigations
                  where status = 'processing' and lease_expires_at < now()),
                 (select extract(epoch from now() - min(created_at))::float8
                  from public.investigations where status = 'pending')",
            &[],
        )
        .await
        .context("reading the queue")?;
    Ok(QueueDepth {
        pending: queue.get(0),
        runnable: queue.get(1),
        processing: queue.get(2),
        expired_leases: queue.get(3),
        oldest_pending_seconds: queue.get(4),
    })
}

pub async fn collect(client: &Client, heartbeat: std::time::Duration) -> Result<Status> {
    let queue = queue_depth(client).await?;
    let workers = workers_alive(client, heartbeat).await?;
    // Through idx_investigations_failed: failed rows are few.
    let recent_failures = dead_letters(client, RECENT_FAILURES)
        .await?
        .into_iter()
        .map(|d| d.failure)
        .collect();
    let claims_paused = claims_paused(client).await?;
    Ok(Status {
        queue,
        claims_paused,
        workers,
        recent_failures,
    })
}

/// The workers heard from within the last few heartbeats.
pub async fn workers_alive(
    client: &Client,
    heartbeat: std::time::Duration,
) -> Result<Vec<WorkerRow>> {
    let alive_ms = (heartbeat * ALIVE_HEARTBEATS).as_secs_f64() * 1000.0;
    Ok(client
        .query_typed(
            "select worker_id, hostname, pid, version, concurrency, running, last_seen_at
             from fiscal.workers
             where last_seen_at > now() - $1 * interval '1 millisecond'
             order by worker_id",
            &[(&alive_ms, Type::FLOAT8)],
        )
        .await
        .context("reading fiscal.workers")?
        .iter()
        .map(|r| WorkerRow {
            worker_id: r.get(0),
            hostname: r.get(1),
            pid: r.get(2),
            version: r.get(3),
            concurrency: r.get(4),
            running: r.get(5),
            last_seen_at: r.get(6),
        })
        .collect())
}

/// Whether `fiscal pause` is in force.
pub async fn claims_paused(client: &Client) -> Result<bool> {
    // A schema before migration 0018 has no switch, and no pause.
    let switch: bool = client
        .query_typed_one(crate::queue::HAS_PAUSE_SWITCH, &[])
        .await
        .context("looking for the pause switch")?
        .get(0);
    Ok(switch
        && client
            .query_typed_one("select fiscal.claims_paused()", &[])
            .await
            .context("reading whether claims are paused")?
            .get::<_, bool>(0))
}

/// "2026-12-03 10:00:00 UTC": when, for operators.
pub fn at(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// "42s", "3m05s", "2h10m": how long ago, briefly.
pub fn age(seconds: f64) -> String {
    let s = seconds.max(0.0) as u64;
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
    }
}

/// The human form.
pub fn render(status: &Status) -> String {
    let q = &status.queue;
    let mut out = format!(
        "queue: {} pending ({} runnable now), {} processing ({} with an expired lease)\n",
        q.pending, q.runnable, q.processing, q.expired_leases
    );
    match q.oldest_pending_seconds {
        Some(s) => out.push_str(&format!("oldest pending: {}\n", age(s))),
        None => out.push_str("oldest pending: none\n"),
    }
    if status.claims_paused {
        out.push_str(
            "claims: PAUSED by `fiscal pause`; `fiscal resume` lets workers claim again\n",
        );
    }
    out.push_str(&format!("workers alive: {}\n", status.workers.len()));
    for w in &status.workers {
        out.push_str(&format!(
            "  {} ({} pid {}, v{}): {}/{} running, seen {}\n",
            w.worker_id,
            w.hostname,
            w.pid,
            w.version,
            w.running,
            w.concurrency,
            at(w.last_seen_at)
        ));
    }
    out.push_str(&format!(
        "recent failures: {}\n",
        status.recent_failures.len()
    ));
    for f in &status.recent_failures {
        out.push_str(&format!(
            "  {}: {}\n",
            f.headline(),
            f.error_message.as_deref().unwrap_or("")
        ));
    }
    out
}
