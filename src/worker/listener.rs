//! The LISTEN connection: turns NOTIFYs from the table's triggers into wake-ups
//! (new work) and cancellation checks, and reconnects with back-off when the
//! database goes away. The poll in the main loop covers the time it is down.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use futures_util::stream::poll_fn;
use futures_util::StreamExt;
use tokio::sync::mpsc;
use tokio_postgres::AsyncMessage;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::Shared;
use crate::db;

/// The channel the triggers of `sql/migrations/0002_queue.sql` notify.
pub const CHANNEL: &str = "fiscal_investigations";

pub(super) async fn run(shared: Arc<Shared>, stop: CancellationToken) {
    let mut delay = Duration::from_millis(250);
    let mut was_down = false;
    while !stop.is_cancelled() {
        match listen_once(&shared, &stop).await {
            Ok(()) => return,
            Err(e) => {
                shared.listening.store(false, Ordering::Relaxed);
                if was_down {
                    debug!(error = %format!("{e:#}"), "LISTEN connection still down");
                } else {
                    warn!(error = %format!("{e:#}"), "LISTEN connection lost; polling until it is back");
                    was_down = true;
                }
            }
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(delay) => {}
        }
        delay = (delay * 2).min(Duration::from_secs(30));
    }
}

/// One connection's life. Returns Ok only when asked to stop.
async fn listen_once(shared: &Arc<Shared>, stop: &CancellationToken) -> anyhow::Result<()> {
    let mut endpoint = db::Endpoint::new(&shared.settings.database.url, &shared.settings.database)?;
    endpoint.config.application_name("fiscal listener");
    let (client, mut connection) = endpoint
        .connect()
        .await
        .context("connecting the LISTEN session")?;

    // The connection must be polled for the client to make progress; this task
    // drives it and hands notifications over.
    let (tx, mut rx) = mpsc::unbounded_channel();
    let driver = tokio::spawn(async move {
        let mut messages = poll_fn(move |cx| connection.poll_message(cx));
        while let Some(message) = messages.next().await {
            match message {
                Ok(AsyncMessage::Notification(n)) => {
                    if tx.send(Ok(n.payload().to_string())).is_err() {
                        return;
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    let _ = tx.send(Err(e));
                    return;
                }
            }
        }
    });

    let result = async {
        client
            .batch_execute(&format!("LISTEN {CHANNEL}"))
            .await
            .map_err(|e| anyhow::anyhow!("LISTEN {CHANNEL}: {e}"))?;
        shared.listening.store(true, Ordering::Relaxed);
        info!("listening for new and cancelled investigations");
        // Anything inserted while we were not listening is claimed now.
        shared.wake.notify_one();
        shared.check_cancel.notify_one();
        loop {
            tokio::select! {
                _ = stop.cancelled() => return Ok(()),
                message = rx.recv() => match message {
                    Some(Ok(payload)) => match payload.as_str() {
                        "cancelled" => shared.check_cancel.notify_one(),
                        _ => shared.wake.notify_one(),
                    },
                    Some(Err(e)) => return Err(anyhow::anyhow!("LISTEN session: {e}")),
                    None => return Err(anyhow::anyhow!("LISTEN session closed")),
                },
            }
        }
    }
    .await;
    drop(client);
    driver.abort();
    result
}
