//! The `portal` backend against a real HTTP server on 127.0.0.1 that answers
//! `/api-de-dados/contratos` in the API's shape (`tests/data/portal_api/`), checks
//! the `chave-api-dados` header, pages, counts requests, and can be told to
//! misbehave.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::harness::{add_user, drain_builtin_with, eventually, fetch, TestDb};
use crate::pipeline_end_to_end::insert_as_citizen;

pub const KEY: &str = "chave-Tq83nVx-never-printed";
const ORGAO: &str = "26274";
/// Small, so a month of the sample takes several pages.
const PAGE_SIZE: usize = 3;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mode {
    Normal,
    /// Answers 429 with `Retry-After: 1` this many times first.
    TooManyRequests(u32),
    ServerError,
    Malformed,
}

struct Api {
    requests: AtomicUsize,
    mode: Mutex<Mode>,
    records: Vec<Value>,
    /// The real `/servidores` capture of IBGE (data/servants/).
    servants: Vec<Value>,
    /// Hand-written `/convenios` records of órgão 36901.
    agreements: Vec<Value>,
    /// Hand-written `/licitacoes` records of órgão 26439.
    biddings: Vec<Value>,
    /// Hand-written `/despesas/documentos` records of UG 158137.
    documents: Vec<Value>,
    /// Hand-written `/despesas/por-orgao` totals of órgão superior 52000, 2022.
    organs: Vec<Value>,
}

pub struct Server {
    api: Arc<Api>,
    base_url: String,
}

/// Servants per `/servidores` page, as the real API sends them.
pub const SERVANTS_PAGE: usize = 15;

