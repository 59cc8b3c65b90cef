//! `fiscal enqueue`: inserts an investigation exactly as the frontend does —
//! under Row Level Security, as the signed-in citizen — so what it proves about
//! grants, policies and the per-citizen cap holds for the real frontend too.
//! Unnamed statements and transaction-local settings only, so it works through a
//! transaction-mode pooler as well.

use anyhow::{Context, Result};
use serde_json::{json, Value};
use tokio_postgres::types::Type;
use tokio_postgres::Client;
use uuid::Uuid;

pub struct Request {
    pub user: Uuid,
    pub query: String,
    pub data_source: String,
    pub filters: Value,
    pub anomaly_types: Value,
    /// Create the citizen in `auth.users` first (development databases; on
    /// Supabase, citizens sign up through Auth).
    pub create_user: bool,
}

/// `fiscal enqueue`: prints the new id.
pub async fn run(settings: &crate::config::Settings, request: &Request) -> Result<()> {
    let (mut client, driver) =
        crate::db::connect_driven(&settings.database.url, &settings.database).await?;
    let id = enqueue(&mut client, request).await;
    drop(client);
    let _ = driver.await;
    println!("{}", id?);
    Ok(())
}

/// The database refused the insert: its SQLSTATE and message (the limits of
/// migration 0008 and the cap speak pt-BR, for the citizen).
#[derive(Debug, thiserror::Error)]
#[error("the database refused the investigation ({code}): {message}")]
pub struct Refusal {
    pub code: String,
    pub message: String,
}

/// The rest of `tx` runs as citizen `user`, under Row Level Security, as
/// PostgREST does for a signed-in user: both settings local to the transaction,
/// so they end with it (and with its rollback when it is dropped unfinished).
pub async fn act_as(tx: &tokio_postgres::Transaction<'_>, user: Uuid) -> Result<()> {
    let claims = json!({"sub": user, "role": "authenticated"}).to_string();
    tx.execute_typed(
        "select set_config('role', 'authenticated', true), set_config('request.jwt.claims', $1, true)",
        &[(&claims, Type::TEXT)],
    )
    .await
    .context("acting as the citizen (the connecting role must be able to SET ROLE authenticated)")?;
    Ok(())
}

/// Returns the new investigation's id. A refusal by the database (the cap,
/// PT429; a policy, 42501) comes back with its own message.
pub async fn enqueue(client: &mut Client, request: &Request) -> Result<Uuid> {
    if request.create_user {
        client
            .execute_typed(
                "insert into auth.users (id) values ($1) on conflict (id) do nothing",
                &[(&request.user, Type::UUID)],
            )
            .await
            .context("creating the citizen in auth.users")?;
    }
    let tx = client.transaction().await?;
    act_as(&tx, request.user).await?;
    let inserted = tx
        .query_typed_one(
            "insert into public.investigations (query, data_source, filters, anomaly_types)
             values ($1, $2, $3, $4) returning id",
            &[
                (&request.query, Type::TEXT),
                (&request.data_source, Type::TEXT),
                (&request.filters, Type::JSONB),
                (&request.anomaly_types, Type::JSONB),
            ],
        )
        .await;
    let id: Uuid = match inserted {
        Ok(row) => row.get(0),
        Err(e) => match e.as_db_error() {
            Some(db) => {
                return Err(Refusal {
                    code: db.code().code().to_string(),
                    message: db.message().to_string(),
                }
                .into())
            }
            None => return Err(e).context("inserting the investigation"),
        },
    };
    tx.commit().await?;
    Ok(id)
}
