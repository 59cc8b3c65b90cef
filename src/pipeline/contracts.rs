//! The anomaly pipeline over federal contracts (`data_source = 'contracts'`):
//! `data_retrieval` → `anomaly_detection` (progress per detector family) →
//! `analysis` (merge, rank, cap) → `summary_generation`.
//!
//! `confidence_score` says how much of the selected data the rules could examine:
//! the mean, over the families run, of the share of records carrying the fields
//! that family needs (values, dates, supplier, object), times a size factor
//! 1 − e^(−n/200) — group statistics over a handful of contracts say little. It is
//! about the investigation as a whole; each anomaly has its own `confidence`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use super::analysis;
use super::detectors::{self, DetectorSettings};
use super::model::{Dataset, Detector, Family, Finding};
use super::{Completion, Job, JobError, Phase, Pipeline, Progress};
use anyhow::Context;

use crate::config::AnalysisSettings;
use crate::db::Pool;
use crate::question;
use crate::sources::contracts::{retrieve, RetrievalError};
use crate::sources::filters::ContractFilters;
use crate::sources::portal_api::{ApiError, PortalClient};
use crate::sources::portal_cache::{self, SyncError, SyncStats};

pub struct ContractsPipeline {
    pool: Pool,
    analysis: AnalysisSettings,
    detectors: DetectorSettings,
    /// The `portal` backend, when a key is configured: one client, and so one
    /// rate limiter, for every job of the process.
    portal: Option<PortalClient>,
}

impl ContractsPipeline {
    pub fn new(pool: Pool, analysis: AnalysisSettings, detectors: DetectorSettings) -> Self {
        Self {
            pool,
            analysis,
            detectors,
            portal: None,
        }
    }

    /// Fetches from the Portal da Transparência API before reading, for
    /// investigations that name an agency.
    pub fn with_portal(mut self, portal: Option<PortalClient>) -> Self {
        self.portal = portal;
        self
    }

    /// The `portal` backend's part of data retrieval: when a key is configured
    /// and the filters name an agency (the API requires one), the months of the
    /// period are brought into the cache first; retrieval then reads the cache
    /// together with what `fiscal import` loaded.
    async fn fetch_from_portal(
        &self,
        client: &tokio_postgres::Client,
        filters: &ContractFilters,
        progress: &Progress,
        cancel: &CancellationToken,
    ) -> Result<Option<SyncStats>, JobError> {
        let (Some(api), Some(orgao)) = (&self.portal, &filters.codigo_orgao) else {
            return Ok(None);
        };
        let today = crate::sources::portal_api::brasilia_now().date();
        let months =
            portal_cache::months(filters, today, api.settings().max_months).map_err(|e| {
                JobError::permanent(format!(
                    "O período pedido cobre {} meses, e uma investigação consulta no máximo {} \
                     meses do Portal da Transparência. Restrinja o período com \"year\" ou \
                     \"data_inicial\"/\"data_final\".",
                    e.months, e.limit
                ))
            })?;
        let stats = portal_cache::sync(client, api, orgao, &months, cancel, |done, total| {
            progress.set(
                Phase::DataRetrieval,
                0.05 + 0.25 * done as f64 / total.max(1) as f64,
            )
        })
        .await
        .map_err(|e| portal_error(e, orgao))?;
        tracing::info!(
            codigo_orgao = %orgao,
            months = stats.months,
            months_fetched = stats.months_fetched,
            requests = stats.requests,
            contracts = stats.contracts,
            skipped = stats.skipped,
            "Portal API cache up to date"
        );
        Ok(Some(stats))
    }
}

impl ContractsPipeline {
    /// The question read into filters where the row's own are silent
    /// (src/question). A question that asks what cannot be answered as written,
    /// or narrows nothing over a large table, ends here with its message.
    async fn read_question(
        &self,
        client: &tokio_postgres::Client,
        job: &Job,
    ) -> Result<question::Applied, JobError> {
        let vocab = question::Vocabulary::builtin();
        let today = crate::sources::portal_api::brasilia_now().date();
        let draft = question::read(&job.query, today, vocab);
        let directory = if draft.agencies.is_empty() && draft.suppliers.is_empty() {
            question::Directory::default()
        } else {
            // Only the first supplier named is resolved (see question::resolve).
            let suppliers: Vec<Vec<String>> = draft
                .suppliers
                .iter()
                .take(1)
                .map(|m| m.words.clone())
                .collect();
            question::lookup::load(client, &suppliers, vocab)
                .await
                .map_err(unavailable)?
        };
        let understood = question::resolve(draft, vocab, &directory);
        let applied = question::apply(&understood, &job.query, &job.filters, &job.anomaly_types);
        if let Some(problem) = &applied.problem {
            return Err(JobError::permanent(problem.clone()));
        }
        if applied.unfocused {
            let limit = self.analysis.unfocused_question_limit;
            let imported = more_contracts_than(client, limit)
                .await
                .map_err(unavailable)?;
            if imported {
                return Err(JobError::permanent(question::unfocused_message(limit)));
            }
        }
        Ok(applied)
    }
}

