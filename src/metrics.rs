//! What a worker process counts, in Prometheus' text format. Counters and
//! histograms are updated where things happen; the queue's depth is sampled when
//! scraped, from the partial indexes only, so a scrape costs the same with a
//! thousand finished investigations or ten million.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;

use crate::job::Phase;

/// Counts of what this process did, returned by [`crate::worker::Worker::run`].
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RunReport {
    pub claimed: u64,
    pub completed: u64,
    pub failed: u64,
    pub rescheduled: u64,
    pub released: u64,
}

/// How an attempt ended, as counted.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum Outcome {
    Completed,
    Failed,
    /// Back to pending with back-off after a retryable error.
    Retried,
    /// Handed back at shutdown, the attempt not counted.
    Released,
    /// Cancelled by the citizen while running.
    Cancelled,
    /// Taken over by another worker after this one lost its lease.
    Lost,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Completed => "completed",
            Outcome::Failed => "failed",
            Outcome::Retried => "retried",
            Outcome::Released => "released",
            Outcome::Cancelled => "cancelled",
            Outcome::Lost => "lost",
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabel {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PhaseLabel {
    phase: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabel {
    state: &'static str,
}

type FloatGauge = Gauge<f64, AtomicU64>;

pub struct Metrics {
    registry: Registry,
    claimed: Counter,
    finished: Family<OutcomeLabel, Counter>,
    sweeps: Counter,
    swept: Family<StateLabel, Counter>,
    attempt_seconds: Histogram,
    phase_seconds: Family<PhaseLabel, Histogram>,
    records_analyzed: Counter,
    completion_batch: Histogram,
    running: Gauge,
    queue: Family<StateLabel, Gauge>,
    oldest_pending_seconds: FloatGauge,
    database_up: Gauge,
    pool: Family<StateLabel, Gauge>,
}

/// 10 ms to about 20 minutes.
fn duration_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.01, 2.0, 18))
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("fiscal");
        let m = Metrics {
            claimed: Counter::default(),
            finished: Family::default(),
            sweeps: Counter::default(),
            swept: Family::default(),
            attempt_seconds: duration_histogram(),
            phase_seconds: Family::new_with_constructor(duration_histogram),
            records_analyzed: Counter::default(),
            completion_batch: Histogram::new(exponential_buckets(1.0, 2.0, 8)),
            running: Gauge::default(),
            queue: Family::default(),
            oldest_pending_seconds: FloatGauge::default(),
            database_up: Gauge::default(),
            pool: Family::default(),
            registry: Registry::default(),
        };
        registry.register(
            "investigations_claimed",
            "Investigations claimed by this process",
            m.claimed.clone(),
        );
        registry.register(
            "investigations_finished",
            "Attempts ended, by outcome",
            m.finished.clone(),
        );
        registry.register(
            "lease_sweeps",
            "Sweeps of expired leases run by this process",
            m.sweeps.clone(),
        );
        registry.register(
            "lease_swept_investigations",
            "Investigations whose lease had expired, by what they became",
            m.swept.clone(),
        );
        registry.register(
            "attempt_duration_seconds",
            "Time from claim to the end of an attempt",
            m.attempt_seconds.clone(),
        );
        registry.register(
            "phase_duration_seconds",
            "Time spent in each pipeline phase",
            m.phase_seconds.clone(),
        );
        registry.register(
            "records_analyzed",
            "Records analysed by completed investigations",
            m.records_analyzed.clone(),
        );
        registry.register(
            "completion_batch_size",
            "Completions written together in one statement",
            m.completion_batch.clone(),
        );
        registry.register(
            "jobs_running",
            "Investigations running in this process",
            m.running.clone(),
        );
        registry.register(
            "queue_investigations",
            "Investigations waiting or running, all workers (sampled at scrape)",
            m.queue.clone(),
        );
        registry.register(
            "queue_oldest_pending_seconds",
            "Age of the oldest pending investigation (sampled at scrape)",
            m.oldest_pending_seconds.clone(),
        );
        registry.register(
            "database_up",
            "1 when the last scrape could read the queue",
            m.database_up.clone(),
        );
        registry.register(
            "pool_connections",
            "Connections of the worker's pool, by state",
            m.pool.clone(),
        );
        Metrics { registry, ..m }
    }

    pub fn completion_batch(&self, n: usize) {
        self.completion_batch.observe(n as f64);
    }

    pub fn claimed(&self, n: u64) {
        self.claimed.inc_by(n);
    }

    pub fn finished(&self, outcome: Outcome, attempt: Duration) {
        self.finished
            .get_or_create(&OutcomeLabel {
                outcome: outcome.as_str(),
            })
            .inc();
        self.attempt_seconds.observe(attempt.as_secs_f64());
    }

    /// Rows handed back by the worker itself at shutdown, whose jobs did not stop
    /// in time: no attempt ended, so no duration is observed.
    pub fn released_at_shutdown(&self, n: u64) {
        self.finished
            .get_or_create(&OutcomeLabel {
                outcome: Outcome::Released.as_str(),
            })
            .inc_by(n);
    }

    /// What this process did, for [`crate::worker::Worker::run`]'s caller.
    pub fn report(&self) -> RunReport {
        let finished = |outcome: Outcome| {
            self.finished
                .get_or_create(&OutcomeLabel {
                    outcome: outcome.as_str(),
                })
                .get()
        };
        RunReport {
            claimed: self.claimed.get(),
            completed: finished(Outcome::Completed),
            failed: finished(Outcome::Failed),
            rescheduled: finished(Outcome::Retried),
            released: finished(Outcome::Released),
        }
    }

    pub fn phases(&self, phases: &[(Phase, Duration)]) {
        for (phase, spent) in phases {
            self.phase_seconds
                .get_or_create(&PhaseLabel {
                    phase: phase.as_str(),
                })
                .observe(spent.as_secs_f64());
        }
    }

    pub fn records_analyzed(&self, n: u64) {
        self.records_analyzed.inc_by(n);
    }

    pub fn running(&self, n: i64) {
        self.running.set(n);
    }

    pub fn swept(&self, requeued: u64, failed: u64) {
        self.sweeps.inc();
        self.swept
            .get_or_create(&StateLabel { state: "pending" })
            .inc_by(requeued);
        self.swept
            .get_or_create(&StateLabel { state: "failed" })
            .inc_by(failed);
    }

    /// Records the sampled queue, or that it could not be read.
    pub fn queue(&self, depth: Option<&crate::status::QueueDepth>) {
        let Some(d) = depth else {
            self.database_up.set(0);
            return;
        };
        self.database_up.set(1);
        for (state, n) in [
            ("pending", d.pending),
            ("runnable", d.runnable),
            ("processing", d.processing),
            ("expired_lease", d.expired_leases),
        ] {
            self.queue.get_or_create(&StateLabel { state }).set(n);
        }
        self.oldest_pending_seconds
            .set(d.oldest_pending_seconds.unwrap_or(0.0));
    }

    pub fn pool(&self, status: deadpool_postgres::Status) {
        let in_use = status.size.saturating_sub(status.available) as i64;
        for (state, n) in [
            ("in_use", in_use),
            ("idle", status.available as i64),
            ("max", status.max_size as i64),
            ("waiting", status.waiting as i64),
        ] {
            self.pool.get_or_create(&StateLabel { state }).set(n);
        }
    }

    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}
