//! Every SQL statement of the queue protocol, and the only way to run them.
//!
//! Invariants:
//! * A row is worked on only between a claim and the write that ends the attempt.
//!   The claim draws a fresh `claim_token`; every later write of the worker names it
//!   in its WHERE together with `status = 'processing'` (the fence). Zero rows
//!   affected means the citizen cancelled or another worker re-claimed the row after
//!   our lease expired: the caller stops the job and writes nothing more.
//! * Row locks are held only for the length of one statement, never through a phase.
//!   The lease (`lease_expires_at`) is what keeps other workers away; it is renewed by
//!   progress writes and heartbeats, and any worker sweeps expired ones.
//! * The claim and the sweep read only partial indexes over pending / processing
//!   rows. Progress writes change no indexed column, so they stay HOT updates.
//! * Time comes from the database (`now()`), never from the worker's clock, so
//!   workers on machines with skewed clocks agree on leases and back-offs.

use std::time::Duration;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use serde_json::Value;
use tokio_postgres::types::Type;
use uuid::Uuid;

use crate::db::Conn;
use crate::input::{self, Unreadable};

/// Identifies one attempt at one investigation: what every fenced write checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fence {
    pub id: Uuid,
    pub token: Uuid,
}

/// A row as the claim hands it to the worker.
#[derive(Debug, Clone)]
pub struct ClaimedRow {
    pub fence: Fence,
    /// This attempt's number, starting at 1.
    pub attempt: i32,
    pub max_attempts: i32,
    /// An earlier attempt ended with its worker gone: run it alone (see CLAIM).
    pub suspect: bool,
    /// What the citizen asked, or why it cannot be read (see `input`).
    pub input: Result<Input, Unreadable>,
}

/// What one claim brought.
#[derive(Debug)]
pub struct ClaimBatch {
    pub rows: Vec<ClaimedRow>,
    /// A suspect has waited longer than a lease for a worker with nothing in
    /// flight; only known when the claim brought rows.
    pub suspect_overdue: bool,
}

/// The citizen's part of a claimed row, decoded.
#[derive(Debug, Clone)]
pub struct Input {
    pub user_id: Uuid,
    pub query: String,
    pub data_source: String,
    pub filters: Value,
    pub anomaly_types: Value,
    pub created_at: DateTime<Utc>,
}

/// What a fenced write found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum Fenced {
    Written,
    /// The row was cancelled or re-claimed: the attempt is over for this worker.
    Lost,
}

/// Retry delay policy, applied in SQL so the sweep and the worker agree.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    pub base_seconds: f64,
    pub max_seconds: f64,
    pub jitter: f64,
}

impl From<&crate::config::WorkerSettings> for Backoff {
    fn from(w: &crate::config::WorkerSettings) -> Self {
        Backoff {
            base_seconds: w.backoff_base_seconds,
            max_seconds: w.backoff_max_seconds,
            jitter: w.backoff_jitter,
        }
    }
}

/// What one finished attempt writes on the row.
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    pub results: Value,
    pub anomalies_found: i32,
    pub total_records_analyzed: i32,
    pub confidence_score: Option<f64>,
    pub summary: String,
    pub metadata: Value,
}

/// A progress write: phase, fraction (clamped below 1.0, which only completion
/// writes) and optionally the records analysed so far.
#[derive(Debug, Clone, PartialEq)]
pub struct ProgressWrite<'a> {
    pub phase: &'a str,
    pub fraction: f64,
    pub records_analyzed: Option<i32>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweepReport {
    pub requeued: u64,
    pub failed: u64,
}

impl SweepReport {
    pub fn is_empty(&self) -> bool {
        self.requeued == 0 && self.failed == 0
    }
}

