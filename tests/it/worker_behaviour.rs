//! The worker in this process, driven through the database as the frontend would.

use std::time::{Duration, Instant};

use crate::harness::{
    add_user, cancel_as_citizen, drain, enqueue, eventually, fetch, wait_for, RunningWorker, TestDb,
};
use crate::scripted;

const DEADLINE: Duration = Duration::from_secs(30);

/// Every data source the table accepts has a pipeline in this build; a worker
/// built with fewer (a source turned off) still fails the others' rows clearly.
#[tokio::test]
async fn a_data_source_the_worker_does_not_serve_fails_with_a_message_that_says_so() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let user = add_user(&client).await;
    let id: uuid::Uuid = client
        .query_one(
            "insert into investigations (user_id, query, data_source) values ($1, 'convênios do ministério', 'agreements') returning id",
            &[&user],
        )
        .await
        .expect("insert")
        .get(0);
    let builtin = fiscal::pipeline::Pipelines::builtin(&db.settings()).expect("pipelines");
    assert_eq!(
        builtin.sources(),
        vec![
            "agreements",
            "biddings",
            "contracts",
            "expenses",
            "servants"
        ]
    );
    let contracts = builtin.get("contracts").expect("contracts");
    let report = drain(
        db.settings(),
        fiscal::pipeline::Pipelines::default().with("contracts", contracts),
    )
    .await;
    assert_eq!(report.failed, 1);
    let row = fetch(&client, id).await;
    assert_eq!(row.status, "failed", "never a fake completed");
    assert_eq!(row.attempts, 1, "a permanent error is not retried");
    let message = row.error_message.expect("error_message");
    assert!(
        message.contains("\"agreements\" ainda não pode ser investigada")
            && message.contains("Fontes disponíveis: contracts"),
        "{message}"
    );
}

#[tokio::test]
async fn permanent_failure_fails_at_once_with_a_readable_message() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let id = enqueue(&client, add_user(&client).await, "fail permanent").await;
    drain(db.settings(), scripted::pipelines(&db.url, "w")).await;
    let row = fetch(&client, id).await;
    assert_eq!((row.status.as_str(), row.attempts), ("failed", 1));
    assert_eq!(row.current_phase.as_deref(), Some("failed"));
    assert!(row
        .error_message
        .expect("message")
        .contains("\"year\" deve ser um número inteiro"));
    assert!(row.completed_at.is_some());
}

#[tokio::test]
async fn retryable_failure_goes_back_to_pending_with_a_later_run_after() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let id = enqueue(&client, add_user(&client).await, "fail retryable").await;
    let mut settings = db.settings();
    settings.worker.backoff_base_seconds = 60.0;
    let worker = RunningWorker::start(settings, scripted::pipelines(&db.url, "w"));
    let row = wait_for(&client, id, DEADLINE, "a rescheduled attempt", |r| {
        r.attempts == 1 && r.status == "pending"
    })
    .await;
    worker.stop().await;
    assert!(row.run_after_in_future, "backed off");
    assert_eq!(
        (row.progress, row.current_phase.as_deref()),
        (Some(0.0), None)
    );
    assert!(
        row.error_message.is_none(),
        "error_message is for failed rows only"
    );
    let last_error = row.metadata["last_error"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(last_error.contains("timed out"), "{last_error}");
}

#[tokio::test]
async fn exhausted_attempts_end_failed_with_the_last_error() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let id = enqueue(&client, add_user(&client).await, "fail retryable").await;
    let mut settings = db.settings();
    settings.worker.backoff_base_seconds = 0.05;
    settings.worker.poll_interval_ms = 100;
    let report = drain(settings, scripted::pipelines(&db.url, "w")).await;
    assert_eq!((report.rescheduled, report.failed), (2, 1));
    let row = fetch(&client, id).await;
    assert_eq!((row.status.as_str(), row.attempts), ("failed", 3));
    let message = row.error_message.expect("message");
    assert!(
        message.contains("A fonte de dados não respondeu") && message.contains("3 tentativas"),
        "{message}"
    );
}

