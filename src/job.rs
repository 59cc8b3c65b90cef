//! What a running investigation is handed and hands back: the claimed
//! [`Job`], a [`Progress`] reporter, and a [`Completion`] or a [`JobError`]
//! that says whether trying again could help. A [`Pipeline`] computes an
//! investigation; it never touches the queue's SQL: the worker throttles and
//! fences its progress, and writes the outcome.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde_json::Value;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

pub use crate::queue::Completion;

/// The phases an investigation goes through, in order; `current_phase` holds
/// their names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    Initializing,
    DataRetrieval,
    AnomalyDetection,
    Analysis,
    SummaryGeneration,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Initializing => "initializing",
            Phase::DataRetrieval => "data_retrieval",
            Phase::AnomalyDetection => "anomaly_detection",
            Phase::Analysis => "analysis",
            Phase::SummaryGeneration => "summary_generation",
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a pipeline sees of the claimed row.
#[derive(Debug, Clone)]
pub struct Job {
    pub id: Uuid,
    pub user_id: Uuid,
    pub query: String,
    pub data_source: String,
    pub filters: Value,
    pub anomaly_types: Value,
    pub attempt: i32,
    pub max_attempts: i32,
}

/// Why an attempt did not complete. The worker decides what the row becomes.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// Might succeed later (source timeout, 429/5xx, lost connection): back to
    /// pending with back-off, until attempts run out. `message` is pt-BR and
    /// becomes `error_message` if this was the last attempt.
    #[error("{message}: {source:#}")]
    Retryable {
        message: String,
        source: anyhow::Error,
    },
    /// Cannot succeed as asked (invalid filters, unsupported source): failed now.
    /// `message` is pt-BR, for the citizen.
    #[error("{message}")]
    Permanent {
        message: String,
        detail: Option<anyhow::Error>,
    },
    /// The cancellation token fired and the pipeline stopped.
    #[error("cancelled")]
    Cancelled,
}

impl JobError {
    pub fn retryable(message: impl Into<String>, source: anyhow::Error) -> Self {
        JobError::Retryable {
            message: message.into(),
            source,
        }
    }

    pub fn permanent(message: impl Into<String>) -> Self {
        JobError::Permanent {
            message: message.into(),
            detail: None,
        }
    }
}

/// The latest state a pipeline reported. The worker writes the newest one at most
/// once per progress interval.
#[derive(Debug, Clone, PartialEq)]
pub struct ProgressState {
    pub phase: Phase,
    pub fraction: f64,
    pub records_analyzed: Option<i32>,
}

/// Handed to a pipeline to report where it is. Reporting never blocks and never
/// fails: it records the newest state, and the worker's writer sends it.
#[derive(Debug, Clone)]
pub struct Progress {
    tx: Arc<watch::Sender<ProgressState>>,
    /// When each phase was entered, for the phase-duration metrics: the writer
    /// sees only the newest state, and a short phase may fall between writes.
    entered: Arc<std::sync::Mutex<Vec<(Phase, Instant)>>>,
}

impl Progress {
    pub fn new() -> (Self, watch::Receiver<ProgressState>) {
        let (tx, rx) = watch::channel(ProgressState {
            phase: Phase::Initializing,
            fraction: 0.0,
            records_analyzed: None,
        });
        let entered = Arc::new(std::sync::Mutex::new(vec![(
            Phase::Initializing,
            Instant::now(),
        )]));
        (
            Self {
                tx: Arc::new(tx),
                entered,
            },
            rx,
        )
    }

    /// Moves to `phase` at overall `fraction` (0..1 of the whole investigation).
    /// A fraction below the last one reported is ignored: progress never goes back.
    pub fn set(&self, phase: Phase, fraction: f64) {
        {
            let mut entered = self.entered.lock().unwrap_or_else(|e| e.into_inner());
            if entered.last().map_or(true, |(last, _)| *last != phase) {
                entered.push((phase, Instant::now()));
            }
        }
        self.tx.send_if_modified(|s| {
            let fraction = fraction.clamp(0.0, 1.0).max(s.fraction);
            let changed = s.phase != phase || s.fraction != fraction;
            s.phase = phase;
            s.fraction = fraction;
            changed
        });
    }

    pub fn records_analyzed(&self, n: usize) {
        let n = i32::try_from(n).unwrap_or(i32::MAX);
        self.tx.send_if_modified(|s| {
            let changed = s.records_analyzed != Some(n);
            s.records_analyzed = Some(n);
            changed
        });
    }

    pub fn current(&self) -> ProgressState {
        self.tx.borrow().clone()
    }

    /// Time spent in each phase entered so far, the last one until `end`.
    pub fn phase_durations(&self, end: Instant) -> Vec<(Phase, Duration)> {
        let entered = self.entered.lock().unwrap_or_else(|e| e.into_inner());
        entered
            .iter()
            .enumerate()
            .map(|(i, (phase, at))| {
                let until = entered.get(i + 1).map_or(end, |(_, next)| *next);
                (*phase, until.saturating_duration_since(*at))
            })
            .collect()
    }
}

#[async_trait]
pub trait Pipeline: Send + Sync {
    async fn run(
        &self,
        job: &Job,
        progress: &Progress,
        cancel: &CancellationToken,
    ) -> Result<Completion, JobError>;
}