/// Claims up to `limit` runnable rows for `worker_id`.
///
/// One statement: the CTEs pick the first runnable rows in queue order
/// (`queue_at`, which spaces out each citizen's rows: see migration 0009)
/// through the partial index `idx_investigations_queue`, and lock them with
/// SKIP LOCKED, so concurrent claimers take disjoint rows without waiting on
/// each other; the UPDATE turns them into this worker's attempt.
/// `run_after <= now()` keeps backed-off retries out until their time (they
/// are queued at that time too, so the walk rarely skips any). The row lock
/// ends with the statement; the lease takes over.
///
/// Suspects (rows whose earlier attempt ended with its worker gone, see
/// migration 0009) run alone: only a worker with nothing in flight ($7) takes
/// one, through their own small index, and then takes nothing else; the
/// `not exists` is evaluated once, so with a suspect found the ordinary scan
/// does not run. The last column tells a busy worker (not $7) whether a suspect
/// has waited longer than a lease ($3 ms), so that it lets its jobs finish and takes it;
/// an idle worker has just looked, and the check is skipped.
///
/// A paused fleet (`fiscal pause`, migration 0018) claims nothing: the switch
/// is read once per statement, as an InitPlan, before any row is walked.
///
/// The citizen's columns come back as text, each converted once where its row
/// is picked and cut at the limits of `input` ($4 characters of query, $5 and $6 bytes
/// of JSON; NULL read as the column's default), so that no value a citizen
/// stored can fail to decode inside the claim or make it send megabytes.
pub const CLAIM: &str = "
with suspect as (
    select id,
           left(query, $4 + 1) as query,
           coalesce(filters, '{}')::text as filters,
           coalesce(anomaly_types, '[]')::text as anomaly_types
    from public.investigations
    where $7 and status = 'pending' and orphaned_attempts > 0 and run_after <= now()
      and not (select fiscal.claims_paused())
    order by queue_at
    limit 1
    for update skip locked
),
fresh as (
    select id,
           left(query, $4 + 1) as query,
           coalesce(filters, '{}')::text as filters,
           coalesce(anomaly_types, '[]')::text as anomaly_types
    from public.investigations
    where status = 'pending' and run_after <= now() and orphaned_attempts = 0
      and not exists (select 1 from suspect)
      and not (select fiscal.claims_paused())
    order by queue_at
    limit $2
    for update skip locked
),
picked as (
    select * from suspect union all select * from fresh
)
update public.investigations i
set status = 'processing',
    attempts = i.attempts + 1,
    claim_token = gen_random_uuid(),
    locked_by = $1,
    lease_expires_at = now() + $3 * interval '1 millisecond',
    started_at = now(),
    completed_at = null,
    current_phase = 'initializing',
    progress = 0,
    error_message = null
from picked c
where i.id = c.id
returning i.id, i.claim_token, i.user_id, c.query, i.data_source,
          case when octet_length(c.filters) <= $5 then c.filters end,
          octet_length(c.filters)::int8,
          case when octet_length(c.anomaly_types) <= $6 then c.anomaly_types end,
          octet_length(c.anomaly_types)::int8,
          i.attempts, i.max_attempts, i.created_at,
          i.orphaned_attempts > 0,
          not $7 and exists (
              select 1 from public.investigations
              where status = 'pending' and orphaned_attempts > 0
                and run_after <= now() - $3 * interval '1 millisecond'
          )";

/// Records progress and renews the lease in the same write, so a job that reports
/// progress needs no separate heartbeat. `greatest` keeps progress from going
/// backwards even if two writes of one attempt arrive out of order. Touches only
/// unindexed columns: a HOT update.
const REPORT_PROGRESS: &str = "
update public.investigations
set current_phase = $3,
    progress = greatest(coalesce(progress, 0), $4),
    total_records_analyzed = coalesce($5, total_records_analyzed),
    lease_expires_at = now() + $6 * interval '1 millisecond'
where id = $1 and status = 'processing' and claim_token = $2";

/// Renews the leases of several running attempts at once. Returns the ids still
/// held: a fence missing from the answer has been lost and its job must stop.
const HEARTBEAT: &str = "
update public.investigations i
set lease_expires_at = now() + $3 * interval '1 millisecond'
from unnest($1::uuid[], $2::uuid[]) as held(id, token)
where i.id = held.id and i.status = 'processing' and i.claim_token = held.token
returning i.id";

/// Which of these attempts are no longer ours (cancelled, re-claimed, finished).
/// Primary-key lookups only: cheap enough to run every second.
const LOST_FENCES: &str = "
select held.id
from unnest($1::uuid[], $2::uuid[]) as held(id, token)
where not exists (
    select 1 from public.investigations i
    where i.id = held.id and i.status = 'processing' and i.claim_token = held.token
)";

