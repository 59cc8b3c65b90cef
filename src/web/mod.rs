//! The web page, served beside /healthz and /metrics when `http.ui` is on
//! (`fiscal dev` turns it on): a citizen view — ask, watch live, read the
//! findings with their pictures — and an operator view behind
//! `http.ui_token`.
//!
//! The page reaches the database through a small pool of its own on the
//! migration URL: the citizen's reads and writes run as the citizen under Row
//! Level Security (src/web/citizen.rs), which needs a role that may become
//! `authenticated`; the operator's acts are the owner's (src/operator.rs).
//! No URL, key or token is ever written into a page.

mod charts;
mod citizen;
mod live;
mod operator_view;
mod pages;

use std::sync::Arc;

use anyhow::Result;
use axum::extract::{Form, Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use base64::Engine;
use serde::Deserialize;
use serde_json::Value;
use subtle::ConstantTimeEq;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tracing::warn;
use uuid::Uuid;

use crate::config::Settings;
use crate::db::Pool;
use crate::status;
use citizen::Citizen;
use operator_view::{Board, Notice};
use pages::Asked;

/// Connections the page's pool holds at most: it serves people, not jobs.
const PAGE_CONNECTIONS: usize = 4;
/// Investigations the citizen's list shows.
const LISTED: i64 = 30;
/// Failed rows the operator view lists.
const DEAD_LETTERS: i64 = 25;
const RUNNING_SHOWN: i64 = 50;

#[derive(Clone)]
pub struct Web(Arc<Inner>);

pub struct Inner {
    settings: Settings,
    pool: Pool,
    citizen: Citizen,
    sources: Vec<String>,
    /// Live streams open at once (src/web/live.rs).
    live: Arc<Semaphore>,
    /// Whether live streams may LISTEN: not when `database.url`, where they
    /// connect, goes through a transaction-mode pooler.
    listens: bool,
    /// Cancelled when the server stops: live streams end with it, so a browser
    /// tab left open does not hold up the worker's shutdown.
    stop: CancellationToken,
    /// Host names a request may carry (see `guard`), None: any.
    hosts: Option<Vec<String>>,
}

impl std::ops::Deref for Web {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl Web {
    /// `sources`: the data sources this worker's pipelines serve, offered in
    /// the question form; `stop`: the HTTP server's own stop.
    pub fn new(settings: &Settings, sources: Vec<String>, stop: CancellationToken) -> Result<Web> {
        let (id, create) = settings.http.citizen()?;
        let mut database = settings.database.clone();
        database.url = settings.migrate_url().to_string();
        database.min_connections = 0;
        database.max_connections = PAGE_CONNECTIONS;
        let listens = crate::db::Endpoint::new(&settings.database.url, &settings.database)?.pooling
            == crate::db::Pooling::Session;
        let hosts = loopback_hosts(&settings.http.listen);
        if hosts.is_none() {
            warn!(
                listen = %settings.http.listen,
                "the web page (http.ui) is served beyond this host: anyone who reaches it reads \
                 http.ui_citizen's investigations and may ask as that citizen"
            );
        }
        Ok(Web(Arc::new(Inner {
            settings: settings.clone(),
            // The queue's pool: in sessions of our own the server ends a page's
            // statement at database.statement_timeout_seconds too.
            pool: crate::db::queue_pool(&database)?,
            citizen: Citizen { id, create },
            sources,
            live: Arc::new(Semaphore::new(live::LIVE_STREAMS)),
            listens,
            stop,
            hosts,
        })))
    }
}

/// On a loopback address, the names a browser on this host uses for it; a
/// page fetched under any other name came through DNS rebinding (a hostile
/// site's name pointed at 127.0.0.1), which the origin check alone cannot
/// tell from the page itself. None on a public address: any name.
fn loopback_hosts(listen: &str) -> Option<Vec<String>> {
    let addr: std::net::SocketAddr = listen.trim().parse().ok()?;
    if !addr.ip().is_loopback() {
        return None;
    }
    let port = addr.port();
    let mut names: Vec<String> = ["127.0.0.1", "localhost", "[::1]"]
        .iter()
        .map(|h| format!("{h}:{port}"))
        .collect();
    // Another loopback address (127.0.0.2, say), as a URL writes it.
    names.push(addr.to_string());
    Some(names)
}

pub fn router(web: Web) -> Router {
    // The door stands before the operator's routes, so no form of theirs is
    // read before it opens.
    let operator = Router::new()
        .route("/operator", get(operator))
        .route("/operator/retry", post(retry))
        .route("/operator/cancel", post(cancel))
        .route("/operator/pause", post(pause))
        .route("/operator/resume", post(resume))
        .route_layer(middleware::from_fn_with_state(web.clone(), door));
    Router::new()
        .route("/", get(home))
        .route("/investigacoes", post(ask))
        .route("/investigacoes/{id}", get(show))
        .route("/investigacoes/{id}/eventos", get(live::events))
        .route(
            "/estilo.css",
            get(|| asset("text/css", include_str!("static/estilo.css"))),
        )
        .route(
            "/ao-vivo.js",
            get(|| asset("text/javascript", include_str!("static/ao-vivo.js"))),
        )
        .merge(operator)
        .layer(middleware::from_fn_with_state(web.clone(), guard))
        // A page of a few hundred findings is most of a megabyte of HTML that
        // gzip makes a sixth of; the default predicate leaves event streams be.
        .layer(tower_http::compression::CompressionLayer::new())
        .with_state(web)
}

/// Every answer: no framing, no sniffing, scripts and styles from this origin
/// only (the page has no inline script). Every form post: from this origin,
/// so another site cannot ask questions or press the operator's buttons with
/// the visitor's browser (and its remembered operator password).
async fn guard(State(web): State<Web>, request: Request, next: Next) -> Response {
    if let Some(hosts) = &web.hosts {
        let host = request
            .headers()
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !hosts.iter().any(|h| h.eq_ignore_ascii_case(host)) {
            return (
                StatusCode::MISDIRECTED_REQUEST,
                "refused: this page answers only to this host's own names\n",
            )
                .into_response();
        }
    }
    if request.method() == Method::POST && !same_origin(request.headers()) {
        return (
            StatusCode::FORBIDDEN,
            "refused: a form posted from another site\n",
        )
            .into_response();
    }
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // Not `no-referrer`: under it browsers send `Origin: null` with forms.
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}

/// A browser says where a form came from (`Origin`, `Sec-Fetch-Site`); a
/// client that says nothing (curl, a script) is not a browser tricked by a
/// page, and passes.
fn same_origin(headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        return site.as_bytes() == b"same-origin" || site.as_bytes() == b"none";
    }
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let origin_host = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
        .unwrap_or("");
    !host.is_empty() && origin_host == host
}

/// The page could not be built: the operator reads why in the log, the
/// citizen a sentence.
fn unavailable(error: &anyhow::Error) -> Response {
    warn!(error = %format!("{error:#}"), "the web page could not read the database");
    (
        StatusCode::SERVICE_UNAVAILABLE,
        pages::trouble(
            "A página não conseguiu ler o banco de dados agora. Tente de novo em alguns \
             instantes; se persistir, avise quem opera o serviço.",
        ),
    )
        .into_response()
}

/// The stylesheet or the script, compiled into the binary.
async fn asset(kind: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, format!("{kind}; charset=utf-8")),
            (header::CACHE_CONTROL, "max-age=300".to_string()),
        ],
        body,
    )
        .into_response()
}

