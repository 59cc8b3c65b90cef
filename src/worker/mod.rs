//! `fiscal work`: the loop that claims investigations and runs them.
//!
//! One process runs up to `worker.concurrency` jobs. It claims a batch sized to its
//! free slots whenever it may have work: at start, on a NOTIFY from the table's
//! triggers, when a job ends, and on the poll fallback. Background duties (lease
//! renewal, cancellation checks, the lease sweep) live in `maintenance`, the
//! LISTEN session in `listener`, one attempt in `job`.
//!
//! Shutdown is a future passed to [`Worker::run`]: when it resolves, the worker
//! stops claiming, lets running jobs finish within the grace period, asks the rest
//! to stop, hands them back to the queue without counting the attempt, and returns.

mod completions;
mod job;
pub mod listener;
mod maintenance;

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, warn};
use uuid::Uuid;

use crate::config::Settings;
use crate::db::{Pool, Pooling};
use crate::metrics::Metrics;
use crate::pipeline::Pipelines;
use crate::queue::{self, Fence, WorkerInfo};

/// Why the worker asked a job to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// Cancelled by the citizen, re-claimed after our lease expired, or our lease
    /// ran out while the database was unreachable: write nothing more.
    Lost,
    /// The process is shutting down: hand the row back.
    Shutdown,
}

/// The worker's view of one running attempt, shared with the maintenance tasks.
pub(crate) struct JobHandle {
    fence: Fence,
    cancel: CancellationToken,
    reason: OnceLock<StopReason>,
    lease_renewed: Mutex<Instant>,
    /// Its ending is written: the claim may fill its slot before the task ends.
    slot_freed: AtomicBool,
}

impl JobHandle {
    fn new(fence: Fence) -> Self {
        Self {
            fence,
            cancel: CancellationToken::new(),
            reason: OnceLock::new(),
            lease_renewed: Mutex::new(Instant::now()),
            slot_freed: AtomicBool::new(false),
        }
    }

    /// The first reason given wins: a job lost during shutdown stays lost.
    fn stop(&self, reason: StopReason) {
        if self.reason.set(reason).is_ok() {
            debug!(id = %self.fence.id, ?reason, "stopping job");
        }
        self.cancel.cancel();
    }

    fn reason(&self) -> Option<StopReason> {
        self.reason.get().copied()
    }

    fn lease_renewed(&self, at: Instant) {
        let mut renewed = self.lease_renewed.lock().unwrap_or_else(|e| e.into_inner());
        *renewed = (*renewed).max(at);
    }