/// Whether more than `limit` contracts are imported, reading at most one row
/// past it.
async fn more_contracts_than(
    client: &tokio_postgres::Client,
    limit: usize,
) -> anyhow::Result<bool> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX).min(i64::MAX - 1);
    let row = client
        .query_one(
            "select count(*) > $1::int8 from (
                 select 1 from transparency.contracts limit $1::int8 + 1) s",
            &[&limit],
        )
        .await
        .context("counting transparency.contracts")?;
    Ok(row.get(0))
}

/// What the citizen (and the operator) reads when the API could not be used.
fn portal_error(e: SyncError, orgao: &str) -> JobError {
    let api = match e {
        SyncError::Database(e) => return unavailable(e),
        SyncError::Api(api) => api,
    };
    let message = match &api {
        ApiError::Cancelled => return JobError::Cancelled,
        ApiError::KeyRefused { status } => format!(
            "O Portal da Transparência recusou a chave de acesso à sua API (HTTP {status}). \
             Nada foi analisado. O operador do fiscal deve conferir a chave em \
             PORTAL_TRANSPARENCIA_API_KEY (portal.api_key): ela pode estar errada, vencida ou \
             ausente; uma chave nova é pedida em portaldatransparencia.gov.br/api-de-dados."
        ),
        ApiError::Rejected { status, .. } => format!(
            "O Portal da Transparência recusou a consulta de contratos do órgão {orgao} \
             (HTTP {status}). Confira o filtro \"codigo_orgao\": é o código SIAFI do órgão, \
             como 26000."
        ),
        ApiError::Malformed { detail } => format!(
            "O Portal da Transparência respondeu à consulta de contratos do órgão {orgao} em \
             um formato inesperado, e nada foi analisado ({detail})."
        ),
        ApiError::Unavailable { .. } => {
            return JobError::retryable(
                "O Portal da Transparência não respondeu à consulta de contratos; a \
                 investigação foi tentada de novo e não pôde ser concluída. Tente mais tarde.",
                anyhow::Error::new(api),
            )
        }
    };
    JobError::Permanent {
        message,
        detail: Some(anyhow::Error::new(api)),
    }
}

/// The findings, in order, while their JSON array stays within `max_bytes`;
/// returns them with the array's size.
fn within_budget(findings: impl Iterator<Item = Value>, max_bytes: usize) -> (Vec<Value>, usize) {
    let mut kept = Vec::new();
    // "[" and "]", and a comma between two findings.
    let mut bytes = 2;
    for finding in findings {
        let size = finding.to_string().len() + usize::from(!kept.is_empty());
        if bytes + size > max_bytes {
            break;
        }
        bytes += size;
        kept.push(finding);
    }
    (kept, bytes)
}

/// `anomaly_types`: a JSON array of family names; empty means all.
pub fn families(anomaly_types: &Value) -> Result<Vec<Family>, JobError> {
    let known: Vec<&str> = Family::ALL.iter().map(|f| f.as_str()).collect();
    let invalid = |shown: String| {
        JobError::permanent(format!(
            "O campo anomaly_types deve ser uma lista com alguns destes tipos: {}; \
             recebido: {shown}.",
            known.join(", ")
        ))
    };
    let items = match anomaly_types {
        Value::Null => return Ok(Family::ALL.to_vec()),
        Value::Array(items) => items,
        other => return Err(invalid(crate::input::echo_json(other))),
    };
    if items.is_empty() {
        return Ok(Family::ALL.to_vec());
    }
    let mut out = Vec::new();
    for item in items {
        let family = item
            .as_str()
            .and_then(|s| Family::parse(&s.trim().to_lowercase()))
            .ok_or_else(|| invalid(crate::input::echo_json(item)))?;
        if !out.contains(&family) {
            out.push(family);
        }
    }
    out.sort();
    Ok(out)
}

/// The share of records a family can examine.
fn coverage(family: Family, data: &Dataset) -> f64 {
    let n = data.contracts.len();
    if n == 0 {
        return 0.0;
    }
    let usable = data
        .contracts
        .iter()
        .filter(|c| match family {
            Family::Price | Family::Pattern => c.final_value.or(c.initial_value).is_some(),
            Family::Vendor => {
                c.supplier_code.is_some() && c.final_value.or(c.initial_value).is_some()
            }
            Family::Temporal => c.signed.is_some(),
            Family::Payment => c.initial_value.is_some() && c.final_value.is_some(),
            Family::Duplicate => c.ug.code.is_some() && !c.object.trim().is_empty(),
        })
        .count();
    usable as f64 / n as f64
}

