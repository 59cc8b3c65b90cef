//! What a newcomer and an operator run: `fiscal dev`, `fiscal watch`, and the
//! HTTP endpoints of a running worker.

use std::path::PathBuf;
use std::process::Output;
use std::time::Duration;

use tokio::process::Command;
use uuid::Uuid;

use crate::harness::{
    add_user, enqueue, fiscal_command as fiscal, printed as text, RunningWorker, TestDb,
};

async fn run_to_end(command: &mut Command, what: &str) -> Output {
    tokio::time::timeout(Duration::from_secs(180), command.output())
        .await
        .unwrap_or_else(|_| panic!("{what} did not finish within 3 minutes"))
        .unwrap_or_else(|e| panic!("running {what}: {e}"))
}

/// Stops the private cluster of `fiscal dev` even when the test fails half-way.
struct DevDir(PathBuf);

impl Drop for DevDir {
    fn drop(&mut self) {
        let _ = std::process::Command::new(env!("CARGO_BIN_EXE_fiscal"))
            .args(["dev", "--stop", "--dir"])
            .arg(&self.0)
            .output();
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn printed_url(out: &str) -> String {
    out.split_whitespace()
        .find(|w| w.starts_with("postgres://"))
        .unwrap_or_else(|| panic!("no connection URL printed:\n{out}"))
        .to_string()
}

#[tokio::test]
async fn dev_once_runs_the_demo_on_a_private_cluster_and_reuses_it() {
    let dir = DevDir(std::env::temp_dir().join(format!("fiscal-dev-test-{}", Uuid::new_v4())));
    let first = run_to_end(
        fiscal().args(["dev", "--once", "--dir"]).arg(&dir.0),
        "fiscal dev --once",
    )
    .await;
    let out = text(&first);
    assert!(first.status.success(), "{out}");
    let url = printed_url(&out);
    assert!(out.contains("PostgreSQL started"), "{out}");
    assert!(
        out.contains("contracts_loaded") || out.contains("3184 rows read"),
        "{out}"
    );
    assert_eq!(out.matches("completed in").count(), 5, "{out}");
    assert!(out.contains("Analisamos 3.082 contratos"), "{out}");
    assert!(
        out.contains("21623 loaded") && out.contains("alocações do orçamento"),
        "the 2022 budget is loaded and investigated: {out}"
    );

    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .expect("the demo database stays up after --once");
    tokio::spawn(connection);
    let rows = client
        .query(
            "select status, anomalies_found, jsonb_array_length(results), summary
             from investigations order by created_at",
            &[],
        )
        .await
        .expect("the demo investigations");
    assert_eq!(rows.len(), 5);
    for row in &rows {
        assert_eq!(row.get::<_, String>(0), "completed");
        assert!(row.get::<_, i32>(1) > 0);
        assert!(row.get::<_, i32>(2) > 0);
        let summary: String = row.get(3);
        // A question read from its words says so first; the budget says what
        // was read and which families cannot apply to it.
        assert!(
            summary.starts_with("Analisamos") || summary.contains(". Analisamos"),
            "{summary}"
        );
    }
    let understood = rows
        .iter()
        .filter(|r| r.get::<_, String>(3).starts_with("Entendi: contratos"))
        .count();
    assert_eq!(
        understood, 2,
        "two demo questions are read from their words"
    );

    let second = run_to_end(
        fiscal().args(["dev", "--once", "--dir"]).arg(&dir.0),
        "a second fiscal dev --once",
    )
    .await;
    let again = text(&second);
    assert!(second.status.success(), "{again}");
    assert_eq!(
        printed_url(&again),
        url,
        "the same cluster, on the same port"
    );
    assert!(again.contains("already running"), "{again}");
    assert!(
        again.contains("sample data already loaded (3082 rows in transparency.contracts)"),
        "{again}"
    );
    let count: i64 = client
        .query_one(
            "select count(*) from investigations where status = 'completed'",
            &[],
        )
        .await
        .expect("counting")
        .get(0);
    assert_eq!(count, 10);
    drop(client);

    let stop = run_to_end(
        fiscal().args(["dev", "--stop", "--dir"]).arg(&dir.0),
        "fiscal dev --stop",
    )
    .await;
    assert!(stop.status.success(), "{}", text(&stop));
    assert!(
        tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .is_err(),
        "the cluster is down after --stop"
    );
}

#[tokio::test]
async fn watch_follows_an_investigation_through_its_phases_to_the_summary() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let user = add_user(&client).await;
    let id = enqueue(&client, user, "steps 6 150").await;

    let watcher = fiscal()
        .args(["watch", &id.to_string()])
        .env("FISCAL_DATABASE__URL", &db.url)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("starting fiscal watch");
    // The watcher is subscribed before anything happens to the row.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let worker = RunningWorker::start(db.settings(), crate::scripted::pipelines(&db.url, "w"));
    let out = tokio::time::timeout(Duration::from_secs(60), watcher.wait_with_output())
        .await
        .expect("watch ends when the investigation does")
        .expect("fiscal watch output");
    worker.stop().await;

    let shown = text(&out);
    assert!(out.status.success(), "{shown}");
    for expected in ["pending", "data_retrieval", "completed", &id.to_string()] {
        assert!(
            shown.contains(expected),
            "{expected} missing from:\n{shown}"
        );
    }
    assert!(
        shown.contains("== steps 6 150"),
        "the final summary:\n{shown}"
    );
}

#[tokio::test]
async fn watch_exits_with_an_error_and_the_citizens_message_when_the_investigation_fails() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let user = add_user(&client).await;
    let id = enqueue(&client, user, "fail permanent").await;
    let worker = RunningWorker::start(db.settings(), crate::scripted::pipelines(&db.url, "w"));