impl Server {
    pub async fn start(mode: Mode) -> Server {
        let sample = std::fs::read_to_string(crate::harness::repo_path(
            "tests/data/portal_api/contratos_26274_202101.json",
        ))
        .expect("the sample response");
        let records: Vec<Value> = serde_json::from_str(&sample).expect("the sample is JSON");
        let capture = std::fs::read_to_string(crate::harness::repo_path(
            "data/servants/servidores_orgaoServidorExercicio-45205_paged_2025-03.json",
        ))
        .expect("the servants capture");
        let servants: Vec<Value> = serde_json::from_str(&capture).expect("the capture is JSON");
        let agreements = std::fs::read_to_string(crate::harness::repo_path(
            "tests/data/portal_api/convenios_36901_handwritten.json",
        ))
        .expect("the agreements sample");
        let agreements: Vec<Value> =
            serde_json::from_str(&agreements).expect("the agreements sample is JSON");
        let biddings = std::fs::read_to_string(crate::harness::repo_path(
            "tests/data/portal_api/licitacoes_26439_handwritten.json",
        ))
        .expect("the biddings sample");
        let biddings: Vec<Value> =
            serde_json::from_str(&biddings).expect("the biddings sample is JSON");
        let documents = std::fs::read_to_string(crate::harness::repo_path(
            "tests/data/portal_api/despesas_documentos_158137_handwritten.json",
        ))
        .expect("the documents sample");
        let documents: Vec<Value> =
            serde_json::from_str(&documents).expect("the documents sample is JSON");
        let organs = std::fs::read_to_string(crate::harness::repo_path(
            "tests/data/portal_api/despesas_por_orgao_52000_2022_handwritten.json",
        ))
        .expect("the totals sample");
        let organs: Vec<Value> = serde_json::from_str(&organs).expect("the totals sample is JSON");
        let api = Arc::new(Api {
            requests: AtomicUsize::new(0),
            mode: Mutex::new(mode),
            records,
            servants,
            agreements,
            biddings,
            documents,
            organs,
        });
        let router = axum::Router::new()
            .route("/api-de-dados/contratos", axum::routing::get(contratos))
            .route("/api-de-dados/servidores", axum::routing::get(servidores))
            .route("/api-de-dados/convenios", axum::routing::get(convenios))
            .route("/api-de-dados/licitacoes", axum::routing::get(licitacoes))
            .route(
                "/api-de-dados/despesas/documentos",
                axum::routing::get(documentos),
            )
            .route(
                "/api-de-dados/despesas/por-orgao",
                axum::routing::get(por_orgao),
            )
            .with_state(api.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port");
        let addr = listener.local_addr().expect("its address");
        tokio::spawn(async move { axum::serve(listener, router).await });
        Server {
            api,
            base_url: format!("http://{addr}/api-de-dados"),
        }
    }

    pub fn requests(&self) -> usize {
        self.api.requests.load(Ordering::SeqCst)
    }

    pub fn mode(&self) -> Mode {
        *self.api.mode.lock().expect("mode")
    }
}

/// `dd/MM/yyyy` → `yyyy-MM-dd`, comparable with the records' dates.
fn iso(date: &str) -> String {
    let parts: Vec<&str> = date.split('/').collect();
    match parts.as_slice() {
        [d, m, y] => format!("{y}-{m}-{d}"),
        _ => String::new(),
    }
}

/// The answer the server's mode or a wrong key forces, before any query is read.
fn misbehaviour(api: &Api, headers: &HeaderMap) -> Option<Response> {
    api.requests.fetch_add(1, Ordering::SeqCst);
    if headers.get("chave-api-dados").and_then(|v| v.to_str().ok()) != Some(KEY) {
        return Some((StatusCode::UNAUTHORIZED, "Chave de API inválida").into_response());
    }
    let mode = *api.mode.lock().expect("mode");
    match mode {
        Mode::TooManyRequests(n) if n > 0 => {
            *api.mode.lock().expect("mode") = Mode::TooManyRequests(n - 1);
            Some((StatusCode::TOO_MANY_REQUESTS, [("retry-after", "1")], "").into_response())
        }
        Mode::ServerError => Some(StatusCode::INTERNAL_SERVER_ERROR.into_response()),
        Mode::Malformed => Some("<html>manutenção</html>".into_response()),
        _ => None,
    }
}

/// One page of `records` whose `field` (a JSON pointer) is the query's `key`,
/// `SERVANTS_PAGE` a page, as `/servidores` and `/convenios` answer.
fn paged(
    api: &Api,
    headers: &HeaderMap,
    uri: &Uri,
    key: &str,
    records: &[Value],
    field: &str,
) -> Response {
    if let Some(refusal) = misbehaviour(api, headers) {
        return refusal;
    }
    let query = Query::of(uri);
    let (Some(wanted), Some(page)) = (
        query.get(key),
        query.get("pagina").and_then(|p| p.parse::<usize>().ok()),
    ) else {
        return (StatusCode::BAD_REQUEST, "parâmetros obrigatórios").into_response();
    };
    page_of(
        records
            .iter()
            .filter(|r| r.pointer(field) == Some(&Value::from(wanted.as_str()))),
        page,
        SERVANTS_PAGE,
    )
}

/// `/servidores?orgaoServidorExercicio=…&pagina=N`, from the real capture.
async fn servidores(State(api): State<Arc<Api>>, headers: HeaderMap, uri: Uri) -> Response {
    paged(
        &api,
        &headers,
        &uri,
        "orgaoServidorExercicio",
        &api.servants,
        "/servidor/orgaoServidorExercicio/codigo",
    )
}

/// `/convenios?codigoOrgao=…&pagina=N`, from the hand-written sample.
async fn convenios(State(api): State<Arc<Api>>, headers: HeaderMap, uri: Uri) -> Response {
    paged(
        &api,
        &headers,
        &uri,
        "codigoOrgao",
        &api.agreements,
        "/orgao/codigoSIAFI",
    )
}

/// Page `page` (from 1) of `records`, `size` a page, as the API answers.
fn page_of<'a>(records: impl Iterator<Item = &'a Value>, page: usize, size: usize) -> Response {
    let body: Vec<&Value> = records.skip((page.max(1) - 1) * size).take(size).collect();
    (
        [("content-type", "application/json")],
        serde_json::to_string(&body).unwrap_or_default(),
    )
        .into_response()
}

/// A request's query parameters, `%2F` decoded.
struct Query(Vec<(String, String)>);

impl Query {
    fn of(uri: &Uri) -> Self {
        Query(
            uri.query()
                .unwrap_or("")
                .split('&')
                .filter_map(|p| p.split_once('='))
                .map(|(k, v)| (k.to_string(), v.replace("%2F", "/")))
                .collect(),
        )
    }

    fn get(&self, name: &str) -> Option<String> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    }
}