#[tokio::test]
async fn a_panicking_pipeline_fails_its_row_and_the_worker_goes_on() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let user = add_user(&client).await;
    let bad = enqueue(&client, user, "panic").await;
    let good = enqueue(&client, user, "instant").await;
    let report = drain(db.settings(), scripted::pipelines(&db.url, "w")).await;
    assert_eq!((report.completed, report.failed), (1, 1));
    let row = fetch(&client, bad).await;
    assert_eq!(row.status, "failed");
    assert!(row.error_message.expect("message").contains("erro interno"));
    assert_eq!(fetch(&client, good).await.status, "completed");
}

#[tokio::test]
async fn cancelled_job_stops_within_a_second_and_writes_nothing_more() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let id = enqueue(&client, add_user(&client).await, "steps 600 50").await;
    let worker = RunningWorker::start(db.settings(), scripted::pipelines(&db.url, "w"));
    wait_for(&client, id, DEADLINE, "progress", |r| {
        r.progress.unwrap_or(0.0) > 0.0
    })
    .await;

    // As the citizen does it, through RLS.
    cancel_as_citizen(&client, id).await;
    let stopped_after: f64 = eventually(Duration::from_secs(5), "the pipeline to stop", || async {
        client
            .query_opt(
                "select extract(epoch from r.stopped_at - i.completed_at)::float8
                 from test.runs r join investigations i on i.id = r.investigation_id
                 where r.investigation_id = $1 and r.outcome = 'cancelled'",
                &[&id],
            )
            .await
            .expect("query")
            .map(|r| r.get(0))
    })
    .await;
    assert!(
        stopped_after < 1.0,
        "stopped {stopped_after:.3}s after the cancellation"
    );

    let after_cancel = fetch(&client, id).await;
    assert_eq!(after_cancel.status, "cancelled");
    assert_eq!(after_cancel.current_phase.as_deref(), Some("cancelled"));
    // Three progress intervals and a heartbeat check later, nothing has changed.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(
        fetch(&client, id).await,
        after_cancel,
        "the worker wrote after the cancellation"
    );
    worker.stop().await;
}

#[tokio::test]
async fn an_idle_worker_picks_up_new_work_through_notify_not_the_poll() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let user = add_user(&client).await;
    let mut settings = db.settings();
    settings.worker.poll_interval_ms = 60_000;
    let worker = RunningWorker::start(settings, scripted::pipelines(&db.url, "w"));
    eventually(DEADLINE, "the worker's LISTEN session", || async {
        let listening: bool = client
            .query_one(
                "select exists (select 1 from pg_stat_activity where datname = current_database()
                 and application_name = 'fiscal listener' and query ilike 'listen%')",
                &[],
            )
            .await
            .expect("query")
            .get(0);
        listening.then_some(())
    })
    .await;
    // Give the start-up claim time to find nothing, so only a wake-up can claim.
    tokio::time::sleep(Duration::from_millis(300)).await;
    for _ in 0..3 {
        let inserted = Instant::now();
        let id = enqueue(&client, user, "instant").await;
        wait_for(&client, id, DEADLINE, "completion", |r| {
            r.status == "completed"
        })
        .await;
        let picked_up = inserted.elapsed();
        assert!(
            picked_up < Duration::from_secs(10),
            "took {picked_up:?}; the poll alone would take up to 60 s"
        );
    }
    worker.stop().await;
}

#[tokio::test]
async fn a_silent_job_keeps_its_lease_through_heartbeats() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let id = enqueue(&client, add_user(&client).await, "silent 4000").await;
    let mut settings = db.settings();
    settings.worker.lease_seconds = 2;
    settings.worker.heartbeat_seconds = 1;
    let report = drain(settings, scripted::pipelines(&db.url, "w")).await;
    assert_eq!(report.completed, 1);
    let row = fetch(&client, id).await;
    assert_eq!(
        (row.status.as_str(), row.attempts),
        ("completed", 1),
        "never swept while alive"
    );
}