fn confidence_score(families: &[Family], data: &Dataset) -> f64 {
    if families.is_empty() || data.contracts.is_empty() {
        return 0.0;
    }
    let mean = families.iter().map(|f| coverage(*f, data)).sum::<f64>() / families.len() as f64;
    let size = 1.0 - (-(data.contracts.len() as f64) / 200.0).exp();
    ((mean * size) * 1000.0).round() / 1000.0
}

fn unavailable(e: impl Into<anyhow::Error>) -> JobError {
    JobError::retryable(
        "Não foi possível ler os dados de contratos agora; a investigação será tentada de novo.",
        e.into(),
    )
}

/// The detection phase's state: findings and timings per family, and progress
/// reported as each detector ends.
struct Stage<'a> {
    progress: &'a Progress,
    cancel: &'a CancellationToken,
    done: usize,
    total: usize,
    per_family: BTreeMap<Family, (Vec<Finding>, u64)>,
}

impl Stage<'_> {
    fn record(&mut self, family: Family, found: Vec<Finding>, ms: u64) {
        let entry = self.per_family.entry(family).or_default();
        entry.0.extend(found);
        entry.1 += ms;
    }

    /// Runs `detectors` over `data`, as many at once as there are cores (more
    /// would not be faster, and each holds its working set in memory), and hands
    /// the dataset back once all of them have ended.
    async fn run(
        &mut self,
        detectors: Vec<Arc<dyn Detector>>,
        data: Dataset,
    ) -> Result<Dataset, JobError> {
        let data = Arc::new(data);
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let slots = Arc::new(tokio::sync::Semaphore::new(cores));
        let mut tasks = tokio::task::JoinSet::new();
        for detector in detectors {
            let (data, slots) = (data.clone(), slots.clone());
            let runtime = tokio::runtime::Handle::current();
            tasks.spawn_blocking(move || {
                let _slot = runtime.block_on(slots.acquire_owned());
                let t = Instant::now();
                let found = detector.detect(&data);
                (detector.family(), found, t.elapsed().as_millis() as u64)
            });
        }
        loop {
            let next = tokio::select! {
                _ = self.cancel.cancelled() => {
                    tasks.abort_all();
                    return Err(JobError::Cancelled);
                }
                next = tasks.join_next() => next,
            };
            let Some(joined) = next else { break };
            let (family, found, ms) = match joined {
                Ok(result) => result,
                // A detector's panic is the pipeline's: let the worker record it.
                Err(e) => std::panic::resume_unwind(e.into_panic()),
            };
            self.record(family, found, ms);
            self.done += 1;
            self.progress.set(
                Phase::AnomalyDetection,
                0.40 + 0.45 * self.done as f64 / self.total as f64,
            );
        }
        // Every task has ended and dropped its reference: this never copies.
        Ok(Arc::try_unwrap(data).unwrap_or_else(|shared| (*shared).clone()))
    }
}

