//! One attempt at one investigation: run its pipeline, stream its progress, and
//! write how it ended. Failures are written on the row; nothing here can bring the
//! worker down (a panicking pipeline included).

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn, Instrument, Span};

use super::{JobHandle, Shared, StopReason};
use crate::input;
use crate::job::{Completion, Job, JobError, Phase, Progress, ProgressState};
use crate::metrics::Outcome;
use crate::queue::{self, ClaimedRow, Fenced, ProgressWrite};

/// What the row is to become when the attempt ends.
enum Ending {
    Complete(Arc<Completion>),
    Retry {
        message: String,
        detail: String,
    },
    Fail {
        message: String,
        detail: String,
    },
    Release,
    /// The row is no longer ours: write nothing.
    Abandon,
}

impl Ending {
    fn label(&self) -> &'static str {
        match self {
            Ending::Complete(_) => "completed",
            Ending::Retry { .. } => "rescheduled",
            Ending::Fail { .. } => "failed",
            Ending::Release => "released",
            Ending::Abandon => "abandoned",
        }
    }

    /// How the metrics count it once written; an abandoned row is told apart
    /// later (cancelled or lost).
    fn outcome(&self) -> Option<Outcome> {
        match self {
            Ending::Complete(_) => Some(Outcome::Completed),
            Ending::Retry { .. } => Some(Outcome::Retried),
            Ending::Fail { .. } => Some(Outcome::Failed),
            Ending::Release => Some(Outcome::Released),
            Ending::Abandon => None,
        }
    }
}

const INTERNAL_ERROR: &str = "Ocorreu um erro interno no fiscal ao analisar esta investigação. \
    Nada foi publicado. A equipe pode encontrar os detalhes nos registros do serviço; tente \
    criar a investigação de novo mais tarde.";

pub(super) async fn run(shared: Arc<Shared>, row: ClaimedRow, handle: Arc<JobHandle>) {
    let span = tracing::info_span!(
        "investigation",
        id = %row.fence.id,
        attempt = row.attempt,
        phase = tracing::field::Empty,
    );
    attempt(shared, row, handle).instrument(span).await
}

async fn attempt(shared: Arc<Shared>, row: ClaimedRow, handle: Arc<JobHandle>) {
    let started = std::time::Instant::now();
    let (outcome, phases) = match row.input {
        // A row the worker cannot read fails like any permanent error: through
        // the same fenced write, while the rest of the batch goes on.
        Err(unreadable) => (
            Err(JobError::Permanent {
                message: unreadable.message,
                detail: Some(anyhow::anyhow!(unreadable.detail)),
            }),
            Vec::new(),
        ),
        Ok(input) => {
            info!(data_source = %input::echo(&input.data_source), "claimed");
            let job = Job {
                id: row.fence.id,
                user_id: input.user_id,
                query: input.query,
                data_source: input.data_source,
                filters: input.filters,
                anomaly_types: input.anomaly_types,
                attempt: row.attempt,
                max_attempts: row.max_attempts,
            };
            run_pipeline(&shared, &job, &handle).await
        }
    };

    let ending = decide(row.attempt, row.max_attempts, outcome, handle.reason());
    let records = match &ending {
        Ending::Complete(c) => u64::try_from(c.total_records_analyzed).unwrap_or(0),
        _ => 0,
    };
    let written = persist(&shared, &handle, ending).await;
    let m = &shared.metrics;
    m.phases(&phases);
    if let Some(outcome) = written {
        m.finished(outcome, started.elapsed());
        if outcome == Outcome::Completed {
            m.records_analyzed(records);
        }
    }
    info!(
        elapsed_ms = started.elapsed().as_millis() as u64,
        "attempt over"
    );
}

/// Runs the row's pipeline with its progress writer; returns how it ended and
/// the time spent in each phase.
async fn run_pipeline(
    shared: &Arc<Shared>,
    job: &Job,
    handle: &Arc<JobHandle>,
) -> (Result<Completion, JobError>, Vec<(Phase, Duration)>) {
    let Some(pipeline) = shared.pipelines.get(&job.data_source) else {
        let message = shared.pipelines.unsupported_message(&job.data_source);
        return (Err(JobError::permanent(message)), Vec::new());
    };
    let (progress, updates) = Progress::new();
    let writer_stop = CancellationToken::new();
    let writer = tokio::spawn(
        write_progress(shared.clone(), handle.clone(), updates, writer_stop.clone())
            .instrument(Span::current()),
    );
    let run = AssertUnwindSafe(pipeline.run(job, &progress, &handle.cancel));
    let outcome = match run.catch_unwind().await {
        Ok(outcome) => outcome,
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            error!(panic = %what, "pipeline panicked");
            Err(JobError::Permanent {
                message: INTERNAL_ERROR.into(),
                detail: Some(anyhow::anyhow!("pipeline panicked: {what}")),
            })
        }
    };
    writer_stop.cancel();
    let _ = writer.await;
    (outcome, progress.phase_durations(std::time::Instant::now()))
}

