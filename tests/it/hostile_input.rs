//! What a hostile citizen can store, and what it must not do: crash or stall a
//! worker, delay another citizen, flood the WAL or the logs, slip past the cap.
//! Each reproduction of the security review (issue: "one citizen row crashes
//! every worker that claims it") is inserted as the citizen would, through a
//! PostgREST-style session, or stored around the insert limits as a row written
//! before them would be.

use std::sync::Arc;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};
use serde_json::json;
use tokio_postgres::Client;
use uuid::Uuid;

use crate::harness::citizen_insert;
use crate::harness::{
    add_user, cancel_as_citizen, connect, eventually, fetch, wait_until_all_finished, TestDb,
    WorkProcess,
};
use crate::pipeline_end_to_end::{import_january, insert_as_citizen};

fn nested(depth: usize) -> String {
    format!("{}{}", "[".repeat(depth), "]".repeat(depth))
}

fn nested_object(depth: usize) -> String {
    format!("{}1{}", "{\"a\":".repeat(depth), "}".repeat(depth))
}

fn sqlstate(e: &tokio_postgres::Error) -> String {
    e.code().map(|c| c.code().to_string()).unwrap_or_default()
}

fn db_message(e: &tokio_postgres::Error) -> String {
    e.as_db_error()
        .map(|d| d.message().to_string())
        .unwrap_or_else(|| e.to_string())
}

async fn wal_lsn(client: &Client) -> String {
    client
        .query_one("select pg_current_wal_lsn()::text", &[])
        .await
        .expect("lsn")
        .get(0)
}

async fn wal_since(client: &Client, lsn: &str) -> i64 {
    client
        .query_one(
            "select pg_wal_lsn_diff(pg_current_wal_lsn(), $1::text::pg_lsn)::int8",
            &[&lsn],
        )
        .await
        .expect("wal diff")
        .get(0)
}

/// What, query, filters, anomaly_types, session_id, SQLSTATE, words of the message.
type RefusedInsert<'a> = (
    &'a str,
    &'a str,
    String,
    String,
    Option<&'a str>,
    &'a str,
    &'a str,
);