#[tokio::test]
async fn progress_is_written_throttled_and_reaches_one_only_on_completion() {
    let db = TestDb::new().await;
    let client = db.client().await;
    enqueue(&client, add_user(&client).await, "steps 40 25").await;
    client
        .batch_execute(
            "create table test.progress_seen (progress float8, phase text, status text);
             create function test.watch_progress() returns trigger language plpgsql as $$
             begin insert into test.progress_seen values (new.progress, new.current_phase, new.status); return new; end $$;
             create trigger watch_progress after update on investigations
                 for each row execute function test.watch_progress();
             grant insert on test.progress_seen to fiscal_worker;",
        )
        .await
        .expect("a progress recorder");
    drain(db.settings(), scripted::pipelines(&db.url, "w")).await;
    let seen: Vec<(f64, String)> = client
        .query("select progress, status from test.progress_seen", &[])
        .await
        .expect("rows")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert!(
        seen.windows(2).all(|w| w[0].0 <= w[1].0),
        "progress went backwards: {seen:?}"
    );
    let (last, status) = seen.last().expect("some writes");
    assert_eq!((*last, status.as_str()), (1.0, "completed"));
    assert!(seen[..seen.len() - 1].iter().all(|(p, _)| *p < 1.0));
    // 40 steps of 25 ms reported, one write per 50 ms at most: about 20 + claim + end.
    assert!(seen.len() < 30, "{} writes for 40 reports", seen.len());
}

/// Jobs that all end at once, one of them re-claimed elsewhere just before.
struct Together {
    barrier: std::sync::Arc<tokio::sync::Barrier>,
    url: String,
}

#[async_trait::async_trait]
impl fiscal::pipeline::Pipeline for Together {
    async fn run(
        &self,
        job: &fiscal::pipeline::Job,
        _progress: &fiscal::pipeline::Progress,
        _cancel: &tokio_util::sync::CancellationToken,
    ) -> Result<fiscal::pipeline::Completion, fiscal::pipeline::JobError> {
        if job.query == "stolen" {
            let client = crate::harness::connect(&self.url).await;
            client
                .execute(
                    "update investigations set claim_token = gen_random_uuid(),
                         lease_expires_at = now() + interval '1 hour' where id = $1",
                    &[&job.id],
                )
                .await
                .expect("re-claimed elsewhere");
        }
        self.barrier.wait().await;
        Ok(scripted::completion(1))
    }
}

#[tokio::test]
async fn completions_that_end_together_share_one_statement_and_each_keeps_its_fence() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let user = add_user(&client).await;
    crate::harness::lift_citizen_limits(&client, 20).await;
    let stolen = enqueue(&client, user, "stolen").await;
    for _ in 0..7 {
        enqueue(&client, user, "together").await;
    }
    let pipeline: std::sync::Arc<dyn fiscal::pipeline::Pipeline> = std::sync::Arc::new(Together {
        barrier: std::sync::Arc::new(tokio::sync::Barrier::new(8)),
        url: db.url.clone(),
    });
    let mut settings = db.settings();
    settings.worker.concurrency = 8;
    let worker = RunningWorker::start(
        settings,
        fiscal::pipeline::Pipelines::default().with("contracts", pipeline),
    );
    let batches: Vec<i64> = eventually(DEADLINE, "seven completions", || async {
        // One statement stamps its rows with one transaction time.
        let rows = client
            .query(
                "select count(*) from investigations where status = 'completed'
                 group by completed_at order by 1 desc",
                &[],
            )
            .await
            .expect("completions");
        let batches: Vec<i64> = rows.iter().map(|r| r.get(0)).collect();
        (batches.iter().sum::<i64>() == 7).then_some(batches)
    })
    .await;
    let report = worker.stop().await;
    assert_eq!(report.completed, 7, "{report:?}");
    assert!(
        batches[0] >= 2,
        "completions that ended together went out one by one: {batches:?}"
    );
    let row = fetch(&client, stolen).await;
    assert_eq!(
        row.status, "processing",
        "the re-claimed row is left to its new holder"
    );
}