    let out = run_to_end(
        fiscal()
            .args(["watch", &id.to_string()])
            .env("FISCAL_DATABASE__URL", &db.url),
        "fiscal watch",
    )
    .await;
    worker.stop().await;
    let shown = text(&out);
    assert!(!out.status.success(), "{shown}");
    assert!(
        shown.contains(&format!("investigation {id} ended failed")),
        "{shown}"
    );
    let row = crate::harness::fetch(&client, id).await;
    let message = row.error_message.expect("a failure message");
    assert!(shown.contains(&message), "{shown}");
}

/// A plain HTTP/1.0 GET: status code and body.
pub(crate) async fn http_get(addr: &str, path: &str) -> (u16, String) {
    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .unwrap_or_else(|e| panic!("connecting to {addr}: {e}"));
    get_on(stream, addr, path).await
}

/// [`http_get`] of a server that may not listen yet (a process starting up):
/// `None` while it refuses the connection.
pub(crate) async fn http_get_once_listening(addr: &str, path: &str) -> Option<(u16, String)> {
    let stream = tokio::net::TcpStream::connect(addr).await.ok()?;
    Some(get_on(stream, addr, path).await)
}

async fn get_on(mut stream: tokio::net::TcpStream, addr: &str, path: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    stream
        .write_all(format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").as_bytes())
        .await
        .expect("sending the request");
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .await
        .expect("reading the response");
    let code = response
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {response}"));
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (code, body)
}

/// The value of one sample, matched by name and labels.
pub(crate) fn sample(
    scrape: &prometheus_parse::Scrape,
    name: &str,
    labels: &[(&str, &str)],
) -> Option<f64> {
    scrape
        .samples
        .iter()
        .find(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .map(|s| match s.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => v,
            prometheus_parse::Value::Histogram(ref buckets) => {
                buckets.last().map_or(0.0, |b| b.count)
            }
            prometheus_parse::Value::Summary(_) => f64::NAN,
        })
}

pub(crate) async fn scrape(addr: &str) -> prometheus_parse::Scrape {
    let (code, body) = http_get(addr, "/metrics").await;
    assert_eq!(code, 200, "{body}");
    prometheus_parse::Scrape::parse(body.lines().map(|l| Ok(l.to_string())))
        .expect("the metrics parse as Prometheus text")
}

#[tokio::test]
async fn metrics_health_and_readiness_are_served_while_investigations_run() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let user = add_user(&client).await;
    let addr = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
        probe.local_addr().expect("its address").to_string()
    };
    let mut settings = db.settings();
    settings.http.listen = addr.clone();
    let worker = RunningWorker::start(settings, crate::scripted::pipelines(&db.url, "w"));

    let mut finished = Vec::new();
    for _ in 0..3 {
        finished.push(enqueue(&client, user, "steps 3 20").await);
    }
    finished.push(enqueue(&client, user, "fail permanent").await);
    let long = enqueue(&client, user, "steps 400 100").await;
    crate::harness::wait_for(
        &client,
        long,
        Duration::from_secs(60),
        "the long job runs",
        |r| r.status == "processing",
    )
    .await;
    for id in &finished {
        crate::harness::wait_for(
            &client,
            *id,
            Duration::from_secs(60),
            "short jobs end",
            |r| r.status == "completed" || r.status == "failed",
        )
        .await;
    }

    assert_eq!(http_get(&addr, "/healthz").await.0, 200);
    let (code, body) = http_get(&addr, "/readyz").await;
    assert_eq!(code, 200, "{body}");

    let finished_total = |s: &prometheus_parse::Scrape, outcome: &str| {
        sample(
            s,
            "fiscal_investigations_finished_total",
            &[("outcome", outcome)],
        )
    };
    // A job's row reads finished a moment before its worker counts it.
    let during = crate::harness::eventually(
        Duration::from_secs(30),
        "the finished jobs to be counted",
        || async {
            let s = scrape(&addr).await;
            (finished_total(&s, "completed") == Some(3.0)
                && finished_total(&s, "failed") == Some(1.0))
            .then_some(s)
        },
    )
    .await;
    assert_eq!(
        sample(&during, "fiscal_investigations_claimed_total", &[]),
        Some(5.0)
    );
    assert_eq!(finished_total(&during, "completed"), Some(3.0));
    assert_eq!(finished_total(&during, "failed"), Some(1.0));
    assert_eq!(sample(&during, "fiscal_jobs_running", &[]), Some(1.0));
    assert_eq!(
        sample(
            &during,
            "fiscal_queue_investigations",
            &[("state", "processing")]
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &during,
            "fiscal_queue_investigations",
            &[("state", "pending")]
        ),
        Some(0.0)
    );
    assert_eq!(sample(&during, "fiscal_database_up", &[]), Some(1.0));
    assert_eq!(
        sample(&during, "fiscal_pool_connections", &[("state", "max")]),
        Some(8.0)
    );
    assert!(
        sample(&during, "fiscal_attempt_duration_seconds_count", &[]).unwrap_or(0.0) >= 4.0,
        "attempt durations observed"
    );
    assert!(
        sample(
            &during,
            "fiscal_phase_duration_seconds_count",
            &[("phase", "data_retrieval")]
        )
        .unwrap_or(0.0)
            >= 3.0,
        "phase durations observed"
    );

    // The citizen cancels the long one; the worker counts it as cancelled.
    client
        .execute(
            "update investigations set status = 'cancelled' where id = $1",
            &[&long],
        )
        .await
        .expect("cancelling");
    crate::harness::eventually(
        Duration::from_secs(30),
        "the cancellation is counted",
        || async {
            let after = scrape(&addr).await;
            (finished_total(&after, "cancelled") == Some(1.0)
                && sample(&after, "fiscal_jobs_running", &[]) == Some(0.0))
            .then_some(())
        },
    )
    .await;
    worker.stop().await;
}

