//! The worker's background duties, one ticker each: renew the leases of silent
//! jobs, notice cancelled or lost jobs within a second, and sweep expired leases
//! of vanished workers back to the queue. Quiet unless something happened.
//!
//! Noticing that a lease ran out needs no database, and must not wait for it:
//! while the network is cut, each duty that talks to the database blocks until
//! its statement timeout, so the local lease watch runs beside them, on its own
//! ticker.

use std::sync::Arc;
use std::time::Instant;

use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::{Shared, StopReason};
use crate::queue;

/// Expired rows handled per sweep statement.
const SWEEP_BATCH: i64 = 100;

pub(super) async fn run(shared: Arc<Shared>, stop: CancellationToken) {
    tokio::join!(watch_leases(&shared, &stop), duties(&shared, &stop));
}

/// Stops jobs whose lease ran out while the database could not be reached:
/// another worker may have claimed them by now, and nothing they write would
/// be accepted. Ticks at a quarter of the lease, so a job stops at most that
/// long after its lease ended.
async fn watch_leases(shared: &Shared, stop: &CancellationToken) {
    let lease = shared.settings.worker.lease();
    let mut tick = tokio::time::interval((lease / 4).min(shared.settings.worker.cancel_check()));
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tick.tick() => shared.for_running(|job| {
                if job.reason().is_none() && job.lease_renewed_at().elapsed() >= lease {
                    warn!(id = %job.fence.id, "lease ran out while the database was unreachable; stopping the job");
                    job.stop(StopReason::Lost);
                }
            }),
        }
    }
}

async fn duties(shared: &Shared, stop: &CancellationToken) {
    let w = &shared.settings.worker;
    let mut heartbeat = tokio::time::interval(w.heartbeat());
    let mut cancel_check = tokio::time::interval(w.cancel_check());
    let mut sweep = tokio::time::interval(w.sweep_interval());
    for ticker in [&mut heartbeat, &mut cancel_check, &mut sweep] {
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    }
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = heartbeat.tick() => renew_leases(shared).await,
            _ = cancel_check.tick() => check_lost(shared).await,
            _ = shared.check_cancel.notified() => check_lost(shared).await,
            _ = sweep.tick() => sweep_once(shared).await,
        }
    }
}

/// Renews leases of jobs that wrote no progress for half a heartbeat (progress
/// writes renew on their own), and records this worker as alive.
async fn renew_leases(shared: &Shared) {
    let w = &shared.settings.worker;
    let stale = shared.running_fences(|job| job.lease_renewed_at().elapsed() >= w.heartbeat() / 2);
    if !stale.is_empty() {
        let renewed_at = Instant::now();
        match shared
            .with_client(|c| async move { queue::heartbeat(&c, &stale, w.lease()).await })
            .await
        {
            Ok(lost) => {
                shared.for_running(|job| {
                    if lost.contains(&job.fence) {
                        job.stop(StopReason::Lost);
                    } else {
                        job.lease_renewed(renewed_at);
                    }
                });
            }
            Err(e) => shared.outage.failed("renewing leases", &e),
        }
    }
    let running = shared.running_count();
    let info = shared.worker_info();
    if let Err(e) = shared
        .with_client(|c| async move { queue::touch_worker(&c, &info, running).await })
        .await
    {
        shared.outage.failed("recording the worker heartbeat", &e);
    }
}

/// Stops jobs whose row is no longer ours: cancelled, re-claimed or finished.
async fn check_lost(shared: &Shared) {
    let fences = shared.running_fences(|_| true);
    if fences.is_empty() {
        return;
    }
    match shared
        .with_client(|c| async move { queue::lost_fences(&c, &fences).await })
        .await
    {
        Ok(lost) => shared.for_running(|job| {
            if lost.contains(&job.fence.id) {
                job.stop(StopReason::Lost);
            }
        }),
        Err(e) => shared.outage.failed("checking for cancellations", &e),
    }
}

async fn sweep_once(shared: &Shared) {
    let backoff = crate::queue::Backoff::from(&shared.settings.worker);
    let (mut requeued, mut failed) = (0, 0);
    loop {
        match shared
            .with_client(|c| async move { queue::sweep_expired(&c, SWEEP_BATCH, backoff).await })
            .await
        {
            Ok(report) => {
                requeued += report.requeued;
                failed += report.failed;
                if !report.is_empty() {
                    info!(
                        requeued = report.requeued,
                        failed = report.failed,
                        "swept expired leases"
                    );
                }
                if report.requeued + report.failed < SWEEP_BATCH as u64 {
                    break;
                }
            }
            Err(e) => {
                shared.outage.failed("sweeping expired leases", &e);
                return;
            }
        }
    }
    shared.metrics.swept(requeued, failed);
    // Workers silent for ten heartbeats are gone; `fiscal status` should not list them.
    let silent_for = shared.settings.worker.heartbeat() * 10;
    if let Err(e) = shared
        .with_client(|c| async move { queue::prune_workers(&c, silent_for).await })
        .await
    {
        shared.outage.failed("pruning silent workers", &e);
    }
}
