//! Real faults under running workers: the network between a worker and the
//! database cut for longer than a lease, the database restarted, its backends
//! killed, its statements timed out and the server turned read-only, while
//! worker processes have work in flight. Each ends with every investigation
//! finished exactly once and every worker still up.
//!
//! Sizes are small for CI; `FISCAL_TEST_FULL=1` runs the full ones.

use std::time::{Duration, Instant};

use crate::child::ChildWorker;
use crate::harness::{
    add_user, connect, enqueue, fetch, full, wait_for, with_user, worker_settings, LocalCluster,
    RunningWorker,
};
use crate::netns::NetNs;
use crate::scripted;

const DEADLINE: Duration = Duration::from_secs(90);

/// A worker of `url` that gives up on the database, and notices a lost lease,
/// within seconds: `lease` and `timeout` in seconds, heartbeats every second.
fn impatient(url: &str, lease: u64, timeout: u64) -> fiscal::config::Settings {
    let mut settings = worker_settings(url);
    settings.worker.lease_seconds = lease;
    settings.worker.heartbeat_seconds = 1;
    settings.worker.poll_interval_ms = 200;
    settings.worker.backoff_base_seconds = 0.1;
    settings.database.statement_timeout_seconds = timeout;
    settings.database.connect_timeout_seconds = timeout;
    settings
}

/// A private cluster (these tests restart it, or read its statistics), migrated,
/// with the test tables and the worker's login.
async fn private_cluster(settings: Vec<String>) -> (LocalCluster, String) {
    let cluster = LocalCluster::start_with(|_| settings, None).expect("a private cluster");
    let url = cluster.url("postgres");
    fiscal::db::migrate::run(&worker_settings(&url))
        .await
        .expect("migrate");
    crate::harness::prepare_test_schema(&url).await;
    crate::harness::ensure_worker_login(&url).await;
    (cluster, url)
}

/// Every update that reached a row, with the attempt it was written under.
const ROW_WRITES: &str = "
create table test.row_writes (
    id uuid not null,
    attempts integer not null,
    status text not null,
    locked_by text,
    at timestamptz not null default clock_timestamp()
);
create function test.record_write() returns trigger language plpgsql as $$
begin
    insert into test.row_writes (id, attempts, status, locked_by)
    values (new.id, new.attempts, new.status, new.locked_by);
    return new;
end $$;
create trigger record_write after update on public.investigations
    for each row execute function test.record_write();
grant insert on test.row_writes to fiscal_worker;
";

const PARTITIONED_LOGIN: &str = "fiscal_partitioned";
const PARTITIONED_PASSWORD: &str = "pw-partitioned-4dJ8";