/// `/licitacoes?codigoOrgao=…&dataInicial=…&dataFinal=…&pagina=N`, from the
/// hand-written sample: every parameter required, a period of at most 30
/// days, records by opening date, 15 a page.
async fn licitacoes(State(api): State<Arc<Api>>, headers: HeaderMap, uri: Uri) -> Response {
    if let Some(refusal) = misbehaviour(&api, &headers) {
        return refusal;
    }
    let query = Query::of(&uri);
    let day =
        |s: Option<String>| s.and_then(|s| chrono::NaiveDate::parse_from_str(&s, "%d/%m/%Y").ok());
    let (Some(orgao), Some(from), Some(until), Some(page)) = (
        query.get("codigoOrgao"),
        day(query.get("dataInicial")),
        day(query.get("dataFinal")),
        query.get("pagina").and_then(|p| p.parse::<usize>().ok()),
    ) else {
        return (StatusCode::BAD_REQUEST, "parâmetros obrigatórios").into_response();
    };
    if (until - from).num_days() + 1 > 30 || until < from {
        return (
            StatusCode::BAD_REQUEST,
            "O período entre dataInicial e dataFinal deve ser de no máximo 30 dias",
        )
            .into_response();
    }
    let opened = |r: &Value| {
        let s = r["dataAbertura"].as_str().unwrap_or("");
        chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .or_else(|_| chrono::NaiveDate::parse_from_str(s, "%d/%m/%Y"))
            .ok()
    };
    page_of(
        api.biddings
            .iter()
            .filter(|r| r["unidadeGestora"]["orgaoVinculado"]["codigoSIAFI"] == orgao.as_str())
            .filter(|r| opened(r).is_some_and(|d| d >= from && d <= until)),
        page,
        SERVANTS_PAGE,
    )
}

/// `/despesas/documentos?unidadeGestora=…&dataEmissao=…&fase=1|3&pagina=N`,
/// from the hand-written sample: one day, one phase, one UG, as the live API
/// demands, 15 a page.
async fn documentos(State(api): State<Arc<Api>>, headers: HeaderMap, uri: Uri) -> Response {
    if let Some(refusal) = misbehaviour(&api, &headers) {
        return refusal;
    }
    let query = Query::of(&uri);
    let fase = match query.get("fase").as_deref() {
        Some("1") => Some("Empenho"),
        Some("2") => Some("Liquidação"),
        Some("3") => Some("Pagamento"),
        _ => None,
    };
    let (Some(ug), Some(day), Some(fase), Some(page)) = (
        query.get("unidadeGestora"),
        query.get("dataEmissao"),
        fase,
        query.get("pagina").and_then(|p| p.parse::<usize>().ok()),
    ) else {
        return (
            StatusCode::BAD_REQUEST,
            "Filtros mínimos: Página; Respectiva data; Fase, e ao menos um dos demais filtros \
             (unidade gestora ou gestão)",
        )
            .into_response();
    };
    page_of(
        api.documents
            .iter()
            .filter(|r| r["codigoUg"] == ug.as_str() && r["data"] == day.as_str())
            .filter(|r| r["fase"] == fase),
        page,
        SERVANTS_PAGE,
    )
}

/// `/despesas/por-orgao?ano=…&orgaoSuperior=…&pagina=N`, from the hand-written
/// sample, 15 a page.
async fn por_orgao(State(api): State<Arc<Api>>, headers: HeaderMap, uri: Uri) -> Response {
    if let Some(refusal) = misbehaviour(&api, &headers) {
        return refusal;
    }
    let query = Query::of(&uri);
    let (Some(year), Some(superior), Some(page)) = (
        query.get("ano").and_then(|y| y.parse::<i64>().ok()),
        query.get("orgaoSuperior"),
        query.get("pagina").and_then(|p| p.parse::<usize>().ok()),
    ) else {
        return (
            StatusCode::BAD_REQUEST,
            "Filtros mínimos: Página; Ano do registro; Ao menos um dos demais filtros",
        )
            .into_response();
    };
    page_of(
        api.organs
            .iter()
            .filter(|r| r["ano"] == year && r["codigoOrgaoSuperior"] == superior.as_str()),
        page,
        SERVANTS_PAGE,
    )
}