    fn lease_renewed_at(&self) -> Instant {
        *self.lease_renewed.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Logs a database outage once when it starts and once when it ends, instead of
/// once per failed statement.
#[derive(Default)]
pub(crate) struct Outage {
    down: AtomicBool,
}

impl Outage {
    fn failed(&self, what: &str, error: &anyhow::Error) {
        if self.down.swap(true, Ordering::Relaxed) {
            debug!(error = %format!("{error:#}"), "{what} failed again");
        } else {
            warn!(error = %format!("{error:#}"), "{what} failed; retrying with back-off");
        }
    }

    fn recovered(&self) {
        if self.down.swap(false, Ordering::Relaxed) {
            info!("database reachable again");
        }
    }
}

pub use crate::metrics::RunReport;

pub(crate) struct Shared {
    settings: Settings,
    pool: Pool,
    pipelines: Pipelines,
    worker_id: String,
    hostname: String,
    running: Mutex<HashMap<Uuid, Arc<JobHandle>>>,
    wake: Notify,
    check_cancel: Notify,
    listening: AtomicBool,
    outage: Outage,
    metrics: Arc<Metrics>,
    completions: completions::Completions,
    /// Jobs whose ending is written and whose task is not reaped yet.
    slots_freed: std::sync::atomic::AtomicUsize,
}

impl Shared {
    /// Once per job, when its ending is written (or its task ends).
    fn free_slot(&self, handle: &JobHandle) {
        if !handle.slot_freed.swap(true, Ordering::SeqCst) {
            self.slots_freed.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// Jobs still running: spawned, not reaped, ending not yet written.
    fn busy(&self, jobs: &JoinSet<Uuid>) -> usize {
        jobs.len()
            .saturating_sub(self.slots_freed.load(Ordering::SeqCst))
    }

    /// Runs `f` on a pooled connection under the statement timeout.
    async fn with_client<T, F, Fut>(&self, f: F) -> Result<T>
    where
        F: FnOnce(crate::db::Conn) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let limit = self.settings.database.statement_timeout();
        let work = async {
            let client = self
                .pool
                .get()
                .await
                .map_err(|e| anyhow!("getting a database connection: {e}"))?;
            f(client).await
        };
        tokio::time::timeout(limit, work)
            .await
            .map_err(|_| anyhow!("the database did not answer within {limit:?}"))?
    }

    fn running_fences(&self, mut keep: impl FnMut(&JobHandle) -> bool) -> Vec<Fence> {
        let running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        running
            .values()
            .filter(|j| keep(j))
            .map(|j| j.fence)
            .collect()
    }

    fn for_running(&self, mut f: impl FnMut(&JobHandle)) {
        let running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        running.values().for_each(|j| f(j));
    }

    fn running_count(&self) -> i32 {
        self.running.lock().unwrap_or_else(|e| e.into_inner()).len() as i32
    }

    fn worker_info(&self) -> WorkerInfo<'_> {
        WorkerInfo {
            worker_id: &self.worker_id,
            hostname: &self.hostname,
            pid: std::process::id() as i32,
            version: env!("CARGO_PKG_VERSION"),
            concurrency: self.settings.worker.concurrency as i32,
        }
    }

    fn report(&self) -> RunReport {
        self.metrics.report()
    }
}

/// How long jobs asked to stop at shutdown get to hand their rows back before the
/// worker releases them itself.
const RELEASE_WAIT: Duration = Duration::from_secs(5);

pub struct Worker {
    settings: Settings,
    pipelines: Pipelines,
    drain: bool,
    listener: Option<tokio::net::TcpListener>,
}

impl Worker {
    pub fn new(settings: Settings, pipelines: Pipelines) -> Self {
        Self {
            settings,
            pipelines,
            drain: false,
            listener: None,
        }
    }

    /// Serve the HTTP endpoints on this socket instead of binding
    /// `http.listen`: for a caller that must know the address first (`fiscal
    /// dev` prints the page's URL; tests take a free port).
    pub fn listener(mut self, listener: tokio::net::TcpListener) -> Self {
        self.listener = Some(listener);
        self
    }

    /// Return once no row is pending (whatever its run_after) or processing.
    pub fn drain(mut self, drain: bool) -> Self {
        self.drain = drain;
        self
    }

    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<RunReport> {
        let mut settings = self.settings;
        if let Some(addr) = self.listener.as_ref().and_then(|l| l.local_addr().ok()) {
            settings.http.listen = addr.to_string();
        }
        settings.validate()?;
        let http = match (self.listener, settings.http.listen.trim()) {
            (Some(listener), _) => Some(listener),
            (None, "") => None,
            (None, listen) => Some(crate::http::bind(listen).await?),
        };
        let http_stop = CancellationToken::new();
        let web = match settings.http.ui && http.is_some() {
            true => Some(crate::web::Web::new(
                &settings,
                self.pipelines
                    .sources()
                    .into_iter()
                    .map(String::from)
                    .collect(),
                http_stop.clone(),
            )?),
            false => None,
        };
        let pool = crate::db::queue_pool(&settings.database)?;
        let hostname = gethostname::gethostname().to_string_lossy().into_owned();
        // Opaque: `locked_by` is on the citizen's row, and a host name or pid is
        // for operators, who find both in fiscal.workers under this id.
        let worker_id = format!("w-{}", &Uuid::new_v4().simple().to_string()[..12]);
        let shared = Arc::new(Shared {
            settings,
            pool,
            pipelines: self.pipelines,
            worker_id,
            hostname,
            running: Mutex::new(HashMap::new()),
            wake: Notify::new(),
            check_cancel: Notify::new(),
            listening: AtomicBool::new(false),
            outage: Outage::default(),
            metrics: Arc::new(Metrics::new()),
            completions: completions::Completions::default(),
            slots_freed: std::sync::atomic::AtomicUsize::new(0),
        });

        // Up before the database is: /healthz answers and /readyz says why not.
        let http = http.map(|listener| {
            tokio::spawn(crate::http::serve(
                listener,
                shared.pool.clone(),
                shared.metrics.clone(),
                web,
                http_stop.clone(),
            ))
        });
        let _stop_http = http_stop.clone().drop_guard();

        tokio::pin!(shutdown);
        tokio::select! {
            ready = prepare(&shared) => ready?,
            _ = &mut shutdown => {
                info!("shutdown requested before the worker started");
                return Ok(shared.report());
            }
        }

        let background = CancellationToken::new();
        let mut tasks = JoinSet::new();
        let behind_pooler = shared.pool.pooling() == Pooling::Transaction;
        if shared.settings.worker.listen && behind_pooler {
            info!(
                poll_interval_ms = shared.settings.worker.poll_interval_ms,
                cancel_check_ms = shared.settings.worker.cancel_check_ms,
                "LISTEN is off: the database is reached through a transaction-mode pooler \
                 (database.pooler); polling for new and cancelled investigations instead"
            );
        }
        if shared.settings.worker.listen && !behind_pooler {
            tasks.spawn(listener::run(shared.clone(), background.clone()));
        }
        tasks.spawn(maintenance::run(shared.clone(), background.clone()));

        info!(
            worker_id = %shared.worker_id,
            hostname = %shared.hostname,
            pid = std::process::id(),
            concurrency = shared.settings.worker.concurrency,
            pipelines = ?shared.pipelines.sources(),
            drain = self.drain,
            "worker started"
        );
        let mut jobs = JoinSet::new();
        claim_loop(&shared, &mut jobs, self.drain, shutdown).await;
        shut_down(&shared, &mut jobs).await;

        background.cancel();
        while tasks.join_next().await.is_some() {}
        let worker_id = shared.worker_id.as_str();
        if let Err(e) = shared
            .with_client(|c| async move { queue::remove_worker(&c, worker_id).await })
            .await
        {
            debug!(error = %format!("{e:#}"), "could not remove the worker record");
        }
        http_stop.cancel();
        if let Some(http) = http {
            let _ = http.await;
        }
        let report = shared.report();
        info!(?report, "worker stopped");
        Ok(report)
    }
}

/// Waits for the database, checks (or applies) migrations and registers the
/// worker. Whatever may pass is waited out: no connection, a server starting or
/// shutting down, sessions terminated, too many connections, a read-only
/// server. What the database refuses for good (bad password, missing schema or
/// grant, an untrusted certificate) is reported at once.
async fn prepare(shared: &Shared) -> Result<()> {
    let mut delay = Duration::from_millis(500);
    loop {
        match prepare_once(shared).await {
            Ok(()) => break,
            Err(NotReady::Refused(e)) => {
                return Err(e).with_context(|| {
                    format!(
                        "the database at {} refused the worker",
                        crate::db::redacted(&shared.settings.database.url)
                    )
                })
            }
            Err(NotReady::Wait(e)) => {
                shared.outage.failed("connecting to the database", &e);
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(30));
            }
        }
    }
    shared.outage.recovered();
    Ok(())
}

/// Why the worker cannot start yet.
enum NotReady {
    /// Waiting may help.
    Wait(anyhow::Error),
    /// It will not: report it and exit.
    Refused(anyhow::Error),
}

impl From<anyhow::Error> for NotReady {
    /// A refusal is an answer of the database that waiting will not change, or
    /// a certificate it will go on presenting.
    fn from(e: anyhow::Error) -> Self {
        let database_said = e.chain().find_map(|cause| {
            cause
                .downcast_ref::<tokio_postgres::Error>()
                .and_then(|pg| pg.as_db_error())
        });
        let refused = database_said.is_some_and(|db| !crate::db::is_transient_state(db.code()));
        if refused || crate::db::is_certificate_problem(&e) {
            NotReady::Refused(e)
        } else {
            NotReady::Wait(e)
        }
    }
}

async fn prepare_once(shared: &Shared) -> Result<(), NotReady> {
    let client = shared
        .pool
        .get()
        .await
        .map_err(|e| crate::db::pool_error(e, &shared.settings.database.url))?;
    let pending = crate::db::migrate::pending(&client).await?;
    drop(client);
    if !pending.is_empty() {
        if !shared.settings.worker.migrate_on_start {
            return Err(NotReady::Refused(anyhow!(
                "the database schema is not up to date (missing: {}); run `fiscal migrate`, \
                 or set worker.migrate_on_start = true",
                pending.join(", ")
            )));
        }
        info!(?pending, "applying migrations at start-up");
        crate::db::migrate::run(&shared.settings).await?;
    }
    crate::db::warm_up(&shared.pool, &shared.settings.database).await?;
    let running = 0;
    let info = shared.worker_info();
    shared
        .with_client(|c| async move { queue::touch_worker(&c, &info, running).await })
        .await?;
    Ok(())
}

async fn claim_loop(
    shared: &Arc<Shared>,
    jobs: &mut JoinSet<Uuid>,
    drain: bool,
    shutdown: impl Future<Output = ()>,
) {
    let w = &shared.settings.worker;
    tokio::pin!(shutdown);
    // Consecutive failed claims: while the database is away, wake-ups are ignored
    // and the pause doubles from 250 ms up to 30 s.
    let mut failures: u32 = 0;
    // A suspect is running alone (see queue::CLAIM): nothing else is claimed
    // beside it. It came only when nothing else ran, so it ends when this
    // process is idle again.
    let mut solo = false;
    // A suspect has waited too long for an idle worker: claim nothing more until
    // this one is idle, then take it.
    let mut make_room = false;
    loop {
        let busy = shared.busy(jobs);
        let idle = busy == 0;
        solo &= !idle;
        let free = if solo || (make_room && !idle) {
            0
        } else {
            w.concurrency.saturating_sub(busy)
        };
        let mut claimed = 0;
        if free > 0 {
            let worker_id = shared.worker_id.as_str();
            match shared
                .with_client(|c| async move {
                    queue::claim_batch(&c, worker_id, free, w.lease(), idle).await
                })
                .await
            {
                Ok(batch) => {
                    shared.outage.recovered();
                    failures = 0;
                    claimed = batch.rows.len();
                    make_room = batch.suspect_overdue && !batch.rows.iter().any(|r| r.suspect);
                    if make_room {
                        info!("an investigation that may have crashed a worker is waiting; letting running jobs finish to run it alone");
                    }
                    for row in batch.rows {
                        if row.suspect {
                            info!(id = %row.fence.id, "running alone: an earlier attempt ended with its worker gone");
                            solo = true;
                        }
                        start(shared, jobs, row);
                    }
                }
                Err(e) => {
                    shared.outage.failed("claiming investigations", &e);
                    failures = failures.saturating_add(1);
                }
            }
        }
        if drain && claimed == 0 && jobs.is_empty() && failures == 0 {
            match shared
                .with_client(|c| async move { queue::has_unfinished(&c).await })
                .await
            {
                Ok(false) => {
                    info!("drained: nothing pending or processing");
                    return;
                }
                Ok(true) => {}
                Err(e) => shared.outage.failed("checking for unfinished work", &e),
            }
        }
        let pause = if failures > 0 {
            (Duration::from_millis(250) * 2u32.saturating_pow(failures - 1))
                .min(Duration::from_secs(30))
        } else {
            w.poll_interval()
        };
        tokio::select! {
            _ = &mut shutdown => return,
            _ = shared.wake.notified(), if failures == 0 => {}
            _ = tokio::time::sleep(pause) => {}
            Some(done) = jobs.join_next(), if !jobs.is_empty() => {
                // Every job that has ended by now frees its slot for the same
                // claim: one statement for all of them, not one each.
                reap(shared, done);
                while let Some(done) = jobs.try_join_next() {
                    reap(shared, done);
                }
                // Completions being written end their jobs together: wait for
                // them (one commit), so the claim fills all those slots at once.
                tokio::select! {
                    _ = &mut shutdown => return,
                    _ = shared.completions.settled() => {}
                }
            }
        }
    }
}

fn start(shared: &Arc<Shared>, jobs: &mut JoinSet<Uuid>, row: queue::ClaimedRow) {
    shared.metrics.claimed(1);
    let handle = Arc::new(JobHandle::new(row.fence));
    {
        let mut running = shared.running.lock().unwrap_or_else(|e| e.into_inner());
        running.insert(row.fence.id, handle.clone());
        shared.metrics.running(running.len() as i64);
    }
    let shared = shared.clone();
    jobs.spawn(async move {
        let id = handle.fence.id;
        job::run(shared.clone(), row, handle.clone()).await;
        shared.free_slot(&handle);
        let mut running = shared.running.lock().unwrap_or_else(|e| e.into_inner());
        running.remove(&id);
        shared.metrics.running(running.len() as i64);
        id
    });
}

fn reap(shared: &Shared, done: Result<Uuid, tokio::task::JoinError>) {
    // A task that returned has freed its slot, which it gives back here; one
    // that panicked never counted it.
    if done.is_ok() {
        let _ = shared
            .slots_freed
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
    }
    if let Err(e) = done {
        // job::run catches pipeline panics; this is a panic in the worker itself.
        error!(error = %e, "job task ended abnormally");
    }
}

async fn shut_down(shared: &Arc<Shared>, jobs: &mut JoinSet<Uuid>) {
    if jobs.is_empty() {
        return;
    }
    let grace = shared.settings.worker.shutdown_grace();
    info!(
        running = jobs.len(),
        grace_seconds = grace.as_secs(),
        "shutting down: no new claims; letting running jobs finish"
    );
    if wait_for_jobs(shared, jobs, grace).await {
        return;
    }
    warn!(
        running = jobs.len(),
        "grace period over; handing unfinished investigations back to the queue"
    );
    shared.for_running(|job| job.stop(StopReason::Shutdown));
    if wait_for_jobs(shared, jobs, RELEASE_WAIT).await {
        return;
    }
    // Pipelines that ignore their token: release their rows from here. If they
    // ever write again, the fence refuses it.
    let fences = shared.running_fences(|_| true);
    match shared
        .with_client(|c| async move { queue::release(&c, &fences).await })
        .await
    {
        Ok(n) => {
            shared.metrics.released_at_shutdown(n);
            warn!(
                released = n,
                "released investigations whose pipelines did not stop"
            );
        }
        Err(e) => {
            error!(error = %format!("{e:#}"), "could not release investigations; the lease sweep will recover them")
        }
    }
    jobs.abort_all();
}

/// True when every job ended within `limit`.
async fn wait_for_jobs(shared: &Shared, jobs: &mut JoinSet<Uuid>, limit: Duration) -> bool {
    let deadline = tokio::time::sleep(limit);
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            _ = &mut deadline => return jobs.is_empty(),
            done = jobs.join_next() => match done {
                Some(done) => reap(shared, done),
                None => return true,
            },
        }
    }
}