#[tokio::test]
async fn a_partitioned_worker_loses_its_job_and_none_of_its_late_writes_land() {
    if let Some(why) = NetNs::unavailable() {
        eprintln!("skipped: {why}");
        return;
    }
    let (cluster, url) =
        private_cluster(vec!["shared_preload_libraries=pg_stat_statements".into()]).await;
    let admin = connect(&url).await;
    admin
        .batch_execute(&format!(
            "create extension pg_stat_statements;
             {ROW_WRITES}
             create role {PARTITIONED_LOGIN} login password '{PARTITIONED_PASSWORD}';
             grant fiscal_worker to {PARTITIONED_LOGIN};"
        ))
        .await
        .expect("statement statistics, row writes and a login of its own");
    let user = add_user(&admin).await;
    let id = enqueue(&admin, user, "steps 120 50").await;

    let settings = impatient(&url, 2, 4);

    let ns = NetNs::with_forward_to(cluster.port()).await;
    let mut far = settings.clone();
    far.database.url = ns.url(&with_user(&url, PARTITIONED_LOGIN, PARTITIONED_PASSWORD));
    let mut partitioned = ChildWorker::spawn_in(Some(&ns.name), &far, false);
    wait_for(
        &admin,
        id,
        DEADLINE,
        "the job to run across the veth",
        |r| r.progress.unwrap_or(0.0) > 0.0,
    )
    .await;
    let first = fetch(&admin, id).await;
    assert_eq!(first.attempts, 1);

    ns.cut();
    let cut_at = Instant::now();
    // On our side of the cut, a worker sweeps the expired lease and finishes the job.
    let rescuer = RunningWorker::start(settings.clone(), scripted::pipelines(&url, "rescuer"));
    let rescued = wait_for(&admin, id, DEADLINE, "the rescue to complete", |r| {
        r.status == "completed"
    })
    .await;
    rescuer.stop().await;
    assert_eq!(rescued.attempts, 2, "taken over as a second attempt");

    // Only what the partitioned worker sends after the cut heals counts from here.
    admin
        .execute(
            "select pg_stat_statements_reset(
                 (select oid from pg_roles where rolname = $1), 0, 0)",
            &[&PARTITIONED_LOGIN],
        )
        .await
        .expect("resetting the statistics");
    let cut_for = cut_at.elapsed();
    ns.heal();

    // The partitioned worker notices, stops its attempt and carries on: with the
    // rescuer gone, a new investigation can only be its own.
    let stopped = crate::harness::eventually(DEADLINE, "the old attempt to stop", || async {
        let row = admin
            .query_opt(
                "select outcome from test.runs where investigation_id = $1 and attempt = 1
                 and outcome is not null",
                &[&id],
            )
            .await
            .expect("runs");
        row.map(|r| r.get::<_, String>(0))
    })
    .await;
    assert_eq!(
        stopped, "cancelled",
        "the old attempt was stopped, not finished"
    );
    let after = enqueue(&admin, user, "instant").await;
    wait_for(
        &admin,
        after,
        DEADLINE,
        "the partitioned worker to work again",
        |r| r.status == "completed",
    )
    .await;
    assert!(partitioned.is_running(), "{}", partitioned.log_text());

    // TCP delivers what the cut held back at its next retransmission, which
    // backs off while the cut lasts: wait for it rather than guess.
    let fenced_writes = || async {
        let row = admin
            .query_one(
                "select coalesce(sum(calls), 0)::int8, coalesce(sum(rows), 0)::int8
                 from pg_stat_statements
                 where userid = (select oid from pg_roles where rolname = $1)
                   and query like '%claim_token = %' and query not like '%skip locked%'",
                &[&PARTITIONED_LOGIN],
            )
            .await
            .expect("statement statistics");
        (row.get::<_, i64>(0), row.get::<_, i64>(1))
    };
    crate::harness::eventually(DEADLINE, "the held-back writes to arrive", || async {
        let (calls, rows) = fenced_writes().await;
        (calls > rows).then_some(())
    })
    .await;
    let (calls, rows) = fenced_writes().await;
    let refused = calls - rows;
    let late: i64 = admin
        .query_one(
            "select count(*) from test.row_writes
             where id = $1 and attempts = 1
               and at > (select min(at) from test.row_writes where id = $1 and attempts = 2)",
            &[&id],
        )
        .await
        .expect("row writes")
        .get(0);
    let row = fetch(&admin, id).await;
    let completions: i64 = admin
        .query_one(
            "select count(*) from test.completions where investigation_id = $1",
            &[&id],
        )
        .await
        .expect("completions")
        .get(0);
    eprintln!(
        "partition of {cut_for:?}: {calls} fenced writes sent after the heal, {refused} refused, \
         {late} writes of the old attempt landed after the take-over"
    );
    assert_eq!(late, 0, "no write of the old attempt may land");
    assert_eq!(
        (row.status.as_str(), row.attempts, completions),
        ("completed", 2, 1),
        "the rescuer's ending stands"
    );
}