#[tokio::test]
async fn oversized_and_malformed_citizen_input_is_refused_at_insert_in_portuguese() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let user = add_user(&client).await;
    let ten_mb = "a ".repeat(5 * 1024 * 1024);
    let big_key = format!(
        "{{\"x\\nlevel=ERROR forged{}\": 1}}",
        "k".repeat(1024 * 1024)
    );
    let long_texto = json!({ "texto": "a ".repeat(30_000) }).to_string();
    let huge_texto = json!({ "texto": ten_mb }).to_string();
    let cases: Vec<RefusedInsert> = vec![
        (
            "1e400 in filters",
            "x",
            r#"{"min_value": 1e400}"#.into(),
            "[]".into(),
            None,
            "PT400",
            "número grande demais",
        ),
        (
            "filters 200 levels deep",
            "x",
            nested_object(200),
            "[]".into(),
            None,
            "PT400",
            "níveis demais",
        ),
        (
            "anomaly_types 200 levels deep",
            "x",
            "{}".into(),
            nested(200),
            None,
            "PT400",
            "níveis demais",
        ),
        (
            "30,000-word texto",
            "x",
            long_texto,
            "[]".into(),
            None,
            "PT413",
            "grande demais",
        ),
        (
            "10 MB texto",
            "x",
            huge_texto,
            "[]".into(),
            None,
            "PT413",
            "grande demais",
        ),
        (
            "10 MB query",
            &ten_mb,
            "{}".into(),
            "[]".into(),
            None,
            "PT413",
            "pergunta é longa demais",
        ),
        (
            "1 MB unknown key",
            "x",
            big_key,
            "[]".into(),
            None,
            "PT413",
            "grande demais",
        ),
        (
            "10 MB session_id",
            "x",
            "{}".into(),
            "[]".into(),
            Some(&ten_mb),
            "PT413",
            "session_id",
        ),
        (
            "filters as a string",
            "x",
            r#""year=2024""#.into(),
            "[]".into(),
            None,
            "PT400",
            "objeto JSON",
        ),
        (
            "anomaly_types as an object",
            "x",
            "{}".into(),
            r#"{"price": true}"#.into(),
            None,
            "PT400",
            "lista JSON",
        ),
        (
            "a 600-character text value",
            "x",
            json!({"modalidade": "p".repeat(600)}).to_string(),
            "[]".into(),
            None,
            "PT413",
            "texto longo demais",
        ),
        (
            "100 filter keys",
            "x",
            format!(
                "{{{}}}",
                (0..100)
                    .map(|i| format!("\"k{i}\": {i}"))
                    .collect::<Vec<_>>()
                    .join(",")
            ),
            "[]".into(),
            None,
            "PT413",
            "itens demais",
        ),
    ];
    let mut wrong = Vec::new();
    for (what, query, filters, types, session, code, words) in &cases {
        match citizen_insert(&client, user, query, filters, types, *session).await {
            Ok(id) => wrong.push(format!("{what}: accepted as {id}")),
            Err(e) if sqlstate(&e) == *code && db_message(&e).contains(words) => {
                let message = db_message(&e);
                assert!(message.len() < 300, "{what}: a long message: {message}");
            }
            Err(e) => wrong.push(format!("{what}: {} {}", sqlstate(&e), db_message(&e))),
        }
    }
    assert!(
        wrong.is_empty(),
        "not refused as expected:\n{}",
        wrong.join("\n")
    );

    // At the limits, the same fields are accepted.
    let at_limit = "q".repeat(fiscal::input::MAX_QUERY_CHARS);
    citizen_insert(
        &client,
        user,
        &at_limit,
        r#"{"texto": "ambulancia uti", "year": 2024}"#,
        r#"["price"]"#,
        Some("s"),
    )
    .await
    .expect("a question of 2000 characters is accepted");
    let over = "q".repeat(fiscal::input::MAX_QUERY_CHARS + 1);
    assert!(citizen_insert(&client, user, &over, "{}", "[]", None)
        .await
        .is_err());

    // A refused insert writes nothing: the WAL grows by far less than the
    // 10 MB it was sent (other tests share the cluster, so the least of three).
    let mut least = i64::MAX;
    for _ in 0..3 {
        let lsn = wal_lsn(&client).await;
        let refused = citizen_insert(&client, user, &ten_mb, "{}", "[]", None).await;
        assert!(refused.is_err());
        least = least.min(wal_since(&client, &lsn).await);
    }
    println!("WAL written by a refused 10 MB insert: {least} bytes");
    assert!(
        least < 1024 * 1024,
        "{least} bytes of WAL for a refused insert"
    );
}

/// Rows stored before the insert limits existed (here: written around them by
/// the owner) are what the worker itself must survive.
async fn store_around_the_limits(client: &Client, user: Uuid, column: &str, value: &str) -> Uuid {
    let id: Uuid = client
        .query_one(
            "insert into investigations (user_id, query, data_source) values ($1, 'x', 'contracts') returning id",
            &[&user],
        )
        .await
        .expect("insert")
        .get(0);
    let cast = if column == "query" {
        "$1"
    } else {
        "$1::text::jsonb"
    };
    client
        .execute(
            &format!("update investigations set {column} = {cast} where id = $2"),
            &[&value, &id],
        )
        .await
        .expect("storing the hostile value");
    id
}