/// The plan of `statement`, as JSON text, with its parameters bound.
async fn plan(
    client: &tokio_postgres::Client,
    statement: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> String {
    let rows = client
        .query(&format!("explain (format json) {statement}"), params)
        .await
        .expect("explaining");
    rows.iter()
        .map(|r| r.get::<_, serde_json::Value>(0).to_string())
        .collect()
}

/// The original schema's plain index on `status` made the planner sort every
/// pending row for each claim; the claim must walk its partial index in order.
#[tokio::test]
async fn claim_and_sweep_read_only_their_partial_indexes_among_many_finished_rows() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let user = add_user(&client).await;
    client
        .batch_execute(&format!(
            "insert into investigations (user_id, query, data_source, status, progress,
                 completed_at, created_at)
             select '{user}', 'done ' || g, 'contracts', 'completed', 1, now(),
                    now() - g * interval '1 second'
             from generate_series(1, 50000) g;
             insert into investigations (user_id, query, data_source)
             select '{user}', 'waiting ' || g, 'contracts' from generate_series(1, 20) g;
             insert into investigations (user_id, query, data_source, status, attempts,
                 lease_expires_at)
             select '{user}', 'stuck ' || g, 'contracts', 'processing', 1,
                    now() - interval '1 minute'
             from generate_series(1, 5) g;
             analyze investigations;"
        ))
        .await
        .expect("a table of mostly finished investigations");

    let claim = plan(
        &client,
        fiscal::queue::CLAIM,
        &[&"w", &4i64, &60_000f64, &2000i32, &4096i32, &1024i32, &true],
    )
    .await;
    assert!(claim.contains("idx_investigations_queue"), "{claim}");
    assert!(claim.contains("idx_investigations_suspects"), "{claim}");
    for absent in ["Seq Scan", "\"Sort\""] {
        assert!(
            !claim.contains(absent),
            "{absent} in the claim's plan: {claim}"
        );
    }
    let sweep = plan(
        &client,
        fiscal::queue::SWEEP_EXPIRED,
        &[&100i64, &5f64, &600f64, &0.2f64],
    )
    .await;
    assert!(sweep.contains("idx_investigations_processing"), "{sweep}");
    assert!(!sweep.contains("Seq Scan"), "{sweep}");
}