/// One fault at a time, each while jobs are in flight, with a second of normal
/// running between them. Returns what each did, for the report.
async fn inflict_faults(cluster: &LocalCluster, url: &str) -> Vec<String> {
    let mut done = Vec::new();
    let pause = || tokio::time::sleep(Duration::from_secs(1));

    let admin = connect(url).await;
    let mut killed = 0i64;
    for _ in 0..10 {
        killed += admin
            .query_one(
                "select count(*) filter (where pg_terminate_backend(pid))
                 from pg_stat_activity where usename = $1 and random() < 0.5",
                &[&crate::harness::WORKER_LOGIN],
            )
            .await
            .expect("terminating worker backends")
            .get::<_, i64>(0);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    done.push(format!("{killed} worker backends terminated"));
    pause().await;

    // Writes on the table wait behind the lock past the workers' statement
    // timeout; reads go on.
    admin
        .batch_execute(
            "begin; lock table public.investigations in exclusive mode;
             select pg_sleep(3); commit;",
        )
        .await
        .expect("holding the table lock");
    done.push("table locked for 3 s".into());
    pause().await;

    for (statement, pause) in [
        ("alter system set default_transaction_read_only = on", 0),
        ("select pg_reload_conf()", 2000),
        ("alter system reset default_transaction_read_only", 0),
        ("select pg_reload_conf()", 0),
    ] {
        admin
            .simple_query(statement)
            .await
            .expect("turning read-only on and off");
        tokio::time::sleep(Duration::from_millis(pause)).await;
    }
    done.push("server read-only for 2 s".into());
    pause().await;
    drop(admin);

    for mode in ["fast", "immediate"] {
        cluster.stop_server_with(mode).expect("stopping the server");
        tokio::time::sleep(Duration::from_millis(500)).await;
        cluster.start_server().expect("starting the server");
        done.push(format!("restarted ({mode})"));
        pause().await;
    }
    done
}

#[tokio::test]
async fn database_faults_under_load_lose_nothing_and_finish_nothing_twice() {
    let (cluster, url) = private_cluster(Vec::new()).await;
    let n: i32 = if full() { 5000 } else { 400 };
    let admin = connect(&url).await;
    let user = add_user(&admin).await;
    // Most jobs are quick; one in ten spans several faults.
    admin
        .execute(
            "insert into investigations (user_id, query, data_source, max_attempts)
             select $1, case when g % 10 = 0 then 'steps 20 100' else 'steps 3 20' end,
                    'contracts', 10
             from generate_series(1, $2) g",
            &[&user, &n],
        )
        .await
        .expect("seeding");
    drop(admin);

    let mut settings = impatient(&url, 3, 2);
    settings.worker.concurrency = 4;
    let mut workers: Vec<ChildWorker> = (0..2)
        .map(|_| ChildWorker::spawn(&settings, false))
        .collect();

    let faults = inflict_faults(&cluster, &url).await;

    let admin = connect(&url).await;
    let finished = crate::harness::eventually(
        Duration::from_secs(if full() { 900 } else { 240 }),
        "every investigation to finish",
        || async {
            let row = admin
                .query_one(
                    "select count(*) filter (where status = 'completed'),
                            count(*) filter (where status = 'failed')
                     from investigations",
                    &[],
                )
                .await
                .ok()?;
            let (completed, failed): (i64, i64) = (row.get(0), row.get(1));
            (completed + failed == i64::from(n)).then_some((completed, failed))
        },
    )
    .await;
    let tally = admin
        .query_one(
            "select (select count(*) from test.completions),
                    (select count(distinct investigation_id) from test.completions),
                    (select count(*) from investigations where attempts > 1),
                    (select max(attempts) from investigations)",
            &[],
        )
        .await
        .expect("tally");
    let (completions, distinct, retried, max_attempts): (i64, i64, i64, i32) =
        (tally.get(0), tally.get(1), tally.get(2), tally.get(3));
    let failures: Vec<String> = admin
        .query(
            "select coalesce(error_message, '') from investigations where status = 'failed' limit 5",
            &[],
        )
        .await
        .expect("failures")
        .iter()
        .map(|r| r.get(0))
        .collect();
    eprintln!(
        "{n} investigations through {faults:?}: {} completed, {} failed, {retried} needed \
         more than one attempt (at most {max_attempts})",
        finished.0, finished.1
    );
    assert_eq!(finished, (i64::from(n), 0), "failures: {failures:?}");
    assert_eq!(
        (completions, distinct),
        (i64::from(n), i64::from(n)),
        "each completed once"
    );
    // The server's log shows what the workers' statements met.
    let log = cluster.server_log();
    for (fault, trace) in [
        (
            "terminated backends",
            "terminating connection due to administrator command",
        ),
        (
            "statement timeouts",
            "canceling statement due to statement timeout",
        ),
        ("read-only server", "in a read-only transaction"),
    ] {
        assert!(log.contains(trace), "the workers met no {fault}");
    }
    for worker in &mut workers {
        assert!(worker.is_running(), "a worker died:\n{}", worker.log_text());
        worker.stop_cleanly(DEADLINE).await;
    }
}

#[tokio::test]
async fn an_investigation_that_kills_its_worker_every_time_fails_alone_after_its_attempts() {
    let db = crate::harness::TestDb::new().await;
    let client = db.client().await;
    let user = add_user(&client).await;
    let poison = enqueue(&client, user, "abort").await;
    crate::harness::enqueue_many(&client, user, "steps 5 20", 20).await;
    let mut settings = db.settings();
    settings.worker.concurrency = 4;
    settings.worker.lease_seconds = 2;
    settings.worker.heartbeat_seconds = 1;
    settings.worker.poll_interval_ms = 100;
    settings.worker.backoff_base_seconds = 0.1;

    // A supervisor (systemd's Restart=always) starts a new worker whenever one dies.
    let mut crashes = 0;
    let deadline = Instant::now() + DEADLINE;
    let mut worker = ChildWorker::spawn(&settings, false);
    loop {
        let open: i64 = client
            .query_one(
                "select count(*) from investigations where status in ('pending', 'processing')",
                &[],
            )
            .await
            .expect("open rows")
            .get(0);
        if open == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still {open} open after {crashes} crashes"
        );
        if !worker.is_running() {
            assert!(
                worker.log_text().contains("claimed"),
                "the worker died before claiming:\n{}",
                worker.log_text()
            );
            crashes += 1;
            worker = ChildWorker::spawn(&settings, false);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        worker.is_running(),
        "the last worker is up:\n{}",
        worker.log_text()
    );

    let row = fetch(&client, poison).await;
    assert_eq!((row.status.as_str(), row.attempts), ("failed", 3));
    let message = row.error_message.unwrap_or_default();
    assert!(
        message.contains("interrompida 3 vezes") && message.contains("avise a equipe"),
        "{message}"
    );
    assert_eq!(crashes, 3, "one crash per attempt, then no more");
    let innocents = client
        .query_one(
            "select count(*) filter (where status = 'completed'), count(*)
             from investigations where id <> $1",
            &[&poison],
        )
        .await
        .expect("innocents");
    assert_eq!(
        (innocents.get::<_, i64>(0), innocents.get::<_, i64>(1)),
        (20, 20),
        "the others all completed"
    );
}

#[tokio::test]
async fn a_suspect_runs_alone_even_while_a_backlog_keeps_the_worker_busy() {
    let db = crate::harness::TestDb::new().await;
    let client = db.client().await;
    let user = add_user(&client).await;
    crate::harness::enqueue_many(&client, user, "steps 2 50", 150).await;
    // Recovered from a crash once, and runnable only once the worker is busy.
    let suspect: uuid::Uuid = client
        .query_one(
            "insert into investigations (user_id, query, data_source, attempts,
                 orphaned_attempts, run_after)
             values ($1, 'steps 4 50', 'contracts', 1, 1, now() + interval '1 second')
             returning id",
            &[&user],
        )
        .await
        .expect("a suspect")
        .get(0);
    let mut settings = db.settings();
    settings.worker.concurrency = 3;
    settings.worker.lease_seconds = 2;
    settings.worker.heartbeat_seconds = 1;
    let worker = RunningWorker::start(settings, scripted::pipelines(&db.url, "busy"));
    wait_for(&client, suspect, DEADLINE, "the suspect to complete", |r| {
        r.status == "completed"
    })
    .await;
    let waiting: i64 = client
        .query_one(
            "select count(*) from investigations where status = 'pending'",
            &[],
        )
        .await
        .expect("backlog")
        .get(0);
    worker.stop().await;
    assert!(waiting > 0, "the suspect ran before the backlog was gone");
    let beside: i64 = client
        .query_one(
            "select count(*) from test.runs s join test.runs o
                 on o.investigation_id <> s.investigation_id
                and o.started_at < s.stopped_at and o.stopped_at > s.started_at
             where s.investigation_id = $1",
            &[&suspect],
        )
        .await
        .expect("overlaps")
        .get(0);
    assert_eq!(beside, 0, "nothing ran beside the suspect");
}

