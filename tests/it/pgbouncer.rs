//! The worker behind a real PgBouncer in transaction mode, the classic pooler
//! that Supavisor's port 6543 imitates: consecutive statements of one client may
//! run on different server sessions, so named prepared statements, session state
//! and LISTEN do not survive. With one server connection for two workers, every
//! statement of both shares the same server session, which also lets the test see
//! whether anything was left behind on it.

use std::time::Duration;

use fiscal::config::Settings;
use fiscal::db::migrate;

use serde_json::json;

use crate::harness::{
    add_user, cancel_as_citizen, enqueue, enqueue_many, eventually, fetch, test_settings, wait_for,
    EmptyDb, PgBouncer, RunningWorker, TestDb,
};
use crate::scripted;

const DEADLINE: Duration = Duration::from_secs(60);

/// A worker reaching the database through `bouncer`, the pooler detected from
/// the URL's `pgbouncer=true`.
fn through(bouncer: &PgBouncer) -> Settings {
    let mut settings = test_settings(&bouncer.url("pgbouncer=true"));
    settings.database.max_connections = 4;
    settings.worker.concurrency = 4;
    settings.worker.poll_interval_ms = 200;
    settings.worker.cancel_check_ms = 200;
    settings
}

#[tokio::test]
async fn worker_completes_investigations_through_pgbouncer_in_transaction_mode() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let bouncer = PgBouncer::start(&db.url, 1);
    bouncer.ready().await;

    let user = add_user(&client).await;
    enqueue_many(&client, user, "steps 3 20", 40).await;
    let long = enqueue(&client, user, "steps 1000 50").await;

    // The recorder of the scripted pipeline connects directly: it is the test's
    // instrument, not the worker under test.
    let workers: Vec<RunningWorker> = (0..2)
        .map(|n| {
            RunningWorker::start(
                through(&bouncer),
                scripted::pipelines(&db.url, &format!("w{n}")),
            )
        })
        .collect();

    wait_for(
        &client,
        long,
        DEADLINE,
        "the long job to report progress",
        |r| r.progress.unwrap_or(0.0) > 0.0,
    )
    .await;
    cancel_as_citizen(&client, long).await;
    eventually(
        DEADLINE,
        "the cancelled job to stop, found by polling",
        || async {
            client
                .query_opt(
                    "select 1 from test.runs where investigation_id = $1 and outcome = 'cancelled'",
                    &[&long],
                )
                .await
                .expect("test.runs")
        },
    )
    .await;

    eventually(DEADLINE, "all 40 investigations to complete", || async {
        let done: i64 = client
            .query_one(
                "select count(*) from investigations where status = 'completed'",
                &[],
            )
            .await
            .expect("count")
            .get(0);
        (done == 40).then_some(())
    })
    .await;
    let mut reports = Vec::new();
    for worker in workers {
        reports.push(worker.stop().await);
    }

    let row = client
        .query_one(
            "select (select count(*) from test.completions),
                    (select count(distinct investigation_id) from test.completions),
                    (select count(*) from test.runs where outcome = 'completed'),
                    (select status from investigations where id = $1)",
            &[&long],
        )
        .await
        .expect("tallies");
    let tallies: (i64, i64, i64, String) = (row.get(0), row.get(1), row.get(2), row.get(3));
    assert_eq!(
        tallies,
        (40, 40, 40, "cancelled".to_string()),
        "completions / distinct completions / completed runs / the cancelled row"
    );
    assert_eq!(reports.iter().map(|r| r.completed).sum::<u64>(), 40);
    assert!(
        reports.iter().all(|r| r.claimed > 0),
        "both workers got work through the one server connection: {reports:?}"
    );

    // Both workers ran every statement on PgBouncer's single server connection;
    // in transaction mode none of them may leave a named statement there.
    assert_eq!(prepared_statements_left(&bouncer).await, 0);
}