/// Ends attempts successfully, as many as finished together: one statement and
/// one commit for the lot, so that completions share the WAL flush that
/// dominates a short investigation's cost. Each row is fenced by its own token;
/// `returning` says which were still ours. `processing_time_ms` measures each
/// attempt from the claim that started it. Metadata is merged, so what earlier
/// attempts recorded (`last_error`) stays visible. The caller sorts by id, so
/// two batches lock shared rows in the same order.
const COMPLETE: &str = "
update public.investigations i
set status = 'completed',
    current_phase = 'completed',
    progress = 1,
    results = d.results,
    anomalies_found = d.anomalies_found,
    total_records_analyzed = d.total_records_analyzed,
    confidence_score = d.confidence_score,
    summary = d.summary,
    investigation_metadata = coalesce(i.investigation_metadata, '{}'::jsonb) || d.metadata,
    completed_at = now(),
    processing_time_ms = (extract(epoch from (now() - i.started_at)) * 1000)::integer,
    lease_expires_at = null
from unnest($1::uuid[], $2::uuid[], $3::jsonb[], $4::int4[], $5::int4[], $6::float8[],
            $7::text[], $8::jsonb[])
     as d(id, token, results, anomalies_found, total_records_analyzed, confidence_score,
          summary, metadata)
where i.id = d.id and i.status = 'processing' and i.claim_token = d.token
returning i.id";

/// Ends an attempt and the investigation for good: `error_message` is written
/// here and only here, in words the citizen can act on.
const FAIL: &str = "
update public.investigations
set status = 'failed',
    current_phase = 'failed',
    error_message = $3,
    investigation_metadata = coalesce(investigation_metadata, '{}'::jsonb)
        || jsonb_build_object('last_error', $4::text, 'last_error_at', now(),
                              'last_error_attempt', attempts),
    completed_at = now(),
    processing_time_ms = (extract(epoch from (now() - started_at)) * 1000)::integer,
    lease_expires_at = null
where id = $1 and status = 'processing' and claim_token = $2";

/// Gives a failed attempt back to the queue after a back-off (`fiscal.retry_at`,
/// the formula the sweep uses too), computed once in `due` so that the row is
/// runnable and queued at the same moment. The fence is checked again in the
/// UPDATE, under the row lock.
/// The row looks pending again (progress 0, no phase) and keeps the error in its
/// metadata, not in `error_message`, which is only for rows that failed.
const RETRY: &str = "
with due as (
    select id, fiscal.retry_at(attempts, $4, $5, $6) as at
    from public.investigations
    where id = $1 and status = 'processing' and claim_token = $2
)
update public.investigations i
set status = 'pending',
    current_phase = null,
    progress = 0,
    run_after = due.at,
    queue_at = due.at,
    investigation_metadata = coalesce(i.investigation_metadata, '{}'::jsonb)
        || jsonb_build_object('last_error', $3::text, 'last_error_at', now(),
                              'last_error_attempt', i.attempts),
    locked_by = null,
    lease_expires_at = null
from due
where i.id = due.id and i.status = 'processing' and i.claim_token = $2
returning i.run_after";

/// Hands unfinished attempts back at shutdown, runnable at once, without counting
/// the attempt: the job did not fail, the worker left.
const RELEASE: &str = "
update public.investigations i
set status = 'pending',
    attempts = greatest(i.attempts - 1, 0),
    current_phase = null,
    progress = 0,
    run_after = now(),
    started_at = null,
    locked_by = null,
    lease_expires_at = null
from unnest($1::uuid[], $2::uuid[]) as held(id, token)
where i.id = held.id and i.status = 'processing' and i.claim_token = held.token";