#[tokio::test]
async fn hostile_rows_fail_alone_while_the_worker_and_another_citizens_investigation_go_on() {
    let db = TestDb::new().await;
    let mut client = db.client().await;
    import_january(&mut client).await;
    let attacker = add_user(&client).await;
    let deep = nested(200);
    let deep_object = nested_object(200);
    let ten_mb_query = "a ".repeat(5 * 1024 * 1024);
    let big_key = format!(
        "{{\"x\\nlevel=ERROR forged{}\": 1}}",
        "k".repeat(1024 * 1024)
    );
    let forged_key = r#"{"x\nlevel=ERROR forged line": 1}"#;
    let long_texto = json!({ "texto": "a ".repeat(30_000) }).to_string();
    let cases: Vec<(&str, &str, &str, &str)> = vec![
        (
            "1e400",
            "filters",
            r#"{"min_value": 1e400}"#,
            "número grande demais",
        ),
        ("deep filters", "filters", &deep_object, "níveis demais"),
        (
            "deep anomaly_types",
            "anomaly_types",
            &deep,
            "níveis demais",
        ),
        (
            "10 MB query",
            "query",
            &ten_mb_query,
            "pergunta é longa demais",
        ),
        ("1 MB key", "filters", &big_key, "grande demais"),
        ("forged log line", "filters", forged_key, "não existe"),
        ("30,000 words", "filters", &long_texto, "grande demais"),
        (
            "eleven words",
            "filters",
            r#"{"texto": "a b c d e f g h i j k"}"#,
            "11 palavras",
        ),
        (
            "1e308",
            "filters",
            r#"{"min_value": 1e308}"#,
            "R$ 10.000.000.000.000,00",
        ),
        ("filters as text", "filters", r#""year""#, "objeto JSON"),
        ("types as object", "anomaly_types", r#"{"a": 1}"#, "lista"),
        (
            "types of numbers",
            "anomaly_types",
            "[1e400]",
            "número grande demais",
        ),
    ];
    let mut hostile = Vec::new();
    for (what, column, value, words) in &cases {
        hostile.push((
            *what,
            *words,
            store_around_the_limits(&client, attacker, column, value).await,
        ));
    }

    let mut worker = WorkProcess::start(&db, 2);
    let pid = worker.child.id();

    // Another citizen asks a normal question while the hostile rows are claimed.
    let citizen = add_user(&client).await;
    let normal = insert_as_citizen(
        &client,
        citizen,
        "contratos de janeiro",
        json!({}),
        json!([]),
    )
    .await;

    wait_until_all_finished(&client, Duration::from_secs(120)).await;
    let still_running = worker.child.try_wait().expect("worker status");
    let text = worker.log_text();
    assert!(
        still_running.is_none(),
        "the worker exited: {still_running:?}\n{text}"
    );
    assert_eq!(
        worker.child.id(),
        pid,
        "the same worker process ran every row"
    );
    drop(worker);
    assert!(!text.contains("panicked"), "{text}");

    let row = fetch(&client, normal).await;
    assert_eq!(row.status, "completed", "{row:?}");
    let mut wrong = Vec::new();
    for (what, words, id) in hostile {
        let row = fetch(&client, id).await;
        let message = row.error_message.clone().unwrap_or_default();
        let metadata = row.metadata.to_string();
        if row.status != "failed" || !message.contains(words) {
            wrong.push(format!("{what}: {} {message:?}", row.status));
        }
        if message.len() > 600 || message.contains('\n') || metadata.len() > 1200 {
            wrong.push(format!("{what}: echoed too much: {message:?} {metadata}"));
        }
        if row.attempts != 1 {
            wrong.push(format!("{what}: {} attempts", row.attempts));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    // Citizen text reaches the log short and on one line.
    println!("worker log: {} bytes", text.len());
    assert!(text.len() < 256 * 1024, "{} bytes of log", text.len());
    assert!(
        !text
            .lines()
            .any(|l| l.trim_start().starts_with("level=ERROR")),
        "a forged log line:\n{text}"
    );
}

#[tokio::test]
async fn the_active_cap_holds_under_repeatable_read() {
    let db = TestDb::new().await;
    let client = db.client().await;
    // Racing inserts collide on the citizen's insert-budget row, whatever the
    // brake allows.
    for brake in ["20", "1000"] {
        crate::harness::set_setting(&client, "max_inserts_per_minute", brake).await;
        race_twenty_inserts(&db, &client).await;
    }
}

async fn race_twenty_inserts(db: &TestDb, client: &Client) {
    let user = add_user(client).await;
    let barrier = Arc::new(tokio::sync::Barrier::new(20));
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let (url, barrier) = (db.url.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            let c = connect(&url).await;
            let claims = json!({"sub": user, "role": "authenticated"}).to_string();
            // The snapshot is taken by the first statement, before any insert.
            c.batch_execute(&format!(
                "begin isolation level repeatable read;
                 select set_config('role', 'authenticated', true);
                 select set_config('request.jwt.claims', '{claims}', true);
                 select count(*) from investigations;"
            ))
            .await
            .expect("session");
            barrier.wait().await;
            let inserted = c
                .execute(
                    "insert into investigations (query, data_source) values ('q', 'contracts')",
                    &[],
                )
                .await;
            let commit = c.batch_execute("commit").await;
            match (inserted, commit) {
                (Ok(_), Ok(())) => Ok(()),
                (Err(e), _) | (_, Err(e)) => Err(sqlstate(&e)),
            }
        }));
    }
    let mut refused = Vec::new();
    for t in tasks {
        if let Err(code) = t.await.expect("task") {
            refused.push(code);
        }
    }
    let active: i64 = client
        .query_one(
            "select count(*) from investigations where user_id = $1 and status in ('pending', 'processing')",
            &[&user],
        )
        .await
        .expect("count")
        .get(0);
    println!("active after 20 racing repeatable-read inserts: {active}; refusals {refused:?}");
    assert!(active <= 5, "{active} active rows, cap 5");
    assert!(active >= 1);
    assert!(
        refused
            .iter()
            .all(|c| ["PT429", "23505", "40001"].contains(&c.as_str())),
        "{refused:?}"
    );
}

#[tokio::test]
async fn insert_and_cancel_loops_are_braked_per_citizen() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let (looper, bystander) = (add_user(&client).await, add_user(&client).await);
    let mut accepted = 0;
    let mut refusal = None;
    for _ in 0..40 {
        match citizen_insert(&client, looper, "q", "{}", "[]", None).await {
            Ok(id) => {
                accepted += 1;
                cancel_as_citizen(&client, id).await;
            }
            Err(e) => {
                refusal = Some((sqlstate(&e), db_message(&e)));
                break;
            }
        }
    }
    let (code, message) = refusal.expect("the loop was braked");
    assert_eq!(code, "PT429");
    assert!(message.contains("rápido demais"), "{message}");
    assert!(
        (20..=22).contains(&accepted),
        "{accepted} inserts before the brake"
    );
    // The brake is the looper's own.
    citizen_insert(&client, bystander, "q", "{}", "[]", None)
        .await
        .expect("another citizen still inserts");
}