async fn contratos(State(api): State<Arc<Api>>, headers: HeaderMap, uri: Uri) -> Response {
    if let Some(refusal) = misbehaviour(&api, &headers) {
        return refusal;
    }
    let query = Query::of(&uri);
    let (Some(orgao), Some(from), Some(until), Some(page)) = (
        query.get("codigoOrgao"),
        query.get("dataInicial"),
        query.get("dataFinal"),
        query.get("pagina").and_then(|p| p.parse::<usize>().ok()),
    ) else {
        return (StatusCode::BAD_REQUEST, "parâmetros obrigatórios").into_response();
    };
    let (from, until) = (iso(&from), iso(&until));
    let matching: Vec<&Value> = api
        .records
        .iter()
        .filter(|r| r["unidadeGestora"]["orgaoVinculado"]["codigoSIAFI"] == orgao.as_str())
        .filter(|r| {
            let signed = r["dataAssinatura"].as_str().unwrap_or("");
            signed >= from.as_str() && signed <= until.as_str()
        })
        .collect();
    page_of(matching.into_iter(), page, PAGE_SIZE)
}

pub fn settings(db: &TestDb, server: &Server) -> fiscal::config::Settings {
    let mut s = db.settings();
    s.portal.api_key = KEY.into();
    s.portal.base_url = server.base_url.clone();
    // The limiter is tested under a paused clock; here it must not slow the suite.
    s.portal.requests_per_minute = 60_000;
    s.portal.night_requests_per_minute = 60_000;
    s.portal.max_retries = 1;
    s.portal.retry_base_ms = 10;
    s.portal.request_timeout_seconds = 5;
    s
}

/// The sample's contracts of `ORGAO` signed in 2020.
fn signed_in_2020(server: &Server) -> usize {
    server
        .api
        .records
        .iter()
        .filter(|r| {
            r["dataAssinatura"]
                .as_str()
                .unwrap_or("")
                .starts_with("2020-")
        })
        .count()
}

async fn investigate(db: &TestDb) -> Uuid {
    investigate_year(db, 2020).await
}

async fn investigate_year(db: &TestDb, year: i32) -> Uuid {
    let client = db.client().await;
    let user = add_user(&client).await;
    insert_as_citizen(
        &client,
        user,
        "contratos da UFU",
        json!({"codigo_orgao": ORGAO, "year": year}),
        json!([]),
    )
    .await
}

#[tokio::test]
async fn an_investigation_naming_an_agency_fetches_its_contracts_from_the_api_and_completes() {
    let db = TestDb::new().await;
    let server = Server::start(Mode::Normal).await;
    let id = investigate(&db).await;
    let report = drain_builtin_with(settings(&db, &server)).await;
    assert_eq!(report.completed, 1, "{report:?}");

    let client = db.client().await;
    let row = fetch(&client, id).await;
    assert_eq!(row.status, "completed", "{row:?}");
    let expected = signed_in_2020(&server);
    assert!(
        expected >= 10,
        "the sample has {expected} contracts of 2020"
    );
    assert_eq!(row.total_records_analyzed as usize, expected);
    let fetched = &row.metadata["portal_api"];
    assert_eq!(fetched["months"], 12, "{fetched}");
    assert_eq!(fetched["months_fetched"], 12, "{fetched}");
    assert_eq!(fetched["contracts"], json!(expected), "{fetched}");
    assert_eq!(fetched["requests"], json!(server.requests()), "{fetched}");
    assert!(
        server.requests() > 12,
        "months of more than {PAGE_SIZE} contracts take several pages"
    );
    let cached: i64 = client
        .query_one(
            "select count(*) from transparency.contracts where source_file like 'api:%'",
            &[],
        )
        .await
        .expect("count")
        .get(0);
    assert_eq!(cached as usize, expected);
    let months: i64 = client
        .query_one(
            "select count(*) from transparency.api_fetches where codigo_orgao = $1",
            &[&ORGAO],
        )
        .await
        .expect("count")
        .get(0);
    assert_eq!(months, 12);
    assert!(
        row.metadata["detectors"].is_object(),
        "anomaly detection ran: {}",
        row.metadata
    );
}

#[tokio::test]
async fn a_second_investigation_over_the_same_agency_and_months_makes_no_request() {
    let db = TestDb::new().await;
    let server = Server::start(Mode::Normal).await;
    investigate(&db).await;
    drain_builtin_with(settings(&db, &server)).await;
    let first = server.requests();
    assert!(first > 0);

    let id = investigate(&db).await;
    let report = drain_builtin_with(settings(&db, &server)).await;
    assert_eq!(report.completed, 1, "{report:?}");
    assert_eq!(server.requests(), first, "the cache answered");
    let row = fetch(&db.client().await, id).await;
    assert_eq!(row.metadata["portal_api"]["months_fetched"], 0);
    assert_eq!(
        row.metadata["rows_read"]["contracts"],
        json!(signed_in_2020(&server))
    );
}