/// Rescues attempts whose worker vanished: expired leases go back to pending with
/// the same back-off as a retry, or to failed once attempts are exhausted. Reads
/// the processing rows through `idx_investigations_processing`; SKIP LOCKED lets
/// every worker sweep at once without blocking on rows a live worker is writing.
/// Batched, so one statement stays short however many rows expired together.
pub const SWEEP_EXPIRED: &str = "
with expired as (
    select id, fiscal.retry_at(attempts, $2, $3, $4) as retry_at
    from public.investigations
    where status = 'processing' and lease_expires_at < now()
    limit $1
    for update skip locked
)
update public.investigations i
set status = case when i.attempts >= i.max_attempts then 'failed' else 'pending' end,
    current_phase = case when i.attempts >= i.max_attempts then 'failed' end,
    progress = case when i.attempts >= i.max_attempts then i.progress else 0 end,
    error_message = case when i.attempts >= i.max_attempts then format(
        'A investigação foi interrompida %s vezes sem terminar: o processo que a executava '
        'parou de responder. Desistimos depois de %s tentativas. Tente criar a investigação '
        'de novo mais tarde; se o problema continuar, avise a equipe do fiscal.',
        i.attempts, i.max_attempts) end,
    completed_at = case when i.attempts >= i.max_attempts then now() end,
    run_after = case when i.attempts >= i.max_attempts then i.run_after
        else expired.retry_at end,
    queue_at = case when i.attempts >= i.max_attempts then i.queue_at
        else expired.retry_at end,
    investigation_metadata = coalesce(i.investigation_metadata, '{}'::jsonb)
        || jsonb_build_object('last_error',
               format('lease held by %s expired on attempt %s', i.locked_by, i.attempts),
               'last_error_at', now(), 'last_error_attempt', i.attempts),
    orphaned_attempts = i.orphaned_attempts + 1,
    locked_by = null,
    lease_expires_at = null
from expired
where i.id = expired.id
returning i.status";

/// `fiscal retry ID`: a failed investigation back to the queue, as if new — its
/// attempts afresh, runnable and queued now — keeping in its metadata the last
/// error and the message the citizen had read, and when it was retried. Only a
/// failed row: a pending or running one is already queued, and a completed or
/// cancelled one is the citizen's answer. `orphaned_attempts` stays: a row whose
/// workers vanished under it is still claimed alone (migration 0009). The
/// update's trigger wakes the workers (migration 0002).
pub const RETRY_FAILED: &str = "
update public.investigations
set status = 'pending', attempts = 0, run_after = now(), queue_at = now(),
    error_message = null, completed_at = null, started_at = null,
    processing_time_ms = null, current_phase = null, progress = 0,
    total_records_analyzed = 0, anomalies_found = 0, confidence_score = null,
    results = '[]', summary = null, claim_token = null, locked_by = null,
    lease_expires_at = null,
    investigation_metadata = coalesce(investigation_metadata, '{}') || jsonb_build_object(
        'retried_at', now(), 'retried_error_message', error_message,
        'retried_after_attempts', attempts)
where id = $1 and status = 'failed'
returning id";

/// `fiscal cancel ID`: what the citizen's cancel does, for the operator; the
/// trigger completes the row and a running job stops within a second.
pub const CANCEL: &str = "
update public.investigations set status = 'cancelled'
where id = $1 and status in ('pending', 'processing')
returning id";

/// Whether the schema has the pause switch (migration 0018): an older one
/// would accept the setting and never read it.
pub const HAS_PAUSE_SWITCH: &str = "select to_regprocedure('fiscal.claims_paused()') is not null";

/// `fiscal pause` / `fiscal resume`: the switch every claim reads.
pub const SET_CLAIMS_PAUSED: &str = "
insert into fiscal.settings (key, value) values ('claims_paused', to_jsonb($1::boolean))
on conflict (key) do update set value = excluded.value, updated_at = now()";

/// On resume, workers sleeping until their next poll are woken at once.
pub const WAKE_WORKERS: &str = "select pg_notify('fiscal_investigations', 'pending')";

/// The status of one investigation, for an operator's command to explain
/// itself.
pub const STATUS_OF: &str = "select status from public.investigations where id = $1";

/// Whether anything is left for `fiscal work --drain` to wait for: a pending row
/// (whatever its run_after) or one being processed anywhere.
const HAS_UNFINISHED: &str = "
select exists (select 1 from public.investigations where status = 'pending')
    or exists (select 1 from public.investigations where status = 'processing')";

/// Announces a worker process, or refreshes it, for `fiscal status`.
const TOUCH_WORKER: &str = "
insert into fiscal.workers (worker_id, hostname, pid, version, concurrency, running)
values ($1, $2, $3, $4, $5, $6)
on conflict (worker_id) do update
set running = excluded.running, last_seen_at = now()";

