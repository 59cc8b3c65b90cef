//! The anomaly pipeline over federal contracts (`data_source = 'contracts'`):
//! `data_retrieval` → `anomaly_detection` (progress per detector family) →
//! `analysis` (merge, rank, cap) → `summary_generation`.
//!
//! `confidence_score` says how much of the selected data the rules could examine:
//! the mean, over the families run, of the share of records carrying the fields
//! that family needs (values, dates, supplier, object), times a size factor
//! 1 − e^(−n/200) — group statistics over a handful of contracts say little. It is
//! about the investigation as a whole; each anomaly has its own `confidence`.

use std::sync::Arc;

use anyhow::Context;
use async_trait::async_trait;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use super::source::{share, unavailable, Retrieval, Retrieved, Source, Understood};
use super::{Job, JobError, Phase, Progress};
use crate::analysis::investigation::{families, Stage};
use crate::analysis::{Detector, Vocabulary};
use crate::config::AnalysisSettings;
use crate::db::Conn;
use crate::question;
use crate::sources::contracts::model::{Dataset, Family};
use crate::sources::contracts::rules::{self, DetectorSettings};
use crate::sources::contracts::{retrieve, sanitize};
use crate::sources::filters::{ContractFilters, FilterError};
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

/// Federal contracts, as `fiscal import` loaded them and, for an
/// investigation naming an agency when a Portal key is configured, as the
/// `/contratos` pages bring them.
pub struct Contracts {
    detectors: DetectorSettings,
    /// Values above this are set aside before the families that compare
    /// values (price, vendor…), and shown as registered.
    implausible_value: f64,
    /// The `portal` backend, when a key is configured: one client, and so one
    /// rate limiter, for every job of this worker.
    portal: Option<PortalClient>,
}