async fn home(State(web): State<Web>) -> Response {
    render_home(&web, &Asked::default(), StatusCode::OK).await
}

async fn render_home(web: &Web, asked: &Asked<'_>, status: StatusCode) -> Response {
    match citizen::list(&web.pool, web.citizen.id, LISTED).await {
        Ok(mine) => (status, pages::home(&web.sources, &mine, asked)).into_response(),
        Err(e) => unavailable(&e),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct AskForm {
    query: String,
    data_source: String,
    filters: String,
}

/// The question's filters, or why the form cannot be asked as it is.
fn checked(form: &AskForm, sources: &[String]) -> Result<Value, String> {
    if form.query.trim().is_empty() {
        return Err(
            "Escreva uma pergunta, por exemplo: contratos acima de R$ 1 milhão em 2024.".into(),
        );
    }
    if !sources.contains(&form.data_source) {
        let offered: Vec<String> = sources.iter().map(|s| pages::source_label(s)).collect();
        return Err(format!(
            "Escolha uma das fontes de dados oferecidas ({}).",
            offered.join(", ")
        ));
    }
    match form.filters.trim() {
        "" => Ok(Value::Object(Default::default())),
        text => match serde_json::from_str::<Value>(text) {
            Ok(v @ Value::Object(_)) => Ok(v),
            Ok(_) => {
                Err("Os filtros devem ser um objeto JSON, como {\"min_value\": 1000000}.".into())
            }
            Err(e) => Err(format!(
                "Os filtros não são um JSON válido (linha {}, coluna {}). Exemplo: \
                 {{\"min_value\": 1000000, \"year\": 2024}}.",
                e.line(),
                e.column()
            )),
        },
    }
}

async fn ask(State(web): State<Web>, Form(form): Form<AskForm>) -> Response {
    let query = form.query.trim();
    let why = match checked(&form, &web.sources) {
        Err(why) => why,
        Ok(filters) => {
            match citizen::ask(&web.pool, web.citizen, query, &form.data_source, filters).await {
                Ok(id) => return Redirect::to(&format!("/investigacoes/{id}")).into_response(),
                Err(citizen::Refused::ByDatabase(why)) => why,
                Err(citizen::Refused::Failed(e)) => return unavailable(&e),
            }
        }
    };
    let asked = Asked {
        query: &form.query,
        data_source: &form.data_source,
        filters: &form.filters,
        refused: Some(&why),
    };
    render_home(&web, &asked, StatusCode::UNPROCESSABLE_ENTITY).await
}

async fn show(State(web): State<Web>, Path(id): Path<String>) -> Response {
    let Ok(id) = id.parse::<Uuid>() else {
        return (StatusCode::NOT_FOUND, pages::not_found()).into_response();
    };
    match citizen::investigation(&web.pool, web.citizen.id, id).await {
        Ok(Some(inv)) => pages::investigation(&inv).into_response(),
        Ok(None) => (StatusCode::NOT_FOUND, pages::not_found()).into_response(),
        Err(e) => unavailable(&e),
    }
}

/// Whether the request carries the operator's token: as the password of
/// HTTP Basic (what a browser asks for; any user name) or as a Bearer token
/// (scripts). The bytes are compared without an early exit (only the
/// length can show in the timing).
enum Door {
    Off,
    Closed(&'static str),
    Open,
}

fn knock(settings: &Settings, headers: &HeaderMap) -> Door {
    let token = settings.http.ui_token.as_bytes();
    if token.is_empty() {
        return Door::Off;
    }
    let Some(auth) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return Door::Closed("The operator view needs the operator's token.");
    };
    // The scheme's name is case-insensitive (RFC 9110 §11.1).
    let (scheme, credentials) = auth.trim().split_once(' ').unwrap_or(("", ""));
    let given: Option<Vec<u8>> = if scheme.eq_ignore_ascii_case("basic") {
        base64::engine::general_purpose::STANDARD
            .decode(credentials.trim())
            .ok()
            .and_then(|pair| {
                let colon = pair.iter().position(|&c| c == b':')?;
                Some(pair[colon + 1..].to_vec())
            })
    } else if scheme.eq_ignore_ascii_case("bearer") {
        Some(credentials.trim().as_bytes().to_vec())
    } else {
        None
    };
    match given {
        Some(given) if bool::from(given.as_slice().ct_eq(token)) => Door::Open,
        _ => Door::Closed("That is not the operator's token."),
    }
}

/// Lets a request through to the operator's routes only with the token.
async fn door(State(web): State<Web>, request: Request, next: Next) -> Response {
    match knock(&web.settings, request.headers()) {
        Door::Open => next.run(request).await,
        Door::Off => (
            StatusCode::FORBIDDEN,
            operator_view::refused(
                "Operator view off",
                "The operator view is off on this worker: set http.ui_token \
                 (FISCAL_HTTP__UI_TOKEN) to turn it on.",
            ),
        )
            .into_response(),
        Door::Closed(why) => (
            StatusCode::UNAUTHORIZED,
            [(
                header::WWW_AUTHENTICATE,
                "Basic realm=\"fiscal operator\", charset=\"UTF-8\"",
            )],
            operator_view::refused("Operator token needed", why),
        )
            .into_response(),
    }
}

async fn operator(State(web): State<Web>) -> Response {
    operator_page(&web, None).await
}

async fn operator_page(web: &Web, notice: Option<Notice>) -> Response {
    let read = async {
        let conn = web
            .pool
            .get()
            .await
            .map_err(|e| anyhow::anyhow!("no database connection for the page: {e}"))?;
        anyhow::Ok(Board {
            queue: status::queue_depth(&conn).await?,
            claims_paused: status::claims_paused(&conn).await?,
            workers: status::workers_alive(&conn, web.settings.worker.heartbeat()).await?,
            running: status::running_jobs(&conn, RUNNING_SHOWN).await?,
            failed: status::dead_letters(&conn, DEAD_LETTERS).await?,
        })
    };
    match read.await {
        Ok(board) => operator_view::view(&board, notice.as_ref()).into_response(),
        Err(e) => unavailable(&e),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct IdForm {
    id: String,
}

/// Shows the view with what an act did; a refused act answers 409, so a
/// script with a Bearer token can tell.
async fn acted(web: &Web, done: Result<String>) -> Response {
    let (status, notice) = match done {
        Ok(text) => (StatusCode::OK, Notice { ok: true, text }),
        Err(e) => (
            StatusCode::CONFLICT,
            Notice {
                ok: false,
                text: format!("{e:#}"),
            },
        ),
    };
    let mut page = operator_page(web, Some(notice)).await;
    if page.status() == StatusCode::OK {
        *page.status_mut() = status;
    }
    page
}

fn parse_id(form: &IdForm) -> Result<Uuid> {
    form.id
        .trim()
        .parse()
        .map_err(|_| anyhow::anyhow!("{:?} is not an investigation id (a UUID)", form.id.trim()))
}

async fn retry(State(web): State<Web>, Form(form): Form<IdForm>) -> Response {
    let done = async { crate::operator::retry(&web.settings, parse_id(&form)?).await };
    acted(&web, done.await).await
}

async fn cancel(State(web): State<Web>, Form(form): Form<IdForm>) -> Response {
    let done = async { crate::operator::cancel(&web.settings, parse_id(&form)?).await };
    acted(&web, done.await).await
}

async fn pause(State(web): State<Web>) -> Response {
    acted(&web, crate::operator::set_paused(&web.settings, true).await).await
}

async fn resume(State(web): State<Web>) -> Response {
    acted(
        &web,
        crate::operator::set_paused(&web.settings, false).await,
    )
    .await
}
