//! Load: many citizens asking at once, one of them far more than the others.
//! Sizes are small for CI; `FISCAL_TEST_FULL=1` runs 50,000 investigations.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use uuid::Uuid;

use crate::child::ChildWorker;

use crate::harness::{add_user, full, TestDb};
use crate::scripted;

/// `n` investigations inserted by one citizen in one statement, through RLS and
/// the insert triggers, as a frontend batch would.
async fn citizen_inserts(client: &tokio_postgres::Client, user: Uuid, query: &str, n: i32) {
    let claims = serde_json::json!({"sub": user, "role": "authenticated"}).to_string();
    client
        .batch_execute(&format!(
            "begin; select set_config('role', 'authenticated', true);
             select set_config('request.jwt.claims', '{claims}', true);
             insert into investigations (query, data_source)
             select '{query}', 'contracts' from generate_series(1, {n});
             commit;"
        ))
        .await
        .expect("a citizen's batch");
}

#[tokio::test]
async fn one_citizens_burst_does_not_make_the_others_wait_for_all_of_it() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let (burst, citizens, each) = if full() {
        (10_000, 100, 400)
    } else {
        (600, 20, 5)
    };
    crate::harness::lift_citizen_limits(&client, 1_000_000).await;
    let bursty = add_user(&client).await;
    citizen_inserts(&client, bursty, "instant", burst).await;
    let mut others = Vec::new();
    for _ in 0..citizens {
        let user = add_user(&client).await;
        citizen_inserts(&client, user, "instant", each).await;
        others.push(user);
    }

    // One worker process, watched from outside while it drains the queue: its
    // resident memory and its pool, sampled as the investigations go by.
    let mut settings = db.settings();
    settings.worker.concurrency = 4;
    let port = fiscal::pg_server::free_port().expect("a free port");
    let addr = format!("127.0.0.1:{port}");
    settings.http.listen = addr.clone();
    let mut worker = ChildWorker::spawn(&settings, true);
    let deadline = Instant::now() + Duration::from_secs(if full() { 900 } else { 120 });
    let mut samples: Vec<(i64, u64, f64)> = Vec::new();
    while worker.is_running() {
        assert!(
            Instant::now() < deadline,
            "the queue did not drain:\n{}",
            worker.log_text()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
        let Some(rss) = worker.resident_kib() else {
            continue;
        };
        // The process is up before its HTTP listener is.
        let Some((200, body)) = crate::operator::http_get_once_listening(&addr, "/metrics").await
        else {
            continue;
        };
        let scrape = prometheus_parse::Scrape::parse(body.lines().map(|l| Ok(l.to_string())))
            .expect("metrics");
        let pool = ["in_use", "idle"]
            .iter()
            .filter_map(|state| {
                crate::operator::sample(&scrape, "fiscal_pool_connections", &[("state", state)])
            })
            .sum::<f64>();
        let done: i64 = client
            .query_one(
                "select count(*) from investigations where status = 'completed'",
                &[],
            )
            .await
            .expect("progress")
            .get(0);
        samples.push((done, rss, pool));
    }
    assert_eq!(worker.exit_code(Duration::from_secs(10)).await, Some(0));

    let rows = client
        .query(
            "select user_id, extract(epoch from started_at - created_at)::float8
             from investigations where status = 'completed' order by started_at, id",
            &[],
        )
        .await
        .expect("start order");
    let total = burst + citizens * each;
    assert_eq!(rows.len(), total as usize, "all completed");
    let mut waits: HashMap<Uuid, Vec<f64>> = HashMap::new();
    let mut last_other = 0;
    for (position, row) in rows.iter().enumerate() {
        let user: Uuid = row.get(0);
        if user != bursty {
            last_other = position;
        }
        waits.entry(user).or_default().push(row.get(1));
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let burst_median = median(waits.get_mut(&bursty).expect("the burst ran"));
    let mut other_medians: Vec<f64> = others
        .iter()
        .map(|u| median(waits.get_mut(u).expect("each citizen ran")))
        .collect();
    other_medians.sort_by(f64::total_cmp);
    // After the first tenth (pool filled, caches warm), memory and pool stay flat.
    let warm: Vec<&(i64, u64, f64)> = samples
        .iter()
        .filter(|(done, _, _)| *done >= i64::from(total) / 10)
        .collect();
    if let (Some(first), Some(last)) = (warm.first(), warm.last()) {
        let peak_pool = warm.iter().map(|s| s.2).fold(0.0, f64::max);
        eprintln!(
            "worker RSS {} KiB after {} done, {} KiB after {}; pool {} then {} (peak {peak_pool})",
            first.1, first.0, last.1, last.0, first.2, last.2
        );
        assert!(
            last.1 <= first.1 * 3 / 2 + 16 * 1024,
            "memory grew from {} to {} KiB",
            first.1,
            last.1
        );
        assert!(peak_pool <= 8.0, "the pool outgrew its size: {peak_pool}");
    }
    eprintln!(
        "{total} investigations, {burst} from one citizen first: the other {citizens} \
         citizens' last one started {}th; median wait {:.3} s for the burst, {:.3}..{:.3} s \
         for the others",
        last_other + 1,
        burst_median,
        other_medians[0],
        other_medians[other_medians.len() - 1]
    );
    // First come, first served would start them after the whole burst. Fair
    // shares give every citizen one place per quantum, the bursting one too:
    // while the others' rows last, the burst gets as many places as each of
    // them, no more.
    let others_total = (citizens * each) as usize;
    assert!(
        last_other < others_total + each as usize + 50,
        "the others waited for the burst: their last started at {} of {total}",
        last_other + 1
    );
}

/// Median and 99th percentile of `n` single-row claims (each completed at
/// once), in milliseconds.
async fn claim_latency(db: &TestDb, client: &tokio_postgres::Client, user: Uuid) -> (f64, f64) {
    let n = 200;
    crate::harness::enqueue_many(client, user, "instant", n).await;
    // Fresh statistics, so that what changes between measurements is the
    // table's dead weight, not the plan.
    client
        .batch_execute("analyze public.investigations")
        .await
        .expect("analyze");
    let conn = db.pool().get().await.expect("a connection");
    let mut times = Vec::with_capacity(n as usize);
    for _ in 0..n {
        let started = Instant::now();
        let rows = fiscal::queue::claim(&conn, "probe", 1, Duration::from_secs(60))
            .await
            .expect("a claim");
        times.push(started.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(rows.len(), 1, "the claim found its row");
        let written = fiscal::queue::complete(&conn, rows[0].fence, &scripted::completion(1))
            .await
            .expect("completing");
        assert_eq!(written, fiscal::queue::Fenced::Written);
    }
    times.sort_by(f64::total_cmp);
    (times[times.len() / 2], times[times.len() * 99 / 100])
}

async fn vacuum(client: &tokio_postgres::Client) {
    client
        .batch_execute("vacuum public.investigations")
        .await
        .expect("vacuum");
}

async fn dead_rows(client: &tokio_postgres::Client) -> i64 {
    client
        .query_one(
            "select n_dead_tup from pg_stat_user_tables where relid = 'public.investigations'::regclass",
            &[],
        )
        .await
        .expect("table statistics")
        .get(0)
}

#[tokio::test]
async fn claims_keep_working_while_an_open_transaction_holds_back_cleanup() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let user = add_user(&client).await;
    let churn = if full() { 20_000 } else { 3_000 };
    let before = claim_latency(&db, &client, user).await;

    // A forgotten session: a snapshot held open pins the cleanup horizon, so no
    // version any investigation leaves behind can be removed, nor its index
    // entries marked dead.
    let pin = db.client().await;
    pin.batch_execute(
        "begin isolation level repeatable read; select count(*) from public.investigations;",
    )
    .await
    .expect("pinning the horizon");
    crate::harness::enqueue_many(&client, user, "steps 1 1", churn).await;
    let mut settings = db.settings();
    settings.worker.concurrency = 4;
    let report = crate::harness::drain_within(
        Duration::from_secs(if full() { 900 } else { 120 }),
        settings,
        scripted::pipelines(&db.url, "churn"),
    )
    .await;
    assert_eq!(report.completed, churn as u64, "the churn completed");
    vacuum(&client).await;
    let pinned = claim_latency(&db, &client, user).await;
    let dead_while_pinned = dead_rows(&client).await;

    pin.batch_execute("commit")
        .await
        .expect("releasing the pin");
    vacuum(&client).await;
    let released = claim_latency(&db, &client, user).await;
    let dead_after = dead_rows(&client).await;
    eprintln!(
        "claim p50/p99: {:.3}/{:.3} ms before; {:.3}/{:.3} ms after {churn} investigations \
         behind a pinned horizon ({dead_while_pinned} dead row versions vacuum could not \
         remove; {:.1}x/{:.1}x); {:.3}/{:.3} ms once released and vacuumed ({dead_after} dead)",
        before.0,
        before.1,
        pinned.0,
        pinned.1,
        pinned.0 / before.0,
        pinned.1 / before.1,
        released.0,
        released.1
    );
    assert!(
        dead_while_pinned >= i64::from(churn),
        "the pin held: {dead_while_pinned} dead"
    );
    assert!(
        dead_after < dead_while_pinned / 10,
        "vacuum cleaned up once released"
    );
}