/// `attempt` and `max_attempts` come from the claim, which has them for rows
/// whose citizen input could not be read too.
fn decide(
    attempt: i32,
    max_attempts: i32,
    outcome: Result<Completion, JobError>,
    reason: Option<StopReason>,
) -> Ending {
    match (reason, outcome) {
        (Some(StopReason::Lost), _) => Ending::Abandon,
        (_, Ok(completion)) => Ending::Complete(Arc::new(completion)),
        (Some(StopReason::Shutdown), Err(_)) => Ending::Release,
        (None, Err(JobError::Cancelled)) => {
            // A pipeline must only say so when its token fired; be safe anyway.
            warn!("pipeline reported cancellation without a stop request; releasing");
            Ending::Release
        }
        (None, Err(JobError::Permanent { message, detail })) => {
            let detail = detail.map_or_else(|| message.clone(), |d| format!("{d:#}"));
            Ending::Fail { message, detail }
        }
        (None, Err(JobError::Retryable { message, source })) => {
            let detail = format!("{source:#}");
            if attempt >= max_attempts {
                Ending::Fail {
                    message: format!(
                        "{message} Desistimos depois de {} tentativas; tente criar a \
                         investigação de novo mais tarde.",
                        attempt
                    ),
                    detail,
                }
            } else {
                Ending::Retry { message, detail }
            }
        }
    }
}

/// Writes the ending, retrying through connection trouble while our lease still
/// stands; after that the row is the sweep's to recover, and writing would only
/// be refused by the fence. Returns how the attempt ended, when that is known.
async fn persist(shared: &Shared, handle: &Arc<JobHandle>, ending: Ending) -> Option<Outcome> {
    let fence = handle.fence;
    let lease = shared.settings.worker.lease();
    let mut delay = Duration::from_millis(100);
    loop {
        let written = match &ending {
            Ending::Abandon => {
                info!("cancelled or claimed elsewhere; writing nothing more");
                return lost_how(shared, fence.id).await;
            }
            Ending::Complete(completion) => {
                shared
                    .completions
                    .complete(shared, handle, completion.clone())
                    .await
            }
            Ending::Fail { message, detail } => {
                shared
                    .with_client(|c| async move { queue::fail(&c, fence, message, detail).await })
                    .await
            }
            Ending::Retry { detail, .. } => {
                let backoff = crate::queue::Backoff::from(&shared.settings.worker);
                shared
                    .with_client(|c| async move { queue::retry(&c, fence, detail, backoff).await })
                    .await
                    .map(|at| {
                        if at.is_some() {
                            Fenced::Written
                        } else {
                            Fenced::Lost
                        }
                    })
            }
            Ending::Release => shared
                .with_client(|c| async move { queue::release(&c, &[fence]).await })
                .await
                .map(|n| if n > 0 { Fenced::Written } else { Fenced::Lost }),
        };
        let what = ending.label();
        match written {
            Ok(Fenced::Written) => {
                match &ending {
                    Ending::Fail { detail, .. } => warn!(%detail, "{what}"),
                    Ending::Retry { message, detail } => warn!(%message, %detail, "{what}"),
                    _ => info!("{what}"),
                }
                return ending.outcome();
            }
            Ok(Fenced::Lost) => {
                info!("not {what}: the row was cancelled or claimed elsewhere meanwhile");
                return lost_how(shared, fence.id).await;
            }
            Err(e) => {
                if handle.lease_renewed_at().elapsed() >= lease {
                    error!(error = %format!("{e:#}"), "could not record the outcome before the lease ran out; the sweep will retry the investigation");
                    return None;
                }
                shared.outage.failed("recording an outcome", &e);
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        }
    }
}

async fn lost_how(shared: &Shared, id: uuid::Uuid) -> Option<Outcome> {
    let cancelled = shared
        .with_client(|c| async move { queue::is_cancelled(&c, id).await })
        .await
        .ok()?;
    Some(if cancelled {
        Outcome::Cancelled
    } else {
        Outcome::Lost
    })
}

/// Sends the newest reported state at most once per progress interval. Each write
/// renews the lease; a refused write means the job was lost, and stops it.
async fn write_progress(
    shared: Arc<Shared>,
    handle: Arc<JobHandle>,
    mut updates: watch::Receiver<ProgressState>,
    stop: CancellationToken,
) {
    let w = &shared.settings.worker;
    loop {
        tokio::select! {
            biased;
            _ = stop.cancelled() => return,
            changed = updates.changed() => if changed.is_err() { return },
        }
        // A job that ends as soon as it reports (an empty selection) has its
        // completion on the way, which writes progress 1: let it get there
        // first rather than spend a statement and a Realtime event on a phase
        // already over.
        tokio::task::yield_now().await;
        if stop.is_cancelled() {
            return;
        }
        let state = updates.borrow_and_update().clone();
        Span::current().record("phase", state.phase.as_str());
        let fence = handle.fence;
        let renewed_at = std::time::Instant::now();
        let write = ProgressWrite {
            phase: state.phase.as_str(),
            fraction: state.fraction,
            records_analyzed: state.records_analyzed,
        };
        let write = &write;
        match shared
            .with_client(
                |c| async move { queue::report_progress(&c, fence, write, w.lease()).await },
            )
            .await
        {
            Ok(Fenced::Written) => handle.lease_renewed(renewed_at),
            Ok(Fenced::Lost) => {
                handle.stop(StopReason::Lost);
                return;
            }
            Err(e) => shared.outage.failed("writing progress", &e),
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(w.progress_interval()) => {}
        }
    }
}