#[tokio::test]
async fn an_api_contract_and_the_same_contract_from_the_bulk_file_are_one_row_per_month() {
    let db = TestDb::new().await;
    let mut client = db.client().await;
    crate::pipeline_end_to_end::import_january(&mut client).await;
    let server = Server::start(Mode::Normal).await;
    let id = investigate(&db).await;
    drain_builtin_with(settings(&db, &server)).await;
    let row = fetch(&client, id).await;
    assert_eq!(row.status, "completed", "{row:?}");
    let api_rows: i64 = client
        .query_one(
            "select count(*) from transparency.contracts where source_file like 'api:%'",
            &[],
        )
        .await
        .expect("count")
        .get(0);
    assert_eq!(
        api_rows, 0,
        "every contract was already there from the bulk file"
    );
    assert_eq!(
        row.metadata["rows_read"]["contracts"],
        json!(signed_in_2020(&server))
    );
}

#[tokio::test]
async fn a_429_is_waited_out_for_its_retry_after() {
    let db = TestDb::new().await;
    let server = Server::start(Mode::TooManyRequests(1)).await;
    let id = investigate(&db).await;
    let report = drain_builtin_with(settings(&db, &server)).await;
    assert_eq!(report.completed, 1, "{report:?}");
    let row = fetch(&db.client().await, id).await;
    assert_eq!(row.attempts, 1, "waited, not retried: {row:?}");
    assert_eq!(
        row.metadata["portal_api"]["requests"],
        json!(server.requests()),
        "the 429 counts as a request"
    );
}

#[tokio::test]
async fn repeated_server_errors_retry_the_investigation_then_fail_it_in_portuguese() {
    let db = TestDb::new().await;
    let server = Server::start(Mode::ServerError).await;
    let id = investigate(&db).await;
    let settings = settings(&db, &server);
    let client = db.client().await;
    let worker = crate::harness::RunningWorker::start(
        settings.clone(),
        fiscal::pipeline::Pipelines::builtin(&settings).expect("pipelines"),
    );
    let retried = eventually(
        Duration::from_secs(60),
        "the first attempt retried",
        || async {
            let row = fetch(&client, id).await;
            (row.status == "pending" && row.attempts == 1).then_some(row)
        },
    )
    .await;
    let last_error = retried.metadata["last_error"].to_string();
    assert!(last_error.contains("HTTP 500"), "{last_error}");
    let failed = eventually(
        Duration::from_secs(60),
        "the investigation failed",
        || async {
            let row = fetch(&client, id).await;
            (row.status == "failed").then_some(row)
        },
    )
    .await;
    worker.stop().await;
    let max_attempts: i32 = client
        .query_one(
            "select max_attempts from investigations where id = $1",
            &[&id],
        )
        .await
        .expect("row")
        .get(0);
    assert_eq!(
        failed.attempts, max_attempts,
        "failed once attempts ran out"
    );
    let message = failed.error_message.unwrap_or_default();
    assert!(
        message.contains("O Portal da Transparência não respondeu"),
        "{message}"
    );
    assert!(!message.contains(KEY));
}

#[tokio::test]
async fn a_refused_key_fails_the_investigation_at_once_with_a_message_for_the_operator() {
    let db = TestDb::new().await;
    let server = Server::start(Mode::Normal).await;
    let id = investigate(&db).await;
    let mut settings = settings(&db, &server);
    settings.portal.api_key = "uma-chave-errada".into();
    let report = drain_builtin_with(settings).await;
    assert_eq!(report.failed, 1, "{report:?}");
    let row = fetch(&db.client().await, id).await;
    assert_eq!((row.status.as_str(), row.attempts), ("failed", 1));
    let message = row.error_message.unwrap_or_default();
    assert!(
        message.contains("recusou a chave") && message.contains("PORTAL_TRANSPARENCIA_API_KEY"),
        "{message}"
    );
    assert_eq!(server.requests(), 1, "a refused key is not retried");
}

#[tokio::test]
async fn an_answer_that_is_not_json_fails_the_investigation_naming_what_was_wrong() {
    let db = TestDb::new().await;
    let server = Server::start(Mode::Malformed).await;
    let id = investigate(&db).await;
    let report = drain_builtin_with(settings(&db, &server)).await;
    assert_eq!(report.failed, 1, "{report:?}");
    let row = fetch(&db.client().await, id).await;
    let message = row.error_message.unwrap_or_default();
    assert!(
        message.contains("formato inesperado") && message.contains("<html>"),
        "{message}"
    );
}