/// A worker leaving cleanly removes its row; crashed ones are pruned by age.
const REMOVE_WORKER: &str = "delete from fiscal.workers where worker_id = $1";

/// Forgets workers silent for longer than the given number of milliseconds.
const PRUNE_WORKERS: &str = "
delete from fiscal.workers where last_seen_at < now() - $1 * interval '1 millisecond'";

// Every statement below names its parameter types, so that behind a
// transaction-mode pooler it can go out unnamed; `Conn::rows` and `Conn::run`
// pick how to send it (see `db`).

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn fenced(rows: u64) -> Fenced {
    if rows == 0 {
        Fenced::Lost
    } else {
        Fenced::Written
    }
}

fn split(fences: &[Fence]) -> (Vec<Uuid>, Vec<Uuid>) {
    fences.iter().map(|f| (f.id, f.token)).unzip()
}

/// Claims up to `limit` rows, as a worker with nothing in flight would: a
/// suspect alone if one is waiting, else the oldest rows.
pub async fn claim(
    client: &Conn,
    worker_id: &str,
    limit: usize,
    lease: Duration,
) -> Result<Vec<ClaimedRow>> {
    Ok(claim_batch(client, worker_id, limit, lease, true)
        .await?
        .rows)
}

/// Claims up to `limit` rows; `idle` says the worker has nothing in flight, and
/// may take a suspect (which then comes alone).
pub async fn claim_batch(
    client: &Conn,
    worker_id: &str,
    limit: usize,
    lease: Duration,
    idle: bool,
) -> Result<ClaimBatch> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let (query_chars, filters_bytes, types_bytes) = (
        input::MAX_QUERY_CHARS as i32,
        input::MAX_FILTERS_BYTES as i32,
        input::MAX_ANOMALY_TYPES_BYTES as i32,
    );
    let rows = client
        .rows(
            CLAIM,
            &[
                (&worker_id, Type::TEXT),
                (&limit, Type::INT8),
                (&millis(lease), Type::FLOAT8),
                (&query_chars, Type::INT4),
                (&filters_bytes, Type::INT4),
                (&types_bytes, Type::INT4),
                (&idle, Type::BOOL),
            ],
        )
        .await
        .context("claiming investigations")?;
    // The same on every row: the check runs once per statement.
    let suspect_overdue = rows.first().is_some_and(|r| r.try_get(13).unwrap_or(false));
    let mut claimed = Vec::with_capacity(rows.len());
    for r in &rows {
        // The row is ours now: if even its id cannot be read there is nothing to
        // fence a write with, and its lease will expire into the sweep.
        let fence = match (r.try_get(0), r.try_get(1)) {
            (Ok(id), Ok(token)) => Fence { id, token },
            (Err(e), _) | (_, Err(e)) => {
                tracing::error!(error = %e, "a claimed row has no readable id; leaving it to the sweep");
                continue;
            }
        };
        claimed.push(ClaimedRow {
            fence,
            attempt: r.try_get(9).unwrap_or(1),
            max_attempts: r.try_get(10).unwrap_or(1),
            suspect: r.try_get(12).unwrap_or(false),
            input: claimed_input(r),
        });
    }
    Ok(ClaimBatch {
        rows: claimed,
        suspect_overdue,
    })
}

fn claimed_input(r: &tokio_postgres::Row) -> Result<Input, Unreadable> {
    let column = |e: tokio_postgres::Error| Unreadable {
        message: input::UNREADABLE_ROW.into(),
        detail: format!("claimed row does not decode: {e}"),
    };
    let filters_text: Option<&str> = r.try_get(5).map_err(column)?;
    let filters_bytes: i64 = r.try_get(6).map_err(column)?;
    let types_text: Option<&str> = r.try_get(7).map_err(column)?;
    let types_bytes: i64 = r.try_get(8).map_err(column)?;
    Ok(Input {
        user_id: r.try_get(2).map_err(column)?,
        query: input::query(r.try_get(3).map_err(column)?)?,
        data_source: r.try_get(4).map_err(column)?,
        filters: input::json(
            "filters",
            filters_text,
            filters_bytes,
            input::MAX_FILTERS_BYTES,
        )?,
        anomaly_types: input::json(
            "anomaly_types",
            types_text,
            types_bytes,
            input::MAX_ANOMALY_TYPES_BYTES,
        )?,
        created_at: r.try_get(11).map_err(column)?,
    })
}

