//! The anomaly pipeline over biddings (`data_source = 'biddings'`): the
//! biddings `fiscal import` loaded from the Portal's Licitações files, with
//! their participants → `anomaly_detection` → the shared `analysis` and
//! `summary_generation`.
//!
//! The filters are the contracts' keys, read for a bidding (opening date,
//! the bidding's value, a participant's CNPJ). Only the vendor family has
//! rules on biddings; the others are said not to apply. The Portal API's
//! `/licitacoes` (one organ, 30-day windows) is not fetched yet: biddings are
//! investigated from imported files.

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::{Completion, Job, JobError, Phase, Pipeline, Progress};
use crate::analysis::investigation::{conclude, confidence_score, families, Detected};
use crate::analysis::{Detector, Family, Vocabulary};
use crate::config::AnalysisSettings;
use crate::db::Pool;
use crate::sources::biddings::retrieval::retrieve;
use crate::sources::biddings::rules::VendorRules;
use crate::sources::biddings::Tenders;
use crate::sources::filters::ContractFilters;

const WORDS: Vocabulary = Vocabulary {
    one: "licitação",
    many: "licitações",
    none_found: "Nenhuma licitação encontrada",
    same_one: "uma mesma licitação",
    family: family_pt,
    when_empty: "os filtros ou se as licitações desse período já foram importadas",
    verify_in: "no edital, nas atas e nas propostas da licitação",
};

fn family_pt(f: Family) -> &'static str {
    match f {
        Family::Vendor => "concorrência",
        Family::Price => "preço",
        Family::Temporal => "datas",
        Family::Payment => "pagamentos",
        Family::Duplicate => "duplicidade",
        Family::Pattern => "padrões estatísticos",
    }
}

fn not_applicable(f: Family) -> &'static str {
    match f {
        Family::Vendor => "",
        Family::Price => "the items' unit prices (ItemLicitação) are not imported yet",
        Family::Temporal => {
            "the files carry the opening and result dates only, not the notice's publication"
        }
        Family::Payment => "biddings carry no payments; their contracts do (data_source contracts)",
        Family::Duplicate | Family::Pattern => "no rule of this family for biddings is built yet",
    }
}

pub struct BiddingsPipeline {
    pool: Pool,
    analysis: AnalysisSettings,
}

impl BiddingsPipeline {
    pub fn new(pool: Pool, analysis: AnalysisSettings) -> Self {
        Self { pool, analysis }
    }
}

fn unavailable(e: impl Into<anyhow::Error>) -> JobError {
    JobError::retryable(
        "Não foi possível ler os dados de licitações agora; a investigação será tentada de novo.",
        e.into(),
    )
}

#[async_trait]
impl Pipeline for BiddingsPipeline {
    async fn run(
        &self,
        job: &Job,
        progress: &Progress,
        cancel: &CancellationToken,
    ) -> Result<Completion, JobError> {
        let started = Instant::now();
        let filters = ContractFilters::parse(&job.filters).map_err(super::invalid_filter)?;
        let asked = families(&job.anomaly_types)?;
        let (run, skipped) = super::applicable(&asked, &[Family::Vendor], |_| {
            "Para licitações, só há regras de concorrência por enquanto: peça \"vendor\" \
             (participante único, rodízio de vencedores) ou deixe anomaly_types vazio."
                .to_string()
        })?;
        progress.set(Phase::DataRetrieval, 0.05);
        let client = self.pool.get().await.map_err(unavailable)?;
        let (data, participants) = super::read_until_cancelled(
            &self.pool,
            &client,
            retrieve(&client, &filters, self.analysis.max_records),
            cancel,
            |limit| {
                format!(
                    "Os filtros selecionam mais de {limit} licitações, mais do que uma \
                         investigação analisa de uma vez. Restrinja por ano, órgão ou valor."
                )
            },
            unavailable,
        )
        .await?;
        drop(client);
        progress.records_analyzed(data.tenders.len());
        let retrieval_ms = started.elapsed().as_millis() as u64;

        let (data, per_family, detection_ms) = super::detect(
            progress,
            cancel,
            &run,
            |_| -> Arc<dyn Detector<Tenders>> { Arc::new(VendorRules) },
            data,
        )
        .await?;

        let with_bidders = data
            .tenders
            .iter()
            .filter(|t| !t.bidders.is_empty())
            .count();
        let metadata = json!({
            "pipeline": "biddings",
            "anomaly_types": ["vendor"],
            "not_applicable": super::not_run(&skipped, not_applicable),
            "checked_against": "documented layouts only: no real Licitações file could be obtained",
            "rows_read": {"biddings": data.tenders.len(), "participants": participants},
            "phases_ms": {
                "data_retrieval": retrieval_ms,
                "anomaly_detection": detection_ms,
            },
        });
        let n = data.tenders.len();
        let confidence_score = confidence_score(&run, n, |_| {
            if n == 0 {
                0.0
            } else {
                with_bidders as f64 / n as f64
            }
        });
        Ok(conclude(
            Detected {
                job: job.id,
                data: &data,
                per_family,
                words: &WORDS,
                scope: filters.describe_as(
                    "abertas",
                    "participante",
                    "todas as licitações importadas",
                ),
                preface: None,
                confidence_score,
                metadata,
            },
            &self.analysis,
            progress,
        ))
    }
}