#[tokio::test]
async fn json_logs_carry_the_investigation_id_attempt_and_phase() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let user = add_user(&client).await;
    let id = enqueue(&client, user, "steps 4 50").await;
    let mut settings = db.settings();
    settings.log.format = fiscal::config::LogFormat::Json;
    let mut worker = crate::child::ChildWorker::spawn(&settings, true);
    assert_eq!(worker.exit_code(Duration::from_secs(60)).await, Some(0));

    let log = worker.log_text();
    let lines: Vec<serde_json::Value> = log
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let over = lines
        .iter()
        .find(|l| l["message"] == "attempt over")
        .unwrap_or_else(|| panic!("no 'attempt over' line in:\n{log}"));
    let span = &over["span"];
    assert_eq!(span["name"], "investigation", "{over}");
    assert_eq!(span["id"], id.to_string(), "{over}");
    assert_eq!(span["attempt"], 1, "{over}");
    assert_eq!(span["phase"], "data_retrieval", "{over}");
}

#[tokio::test]
async fn ctrl_c_stops_the_dev_worker_and_its_database_cleanly() {
    use tokio::io::{AsyncBufReadExt, BufReader};
    let dir = DevDir(std::env::temp_dir().join(format!("fiscal-dev-test-{}", Uuid::new_v4())));
    let mut dev = fiscal()
        .args(["dev", "--dir"])
        .arg(&dir.0)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("starting fiscal dev");
    let mut lines = BufReader::new(dev.stdout.take().expect("stdout")).lines();
    let mut shown = String::new();
    tokio::time::timeout(Duration::from_secs(180), async {
        while let Some(line) = lines.next_line().await.expect("reading the output") {
            shown.push_str(&line);
            shown.push('\n');
            if line.contains("Ctrl-C stops the worker and the database") {
                return;
            }
        }
        panic!("fiscal dev ended before the demo finished:\n{shown}");
    })
    .await
    .unwrap_or_else(|_| panic!("the demo did not finish in time:\n{shown}"));
    let url = printed_url(&shown);

    let pid = dev.id().expect("fiscal dev is running") as i32;
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGINT,
    )
    .expect("sending SIGINT");
    let status = tokio::time::timeout(Duration::from_secs(60), dev.wait())
        .await
        .expect("fiscal dev exits after Ctrl-C")
        .expect("its exit status");
    while let Ok(Some(line)) = lines.next_line().await {
        shown.push_str(&line);
        shown.push('\n');
    }
    assert!(status.success(), "{shown}");
    assert!(
        shown.contains("stopped the worker and the database"),
        "{shown}"
    );
    assert!(
        tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .is_err(),
        "the database is down after Ctrl-C"
    );
}
