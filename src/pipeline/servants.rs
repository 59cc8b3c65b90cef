//! The anomaly pipeline over federal servants (`data_source = 'servants'`):
//! `data_retrieval` (when a Portal key is configured and the filters name an
//! organ, its servants are fetched from `/servidores` into
//! `transparency.servants` first; then the table is read) → `anomaly_detection`
//! → the shared `analysis` and `summary_generation`.
//!
//! What cannot be checked is said, never skipped silently: the API serves no
//! remuneration to an ordinary key, so the ceiling on pay (teto, CF art. 37, XI)
//! and pay-related families (price, payment) cannot run; servants have no
//! supplier (vendor). The pattern family has no servant rule yet.

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
use crate::sources::portal_api::PortalClient;
use crate::sources::servants::filters::StaffFilters;
use crate::sources::servants::retrieval::{fetch, retrieve};
use crate::sources::servants::rules::{DuplicateRules, TemporalRules};
use crate::sources::servants::Staff;

const WORDS: Vocabulary = Vocabulary {
    one: "servidor",
    many: "servidores",
    none_found: "Nenhum servidor encontrado",
    same_one: "um mesmo servidor",
    family: family_pt,
    when_empty: "o código do órgão (SIAPE, como 45205) ou se os servidores desse órgão já \
                 foram consultados no Portal",
    verify_in: "na ficha do servidor no Portal da Transparência e no SIAPE",
};

fn family_pt(f: Family) -> &'static str {
    match f {
        Family::Duplicate => "acumulação de vínculos",
        Family::Temporal => "datas de ingresso",
        Family::Price => "remuneração",
        Family::Payment => "pagamentos",
        Family::Vendor => "fornecedor",
        Family::Pattern => "padrões estatísticos",
    }
}

const APPLICABLE: [Family; 2] = [Family::Temporal, Family::Duplicate];

fn not_applicable(f: Family) -> &'static str {
    match f {
        Family::Price | Family::Payment => {
            "the Portal serves no remuneration to an ordinary API key \
             (/servidores/remuneracao answers 403): pay, and the constitutional ceiling \
             (teto, CF art. 37, XI), cannot be checked"
        }
        Family::Vendor => "servants have no supplier",
        Family::Pattern => "no statistical rule for servants is built yet",
        Family::Temporal | Family::Duplicate => "",
    }
}

pub struct ServantsPipeline {
    pool: Pool,
    analysis: AnalysisSettings,
    portal: Option<PortalClient>,
}

impl ServantsPipeline {
    pub fn new(pool: Pool, analysis: AnalysisSettings, portal: Option<PortalClient>) -> Self {
        Self {
            pool,
            analysis,
            portal,
        }
    }
}

fn unavailable(e: anyhow::Error) -> JobError {
    JobError::retryable(
        "Não foi possível ler os dados de servidores agora; a investigação será tentada de novo.",
        e,
    )
}

fn coverage(family: Family, data: &Staff) -> f64 {
    let n = data.servants.len();
    if n == 0 {
        return 0.0;
    }
    let usable = data
        .servants
        .iter()
        .filter(|s| match family {
            Family::Duplicate => !s.positions.is_empty(),
            Family::Temporal => s
                .positions
                .iter()
                .any(|p| p.ingresso_servico_publico.is_some() && p.forma_ingresso.is_some()),
            _ => false,
        })
        .count();
    usable as f64 / n as f64
}

#[async_trait]
impl Pipeline for ServantsPipeline {
    async fn run(
        &self,
        job: &Job,
        progress: &Progress,
        cancel: &CancellationToken,
    ) -> Result<Completion, JobError> {
        let started = Instant::now();
        let filters = StaffFilters::parse(&job.filters).map_err(super::invalid_filter)?;
        let asked = families(&job.anomaly_types)?;
        let (run, skipped) = super::applicable(&asked, &APPLICABLE, |names| {
            format!(
                "Os tipos de anomalia pedidos ({names}) não podem ser verificados em servidores: o \
                 Portal não fornece a remuneração com uma chave comum, e servidores não têm \
                 fornecedor. Para servidores, peça \"duplicate\" (acumulação de vínculos) ou \
                 \"temporal\" (datas de ingresso), ou deixe anomaly_types vazio."
            )
        })?;

        progress.set(Phase::DataRetrieval, 0.05);
        let client = self.pool.get().await.map_err(|e| unavailable(e.into()))?;
        let fetched = match (&self.portal, &filters.codigo_orgao) {
            (Some(api), Some(orgao)) => {
                let stats = fetch(&client, api, orgao, cancel, |read| {
                    // The total is not known in advance: progress approaches 0.35.
                    progress.set(
                        Phase::DataRetrieval,
                        0.05 + 0.30 * (1.0 - (-(read as f64) / 2000.0).exp()),
                    )
                })
                .await
                .map_err(|e| {
                    super::portal_error(
                        e,
                        &format!("servidores do órgão {orgao}"),
                        "é o código SIAPE do órgão, como 45205 (IBGE)",
                        unavailable,
                    )
                })?;
                tracing::info!(
                    orgao = %orgao,
                    records = stats.records,
                    skipped = stats.skipped,
                    changed = stats.changed,
                    requests = stats.requests,
                    "servants fetched from the Portal API"
                );
                Some(stats)
            }
            _ => None,
        };
        let (data, unreadable) = retrieve(&client, &filters).await.map_err(unavailable)?;
        drop(client);
        if data.servants.len() > self.analysis.max_records {
            return Err(JobError::permanent(format!(
                "Os filtros selecionam mais de {} servidores, mais do que uma investigação \
                 analisa de uma vez. Restrinja por órgão.",
                crate::domain::format::count(self.analysis.max_records)
            )));
        }
        progress.records_analyzed(data.servants.len());
        let retrieval_ms = started.elapsed().as_millis() as u64;

        let (data, per_family, detection_ms) = super::detect(
            progress,
            cancel,
            &run,
            |f| -> Arc<dyn Detector<Staff>> {
                if f == Family::Duplicate {
                    Arc::new(DuplicateRules)
                } else {
                    Arc::new(TemporalRules)
                }
            },
            data,
        )
        .await?;

        let metadata = json!({
            "pipeline": "servants",
            "anomaly_types": run.iter().map(|f| f.as_str()).collect::<Vec<_>>(),
            "not_applicable": super::not_run(&skipped, not_applicable),
            "not_checked": [
                "remuneration above the constitutional ceiling (teto, CF art. 37, XI): the \
                 Portal serves no remuneration to an ordinary API key",
            ],
            "question": {
                "interpreted": false,
                "reason": "the question's text is read into filters for contracts only; \
                           the row's filters were analysed",
            },
            "rows_read": {"servants": data.servants.len(), "unreadable": unreadable},
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
        let preface = Some(
            "A remuneração dos servidores não é fornecida pelo Portal com uma chave comum: o \
             teto constitucional (CF art. 37, XI) e os pagamentos não puderam ser verificados."
                .to_string(),
        );
        let confidence_score = confidence_score(&run, data.servants.len(), |f| coverage(f, &data));
        Ok(conclude(
            Detected {
                job: job.id,
                data: &data,
                per_family,
                words: &WORDS,
                scope: filters.describe(),
                preface,
                confidence_score,
                metadata,
            },
            &self.analysis,
            progress,
        ))
    }
}
