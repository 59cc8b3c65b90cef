//! Following investigations as they run: `fiscal watch ID`, and the live board of
//! `fiscal dev`. Transitions arrive through LISTEN (the channel
//! `fiscal_watch_<id>`, see `sql/migrations/0006_operations.sql`); the progress
//! fraction in between is read every half second while a job runs.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use futures_util::stream::poll_fn;
use futures_util::StreamExt;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::Value;
use tokio::sync::mpsc;
use tokio_postgres::{AsyncMessage, Client};
use uuid::Uuid;

use crate::config::Settings;
use crate::domain::format;

/// What a watcher shows of one row.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub id: Uuid,
    pub query: String,
    pub status: String,
    pub phase: Option<String>,
    pub progress: f64,
    pub anomalies_found: i32,
    pub processing_time_ms: Option<i32>,
    pub error_message: Option<String>,
    pub summary: Option<String>,
    pub results: Option<Value>,
}

impl Snapshot {
    pub fn is_finished(&self) -> bool {
        is_finished(&self.status)
    }
}

/// A status no worker changes again: the end of watching.
pub fn is_finished(status: &str) -> bool {
    matches!(status, "completed" | "failed" | "cancelled")
}

/// The channel `sql/migrations/0006_operations.sql` notifies for one investigation.
pub fn channel(id: Uuid) -> String {
    format!("fiscal_watch_{}", id.simple())
}

pub async fn fetch(client: &Client, ids: &[Uuid]) -> Result<Vec<Snapshot>> {
    let rows = client
        .query(
            "select id, query, status, current_phase, coalesce(progress, 0)::float8,
                    coalesce(anomalies_found, 0), processing_time_ms, error_message,
                    summary, results
             from public.investigations where id = any($1)",
            &[&ids],
        )
        .await
        .context("reading investigations")?;
    let mut by_id: HashMap<Uuid, Snapshot> = rows
        .iter()
        .map(|r| {
            let s = Snapshot {
                id: r.get(0),
                query: r.get(1),
                status: r.get(2),
                phase: r.get(3),
                progress: r.get(4),
                anomalies_found: r.get(5),
                processing_time_ms: r.get(6),
                error_message: r.get(7),
                summary: r.get(8),
                results: r.get(9),
            };
            (s.id, s)
        })
        .collect();
    ids.iter()
        .map(|id| {
            by_id
                .remove(id)
                .with_context(|| format!("investigation {id} does not exist"))
        })
        .collect()
}

/// Progress bars on a terminal; elsewhere one line per transition, so logs and
/// tests read the same story.
pub struct Board {
    bars: Option<(MultiProgress, HashMap<Uuid, ProgressBar>)>,
    last: HashMap<Uuid, (String, Option<String>)>,
}

impl Board {
    pub fn new() -> Self {
        let bars = std::io::stdout().is_terminal().then(|| {
            (
                MultiProgress::with_draw_target(ProgressDrawTarget::stdout()),
                HashMap::new(),
            )
        });
        Self {
            bars,
            last: HashMap::new(),
        }
    }

    pub fn show(&mut self, s: &Snapshot) {
        let state = (s.status.clone(), s.phase.clone());
        let changed = self.last.get(&s.id) != Some(&state);
        self.last.insert(s.id, state);
        let label = phase_label(s);
        match &mut self.bars {
            Some((multi, bars)) => {
                let bar = bars.entry(s.id).or_insert_with(|| {
                    let bar = multi.add(ProgressBar::new(100));
                    bar.set_style(
                        ProgressStyle::with_template(
                            "{prefix:.bold} [{bar:30.cyan/blue}] {pos:>3}% {msg}",
                        )
                        .unwrap_or_else(|_| ProgressStyle::default_bar())
                        .progress_chars("=> "),
                    );
                    bar.set_prefix(short(&s.query, 40));
                    bar
                });
                bar.set_position((s.progress * 100.0).round() as u64);
                bar.set_message(label);
                if s.is_finished() && !bar.is_finished() {
                    bar.finish();
                }
            }
            None if changed => {
                println!(
                    "{} {:>3}% {label}  ({})",
                    short(&s.query, 40),
                    (s.progress * 100.0).round(),
                    s.id
                );
            }
            None => {}
        }
    }
}

impl Default for Board {
    fn default() -> Self {
        Self::new()
    }
}

fn phase_label(s: &Snapshot) -> String {
    match s.status.as_str() {
        "completed" => format!(
            "completed: {} anomalies in {:.1} s",
            s.anomalies_found,
            f64::from(s.processing_time_ms.unwrap_or(0)) / 1000.0
        ),
        "processing" => s.phase.clone().unwrap_or_else(|| "claimed".into()),
        other => other.to_string(),
    }
}

