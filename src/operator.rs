//! The operator's controls: `fiscal retry ID`, `fiscal cancel ID`, `fiscal
//! pause` and `fiscal resume`, and the same acts on the web page's operator
//! view (src/web). They connect with the migration URL: these are
//! an operator's acts, which the worker's role is not granted (it may not set
//! `cancelled`, nor write `fiscal.settings`). The statements are the queue's
//! (src/queue.rs).

use anyhow::{bail, Context, Result};
use tokio_postgres::types::Type;
use tokio_postgres::Client;
use uuid::Uuid;

use crate::config::Settings;
use crate::queue::{
    CANCEL, HAS_PAUSE_SWITCH, RETRY_FAILED, SET_CLAIMS_PAUSED, STATUS_OF, WAKE_WORKERS,
};

/// Runs `act` on a connection of the migration URL, then closes it.
macro_rules! connected {
    ($settings:expr, |$client:ident| $act:expr) => {{
        let ($client, driver) =
            crate::db::connect_driven($settings.migrate_url(), &$settings.database).await?;
        let result: Result<String> = async { $act }.await;
        drop($client);
        let _ = driver.await;
        result
    }};
}

/// Why `id` was not changed: that there is no such row, its status, or, when
/// its status was one the command takes, that this role may not change it.
async fn refusal(client: &Client, id: Uuid, takes: &[&str], wanted: &str) -> Result<String> {
    let row = client
        .query_typed_opt(STATUS_OF, &[(&id, Type::UUID)])
        .await
        .context("reading the investigation")?;
    Ok(match row {
        None => format!("no investigation {id}"),
        Some(row) => {
            let status: String = row.get(0);
            if takes.contains(&status.as_str()) {
                format!(
                    "investigation {id} is {status}, but this database role may not change it: \
                     set database.migrate_url (FISCAL_DATABASE__MIGRATE_URL) to the owner's URL"
                )
            } else {
                format!("investigation {id} is {status}; {wanted}")
            }
        }
    })
}

/// An act on one investigation: `statement` changes row `id` when its status
/// is one of `takes`; otherwise the operator is told why not.
struct Act {
    statement: &'static str,
    takes: &'static [&'static str],
    context: &'static str,
    refused: &'static str,
    done: &'static str,
}

async fn act(settings: &Settings, id: Uuid, act: Act) -> Result<String> {
    connected!(settings, |client| {
        let changed = client
            .query_typed_opt(act.statement, &[(&id, Type::UUID)])
            .await
            .context(act.context)?;
        if changed.is_none() {
            bail!("{}", refusal(&client, id, act.takes, act.refused).await?);
        }
        Ok(format!("investigation {id} {}", act.done))
    })
}

/// `fiscal retry ID`: a failed investigation runs again, with fresh attempts.
/// Each act returns what it did, for the operator.
pub async fn retry(settings: &Settings, id: Uuid) -> Result<String> {
    let retry = Act {
        statement: RETRY_FAILED,
        takes: &["failed"],
        context: "queueing the investigation again",
        refused: "only a failed investigation is retried",
        done: "is pending again, with fresh attempts",
    };
    act(settings, id, retry).await
}

/// `fiscal cancel ID`: a pending or running investigation is cancelled.
pub async fn cancel(settings: &Settings, id: Uuid) -> Result<String> {
    let cancel = Act {
        statement: CANCEL,
        takes: &["pending", "processing"],
        context: "cancelling the investigation",
        refused: "only a pending or running investigation is cancelled",
        done: "is cancelled",
    };
    act(settings, id, cancel).await
}

/// `fiscal pause` (`paused`) or `fiscal resume`: every worker of the fleet
/// stops or starts claiming at its next claim; running investigations finish.
pub async fn set_paused(settings: &Settings, paused: bool) -> Result<String> {
    connected!(settings, |client| {
        let switch: bool = client
            .query_typed_one(HAS_PAUSE_SWITCH, &[])
            .await
            .context("looking for the pause switch")?
            .get(0);
        if !switch {
            bail!(
                "this database's schema has no pause switch that workers read: run \
                 `fiscal migrate` first"
            );
        }
        client
            .execute_typed(SET_CLAIMS_PAUSED, &[(&paused, Type::BOOL)])
            .await
            .context("setting fiscal.settings claims_paused")?;
        if paused {
            return Ok(
                "claims paused: workers take nothing new; running investigations finish".into(),
            );
        }
        client
            .execute_typed(WAKE_WORKERS, &[])
            .await
            .context("waking the workers")?;
        Ok("claims resumed".into())
    })
}