/// Prepared statements on the server session behind `bouncer` (its only one when
/// started with a pool of one).
async fn prepared_statements_left(bouncer: &PgBouncer) -> i64 {
    let settings = through(bouncer);
    let (probe, driver) = fiscal::db::connect_driven(&settings.database.url, &settings.database)
        .await
        .expect("a client through PgBouncer");
    let rows = probe
        .simple_query("select count(*)::text from pg_prepared_statements")
        .await
        .expect("pg_prepared_statements through PgBouncer");
    drop(probe);
    let _ = driver.await;
    rows.iter()
        .find_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(row) => row.get(0)?.parse().ok(),
            _ => None,
        })
        .expect("a count")
}

#[tokio::test]
async fn enqueue_status_and_the_contracts_pipeline_work_through_pgbouncer() {
    let db = TestDb::new().await;
    let mut direct = db.client().await;
    let reports = fiscal::sources::import::import_paths(
        &mut direct,
        &[crate::import::shipped(crate::import::MONTHLY_ZIP)],
    )
    .await;
    fiscal::sources::import::check(&reports).expect("imported");
    let bouncer = PgBouncer::start(&db.url, 1);
    bouncer.ready().await;
    let settings = through(&bouncer);

    let (mut client, driver) =
        fiscal::db::connect_driven(&settings.database.url, &settings.database)
            .await
            .expect("a client through PgBouncer");
    let request = fiscal::enqueue::Request {
        user: uuid::Uuid::new_v4(),
        query: "contratos acima de R$ 1 milhão em 2020".into(),
        data_source: "contracts".into(),
        filters: json!({"min_value": 1000000, "year": 2020}),
        anomaly_types: json!([]),
        create_user: true,
    };
    let id = fiscal::enqueue::enqueue(&mut client, &request)
        .await
        .expect("enqueue through PgBouncer");
    let status = fiscal::status::collect(&client, settings.worker.heartbeat())
        .await
        .expect("status through PgBouncer");
    assert_eq!(status.queue.pending, 1);
    drop(client);
    let _ = driver.await;

    let report = crate::harness::drain_builtin_with(settings).await;
    assert_eq!(report.completed, 1, "{report:?}");
    let expected = crate::pipeline_end_to_end::contracts_over_a_million_in_2020(&direct).await;
    assert!(expected > 0, "the sample has such contracts");
    let row = fetch(&direct, id).await;
    assert_eq!(row.status, "completed", "{row:?}");
    assert_eq!(
        i64::from(row.total_records_analyzed),
        expected,
        "retrieval read what the filters select"
    );
    assert_eq!(prepared_statements_left(&bouncer).await, 0);
}

#[tokio::test]
async fn migrations_apply_through_pgbouncer_in_transaction_mode() {
    let db = EmptyDb::new().await;
    let bouncer = PgBouncer::start(&db.url, 2);
    bouncer.ready().await;
    let settings = through(&bouncer);

    // Two at once: the per-transaction lock keeps them apart.
    let (first, second) = tokio::join!(migrate::run(&settings), migrate::run(&settings));
    let first = first.expect("first migration through PgBouncer");
    let second = second.expect("second migration through PgBouncer");
    let mut applied = first.applied.clone();
    applied.extend(second.applied.clone());
    let all: Vec<String> = migrate::MIGRATIONS
        .iter()
        .map(|m| m.name.to_string())
        .collect();
    assert_eq!(
        applied.len(),
        all.len(),
        "each migration applied once: {first:?} {second:?}"
    );
    assert!(
        first.shim_applied != second.shim_applied,
        "the shim applied once"
    );

    let client = crate::harness::connect(&db.url).await;
    assert!(migrate::pending(&client).await.expect("pending").is_empty());
    let locks: i64 = client
        .query_one(
            "select count(*) from pg_locks where locktype = 'advisory'",
            &[],
        )
        .await
        .expect("pg_locks")
        .get(0);
    assert_eq!(locks, 0, "no advisory lock outlives the migration");
}
