//! The anomaly pipeline over federal contracts (`data_source = 'contracts'`):
//! `data_retrieval` → `anomaly_detection` (progress per detector family) →
//! `analysis` (merge, rank, cap) → `summary_generation`.
//!
//! `confidence_score` says how much of the selected data the rules could examine:
//! the mean, over the families run, of the share of records carrying the fields
//! that family needs (values, dates, supplier, object), times a size factor
//! 1 − e^(−n/200) — group statistics over a handful of contracts say little. It is
//! about the investigation as a whole; each anomaly has its own `confidence`.

use std::time::Instant;

use async_trait::async_trait;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::{Completion, Job, JobError, Phase, Pipeline, Progress};
use crate::analysis::investigation::{conclude, confidence_score, families, Detected, Stage};
use crate::analysis::Vocabulary;
use crate::sources::contracts::model::{Dataset, Family};
use crate::sources::contracts::rules::{self, DetectorSettings};
use anyhow::Context;

use crate::config::AnalysisSettings;
use crate::db::Pool;
use crate::question;
use crate::sources::contracts::retrieve;
use crate::sources::filters::ContractFilters;
use crate::sources::portal_api::PortalClient;
use crate::sources::portal_cache::{self, SyncStats};

/// How the summary speaks of contracts.
const WORDS: Vocabulary = Vocabulary {
    one: "contrato",
    many: "contratos",
    none_found: "Nenhum contrato encontrado",
    same_one: "um mesmo contrato",
    family: family_pt,
    when_empty: "os filtros ou se os dados desse período já foram importados",
    verify_in: "nos documentos do contrato",
};

fn family_pt(f: Family) -> &'static str {
    match f {
        Family::Price => "preço",
        Family::Vendor => "fornecedor",
        Family::Temporal => "datas",
        Family::Payment => "pagamentos e aditivos",
        Family::Duplicate => "duplicidade e fracionamento",
        Family::Pattern => "padrões estatísticos",
    }
}

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
        .map_err(|e| {
            super::portal_error(
                e,
                &format!("contratos do órgão {orgao}"),
                "é o código SIAFI do órgão, como 26000",
                unavailable,
            )
        })?;
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

fn unavailable(e: impl Into<anyhow::Error>) -> JobError {
    JobError::retryable(
        "Não foi possível ler os dados de contratos agora; a investigação será tentada de novo.",
        e.into(),
    )
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
        let invalid = super::invalid_filter;
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
        let (data, stats) = super::read_until_cancelled(
            &self.pool,
            &client,
            retrieval,
            cancel,
            |limit| {
                format!(
                    "Os filtros selecionam mais de {limit} contratos, mais do que uma \
                         investigação analisa de uma vez. Restrinja por ano, órgão ou valor."
                )
            },
            unavailable,
        )
        .await?;
        drop(client);
        progress.records_analyzed(data.contracts.len());
        let retrieval_ms = started.elapsed().as_millis() as u64;

        progress.set(Phase::AnomalyDetection, 0.40);
        let detection_started = Instant::now();
        let detectors = rules::build(&self.detectors, &families);
        let mut stage = Stage::new(progress, cancel, detectors.len());
        // Payment compares initial and final values as registered, so it runs
        // first; then the values are sanitised in place for the other families
        // and put back afterwards, for the results to show what was published.
        let (payment, rest): (Vec<_>, Vec<_>) = detectors
            .into_iter()
            .partition(|d| d.family() == Family::Payment);
        let mut data = stage.run(payment, data).await?;
        let (registered, set_aside) = crate::sources::contracts::sanitize::sanitize(
            &mut data,
            self.analysis.implausible_value,
        );
        if families.contains(&Family::Price) {
            stage.record(Family::Price, set_aside, 0);
        }
        let mut data = stage.run(rest, data).await?;
        crate::sources::contracts::sanitize::restore(&mut data, registered);
        let detection_ms = detection_started.elapsed().as_millis() as u64;

        let metadata = json!({
            "pipeline": "contracts",
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
            },
        });
        let confidence_score = confidence_score(&families, data.contracts.len(), |family| {
            coverage(family, &data)
        });
        Ok(conclude(
            Detected {
                job: job.id,
                data: &data,
                per_family: stage.per_family,
                words: &WORDS,
                scope: filters.describe(),
                preface: question.sentence.clone(),
                confidence_score,
                metadata,
            },
            &self.analysis,
            progress,
        ))
    }
}