#[tokio::test]
async fn the_api_key_never_appears_in_what_the_worker_prints() {
    let db = TestDb::new().await;
    let server = Server::start(Mode::Normal).await;
    // A year apiece, so the second run calls the API too (with a refused key).
    for (key, year) in [(KEY, 2020), ("chave-errada-Zq71-never-printed", 2019)] {
        investigate_year(&db, year).await;
        let out = crate::harness::fiscal_command()
            .args(["work", "--drain"])
            .env("FISCAL_DATABASE__URL", &db.worker_url)
            .env("FISCAL_DATABASE__MIGRATE_URL", &db.url)
            .env("FISCAL_LOG__FORMAT", "json")
            .env("RUST_LOG", "trace")
            // The original deployment's names.
            .env("PORTAL_TRANSPARENCIA_API_KEY", key)
            .env("PORTAL_TRANSPARENCIA_BASE_URL", &server.base_url)
            .env("FISCAL_PORTAL__REQUESTS_PER_MINUTE", "60000")
            .env("FISCAL_PORTAL__RETRY_BASE_MS", "10")
            .output()
            .await
            .expect("running fiscal");
        let output = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "{output}");
        assert!(output.contains("worker stopped"), "{output}");
        assert!(!output.contains(key), "the key was printed:\n{output}");
    }
    assert!(server.requests() > 0, "the binary used the API");
}

/// The API paths every source added beside `/contratos`, each a query a
/// citizen could make, and how its errors name it.
fn other_paths() -> [(&'static str, Value, &'static str); 3] {
    [
        (
            "agreements",
            json!({"codigo_orgao": "36901"}),
            "convênios do órgão 36901",
        ),
        (
            "biddings",
            json!({"codigo_orgao": "26439", "year": 2022}),
            "licitações do órgão 26439",
        ),
        (
            "expenses",
            json!({"codigo_ug": "158137", "data_inicial": "2022-12-01", "data_final": "2022-12-03"}),
            "despesas da UG 158137",
        ),
    ]
}

#[tokio::test]
async fn every_api_path_waits_out_a_429_and_fails_a_refused_key_or_a_malformed_body_in_words() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let user = add_user(&client).await;
    crate::harness::lift_citizen_limits(&client, 100).await;
    let ask_all = || async {
        let mut ids = Vec::new();
        for (source, filters, _) in other_paths() {
            ids.push(
                crate::harness::ask(&client, user, source, "consulta", filters, json!([])).await,
            );
        }
        ids
    };

    // A 429 is waited out for its Retry-After, within the attempt: each path
    // meets one of its own.
    for (source, filters, _) in other_paths() {
        let server = Server::start(Mode::TooManyRequests(1)).await;
        let id = crate::harness::ask(&client, user, source, "consulta", filters, json!([])).await;
        let report = drain_builtin_with(settings(&db, &server)).await;
        assert_eq!(report.completed, 1, "{source}: {report:?}");
        assert_eq!(fetch(&client, id).await.attempts, 1, "{source}");
        assert_eq!(
            server.mode(),
            Mode::TooManyRequests(0),
            "{source}: the 429 was sent"
        );
    }
    let server = Server::start(Mode::Normal).await;

    // A refused key fails each at once, for the operator to act on.
    let ids = ask_all().await;
    let mut refused = settings(&db, &server);
    refused.portal.api_key = "uma-chave-errada".into();
    let report = drain_builtin_with(refused).await;
    assert_eq!(report.failed, 3, "{report:?}");
    for id in ids {
        let message = fetch(&client, id).await.error_message.unwrap_or_default();
        assert!(message.contains("recusou a chave"), "{message}");
    }

    // A body that is not JSON fails each, naming what was asked.
    let server = Server::start(Mode::Malformed).await;
    let ids = ask_all().await;
    let report = drain_builtin_with(settings(&db, &server)).await;
    assert_eq!(report.failed, 3, "{report:?}");
    for (id, (_, _, what)) in ids.into_iter().zip(other_paths()) {
        let message = fetch(&client, id).await.error_message.unwrap_or_default();
        assert!(
            message.contains(&format!("consulta de {what} em um formato inesperado")),
            "{message}"
        );
    }
}
