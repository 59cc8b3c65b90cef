//! `/investigacoes/ID/eventos`: the investigation's progress as server-sent
//! events, until it finishes. Transitions wake the stream through LISTEN on
//! the investigation's channel (migration 0006); the progress fraction, which
//! does not notify, is read every half second while the job runs. Behind a
//! transaction-mode pooler (on `database.url`, where LISTEN would connect),
//! or when a listening connection cannot be had, the stream polls instead:
//! slower to notice a claim, never wrong. At most `LIVE_STREAMS` streams run
//! at once; past that the page is told to come back (503, Retry-After) and
//! reloads itself. Streams end when the server stops.
//!
//! Every read is the citizen's (src/web/citizen.rs), so a stream for another
//! citizen's investigation ends before it starts, with a 404.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream::{self, Stream};
use futures_util::StreamExt;
use serde_json::json;
use tokio::sync::{mpsc, OwnedSemaphorePermit};
use tracing::debug;
use uuid::Uuid;

use super::citizen::{self, Progress};
use super::pages;
use super::Web;

/// Streams open at once, each with at most one listening connection beside
/// the page's pool.
pub const LIVE_STREAMS: usize = 32;

/// A running job's fraction is read this often; a pending row changes only
/// with a notification, read at least every `PENDING_POLL` anyway.
const RUNNING_POLL: Duration = Duration::from_millis(500);
const PENDING_POLL: Duration = Duration::from_secs(3);

/// The LISTEN connection of one stream, closed with it.
struct Listening {
    _client: tokio_postgres::Client,
    notifications: mpsc::UnboundedReceiver<String>,
    driver: tokio::task::JoinHandle<()>,
}

impl Drop for Listening {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

struct Follow {
    web: Web,
    id: Uuid,
    listening: Option<Listening>,
    last: Option<Progress>,
    done: bool,
    _permit: OwnedSemaphorePermit,
}

pub async fn events(State(web): State<Web>, Path(id): Path<String>) -> Response {
    let Ok(id) = id.parse::<Uuid>() else {
        return (StatusCode::NOT_FOUND, pages::not_found()).into_response();
    };
    let Ok(permit) = web.live.clone().try_acquire_owned() else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, "5")],
            "too many live pages at once\n",
        )
            .into_response();
    };
    // Access first, so a guessed id costs no connection. The stream's own
    // first read comes after LISTEN, so no transition falls in between.
    match citizen::progress(&web.pool, web.citizen.id, id).await {
        Ok(Some(_)) => {}
        Ok(None) => return (StatusCode::NOT_FOUND, pages::not_found()).into_response(),
        Err(e) => return super::unavailable(&e),
    }
    let listening = listen(&web, id).await;
    let stop = web.stop.clone();
    let follow = Follow {
        web,
        id,
        listening,
        last: None,
        done: false,
        _permit: permit,
    };
    Sse::new(updates(follow).take_until(stop.cancelled_owned()))
        .keep_alive(KeepAlive::default())
        .into_response()
}

async fn listen(web: &Web, id: Uuid) -> Option<Listening> {
    if !web.listens {
        return None;
    }
    match crate::watch::listening_client(&web.settings, &[crate::watch::channel(id)]).await {
        Ok((client, notifications, driver)) => Some(Listening {
            _client: client,
            notifications,
            driver,
        }),
        Err(e) => {
            debug!(error = %format!("{e:#}"), "live page: polling instead of LISTEN");
            None
        }
    }
}

fn updates(follow: Follow) -> impl Stream<Item = Result<Event, Infallible>> {
    stream::unfold(follow, |mut f| async move {
        if f.done {
            return None;
        }
        loop {
            let now = match citizen::progress(&f.web.pool, f.web.citizen.id, f.id).await {
                Ok(Some(now)) => now,
                // Deleted meanwhile, or the database is away: the page's own
                // reload (or EventSource's reconnect) takes it from here.
                Ok(None) | Err(_) => return None,
            };
            if f.last.as_ref() != Some(&now) {
                f.done = now.is_finished();
                let event = Event::default()
                    .event("estado")
                    .data(payload(&now).to_string());
                f.last = Some(now);
                return Some((Ok(event), f));
            }
            let wait = if now.status == "processing" {
                RUNNING_POLL
            } else {
                PENDING_POLL
            };
            match &mut f.listening {
                Some(l) => {
                    tokio::select! {
                        message = l.notifications.recv() => if message.is_none() {
                            f.listening = None;
                        },
                        _ = tokio::time::sleep(wait) => {}
                    }
                }
                None => tokio::time::sleep(wait).await,
            }
        }
    })
}

/// What the page's script reads (static/ao-vivo.js).
fn payload(p: &Progress) -> serde_json::Value {
    json!({
        "status": p.status,
        "estado": pages::status_label(&p.status),
        "fase": pages::phase_label(&p.status, p.phase.as_deref()),
        "progresso": (p.progress * 100.0).round().clamp(0.0, 100.0),
        "anomalias": p.anomalies_found,
        "terminada": p.is_finished(),
    })
}
