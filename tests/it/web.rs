//! The web page (`http.ui`): what a citizen and an operator see, and what
//! neither may see. The last test drives Debian's Chromium through the page
//! (tests/browser, installed by .ci/prerequisites) and leaves its screenshots
//! in target/screenshots.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::json;
use uuid::Uuid;

use crate::harness::{
    add_user, ask, connect, eventually, lift_citizen_limits, repo_path, PgBouncer, RunningWorker,
    TestDb, WORKER_PASSWORD,
};

const TOKEN: &str = "op-token-5fJq2-never-in-a-page";

/// A worker serving the page as `citizen`, on a port of its own.
async fn serve(db: &TestDb, citizen: Option<Uuid>, token: &str) -> (RunningWorker, String) {
    serve_with(db.settings(), citizen, token).await
}

async fn serve_with(
    mut settings: fiscal::config::Settings,
    citizen: Option<Uuid>,
    token: &str,
) -> (RunningWorker, String) {
    settings.http.ui = true;
    settings.http.ui_token = token.to_string();
    settings.http.ui_citizen = citizen.map(|c| c.to_string()).unwrap_or_default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a free port");
    let base = format!("http://{}", listener.local_addr().expect("its address"));
    let pipelines = fiscal::pipeline::Pipelines::builtin(&settings).expect("pipelines");
    let worker =
        RunningWorker::spawn(fiscal::worker::Worker::new(settings, pipelines).listener(listener));
    let http = reqwest::Client::new();
    eventually(Duration::from_secs(30), "the page to answer", || async {
        let r = match http.get(format!("{base}/healthz")).send().await {
            Ok(r) => r,
            Err(e) => {
                eprintln!("{e:?}");
                return None;
            }
        };
        r.status().is_success().then_some(())
    })
    .await;
    (worker, base)
}

async fn import_sample_contracts(db: &TestDb) {
    let mut client = connect(&db.url).await;
    let file = repo_path("data/sample/portal_transparencia_compras_202101_original.zip");
    let reports = fiscal::sources::import::import_paths(&mut client, &[&file]).await;
    fiscal::sources::import::check(&reports).expect("the sample imports");
}

/// The one value `sql` selects.
async fn value<T: for<'a> tokio_postgres::types::FromSql<'a>>(db: &TestDb, sql: &str) -> T {
    db.client()
        .await
        .query_one(sql, &[])
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .get(0)
}

async fn get(url: &str) -> (u16, String) {
    let r = reqwest::get(url).await.expect("a response");
    (r.status().as_u16(), r.text().await.expect("a body"))
}