/// Puts a migrated database back where the previous release left it: without
/// the newest migration.
async fn before_the_newest_migration(client: &tokio_postgres::Client) {
    client
        .batch_execute(
            "drop index idx_investigations_suspects;
             drop index idx_investigations_queue;
             create index idx_investigations_claimable
                 on public.investigations (run_after, created_at) where status = 'pending';
             alter table public.investigations drop column orphaned_attempts, drop column queue_at;
             drop trigger investigations_take_queue_place on public.investigations;
             drop trigger investigations_check_data_source on public.investigations;
             drop function fiscal.take_queue_place(), fiscal.take_queue_slot(),
                 fiscal.check_data_source();
             alter table fiscal.insert_budget drop column queue_clock;
             delete from fiscal.schema_migrations where version = 9;",
        )
        .await
        .expect("undoing migration 0009");
}

#[tokio::test]
async fn a_rolling_upgrade_with_migrations_loses_nothing_and_finishes_nothing_twice() {
    let db = crate::harness::TestDb::new().await;
    let client = db.client().await;
    before_the_newest_migration(&client).await;
    let user = add_user(&client).await;
    let n = if full() { 5000 } else { 600 };
    crate::harness::enqueue_many(&client, user, "steps 3 30", n).await;

    // The new release starts on the old schema and migrates it as it starts,
    // three processes at once.
    let mut settings = db.settings();
    settings.worker.concurrency = 4;
    settings.worker.migrate_on_start = true;
    let mut workers: Vec<ChildWorker> = (0..3)
        .map(|_| ChildWorker::spawn(&settings, false))
        .collect();
    let mut replaced = 0;
    for round in 0..2 {
        for (i, worker) in workers.iter_mut().enumerate() {
            tokio::time::sleep(Duration::from_millis(400)).await;
            // An operator runs `fiscal migrate` in the middle of the roll-out.
            if round == 0 && i == 1 {
                let out = crate::harness::fiscal_command()
                    .arg("migrate")
                    .env("FISCAL_DATABASE__URL", &db.url)
                    .output()
                    .await
                    .expect("fiscal migrate");
                assert!(out.status.success(), "{}", crate::harness::printed(&out));
            }
            worker.stop_cleanly(DEADLINE).await;
            *worker = ChildWorker::spawn(&settings, false);
            replaced += 1;
        }
    }
    let finished =
        crate::harness::eventually(DEADLINE, "every investigation to finish", || async {
            let row = client
                .query_one(
                    "select count(*) filter (where status = 'completed'),
                        count(*) filter (where status not in ('pending', 'processing'))
                 from investigations",
                    &[],
                )
                .await
                .ok()?;
            let (completed, ended): (i64, i64) = (row.get(0), row.get(1));
            (ended == i64::from(n)).then_some(completed)
        })
        .await;
    let tally = client
        .query_one(
            "select (select count(*) from test.completions),
                    (select count(distinct investigation_id) from test.completions),
                    (select count(*) from fiscal.schema_migrations where version = 9),
                    (select count(distinct worker) from test.runs)",
            &[],
        )
        .await
        .expect("tally");
    let counts: Vec<i64> = (0..4).map(|i| tally.get(i)).collect();
    eprintln!(
        "{n} investigations through {replaced} worker restarts: {finished} completed, \
         {} worker processes took work",
        counts[3]
    );
    assert_eq!(finished, i64::from(n), "every one completed");
    assert_eq!(
        &counts[..3],
        &[i64::from(n), i64::from(n), 1],
        "completions / distinct / migration 9 applied"
    );
    for worker in &mut workers {
        worker.stop_cleanly(DEADLINE).await;
    }
}