impl Contracts {
    pub fn new(analysis: &AnalysisSettings, detectors: DetectorSettings) -> Self {
        Self {
            detectors,
            implausible_value: analysis.implausible_value,
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
        let months = portal_cache::months(filters, today, api.settings().max_months)
            .map_err(super::too_many_months)?;
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
                unavailable::<Contracts>,
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

impl Contracts {
    /// The question read into filters where the row's own are silent
    /// (src/question). A question that asks what cannot be answered as written,
    /// or narrows nothing over a large table, ends here with its message.
    async fn read_question(
        client: &tokio_postgres::Client,
        job: &Job,
        analysis: &AnalysisSettings,
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
                .map_err(unavailable::<Contracts>)?
        };
        let understood = question::resolve(draft, vocab, &directory);
        let applied = question::apply(&understood, &job.query, &job.filters, &job.anomaly_types);
        if let Some(problem) = &applied.problem {
            return Err(JobError::permanent(problem.clone()));
        }
        if applied.unfocused {
            let limit = analysis.unfocused_question_limit;
            let imported = more_contracts_than(client, limit)
                .await
                .map_err(unavailable::<Contracts>)?;
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

#[async_trait]
impl Source for Contracts {
    type Filters = ContractFilters;
    type Data = Dataset;
    const NAME: &'static str = "contracts";
    const WORDS: Vocabulary = WORDS;
    const APPLICABLE: &'static [Family] = &Family::ALL;
    const DATA: &'static str = "de contratos";
    const NARROW: &'static str = "por ano, órgão ou valor";

    fn parse(filters: &Value) -> Result<ContractFilters, FilterError> {
        ContractFilters::parse(filters)
    }

    async fn understand(
        &self,
        client: &Conn,
        job: &Job,
        _filters: ContractFilters,
        _asked: Vec<Family>,
        analysis: &AnalysisSettings,
    ) -> Result<Understood<ContractFilters>, JobError> {
        let question = Self::read_question(client, job, analysis).await?;
        Ok(Understood {
            filters: ContractFilters::parse(&question.filters).map_err(super::invalid_filter)?,
            asked: families(&question.anomaly_types)?,
            sentence: question.sentence,
            question: question.metadata,
        })
    }

    fn not_applicable(_family: Family) -> &'static str {
        ""
    }

    fn none_applicable(names: &str) -> String {
        format!("Os tipos de anomalia pedidos ({names}) não se aplicam a contratos.")
    }

    async fn retrieve(
        &self,
        reading: &Retrieval<'_>,
        filters: &ContractFilters,
    ) -> Result<Retrieved<Dataset>, JobError> {
        let fetched = self
            .fetch_from_portal(reading.client, filters, reading.progress, reading.cancel)
            .await?;
        // Retrieval checks the token between rows; a statement that has not sent
        // its first row yet (a wide text search) is cancelled on the server.
        let retrieval = retrieve(
            reading.client,
            filters,
            (
                reading.max_records,
                // The smallest award a whole-database vendor rule judges.
                self.detectors
                    .vendor
                    .newcomer_min_value
                    .min(self.detectors.vendor.exceptional_min_value),
            ),
            reading.cancel,
            |n| reading.progress.records_analyzed(n),
        );
        let (data, stats) = reading.bounded::<Self, _>(retrieval).await?;
        let metadata = json!({
            "rows_read": {
                "contracts": stats.contracts,
                "amendments": stats.amendments,
                "priced_items": stats.items,
            },
            "portal_api": fetched,
        });
        Ok(Retrieved::new(data, metadata))
    }

    fn detectors(&self, run: &[Family]) -> Vec<Arc<dyn Detector<Dataset>>> {
        rules::build(&self.detectors, run)
    }

    /// Payment compares initial and final values as registered, so it runs
    /// first; then the values are sanitised in place for the other families
    /// and put back afterwards, for the results to show what was published.
    async fn detect(
        &self,
        stage: &mut Stage<'_>,
        run: &[Family],
        data: Dataset,
    ) -> Result<Dataset, JobError> {
        let (payment, rest): (Vec<_>, Vec<_>) = self
            .detectors(run)
            .into_iter()
            .partition(|d| d.family() == Family::Payment);
        let mut data = stage.run(payment, data).await?;
        let (registered, set_aside) = sanitize::sanitize(&mut data, self.implausible_value);
        if run.contains(&Family::Price) {
            stage.record(Family::Price, set_aside, 0);
        }
        let mut data = stage.run(rest, data).await?;
        sanitize::restore(&mut data, registered);
        Ok(data)
    }

    fn coverage(family: Family, data: &Dataset) -> f64 {
        share(&data.contracts, |c| match family {
            Family::Price | Family::Pattern => c.value_now().is_some(),
            Family::Vendor => c.supplier_code.is_some() && c.value_now().is_some(),
            Family::Temporal => c.signed.is_some(),
            Family::Payment => c.initial_value.is_some() && c.final_value.is_some(),
            Family::Duplicate => c.ug.code.is_some() && !c.object.trim().is_empty(),
        })
    }

    fn scope(filters: &ContractFilters) -> String {
        filters.describe()
    }

    fn limits(data: &Dataset) -> Option<String> {
        let (checked, unchecked) = if data.contracts.iter().any(|c| !c.items.is_empty()) {
            (
                "valores e preços unitários de itens contra o que outros órgãos pagaram",
                "",
            )
        } else {
            (
                "valores",
                "preços de itens (nenhum contrato lido tinha itens com preço unitário \
                 identificável), ",
            )
        };
        Some(format!(
            "Com dados de contratos foi possível verificar {checked}, fornecedores, datas, \
             aditivos, fracionamento e padrões estatísticos. Não é possível verificar \
             {unchecked}superfaturamento na medição, entrega abaixo do especificado ou \
             vínculos políticos e societários entre fornecedores e agentes públicos: isso \
             exige os processos, as notas fiscais, as vistorias e os cadastros de sócios."
        ))
    }
}
