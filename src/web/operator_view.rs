//! `/operator`: what `fiscal status` and `fiscal failed` print, as a page, with
//! the controls of `fiscal retry`, `fiscal cancel`, `fiscal pause` and `fiscal
//! resume` as buttons. In English, as the operator's logs and commands are.

use maud::{html, Markup};

use super::pages::{columns, layout};
use crate::status::{DeadLetter, QueueDepth, RunningJob, WorkerRow};

/// What the view shows, read in one go (src/web/mod.rs).
pub struct Board {
    pub queue: QueueDepth,
    pub claims_paused: bool,
    pub workers: Vec<WorkerRow>,
    pub running: Vec<RunningJob>,
    pub failed: Vec<DeadLetter>,
}

/// What an act did, shown above the view.
pub struct Notice {
    pub ok: bool,
    pub text: String,
}

fn at(t: Option<chrono::DateTime<chrono::Utc>>) -> String {
    t.map(crate::status::at).unwrap_or_default()
}

/// A button that posts `id` to `action`: a form of its own, so it works
/// without scripts.
fn button(action: &str, id: Option<uuid::Uuid>, label: &str, class: &str) -> Markup {
    // Every row has one: each says which investigation it acts on.
    let named = id.map(|id| format!("{label} investigation {id}"));
    html! {
        form.inline method="post" action=(action) {
            @if let Some(id) = id { input type="hidden" name="id" value=(id); }
            button type="submit" class=(class) aria-label=[named] { (label) }
        }
    }
}

pub fn view(board: &Board, notice: Option<&Notice>) -> Markup {
    let q = &board.queue;
    let (running, failed) = (&board.running, &board.failed);
    let body = html! {
        h1 { "Operator view" }
        @if let Some(n) = notice {
            div class=(if n.ok { "aviso" } else { "erro" }) role="status" id="notice" { (n.text) }
        }
        section aria-labelledby="queue" {
            h2 id="queue" { "Queue" }
            table.lista id="queue-depth" {
                tbody {
                    tr { th scope="row" { "Pending" } td.num id="pending" { (q.pending) } }
                    tr { th scope="row" { "Runnable now" } td.num { (q.runnable) } }
                    tr { th scope="row" { "Processing" } td.num id="processing" { (q.processing) } }
                    tr { th scope="row" { "Expired leases" } td.num { (q.expired_leases) } }
                    tr { th scope="row" { "Oldest pending" } td.num {
                        (q.oldest_pending_seconds.map(crate::status::age).unwrap_or_else(|| "none".into()))
                    } }
                }
            }
            div id="claims" {
                @if board.claims_paused {
                    strong.estado.failed { "Claims are paused" }
                    ": no worker takes a new investigation; running ones finish. "
                    (button("/operator/resume", None, "Resume claims", ""))
                } @else {
                    strong.estado.completed { "Claims are running" } ". "
                    (button("/operator/pause", None, "Pause claims", "secundario"))
                }
            }
        }
        section aria-labelledby="workers" {
            h2 id="workers" { "Workers alive (" (board.workers.len()) ")" }
            @if board.workers.is_empty() {
                p { "No worker has reported in the last heartbeats." }
            } @else {
                table {
                    (columns(&["Worker", "Host", "PID", "Version", "Running", "Last seen"]))
                    tbody { @for w in &board.workers { tr {
                        td { code { (w.worker_id) } } td { (w.hostname) } td.num { (w.pid) }
                        td { (w.version) } td.num { (w.running) " / " (w.concurrency) }
                        td { (at(Some(w.last_seen_at))) }
                    } } }
                }
            }
        }
        section aria-labelledby="running" {
            h2 id="running" { "Running investigations (" (running.len()) ")" }
            @if running.is_empty() {
                p { "Nothing is running." }
            } @else {
                table {
                    (columns(&["Investigation", "Source", "Phase", "Progress", "Worker", "Attempt", "Started", ""]))
                    tbody { @for j in running { tr {
                        td { code { (j.id) } } td { (j.data_source) }
                        td { (j.phase.as_deref().unwrap_or("claimed")) }
                        td.num { (format!("{:.0}%", j.progress * 100.0)) }
                        td { code { (j.worker_id.as_deref().unwrap_or("")) } }
                        td.num { (j.attempts) } td { (at(j.started_at)) }
                        td { (button("/operator/cancel", Some(j.id), "Cancel", "perigo")) }
                    } } }
                }
            }
            form method="post" action="/operator/cancel" {
                label for="cancel-id" { "Cancel a pending or running investigation by id: " }
                input id="cancel-id" name="id" size="38" required;
                " "
                button type="submit" class="perigo" { "Cancel" }
            }
        }
        section aria-labelledby="failed" {
            h2 id="failed" { "Failed investigations (dead letters)" }
            @if failed.is_empty() {
                p { "No investigation has failed." }
            } @else {
                table id="failures" {
                    (columns(&["Investigation", "Question", "What the citizen read", "Last error", "Attempts", "Failed at", ""]))
                    tbody { @for d in failed { tr {
                        td { code { (d.failure.id) } } td { (d.query) }
                        td { (d.failure.error_message.as_deref().unwrap_or("")) }
                        td { (d.last_error.as_deref().unwrap_or("")) }
                        td.num { (d.failure.attempts) } td { (at(d.failure.failed_at)) }
                        td { (button("/operator/retry", Some(d.failure.id), "Retry", "")) }
                    } } }
                }
            }
        }
    };
    layout("en", "Operator", None, body)
}

/// 401 and 403: the operator view's door.
pub fn refused(title: &str, text: &str) -> Markup {
    layout(
        "en",
        title,
        None,
        html! {
            h1 { (title) }
            div.erro role="alert" { p { (text) } }
        },
    )
}