pub async fn report_progress(
    client: &Conn,
    fence: Fence,
    progress: &ProgressWrite<'_>,
    lease: Duration,
) -> Result<Fenced> {
    // 1.0 means "completed"; only COMPLETE may write it.
    let fraction = progress.fraction.clamp(0.0, 0.99);
    let rows = client
        .run(
            REPORT_PROGRESS,
            &[
                (&fence.id, Type::UUID),
                (&fence.token, Type::UUID),
                (&progress.phase, Type::TEXT),
                (&fraction, Type::FLOAT8),
                (&progress.records_analyzed, Type::INT4),
                (&millis(lease), Type::FLOAT8),
            ],
        )
        .await
        .context("writing progress")?;
    Ok(fenced(rows))
}

/// Renews leases; returns the fences that are no longer held.
pub async fn heartbeat(client: &Conn, fences: &[Fence], lease: Duration) -> Result<Vec<Fence>> {
    let (ids, tokens) = split(fences);
    let rows = client
        .rows(
            HEARTBEAT,
            &[
                (&ids, Type::UUID_ARRAY),
                (&tokens, Type::UUID_ARRAY),
                (&millis(lease), Type::FLOAT8),
            ],
        )
        .await
        .context("renewing leases")?;
    let held: Vec<Uuid> = rows.iter().map(|r| r.get(0)).collect();
    Ok(fences
        .iter()
        .filter(|f| !held.contains(&f.id))
        .copied()
        .collect())
}