#[tokio::test]
async fn a_cancelled_investigation_stops_its_database_statement_and_shows_no_host() {
    let db = TestDb::new().await;
    let mut client = db.client().await;
    import_january(&mut client).await;
    let user = add_user(&client).await;
    // Retrieval waits on this lock, as it would on a slow scan: the statement
    // is running on the server and has sent no row.
    let locker = db.client().await;
    locker
        .batch_execute("begin; lock table transparency.contracts in access exclusive mode")
        .await
        .expect("locking contracts");
    let id = insert_as_citizen(
        &client,
        user,
        "tudo",
        json!({"texto": "servico"}),
        json!([]),
    )
    .await;
    let settings = db.settings();
    let pipelines = fiscal::pipeline::Pipelines::builtin(&settings).expect("pipelines");
    let worker = crate::harness::RunningWorker::start(settings, pipelines);
    let waiting_statements = |expected: i64, what: &'static str, limit: u64| {
        let client = &client;
        eventually(Duration::from_secs(limit), what, move || async move {
            let n: i64 = client
                .query_one(
                    "select count(*) from pg_stat_activity
                     where datname = current_database() and state = 'active'
                       and wait_event_type = 'Lock' and query like '%transparency.contracts%'",
                    &[],
                )
                .await
                .expect("activity")
                .get(0);
            (n == expected).then_some(())
        })
    };
    waiting_statements(1, "retrieval waits on the lock", 30).await;

    // What the citizen sees of the worker while it runs: no host name, no pid.
    let locked_by = fetch(&client, id).await.locked_by.unwrap_or_default();
    let host = gethostname::gethostname().to_string_lossy().into_owned();
    assert!(!locked_by.is_empty());
    assert!(!locked_by.contains(&host), "{locked_by} names the host");
    assert!(
        !locked_by.contains(&std::process::id().to_string()),
        "{locked_by}"
    );

    cancel_as_citizen(&client, id).await;
    let cancelled = Instant::now();
    waiting_statements(0, "the statement is cancelled", 10).await;
    println!(
        "database work stopped {} ms after the cancel, with the lock still held",
        cancelled.elapsed().as_millis()
    );
    locker.batch_execute("rollback").await.expect("unlock");
    assert_eq!(fetch(&client, id).await.status, "cancelled");
    worker.stop().await;
}