#[async_trait]
impl Pipeline for ContractsPipeline {
    async fn run(
        &self,
        job: &Job,
        progress: &Progress,
        cancel: &CancellationToken,
    ) -> Result<Completion, JobError> {
        let started = Instant::now();
        let invalid = |e: crate::sources::filters::FilterError| JobError::Permanent {
            message: e.message.clone(),
            // An unknown key comes back echoed already; the others are ours.
            detail: Some(anyhow::anyhow!("invalid filter {}", e.key)),
        };
        // What the citizen wrote in `filters` and `anomaly_types` is checked
        // first: its mistakes are the ones to tell, before any of the question's.
        ContractFilters::parse(&job.filters).map_err(invalid)?;
        families(&job.anomaly_types)?;
        let client = self.pool.get().await.map_err(unavailable)?;
        let question = self.read_question(&client, job).await?;
        let filters = ContractFilters::parse(&question.filters).map_err(invalid)?;
        let families = families(&question.anomaly_types)?;

        progress.set(Phase::DataRetrieval, 0.05);
        let fetched = self
            .fetch_from_portal(&client, &filters, progress, cancel)
            .await?;
        let retrieval = retrieve(&client, &filters, self.analysis.max_records, cancel, |n| {
            progress.records_analyzed(n)
        });
        // Retrieval checks the token between rows; a statement that has not sent
        // its first row yet (a wide text search) is cancelled on the server.
        let retrieved = tokio::select! {
            retrieved = retrieval => retrieved,
            _ = cancel.cancelled() => {
                self.pool.cancel_statement(&client).await;
                return Err(JobError::Cancelled);
            }
        };
        let (data, stats) = retrieved.map_err(|e| match e {
            RetrievalError::Cancelled => JobError::Cancelled,
            RetrievalError::TooMany { limit } => JobError::permanent(format!(
                "Os filtros selecionam mais de {} contratos, mais do que uma investigação \
                 analisa de uma vez. Restrinja por ano, órgão ou valor.",
                super::format::count(limit)
            )),
            RetrievalError::Database(e) => unavailable(e),
        })?;
        drop(client);
        progress.records_analyzed(data.contracts.len());
        let retrieval_ms = started.elapsed().as_millis() as u64;

        progress.set(Phase::AnomalyDetection, 0.40);
        let detection_started = Instant::now();
        let detectors = detectors::build(&self.detectors, &families);
        let mut stage = Stage {
            progress,
            cancel,
            done: 0,
            total: detectors.len().max(1),
            per_family: BTreeMap::new(),
        };
        // Payment compares initial and final values as registered, so it runs
        // first; then the values are sanitised in place for the other families
        // and put back afterwards, for the results to show what was published.
        let (payment, rest): (Vec<_>, Vec<_>) = detectors
            .into_iter()
            .partition(|d| d.family() == Family::Payment);
        let mut data = stage.run(payment, data).await?;
        let (registered, set_aside) =
            super::sanitize::sanitize(&mut data, self.analysis.implausible_value);
        if families.contains(&Family::Price) {
            stage.record(Family::Price, set_aside, 0);
        }
        let mut data = stage.run(rest, data).await?;
        super::sanitize::restore(&mut data, registered);
        let per_family = stage.per_family;
        let detection_ms = detection_started.elapsed().as_millis() as u64;

        progress.set(Phase::Analysis, 0.86);
        let analysis_started = Instant::now();
        let mut detector_stats = serde_json::Map::new();
        let mut findings = Vec::new();
        for (family, (found, ms)) in per_family {
            detector_stats.insert(
                family.as_str().into(),
                json!({"findings": found.len(), "ms": ms}),
            );
            findings.extend(found);
        }
        let ranked = analysis::rank(job.id, findings, &data);
        let mut by_rule: BTreeMap<&str, usize> = BTreeMap::new();
        for r in &ranked {
            *by_rule.entry(r.finding.rule).or_default() += 1;
        }
        let (results, results_bytes) = within_budget(
            ranked
                .iter()
                .take(self.analysis.results_cap)
                .map(|r| analysis::to_json(r, &data)),
            self.analysis.results_max_bytes,
        );
        let shown = results.len();
        let analysis_ms = analysis_started.elapsed().as_millis() as u64;

        progress.set(Phase::SummaryGeneration, 0.95);
        let mut summary =
            super::summary::write(data.contracts.len(), &filters.describe(), &ranked, shown);
        if let Some(sentence) = &question.sentence {
            summary = format!("{sentence} {summary}");
        }
        let records = i32::try_from(data.contracts.len()).unwrap_or(i32::MAX);
        Ok(Completion {
            anomalies_found: i32::try_from(ranked.len()).unwrap_or(i32::MAX),
            total_records_analyzed: records,
            confidence_score: Some(confidence_score(&families, &data)),
            results: Value::Array(results),
            summary,
            metadata: json!({
                "pipeline": "contracts",
                "pipeline_version": env!("CARGO_PKG_VERSION"),
                "anomaly_types": families.iter().map(|f| f.as_str()).collect::<Vec<_>>(),
                "question": question.metadata,
                "rows_read": {"contracts": stats.contracts, "amendments": stats.amendments},
                "portal_api": fetched.map(|f| json!({
                    "months": f.months,
                    "months_fetched": f.months_fetched,
                    "requests": f.requests,
                    "contracts": f.contracts,
                    "skipped": f.skipped,
                })),
                "phases_ms": {
                    "data_retrieval": retrieval_ms,
                    "anomaly_detection": detection_ms,
                    "analysis": analysis_ms,
                },
                "detectors": detector_stats,
                "anomalies_by_rule": by_rule,
                "results_cap": self.analysis.results_cap,
                "results_bytes": results_bytes,
                "results_shown": shown,
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_stop_before_the_byte_budget_and_the_size_is_exact() {
        let findings: Vec<Value> = (0..10)
            .map(|i| json!({"anomaly_id": i, "description": "x".repeat(100)}))
            .collect();
        let one = findings[0].to_string().len();
        let (kept, bytes) = within_budget(findings.clone().into_iter(), 2 + 3 * one + 2);
        assert_eq!(kept.len(), 3);
        assert_eq!(bytes, Value::Array(kept.clone()).to_string().len());
        assert_eq!(
            kept[..],
            findings[..3],
            "the most serious are kept, in order"
        );

        let (all, bytes) = within_budget(findings.clone().into_iter(), usize::MAX);
        assert_eq!(all.len(), 10);
        assert_eq!(bytes, Value::Array(all).to_string().len());
        assert!(within_budget(findings.into_iter(), 10).0.is_empty());
    }
}