pub async fn lost_fences(client: &Conn, fences: &[Fence]) -> Result<Vec<Uuid>> {
    let (ids, tokens) = split(fences);
    let rows = client
        .rows(
            LOST_FENCES,
            &[(&ids, Type::UUID_ARRAY), (&tokens, Type::UUID_ARRAY)],
        )
        .await
        .context("checking for cancelled investigations")?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

pub async fn complete(client: &Conn, fence: Fence, completion: &Completion) -> Result<Fenced> {
    let written = complete_batch(client, &[(fence, completion)]).await?;
    Ok(if written.contains(&fence.id) {
        Fenced::Written
    } else {
        Fenced::Lost
    })
}

/// Completes every attempt of `batch` in one statement; returns the ids that
/// were still ours and are now completed.
pub async fn complete_batch(client: &Conn, batch: &[(Fence, &Completion)]) -> Result<Vec<Uuid>> {
    let mut batch: Vec<&(Fence, &Completion)> = batch.iter().collect();
    batch.sort_by_key(|(fence, _)| fence.id);
    let ids: Vec<Uuid> = batch.iter().map(|(f, _)| f.id).collect();
    let tokens: Vec<Uuid> = batch.iter().map(|(f, _)| f.token).collect();
    let results: Vec<&Value> = batch.iter().map(|(_, c)| &c.results).collect();
    let found: Vec<i32> = batch.iter().map(|(_, c)| c.anomalies_found).collect();
    let analysed: Vec<i32> = batch
        .iter()
        .map(|(_, c)| c.total_records_analyzed)
        .collect();
    let confidence: Vec<Option<f64>> = batch.iter().map(|(_, c)| c.confidence_score).collect();
    let summaries: Vec<&str> = batch.iter().map(|(_, c)| c.summary.as_str()).collect();
    let metadata: Vec<&Value> = batch.iter().map(|(_, c)| &c.metadata).collect();
    let rows = client
        .rows(
            COMPLETE,
            &[
                (&ids, Type::UUID_ARRAY),
                (&tokens, Type::UUID_ARRAY),
                (&results, Type::JSONB_ARRAY),
                (&found, Type::INT4_ARRAY),
                (&analysed, Type::INT4_ARRAY),
                (&confidence, Type::FLOAT8_ARRAY),
                (&summaries, Type::TEXT_ARRAY),
                (&metadata, Type::JSONB_ARRAY),
            ],
        )
        .await
        .context("writing completed investigations")?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// `message` is the citizen's (pt-BR); `detail` is the operator's, kept in metadata.
pub async fn fail(client: &Conn, fence: Fence, message: &str, detail: &str) -> Result<Fenced> {
    let rows = client
        .run(
            FAIL,
            &[
                (&fence.id, Type::UUID),
                (&fence.token, Type::UUID),
                (&message, Type::TEXT),
                (&detail, Type::TEXT),
            ],
        )
        .await
        .context("writing the failed investigation")?;
    Ok(fenced(rows))
}

/// Returns when the row becomes runnable again, or `None` if the fence was lost.
pub async fn retry(
    client: &Conn,
    fence: Fence,
    detail: &str,
    backoff: Backoff,
) -> Result<Option<DateTime<Utc>>> {
    let rows = client
        .rows(
            RETRY,
            &[
                (&fence.id, Type::UUID),
                (&fence.token, Type::UUID),
                (&detail, Type::TEXT),
                (&backoff.base_seconds, Type::FLOAT8),
                (&backoff.max_seconds, Type::FLOAT8),
                (&backoff.jitter, Type::FLOAT8),
            ],
        )
        .await
        .context("rescheduling the investigation")?;
    Ok(rows.first().map(|r| r.get(0)))
}

pub async fn release(client: &Conn, fences: &[Fence]) -> Result<u64> {
    let (ids, tokens) = split(fences);
    client
        .run(
            RELEASE,
            &[(&ids, Type::UUID_ARRAY), (&tokens, Type::UUID_ARRAY)],
        )
        .await
        .context("releasing investigations at shutdown")
}

pub async fn sweep_expired(client: &Conn, batch: i64, backoff: Backoff) -> Result<SweepReport> {
    let rows = client
        .rows(
            SWEEP_EXPIRED,
            &[
                (&batch, Type::INT8),
                (&backoff.base_seconds, Type::FLOAT8),
                (&backoff.max_seconds, Type::FLOAT8),
                (&backoff.jitter, Type::FLOAT8),
            ],
        )
        .await
        .context("sweeping expired leases")?;
    let failed = rows
        .iter()
        .filter(|r| r.get::<_, &str>(0) == "failed")
        .count() as u64;
    Ok(SweepReport {
        requeued: rows.len() as u64 - failed,
        failed,
    })
}

pub async fn has_unfinished(client: &Conn) -> Result<bool> {
    let rows = client
        .rows(HAS_UNFINISHED, &[])
        .await
        .context("checking for unfinished investigations")?;
    Ok(rows.first().map(|r| r.get(0)).unwrap_or(false))
}

pub struct WorkerInfo<'a> {
    pub worker_id: &'a str,
    pub hostname: &'a str,
    pub pid: i32,
    pub version: &'a str,
    pub concurrency: i32,
}

pub async fn touch_worker(client: &Conn, info: &WorkerInfo<'_>, running: i32) -> Result<()> {
    client
        .run(
            TOUCH_WORKER,
            &[
                (&info.worker_id, Type::TEXT),
                (&info.hostname, Type::TEXT),
                (&info.pid, Type::INT4),
                (&info.version, Type::TEXT),
                (&info.concurrency, Type::INT4),
                (&running, Type::INT4),
            ],
        )
        .await
        .context("recording the worker heartbeat")?;
    Ok(())
}

pub async fn remove_worker(client: &Conn, worker_id: &str) -> Result<()> {
    client
        .run(REMOVE_WORKER, &[(&worker_id, Type::TEXT)])
        .await
        .context("removing the worker record")?;
    Ok(())
}

pub async fn prune_workers(client: &Conn, silent_for: Duration) -> Result<u64> {
    client
        .run(PRUNE_WORKERS, &[(&millis(silent_for), Type::FLOAT8)])
        .await
        .context("pruning silent workers")
}

/// Tells a row the citizen cancelled from one re-claimed after this worker's
/// lease ran out, once the fence refused a write; only the metrics care.
const IS_CANCELLED: &str = "
select status = 'cancelled' from public.investigations where id = $1";

pub async fn is_cancelled(client: &Conn, id: Uuid) -> Result<bool> {
    let rows = client
        .rows(IS_CANCELLED, &[(&id, Type::UUID)])
        .await
        .context("reading whether an investigation was cancelled")?;
    Ok(rows.first().is_some_and(|r| r.get(0)))
}
