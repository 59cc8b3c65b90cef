//! A pipeline whose behaviour is written in the investigation's `query`, so a test
//! (or a worker process it spawns) can ask for instant, slow, silent, stubborn,
//! failing or panicking jobs. Every run is recorded in `test.runs`.
//!
//!   instant            completes at once
//!   steps N MS         N progress steps of MS ms each, stopping on cancellation
//!   silent MS          MS ms without any progress report, stopping on cancellation
//!   stubborn MS        MS ms, ignoring cancellation
//!   fail permanent | fail retryable | panic
//!   abort              takes the whole worker process down, every time

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use fiscal::db::Pool;
use fiscal::pipeline::{Completion, Job, JobError, Phase, Pipeline, Pipelines, Progress};
use serde_json::json;
use tokio_util::sync::CancellationToken;

pub struct Scripted {
    pool: Pool,
    worker: String,
}

/// Every data source served by the scripted pipeline.
pub fn pipelines(url: &str, worker: &str) -> Pipelines {
    let settings = crate::harness::test_settings(url);
    let pipeline: Arc<dyn Pipeline> = Arc::new(Scripted {
        pool: fiscal::db::pool(&settings.database).expect("a pool for test.runs"),
        worker: worker.to_string(),
    });
    [
        "contracts",
        "expenses",
        "agreements",
        "biddings",
        "servants",
    ]
    .into_iter()
    .fold(Pipelines::default(), |p, source| {
        p.with(source, pipeline.clone())
    })
}

impl Scripted {
    async fn record(&self, job: &Job, stopped: Option<&str>) {
        let Ok(client) = self.pool.get().await else {
            return;
        };
        let _ = match stopped {
            None => client
                .execute(
                    "insert into test.runs (investigation_id, worker, attempt) values ($1, $2, $3)",
                    &[&job.id, &self.worker, &job.attempt],
                )
                .await,
            Some(outcome) => {
                client
                    .execute(
                        "update test.runs set stopped_at = clock_timestamp(), outcome = $4
                         where investigation_id = $1 and worker = $2 and attempt = $3",
                        &[&job.id, &self.worker, &job.attempt, &outcome],
                    )
                    .await
            }
        };
    }
}

/// Sleeps, unless the token fires first. True if it fired.
async fn pause(ms: u64, cancel: &CancellationToken) -> bool {
    tokio::select! {
        _ = cancel.cancelled() => true,
        _ = tokio::time::sleep(Duration::from_millis(ms)) => false,
    }
}

pub fn completion(records: i32) -> Completion {
    Completion {
        results: json!([]),
        anomalies_found: 0,
        total_records_analyzed: records,
        confidence_score: Some(1.0),
        summary: "Nenhuma anomalia encontrada.".into(),
        metadata: json!({"pipeline": "scripted"}),
    }
}

#[async_trait]
impl Pipeline for Scripted {
    async fn run(
        &self,
        job: &Job,
        progress: &Progress,
        cancel: &CancellationToken,
    ) -> Result<Completion, JobError> {
        self.record(job, None).await;
        let words: Vec<&str> = job.query.split_whitespace().collect();
        let number = |i: usize| {
            words
                .get(i)
                .and_then(|w| w.parse::<u64>().ok())
                .unwrap_or(0)
        };
        let outcome = match words.first().copied() {
            Some("instant") => Ok(completion(1)),
            Some("steps") => {
                let (n, ms) = (number(1), number(2));
                let mut result = Ok(completion(n as i32));
                for i in 0..n {
                    progress.set(Phase::DataRetrieval, i as f64 / n as f64);
                    progress.records_analyzed(i as usize);
                    if pause(ms, cancel).await {
                        result = Err(JobError::Cancelled);
                        break;
                    }
                }
                result
            }
            Some("silent") => {
                if pause(number(1), cancel).await {
                    Err(JobError::Cancelled)
                } else {
                    Ok(completion(0))
                }
            }
            Some("stubborn") => {
                tokio::time::sleep(Duration::from_millis(number(1))).await;
                Ok(completion(0))
            }
            Some("fail") if words.get(1) == Some(&"permanent") => Err(JobError::permanent(
                "Os filtros pedidos não são válidos: o campo \"year\" deve ser um número inteiro.",
            )),
            Some("fail") => Err(JobError::retryable(
                "A fonte de dados não respondeu.",
                anyhow::anyhow!("upstream timed out after 30s"),
            )),
            Some("panic") => panic!("scripted panic"),
            Some("abort") => std::process::abort(),
            _ => Err(JobError::permanent(format!(
                "unknown script {:?}",
                job.query
            ))),
        };
        let label = match &outcome {
            Ok(_) => "completed",
            Err(JobError::Cancelled) => "cancelled",
            Err(_) => "failed",
        };
        self.record(job, Some(label)).await;
        outcome
    }
}
