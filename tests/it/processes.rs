//! Workers as separate processes: many at once, killed, paused, stopped, and a
//! database that restarts under them.

use std::time::Duration;

use nix::sys::signal::Signal;

use crate::child::ChildWorker;
use crate::harness::{
    add_user, enqueue, enqueue_many, fetch, wait_for, LocalCluster, RunningWorker, TestDb,
};
use crate::scripted;

const DEADLINE: Duration = Duration::from_secs(60);

#[tokio::test]
async fn a_thousand_investigations_on_four_workers_in_two_processes_complete_exactly_once() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let user = add_user(&client).await;
    enqueue_many(&client, user, "instant", 1000).await;
    let mut settings = db.settings();
    settings.worker.concurrency = 2;
    let mut workers: Vec<ChildWorker> = (0..2)
        .map(|_| ChildWorker::spawn(&settings, true))
        .collect();
    for worker in &mut workers {
        assert_eq!(
            worker.exit_code(Duration::from_secs(300)).await,
            Some(0),
            "{}",
            worker.log_text()
        );
    }
    let row = client
        .query_one(
            "select count(*) filter (where status = 'completed' and progress = 1 and current_phase = 'completed'
                                       and completed_at is not null and processing_time_ms is not null),
                    count(*),
                    (select count(*) from test.completions),
                    (select count(distinct investigation_id) from test.completions),
                    (select count(*) from test.runs),
                    (select count(distinct investigation_id) from test.runs),
                    (select count(distinct worker) from test.runs)
             from investigations",
            &[],
        )
        .await
        .expect("tally");
    let counts: Vec<i64> = (0..7).map(|i| row.get(i)).collect();
    assert_eq!(
        &counts[..6],
        &[1000, 1000, 1000, 1000, 1000, 1000],
        "completed / rows / completions / runs"
    );
    assert_eq!(counts[6], 2, "both processes took work");
}

#[tokio::test]
async fn a_killed_workers_job_is_picked_up_after_its_lease_and_completes_once() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let id = enqueue(&client, add_user(&client).await, "steps 60 50").await;
    let mut settings = db.settings();
    settings.worker.lease_seconds = 2;
    settings.worker.heartbeat_seconds = 1;
    let mut doomed = ChildWorker::spawn(&settings, false);
    wait_for(&client, id, DEADLINE, "the first attempt to run", |r| {
        r.progress.unwrap_or(0.0) > 0.0
    })
    .await;
    doomed.signal(Signal::SIGKILL);
    doomed.exit_code(DEADLINE).await;

    let mut rescuer = ChildWorker::spawn(&settings, true);
    assert_eq!(
        rescuer.exit_code(DEADLINE).await,
        Some(0),
        "{}",
        rescuer.log_text()
    );
    let row = fetch(&client, id).await;
    assert_eq!((row.status.as_str(), row.attempts), ("completed", 2));
    let completions: i64 = client
        .query_one("select count(*) from test.completions", &[])
        .await
        .expect("q")
        .get(0);
    assert_eq!(completions, 1);
}

