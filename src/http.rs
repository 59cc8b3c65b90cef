//! The worker's HTTP endpoints, for orchestrators and Prometheus:
//! `/healthz` answers while the process runs, `/readyz` while the database
//! answers and the schema is current, `/metrics` in Prometheus' text format;
//! and the web page (src/web) when `http.ui` is on.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::db::Pool;
use crate::metrics::Metrics;

/// A probe never waits longer than this for the database: an orchestrator's
/// own timeout is usually a few seconds.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Clone)]
struct Endpoints {
    pool: Pool,
    metrics: Arc<Metrics>,
}

/// Binds early, so a taken port stops the worker at start-up with a clear
/// message instead of leaving it unobservable.
pub async fn bind(listen: &str) -> Result<TcpListener> {
    TcpListener::bind(listen).await.with_context(|| {
        format!(
            "serving the HTTP endpoints on http.listen = {listen:?}; every worker process on \
             a host needs its own port (FISCAL_HTTP__LISTEN), or set it empty to turn them off"
        )
    })
}

pub async fn serve(
    listener: TcpListener,
    pool: Pool,
    metrics: Arc<Metrics>,
    web: Option<crate::web::Web>,
    stop: CancellationToken,
) {
    if let Ok(addr) = listener.local_addr() {
        if web.is_some() {
            info!(%addr, "HTTP endpoints: /healthz /readyz /metrics, the web page at / and /operator");
        } else {
            info!(%addr, "HTTP endpoints: /healthz /readyz /metrics");
        }
    }
    let mut app = Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(scrape))
        .with_state(Endpoints { pool, metrics });
    if let Some(web) = web {
        app = app.merge(crate::web::router(web));
    }
    if let Err(e) = axum::serve(listener, app)
        .with_graceful_shutdown(stop.cancelled_owned())
        .await
    {
        warn!(error = %e, "the HTTP endpoints stopped");
    }
}

async fn ready(State(e): State<Endpoints>) -> impl IntoResponse {
    let check = async {
        let client = e
            .pool
            .get()
            .await
            .map_err(|err| format!("database unreachable: {err}"))?;
        let pending = crate::db::migrate::pending(&client)
            .await
            .map_err(|err| format!("could not read the schema version: {err:#}"))?;
        if pending.is_empty() {
            Ok(())
        } else {
            Err(format!("migrations pending: {}", pending.join(", ")))
        }
    };
    match tokio::time::timeout(PROBE_TIMEOUT, check).await {
        Ok(Ok(())) => (StatusCode::OK, "ready\n".to_string()),
        Ok(Err(why)) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {why}\n"),
        ),
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: the database did not answer within {PROBE_TIMEOUT:?}\n"),
        ),
    }
}

async fn scrape(State(e): State<Endpoints>) -> impl IntoResponse {
    let sample = async {
        let client = e.pool.get().await.ok()?;
        crate::status::queue_depth(&client).await.ok()
    };
    let depth = tokio::time::timeout(PROBE_TIMEOUT, sample)
        .await
        .ok()
        .flatten();
    e.metrics.queue(depth.as_ref());
    e.metrics.pool(e.pool.status());
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        e.metrics.encode(),
    )
}