#[tokio::test]
async fn functions_added_later_are_closed_and_the_worker_cannot_touch_bulk_contracts() {
    let db = TestDb::new().await;
    let client = db.client().await;
    client
        .batch_execute(
            "create function fiscal.added_later() returns int language sql as 'select 1';
             insert into transparency.contracts
                 (contract_id, source_month, source_file, source_line, numero, objeto, objeto_busca)
             values ('bulk-1', '2021-01-01', 'compras.zip', 1, '1/2021', 'Obra', 'obra');",
        )
        .await
        .expect("setup");
    for role in ["anon", "authenticated", "fiscal_worker"] {
        let err = client
            .batch_execute(&format!(
                "begin; set local role {role}; select fiscal.added_later(); commit;"
            ))
            .await
            .expect_err(&format!("{role} may not execute a function added later"));
        client.batch_execute("rollback").await.expect("rollback");
        assert_eq!(sqlstate(&err), "42501", "{role}: {err}");
    }
    client
        .batch_execute("begin; set local role fiscal_worker")
        .await
        .expect("as worker");
    let updated = client
        .execute("update transparency.contracts set objeto = 'forjado'", &[])
        .await
        .expect("update runs");
    assert_eq!(updated, 0, "the worker changed a bulk-imported contract");
    let err = client
        .execute(
            "insert into transparency.contracts
                 (contract_id, source_month, source_file, source_line, numero, objeto, objeto_busca)
             values ('bulk-2', '2021-01-01', 'compras.zip', 1, '2/2021', 'x', 'x')",
            &[],
        )
        .await
        .expect_err("a bulk row from the worker");
    assert_eq!(sqlstate(&err), "42501", "{err}");
    client.batch_execute("rollback").await.expect("rollback");
}

/// JSON text of any shape, including what serde_json refuses (numbers past
/// f64) and strings with control characters.
fn json_text() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("null".to_string()),
        any::<bool>().prop_map(|b| b.to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| f.to_string()),
        Just("1e400".to_string()),
        Just("-1e400".to_string()),
        Just("123456789012345678901234567890".to_string()),
        any::<String>().prop_map(|s| json!(s).to_string()),
        Just(json!("2024-02-31").to_string()),
    ];
    leaf.prop_recursive(6, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(|v| format!("[{}]", v.join(","))),
            prop::collection::vec(
                (
                    prop_oneof![
                        Just("year".to_string()),
                        Just("min_value".to_string()),
                        Just("texto".to_string()),
                        Just("codigo_orgao".to_string()),
                        Just("data_inicial".to_string()),
                        any::<String>()
                    ],
                    inner
                ),
                0..6
            )
            .prop_map(|kv| format!(
                "{{{}}}",
                kv.iter()
                    .map(|(k, v)| format!("{}:{v}", json!(k)))
                    .collect::<Vec<_>>()
                    .join(",")
            )),
        ]
    })
}

#[tokio::test]
async fn random_json_in_filters_and_anomaly_types_never_breaks_the_claim() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let user = add_user(&client).await;
    let mut runner = TestRunner::new(Config::default());
    let strategy = (json_text(), json_text());
    let mut stored = 0;
    for _ in 0..150 {
        let (filters, types) = strategy.new_tree(&mut runner).expect("a value").current();
        let id = store_around_the_limits(&client, user, "filters", &filters).await;
        client
            .execute(
                "update investigations set anomaly_types = $1::text::jsonb where id = $2",
                &[&types, &id],
            )
            .await
            .expect("anomaly_types");
        stored += 1;
    }
    // NULL columns (a frontend sending `filters: null`) read as their defaults.
    let nulls = store_around_the_limits(&client, user, "filters", "{}").await;
    client
        .execute(
            "update investigations set filters = null, anomaly_types = null where id = $1",
            &[&nulls],
        )
        .await
        .expect("NULL columns");
    stored += 1;
    let pool = db.pool();
    let conn = pool.get().await.expect("a worker connection");
    let mut seen = 0;
    loop {
        let claimed = fiscal::queue::claim(&conn, "proptest", 25, Duration::from_secs(60))
            .await
            .expect("the claim never fails on citizen input");
        if claimed.is_empty() {
            break;
        }
        for row in claimed {
            seen += 1;
            if row.fence.id == nulls {
                let input = row.input.as_ref().expect("NULL columns are readable");
                assert_eq!(
                    (&input.filters, &input.anomaly_types),
                    (&json!({}), &json!([]))
                );
            }
            match row.input {
                Ok(input) => {
                    // What the pipeline does next must not panic either.
                    let _ = fiscal::sources::filters::ContractFilters::parse(&input.filters);
                    let _ = fiscal::analysis::investigation::families(&input.anomaly_types);
                }
                Err(unreadable) => {
                    assert!(!unreadable.message.is_empty());
                    assert!(!unreadable.message.contains('\n'));
                    assert!(unreadable.message.len() < 600, "{}", unreadable.message);
                }
            }
        }
    }
    assert_eq!(seen, stored, "every stored row was claimed");
}