#[tokio::test]
async fn a_paused_worker_is_fenced_out_once_its_lease_expired() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let id = enqueue(&client, add_user(&client).await, "steps 40 50").await;
    let mut settings = db.settings();
    settings.worker.lease_seconds = 2;
    settings.worker.heartbeat_seconds = 1;
    let mut paused = ChildWorker::spawn(&settings, false);
    wait_for(&client, id, DEADLINE, "the first attempt to run", |r| {
        r.progress.unwrap_or(0.0) > 0.0
    })
    .await;
    paused.signal(Signal::SIGSTOP);

    // Another worker sweeps the expired lease and finishes the job.
    let mut rescue = settings.clone();
    rescue.worker.backoff_base_seconds = 0.1;
    rescue.worker.poll_interval_ms = 100;
    let rescuer = RunningWorker::start(rescue, scripted::pipelines(&db.url, "rescuer"));
    let done = wait_for(&client, id, DEADLINE, "the rescue to complete", |r| {
        r.status == "completed"
    })
    .await;
    rescuer.stop().await;
    assert_eq!(done.attempts, 2);

    // The paused worker wakes up believing it still runs attempt 1.
    paused.signal(Signal::SIGCONT);
    crate::harness::eventually(DEADLINE, "the old attempt to notice it lost the row", || async {
        client
            .query_opt(
                "select 1 from test.runs where investigation_id = $1 and attempt = 1 and stopped_at is not null",
                &[&id],
            )
            .await
            .expect("query")
            .map(|_| ())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        fetch(&client, id).await,
        done,
        "the fenced-out worker changed the row"
    );
    let completions: i64 = client
        .query_one("select count(*) from test.completions", &[])
        .await
        .expect("q")
        .get(0);
    assert_eq!(completions, 1);
    paused.signal(Signal::SIGTERM);
    assert_eq!(
        paused.exit_code(DEADLINE).await,
        Some(0),
        "{}",
        paused.log_text()
    );
}

#[tokio::test]
async fn sigterm_lets_short_jobs_finish_releases_long_ones_and_exits_zero() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let user = add_user(&client).await;
    let short = enqueue(&client, user, "steps 20 50").await;
    let long = enqueue(&client, user, "steps 1000 50").await;
    let mut settings = db.settings();
    settings.worker.concurrency = 2;
    settings.worker.shutdown_grace_seconds = 3;
    let mut worker = ChildWorker::spawn(&settings, false);
    for id in [short, long] {
        wait_for(&client, id, DEADLINE, "both jobs to run", |r| {
            r.progress.unwrap_or(0.0) > 0.0
        })
        .await;
    }
    worker.signal(Signal::SIGTERM);
    let started = std::time::Instant::now();
    assert_eq!(
        worker.exit_code(Duration::from_secs(20)).await,
        Some(0),
        "{}",
        worker.log_text()
    );
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(3 + 5),
        "exit took {took:?}, grace is 3 s"
    );

    assert_eq!(fetch(&client, short).await.status, "completed");
    let released = fetch(&client, long).await;
    assert_eq!(
        (
            released.status.as_str(),
            released.attempts,
            released.progress
        ),
        ("pending", 0, Some(0.0)),
        "released without counting the attempt"
    );
    assert!(released.locked_by.is_none() && !released.run_after_in_future);
}

#[tokio::test]
async fn the_worker_reconnects_after_the_database_restarts_and_carries_on() {
    let cluster = LocalCluster::start().expect("a private cluster");
    let url = cluster.url("postgres");
    let settings = crate::harness::worker_settings(&url);
    fiscal::db::migrate::run(&settings).await.expect("migrate");
    crate::harness::prepare_test_schema(&url).await;
    crate::harness::ensure_worker_login(&url).await;
    let client = crate::harness::connect(&url).await;
    let user = add_user(&client).await;
    let spanning = enqueue(&client, user, "steps 80 50").await;

    let worker = RunningWorker::start(settings, scripted::pipelines(&url, "w"));
    wait_for(&client, spanning, DEADLINE, "the job to run", |r| {
        r.progress.unwrap_or(0.0) > 0.0
    })
    .await;
    drop(client);
    cluster.stop_server().expect("stop");
    tokio::time::sleep(Duration::from_secs(1)).await;
    cluster.start_server().expect("start");

    let client = crate::harness::connect(&url).await;
    let after = enqueue(&client, user, "instant").await;
    for id in [spanning, after] {
        let row = wait_for(&client, id, DEADLINE, "completion after the restart", |r| {
            r.status == "completed"
        })
        .await;
        assert_eq!(row.progress, Some(1.0));
    }
    let completions: i64 = client
        .query_one("select count(*) from test.completions", &[])
        .await
        .expect("q")
        .get(0);
    assert_eq!(completions, 2, "each completed once");
    worker.stop().await;
}
