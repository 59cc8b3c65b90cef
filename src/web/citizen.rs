//! What the page reads and writes as its citizen: every statement runs in a
//! transaction that first takes the citizen's identity as PostgREST does
//! (`role` authenticated, `request.jwt.claims` with the citizen's id), so Row
//! Level Security decides what is visible, exactly as for the real frontend.
//! A row of another citizen is not hidden by this code: the database never
//! returns it. One statement is the owner's: creating the development
//! citizen in `auth.users` before its first question (src/enqueue.rs).

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use deadpool_postgres::Transaction;
use serde_json::{json, Value};
use tokio_postgres::types::Type;
use tokio_postgres::Row;
use uuid::Uuid;

use crate::db::Pool;

/// The page's citizen.
#[derive(Debug, Clone, Copy)]
pub struct Citizen {
    pub id: Uuid,
    /// Created in `auth.users` on first ask (the development citizen).
    pub create: bool,
}

/// One of the citizen's investigations as the list shows it.
#[derive(Debug, Clone)]
pub struct Listed {
    pub id: Uuid,
    pub query: String,
    pub data_source: String,
    pub status: String,
    pub progress: f64,
    pub anomalies_found: i32,
    pub created_at: DateTime<Utc>,
}

/// One investigation as its page shows it.
#[derive(Debug, Clone)]
pub struct Investigation {
    pub id: Uuid,
    pub query: String,
    pub data_source: String,
    pub filters: Value,
    pub status: String,
    pub phase: Option<String>,
    pub progress: f64,
    pub anomalies_found: i32,
    pub records_analyzed: i32,
    pub processing_time_ms: Option<i32>,
    pub error_message: Option<String>,
    pub summary: Option<String>,
    pub results: Value,
    pub created_at: DateTime<Utc>,
}

impl Investigation {
    pub fn is_finished(&self) -> bool {
        crate::watch::is_finished(&self.status)
    }
}

/// What changes while an investigation runs: what the live page is sent.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    pub status: String,
    pub phase: Option<String>,
    pub progress: f64,
    pub anomalies_found: i32,
}

impl Progress {
    pub fn is_finished(&self) -> bool {
        crate::watch::is_finished(&self.status)
    }
}

async fn acting_as<'c>(conn: &'c mut crate::db::Conn, citizen: Uuid) -> Result<Transaction<'c>> {
    let tx = conn
        .transaction()
        .await
        .context("opening a transaction for the page")?;
    crate::enqueue::act_as(&tx, citizen)
        .await
        .context("the page connects with the migration URL")?;
    Ok(tx)
}

async fn connection(pool: &Pool) -> Result<crate::db::Conn> {
    pool.get()
        .await
        .map_err(|e| anyhow::anyhow!("no database connection for the page: {e}"))
}

/// Runs one query as the citizen and returns its rows.
async fn read(
    pool: &Pool,
    citizen: Uuid,
    sql: &str,
    params: &crate::db::Params<'_>,
    what: &'static str,
) -> Result<Vec<Row>> {
    let mut conn = connection(pool).await?;
    let tx = acting_as(&mut conn, citizen).await?;
    let rows = tx.query_typed(sql, params).await.context(what)?;
    tx.commit().await?;
    Ok(rows)
}

/// The citizen's latest investigations, newest first, through
/// `idx_investigations_user_created`.
pub async fn list(pool: &Pool, citizen: Uuid, limit: i64) -> Result<Vec<Listed>> {
    let rows = read(
        pool,
        citizen,
        "select id, query, data_source, status, coalesce(progress, 0)::float8,
             coalesce(anomalies_found, 0), created_at
         from public.investigations where user_id = $1
         order by created_at desc limit $2",
        &[(&citizen, Type::UUID), (&limit, Type::INT8)],
        "reading the citizen's investigations",
    )
    .await?;
    Ok(rows
        .iter()
        .map(|r| Listed {
            id: r.get(0),
            query: r.get(1),
            data_source: r.get(2),
            status: r.get(3),
            progress: r.get(4),
            anomalies_found: r.get(5),
            created_at: r.get(6),
        })
        .collect())
}

/// The investigation, when the citizen may see it.
pub async fn investigation(pool: &Pool, citizen: Uuid, id: Uuid) -> Result<Option<Investigation>> {
    let rows = read(
        pool,
        citizen,
        "select id, query, data_source, coalesce(filters, '{}'), status, current_phase,
             coalesce(progress, 0)::float8, coalesce(anomalies_found, 0),
             coalesce(total_records_analyzed, 0), processing_time_ms, error_message,
             summary, coalesce(results, '[]'), created_at
         from public.investigations where id = $1",
        &[(&id, Type::UUID)],
        "reading the investigation",
    )
    .await?;
    Ok(rows.first().map(|r| Investigation {
        id: r.get(0),
        query: r.get(1),
        data_source: r.get(2),
        filters: r.get(3),
        status: r.get(4),
        phase: r.get(5),
        progress: r.get(6),
        anomalies_found: r.get(7),
        records_analyzed: r.get(8),
        processing_time_ms: r.get(9),
        error_message: r.get(10),
        summary: r.get(11),
        results: r.get(12),
        created_at: r.get(13),
    }))
}

/// The live part of the investigation, when the citizen may see it.
pub async fn progress(pool: &Pool, citizen: Uuid, id: Uuid) -> Result<Option<Progress>> {
    let rows = read(
        pool,
        citizen,
        "select status, current_phase, coalesce(progress, 0)::float8,
             coalesce(anomalies_found, 0)
         from public.investigations where id = $1",
        &[(&id, Type::UUID)],
        "reading the investigation's progress",
    )
    .await?;
    Ok(rows.first().map(|r| Progress {
        status: r.get(0),
        phase: r.get(1),
        progress: r.get(2),
        anomalies_found: r.get(3),
    }))
}

/// Why a question was not accepted, in the citizen's words.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    /// The database's own pt-BR message: the per-citizen cap, a size limit, a
    /// malformed field (src/input.rs and migration 0008 hold the limits).
    #[error("{0}")]
    ByDatabase(String),
    #[error(transparent)]
    Failed(#[from] anyhow::Error),
}

/// Inserts the question as the citizen, exactly as `fiscal enqueue` and the
/// frontend do; returns its id.
pub async fn ask(
    pool: &Pool,
    citizen: Citizen,
    query: &str,
    data_source: &str,
    filters: Value,
) -> Result<Uuid, Refused> {
    let mut conn = connection(pool).await?;
    let request = crate::enqueue::Request {
        user: citizen.id,
        query: query.to_string(),
        data_source: data_source.to_string(),
        filters,
        anomaly_types: json!([]),
        create_user: citizen.create,
    };
    crate::enqueue::enqueue(&mut conn, &request)
        .await
        .map_err(|e| match e.downcast::<crate::enqueue::Refusal>() {
            // The limits of migration 0008 and the cap raise PT4xx with a
            // message for the citizen; anything else is the operator's.
            Ok(refusal) if refusal.code.starts_with("PT") => Refused::ByDatabase(refusal.message),
            Ok(refusal) => Refused::Failed(refusal.into()),
            Err(e) => Refused::Failed(e),
        })
}