#[tokio::test]
async fn the_page_shows_a_citizen_only_their_own_investigations() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let (me, other) = (add_user(&client).await, add_user(&client).await);
    let mine = ask(
        &client,
        me,
        "contracts",
        "Meus contratos",
        json!({}),
        json!([]),
    )
    .await;
    let theirs = ask(
        &client,
        other,
        "contracts",
        "Contratos do vizinho",
        json!({}),
        json!([]),
    )
    .await;
    let (worker, base) = serve(&db, Some(me), TOKEN).await;

    let (status, home) = get(&format!("{base}/")).await;
    assert_eq!(status, 200);
    assert!(home.contains("Meus contratos"), "{home}");
    assert!(home.contains(&mine.to_string()));
    assert!(!home.contains("Contratos do vizinho"), "{home}");
    assert!(!home.contains(&theirs.to_string()));

    let (status, page) = get(&format!("{base}/investigacoes/{mine}")).await;
    assert_eq!(status, 200, "{page}");
    let zipped = reqwest::Client::new()
        .get(format!("{base}/investigacoes/{mine}"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .expect("a response");
    assert_eq!(
        zipped
            .headers()
            .get("content-encoding")
            .and_then(|v| v.to_str().ok()),
        Some("gzip"),
        "pages are compressed for browsers that ask"
    );
    assert!(page.contains("Meus contratos"));
    for path in [
        format!("/investigacoes/{theirs}"),
        format!("/investigacoes/{theirs}/eventos"),
        "/investigacoes/not-a-uuid".to_string(),
    ] {
        let (status, body) = get(&format!("{base}{path}")).await;
        assert_eq!(status, 404, "{path}");
        assert!(!body.contains("vizinho"), "{path}: {body}");
    }
    worker.stop().await;
}

/// "Todos os contratos", asked by `citizen`.
async fn ask_everything(client: &tokio_postgres::Client, citizen: Uuid) -> Uuid {
    let everything = json!({});
    ask(
        client,
        citizen,
        "contracts",
        "Todos os contratos",
        everything,
        json!([]),
    )
    .await
}

/// A citizen's question, asked while claims are paused: it waits, pending.
async fn held_in_the_queue(db: &TestDb) -> (Uuid, Uuid) {
    let client = db.client().await;
    let me = add_user(&client).await;
    fiscal::operator::set_paused(&db.settings(), true)
        .await
        .expect("pausing claims");
    (me, ask_everything(&client, me).await)
}

/// The investigation's live stream, open.
async fn live_stream(base: &str, id: Uuid) -> reqwest::Response {
    let stream = reqwest::get(format!("{base}/investigacoes/{id}/eventos"))
        .await
        .expect("the live stream");
    assert_eq!(stream.status().as_u16(), 200);
    assert_eq!(
        stream.headers()["content-type"].to_str().ok(),
        Some("text/event-stream")
    );
    stream
}

/// The `estado` events of the investigation's live stream, to its end.
async fn live_events(base: &str, id: Uuid) -> Vec<serde_json::Value> {
    let mut stream = live_stream(base, id).await;
    let mut text = String::new();
    let read = async {
        while let Some(chunk) = stream.chunk().await.expect("the stream reads") {
            text.push_str(&String::from_utf8_lossy(&chunk));
        }
    };
    tokio::time::timeout(Duration::from_secs(60), read)
        .await
        .expect("the stream ends when the investigation does");
    text.lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .map(|d| serde_json::from_str(d).expect("each event is JSON"))
        .collect()
}

/// Asked while claims are paused, so the stream starts on a pending row and
/// must see the claim, the run and the end.
async fn follow_a_question_to_its_end(db: &TestDb, settings: fiscal::config::Settings) {
    let (me, id) = held_in_the_queue(db).await;
    let (worker, base) = serve_with(settings, Some(me), TOKEN).await;
    let events = tokio::spawn({
        let base = base.clone();
        async move { live_events(&base, id).await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    fiscal::operator::set_paused(&db.settings(), false)
        .await
        .expect("resuming claims");
    let events = events.await.expect("the reader");
    let states: Vec<&str> = events.iter().filter_map(|e| e["status"].as_str()).collect();
    assert_eq!(states.first(), Some(&"pending"), "{events:?}");
    assert_eq!(states.last(), Some(&"completed"), "{events:?}");
    assert_eq!(
        events.last().map(|e| e["terminada"].clone()),
        Some(json!(true))
    );
    assert_eq!(
        events.last().map(|e| e["progresso"].clone()),
        Some(json!(100.0))
    );
    let progress: Vec<f64> = events
        .iter()
        .filter_map(|e| e["progresso"].as_f64())
        .collect();
    assert!(
        progress.windows(2).all(|w| w[0] <= w[1]),
        "progress never goes back: {progress:?}"
    );
    worker.stop().await;
}

#[tokio::test]
async fn an_open_live_page_does_not_hold_up_shutdown() {
    let db = TestDb::new().await;
    let (me, id) = held_in_the_queue(&db).await;
    let (worker, base) = serve(&db, Some(me), TOKEN).await;
    let mut stream = live_stream(&base, id).await;
    let first = stream.chunk().await.expect("reads").expect("a first event");
    assert!(String::from_utf8_lossy(&first).contains("\"pending\""));
    tokio::time::timeout(Duration::from_secs(20), worker.stop())
        .await
        .expect("the worker stops with a live page open");
    let rest = tokio::time::timeout(Duration::from_secs(5), async {
        while stream.chunk().await.ok().flatten().is_some() {}
    })
    .await;
    assert!(rest.is_ok(), "the stream ended with the server");
}

#[tokio::test]
async fn the_live_stream_follows_an_investigation_to_its_end() {
    let db = TestDb::new().await;
    import_sample_contracts(&db).await;
    follow_a_question_to_its_end(&db, db.settings()).await;
}

#[tokio::test]
async fn behind_a_transaction_pooler_the_live_stream_polls_to_its_end() {
    let db = TestDb::new().await;
    let bouncer = PgBouncer::start(&db.url, 4);
    bouncer.ready().await;
    let mut settings = crate::harness::test_settings(&bouncer.url("pgbouncer=true"));
    settings.worker.poll_interval_ms = 200;
    follow_a_question_to_its_end(&db, settings).await;
}

#[tokio::test]
async fn the_operator_view_opens_only_with_the_configured_token() {
    let db = TestDb::new().await;
    let (worker, base) = serve(&db, None, TOKEN).await;
    let http = reqwest::Client::new();
    let operator = format!("{base}/operator");
    let status = |r: reqwest::Response| r.status().as_u16();

    let none = http.get(&operator).send().await.expect("answer");
    assert_eq!(none.status().as_u16(), 401);
    assert!(none.headers().contains_key("www-authenticate"));
    let wrong = http
        .get(&operator)
        .basic_auth("op", Some("guess"))
        .send()
        .await;
    assert_eq!(status(wrong.expect("answer")), 401);
    let prefix = http
        .get(&operator)
        .basic_auth("op", Some(&TOKEN[..10]))
        .send()
        .await;
    assert_eq!(
        status(prefix.expect("answer")),
        401,
        "a prefix of the token is not the token"
    );
    let right = http
        .get(&operator)
        .basic_auth("anyone", Some(TOKEN))
        .send()
        .await;
    let right = right.expect("answer");
    assert_eq!(right.status().as_u16(), 200);
    assert!(right.text().await.expect("body").contains("Workers alive"));
    let bearer = http.get(&operator).bearer_auth(TOKEN).send().await;
    assert_eq!(status(bearer.expect("answer")), 200);
    // The acts are behind the same door, whatever their body.
    let pause = http.post(format!("{operator}/pause")).send().await;
    assert_eq!(status(pause.expect("answer")), 401);
    let retry = http
        .post(format!("{operator}/retry"))
        .body("%%%")
        .send()
        .await;
    assert_eq!(status(retry.expect("answer")), 401);
    // An act that cannot be done says so, in the status too.
    let nobody = Uuid::new_v4();
    let refused = http
        .post(format!("{operator}/retry"))
        .header("authorization", format!("bearer {TOKEN}"))
        .form(&json!({"id": nobody.to_string()}))
        .send()
        .await
        .expect("answer");
    assert_eq!(refused.status().as_u16(), 409);
    let page = refused.text().await.expect("body");
    assert!(
        page.contains(&format!("no investigation {nobody}")),
        "{page}"
    );
    let paused: bool = value(&db, "select fiscal.claims_paused()").await;
    assert!(!paused, "a refused pause changed nothing");
    worker.stop().await;

    let (worker, base) = serve(&db, None, "").await;
    let off = http
        .get(format!("{base}/operator"))
        .bearer_auth("")
        .send()
        .await;
    let off = off.expect("answer");
    assert_eq!(
        off.status().as_u16(),
        403,
        "no token configured: no operator view"
    );
    assert!(off.text().await.expect("body").contains("http.ui_token"));
    worker.stop().await;
}

#[tokio::test]
async fn a_refused_question_is_explained_and_nothing_is_inserted() {
    let db = TestDb::new().await;
    let (worker, base) = serve(&db, None, TOKEN).await;
    let http = reqwest::Client::new();
    let cases = [
        (
            json!({"query": "Contratos", "data_source": "contracts", "filters": "{min_value: 1"}),
            "não são um JSON válido",
        ),
        (
            json!({"query": "Contratos", "data_source": "contracts", "filters": "[1, 2]"}),
            "objeto JSON",
        ),
        (
            json!({"query": "   ", "data_source": "contracts"}),
            "Escreva uma pergunta",
        ),
        (
            json!({"query": "Contratos", "data_source": "pix"}),
            "Escolha uma das fontes",
        ),
        (
            json!({"query": "x".repeat(5000), "data_source": "contracts"}),
            "longa demais",
        ),
    ];
    for (form, words) in &cases {
        let r = http
            .post(format!("{base}/investigacoes"))
            .form(form)
            .send()
            .await
            .expect("an answer");
        assert_eq!(r.status().as_u16(), 422, "{form}");
        let body = r.text().await.expect("body");
        assert!(body.contains(words), "{form}: expected {words:?} in {body}");
        assert!(body.contains("role=\"alert\""), "the refusal is announced");
    }
    let cross_site = http
        .post(format!("{base}/investigacoes"))
        .header("origin", "http://elsewhere.example")
        .form(&json!({"query": "Contratos", "data_source": "contracts"}))
        .send()
        .await
        .expect("an answer");
    assert_eq!(cross_site.status().as_u16(), 403);
    // A hostile name pointed at 127.0.0.1 (DNS rebinding) gets no page.
    let rebound = http
        .get(format!("{base}/"))
        .header("host", "elsewhere.example")
        .send()
        .await
        .expect("an answer");
    assert_eq!(rebound.status().as_u16(), 421);
    let rows: i64 = value(&db, "select count(*) from investigations").await;
    assert_eq!(rows, 0);

    let asked = http
        .post(format!("{base}/investigacoes"))
        .form(&json!({"query": "Contratos de janeiro", "data_source": "contracts", "filters": "{\"min_value\": 1000}"}))
        .send()
        .await
        .expect("an answer");
    assert_eq!(
        asked.status().as_u16(),
        200,
        "redirected to the investigation"
    );
    let id: Uuid = asked
        .url()
        .path()
        .rsplit('/')
        .next()
        .and_then(|s| s.parse().ok())
        .expect("the investigation's page");
    let row = db
        .client()
        .await
        .query_one(
            "select user_id, filters from investigations where id = $1",
            &[&id],
        )
        .await
        .expect("the row");
    assert_eq!(row.get::<_, Uuid>(0), fiscal::config::DEVELOPMENT_CITIZEN);
    assert_eq!(
        row.get::<_, serde_json::Value>(1),
        json!({"min_value": 1000})
    );
    worker.stop().await;
}

#[tokio::test]
async fn no_secret_reaches_the_page() {
    let db = TestDb::new().await;
    import_sample_contracts(&db).await;
    let client = db.client().await;
    let me = add_user(&client).await;
    let id = ask_everything(&client, me).await;
    let (worker, base) = serve(&db, Some(me), TOKEN).await;
    eventually(
        Duration::from_secs(60),
        "the investigation to finish",
        || async {
            let (_, page) = get(&format!("{base}/investigacoes/{id}")).await;
            page.contains("id=\"resultado\"").then_some(())
        },
    )
    .await;
    let http = reqwest::Client::new();
    let mut pages = Vec::new();
    for path in [
        "/",
        &format!("/investigacoes/{id}"),
        "/ao-vivo.js",
        "/estilo.css",
    ] {
        pages.push(get(&format!("{base}{path}")).await.1);
    }
    let operator = http
        .get(format!("{base}/operator"))
        .basic_auth("op", Some(TOKEN))
        .send()
        .await
        .expect("answer");
    assert!(operator.headers().get("set-cookie").is_none());
    pages.push(operator.text().await.expect("body"));
    let settings = db.settings();
    for page in &pages {
        for secret in [
            TOKEN,
            WORKER_PASSWORD,
            settings.database.url.as_str(),
            settings.migrate_url(),
            "postgres://",
        ] {
            assert!(!page.contains(secret), "a page shows {secret:?}");
        }
    }
    worker.stop().await;
}

/// Where the browser test leaves its pictures: target/screenshots.
fn screenshots() -> PathBuf {
    let dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_path("target"))
        .join("screenshots");
    std::fs::create_dir_all(&dir).expect("the screenshot folder");
    dir
}

#[tokio::test]
async fn a_browser_asks_watches_reads_and_operates() {
    let db = TestDb::new().await;
    import_sample_contracts(&db).await;
    let client = db.client().await;
    lift_citizen_limits(&client, 100).await;
    let someone = add_user(&client).await;
    // A question the worker must refuse for good: a filter that does not exist.
    let doomed = ask(
        &client,
        someone,
        "contracts",
        "Contratos com filtro inventado",
        json!({"filtro_inventado": 1}),
        json!([]),
    )
    .await;
    let (worker, base) = serve(&db, None, TOKEN).await;
    let failed = || async {
        let row = client
            .query_one(
                "select status, coalesce(error_message, ''), completed_at
                 from investigations where id = $1",
                &[&doomed],
            )
            .await
            .ok()?;
        (row.get::<_, String>(0) == "failed").then(|| {
            (
                row.get::<_, String>(1),
                row.get::<_, chrono::DateTime<chrono::Utc>>(2),
            )
        })
    };
    let (message, first_failure) =
        eventually(Duration::from_secs(60), "the doomed row to fail", failed).await;
    let failure_text: String = message.chars().take(40).collect();

    let shots = screenshots();
    let script = repo_path("tests/browser/citizen_and_operator.mjs");
    let run = tokio::process::Command::new("node")
        .arg(&script)
        .arg(&base)
        .arg(TOKEN)
        .arg(&shots)
        .arg(&failure_text)
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(240), run)
        .await
        .expect("the browser test finished within 4 minutes")
        .expect("node runs (installed by .ci/prerequisites)");
    let printed = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{printed}");
    assert!(printed.contains("\nok"), "{printed}");
    for name in [
        "operator-failure.png",
        "citizen-waiting.png",
        "citizen-results.png",
        "chart.png",
        "chart-price.png",
    ] {
        let size = std::fs::metadata(shots.join(name))
            .map(|m| m.len())
            .unwrap_or(0);
        assert!(size > 1000, "screenshot {name} saved");
    }
    // The retried row ran again, and failed again, for the same reason.
    eventually(
        Duration::from_secs(60),
        "the retried row to fail again",
        || async {
            let (again, at) = failed().await?;
            (at > first_failure).then_some(again)
        },
    )
    .await;
    worker.stop().await;
}
