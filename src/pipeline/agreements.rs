//! The anomaly pipeline over agreements (`data_source = 'agreements'`): the
//! convênios `fiscal import` loaded from the Portal's Convênios snapshot →
//! `anomaly_detection` → the shared `analysis` and `summary_generation`.
//!
//! The filters are the contracts' keys, read for an agreement (start of
//! validity, agreed value, the recipient's CNPJ, the instrument). The payment
//! and temporal families have rules; the others are said not to apply. With a
//! Portal key, an investigation naming `codigo_orgao` fetches that organ's
//! agreements from `/convenios` first (src/sources/agreements/api.rs).

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
use crate::sources::agreements::api;
use crate::sources::agreements::retrieval::retrieve;
use crate::sources::agreements::rules::{PaymentRules, TemporalRules};
use crate::sources::agreements::Agreements;
use crate::sources::filters::ContractFilters;
use crate::sources::portal_api::PortalClient;

const WORDS: Vocabulary = Vocabulary {
    one: "convênio",
    many: "convênios",
    none_found: "Nenhum convênio encontrado",
    same_one: "um mesmo convênio",
    family: family_pt,
    when_empty: "os filtros ou se os convênios já foram importados",
    verify_in: "no Transferegov (plano de trabalho, termos aditivos e prestação de contas)",
};

fn family_pt(f: Family) -> &'static str {
    match f {
        Family::Vendor => "convenente",
        Family::Price => "preço",
        Family::Temporal => "vigência",
        Family::Payment => "liberações",
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

pub struct AgreementsPipeline {
    pool: Pool,
    analysis: AnalysisSettings,
    portal: Option<PortalClient>,
}

impl AgreementsPipeline {
    /// With `portal`, an investigation naming `codigo_orgao` fetches that
    /// organ's agreements from `/convenios` first.
    pub fn new(pool: Pool, analysis: AnalysisSettings, portal: Option<PortalClient>) -> Self {
        Self {
            pool,
            analysis,
            portal,
        }
    }
}

fn unavailable(e: impl Into<anyhow::Error>) -> JobError {
    JobError::retryable(
        "Não foi possível ler os dados de convênios agora; a investigação será tentada de novo.",
        e.into(),
    )
}

#[async_trait]
impl Pipeline for AgreementsPipeline {
    async fn run(
        &self,
        job: &Job,
        progress: &Progress,
        cancel: &CancellationToken,
    ) -> Result<Completion, JobError> {
        let started = Instant::now();
        let filters = ContractFilters::parse(&job.filters).map_err(super::invalid_filter)?;
        let asked = families(&job.anomaly_types)?;
        let (run, skipped) =
            super::applicable(&asked, &[Family::Payment, Family::Temporal], |names| {
                format!(
                    "Os tipos de anomalia pedidos ({names}) ainda não têm regras para convênios: \
                     peça \"payment\" (liberado acima do acordado) ou \"temporal\" (liberação \
                     fora da vigência), ou deixe anomaly_types vazio."
                )
            })?;
        progress.set(Phase::DataRetrieval, 0.05);
        let client = self.pool.get().await.map_err(unavailable)?;
        let fetched = match (&self.portal, &filters.codigo_orgao) {
            (Some(api), Some(orgao)) => Some(
                api::fetch(&client, api, orgao, cancel, |n| {
                    progress.set(
                        Phase::DataRetrieval,
                        0.05 + 0.25 * (1.0 - (-(n as f64) / 50.0).exp()),
                    )
                })
                .await
                .map_err(|e| {
                    super::portal_error(
                        e,
                        &format!("convênios do órgão {orgao}"),
                        "é o código SIAFI do órgão concedente, como 36000",
                        unavailable,
                    )
                })?,
            ),
            _ => None,
        };
        let data = super::read_until_cancelled(
            &self.pool,
            &client,
            retrieve(&client, &filters, self.analysis.max_records),
            cancel,
            |limit| {
                format!(
                    "Os filtros selecionam mais de {limit} convênios, mais do que uma \
                     investigação analisa de uma vez. Restrinja por ano, órgão ou valor."
                )
            },
            unavailable,
        )
        .await?;
        drop(client);
        progress.records_analyzed(data.agreements.len());
        let retrieval_ms = started.elapsed().as_millis() as u64;

        let (data, per_family, detection_ms) = super::detect(
            progress,
            cancel,
            &run,
            |f| -> Arc<dyn Detector<Agreements>> {
                if f == Family::Payment {
                    Arc::new(PaymentRules)
                } else {
                    Arc::new(TemporalRules)
                }
            },
            data,
        )
        .await?;

        let metadata = json!({
            "pipeline": "agreements",
            "anomaly_types": run.iter().map(|f| f.as_str()).collect::<Vec<_>>(),
            "not_applicable": super::not_run(&skipped, not_applicable),
            "checked_against": "documented layouts only: no real Convênios file or /convenios answer could be obtained",
            "rows_read": {"agreements": data.agreements.len()},
            "portal_api": fetched.map(|f| json!({
                "records": f.records,
                "skipped": f.skipped,
                "changed": f.changed,
                "requests": f.requests,
            })),
            "phases_ms": {
                "data_retrieval": retrieval_ms,
                "anomaly_detection": detection_ms,
            },
        });
        let n = data.agreements.len();
        let coverage = |family: Family| {
            let usable = data
                .agreements
                .iter()
                .filter(|a| match family {
                    Family::Payment => a.valor.is_some() && a.valor_liberado.is_some(),
                    _ => a.data_fim_vigencia.is_some() && a.data_ultima_liberacao.is_some(),
                })
                .count();
            if n == 0 {
                0.0
            } else {
                usable as f64 / n as f64
            }
        };
        let confidence_score = confidence_score(&run, n, coverage);
        Ok(conclude(
            Detected {
                job: job.id,
                data: &data,
                per_family,
                words: &WORDS,
                scope: filters.describe_as(
                    "com vigência iniciada",
                    "convenente",
                    "todos os convênios importados",
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