/// A worker that starts while the server turns it away for the moment (here:
/// no connection left for its role, SQLSTATE 53300; the same class as a server
/// starting up or ending sessions) waits instead of exiting, and works once it
/// is let in.
#[tokio::test]
async fn a_worker_turned_away_for_the_moment_at_start_waits_and_then_works() {
    let db = crate::harness::TestDb::new().await;
    let client = db.client().await;
    let login = format!(
        "fiscal_full_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    client
        .batch_execute(&format!(
            "create role {login} login password 'pw-full-7Hq' connection limit 0;
             grant fiscal_worker to {login};"
        ))
        .await
        .expect("a login with no connection left");
    let mut settings = db.settings();
    settings.database.url = with_user(&db.url, &login, "pw-full-7Hq");
    let worker = RunningWorker::start(settings, scripted::pipelines(&db.url, "patient"));
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(!worker.has_ended(), "the worker gave up while turned away");

    client
        .batch_execute(&format!("alter role {login} connection limit -1"))
        .await
        .expect("letting the worker in");
    let id = enqueue(&client, add_user(&client).await, "instant").await;
    wait_for(
        &client,
        id,
        DEADLINE,
        "the patient worker to complete it",
        |r| r.status == "completed",
    )
    .await;
    worker.stop().await;
    client
        .batch_execute(&format!("drop owned by {login}; drop role {login}"))
        .await
        .expect("dropping the login");
}