fn short(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        format!("{text:<max$}")
    } else {
        let cut: String = text.chars().take(max - 1).collect();
        format!("{cut}…")
    }
}

/// The finished investigation as a citizen would read it: the summary, then the
/// first findings (the worker stores them most serious first).
pub fn render_final(s: &Snapshot, top: usize) -> String {
    let mut out = format!("== {}\n   id {}\n", s.query, s.id);
    match s.status.as_str() {
        "completed" => {
            out.push_str(&format!(
                "   completed in {:.1} s, {} anomalies\n",
                f64::from(s.processing_time_ms.unwrap_or(0)) / 1000.0,
                s.anomalies_found
            ));
            if let Some(summary) = &s.summary {
                for line in summary.lines() {
                    out.push_str(&format!("   {line}\n"));
                }
            }
            let findings = s
                .results
                .as_ref()
                .and_then(Value::as_array)
                .map(Vec::as_slice)
                .unwrap_or_default();
            for (i, f) in findings.iter().take(top).enumerate() {
                let text = |k: &str| f.get(k).and_then(Value::as_str).unwrap_or("");
                let impact = f
                    .pointer("/metadata/financial_impact")
                    .and_then(Value::as_f64)
                    .filter(|v| *v > 0.0)
                    .map(|v| format!(" ({})", format::reais(v)))
                    .unwrap_or_default();
                out.push_str(&format!(
                    "   {}. [{}] {}{impact}\n",
                    i + 1,
                    text("severity"),
                    text("description")
                ));
            }
        }
        status => {
            out.push_str(&format!("   {status}"));
            if let Some(message) = &s.error_message {
                out.push_str(&format!(": {message}"));
            }
            out.push('\n');
        }
    }
    out
}

/// A connection whose notifications arrive on a channel; LISTENs `channels`,
/// unless the URL goes through a transaction-mode pooler.
pub async fn listening_client(
    settings: &Settings,
    channels: &[String],
) -> Result<(
    Client,
    mpsc::UnboundedReceiver<String>,
    tokio::task::JoinHandle<()>,
)> {
    let endpoint = crate::db::Endpoint::new(&settings.database.url, &settings.database)?;
    let listen = endpoint.pooling == crate::db::Pooling::Session;
    let (client, mut connection) = endpoint.connect().await?;
    let (tx, rx) = mpsc::unbounded_channel();
    let driver = tokio::spawn(async move {
        let mut messages = poll_fn(move |cx| connection.poll_message(cx));
        while let Some(Ok(message)) = messages.next().await {
            if let AsyncMessage::Notification(n) = message {
                if tx.send(n.payload().to_string()).is_err() {
                    return;
                }
            }
        }
    });
    if listen {
        let listen: String = channels.iter().map(|c| format!("LISTEN {c};")).collect();
        client
            .batch_execute(&listen)
            .await
            .context("subscribing to the investigations' notifications")?;
    } else {
        // Notifications do not cross a transaction-mode pooler; `follow` reads
        // the rows on its own every few seconds instead.
        tracing::info!("behind a transaction-mode pooler: following by polling, not LISTEN");
    }
    Ok((client, rx, driver))
}

/// Shows `ids` on `board` until every one is finished; returns their last state.
/// LISTEN is set up before the first read, so no transition is missed.
pub async fn follow(
    client: &Client,
    notifications: &mut mpsc::UnboundedReceiver<String>,
    ids: &[Uuid],
    board: &mut Board,
) -> Result<Vec<Snapshot>> {
    loop {
        let snapshots = fetch(client, ids).await?;
        for s in &snapshots {
            board.show(s);
        }
        if snapshots.iter().all(Snapshot::is_finished) {
            return Ok(snapshots);
        }
        let running = snapshots.iter().any(|s| s.status == "processing");
        // A pending row only changes with a notification; the wait is bounded
        // anyway, so a notification lost with a reconnect costs seconds, not forever.
        let wait = if running {
            Duration::from_millis(500)
        } else {
            Duration::from_secs(5)
        };
        tokio::select! {
            message = notifications.recv() => if message.is_none() {
                bail!("the database connection was lost while watching");
            },
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

/// `fiscal watch ID`: exits 0 when the investigation completes, with an error
/// when it fails or is cancelled.
pub async fn run(settings: &Settings, id: Uuid) -> Result<()> {
    let (client, mut notifications, driver) = listening_client(settings, &[channel(id)]).await?;
    let mut board = Board::new();
    let result = follow(&client, &mut notifications, &[id], &mut board).await;
    drop(client);
    driver.abort();
    let last = result?
        .pop()
        .with_context(|| format!("investigation {id} does not exist"))?;
    print!("{}", render_final(&last, 10));
    match last.status.as_str() {
        "completed" => Ok(()),
        status => bail!("investigation {id} ended {status}"),
    }
}
