//! The anomaly pipeline over the federal budget (`data_source = 'expenses'`):
//! `data_retrieval` (the allocations the filters select, and their peers in the
//! whole imported budget) → `anomaly_detection` → `analysis` → `summary_generation`,
//! the last two shared with every source (src/analysis).
//!
//! Budget lines carry no supplier, no date and no unit price: the vendor,
//! temporal, duplicate and price families do not apply. They are not run, and
//! the summary and the metadata say so; asking for them alone fails with a
//! message naming the families that do apply.
//!
//! The question's text is not read into filters here (src/question reads
//! contracts' words: suppliers, modalities); the row's `filters` are what is
//! analysed, and the metadata says the text was not interpreted.

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::{Completion, Job, JobError, Phase, Pipeline, Progress};
use crate::analysis::investigation::{conclude, confidence_score, families, Detected, Stage};
use crate::analysis::{Detector, Family, Vocabulary};
use crate::config::AnalysisSettings;
use crate::db::Pool;
use crate::pipeline::detectors::pattern::PatternSettings;
use crate::sources::contracts::RetrievalError;
use crate::sources::expenses::filters::BudgetFilters;
use crate::sources::expenses::retrieval::retrieve;
use crate::sources::expenses::rules::{self, PatternRules, PaymentRules};
use crate::sources::expenses::Budget;
use crate::sources::filters::FilterError;

/// How the summary speaks of the budget.
const WORDS: Vocabulary = Vocabulary {
    one: "alocação do orçamento",
    many: "alocações do orçamento",
    none_found: "Nenhuma alocação do orçamento encontrada",
    same_one: "uma mesma alocação",
    family: family_pt,
    when_empty: "os filtros ou se o orçamento desse ano já foi importado",
    verify_in: "nos atos de crédito e nas notas de empenho (SIOP, Tesouro Gerencial)",
};

fn family_pt(f: Family) -> &'static str {
    match f {
        Family::Payment => "execução acima do orçamento",
        Family::Pattern => "padrões estatísticos",
        Family::Price => "preço",
        Family::Vendor => "favorecido",
        Family::Temporal => "datas",
        Family::Duplicate => "duplicidade",
    }
}

/// The families budget lines can answer.
const APPLICABLE: [Family; 2] = [Family::Payment, Family::Pattern];

/// Why each other family cannot be run on budget lines, for the metadata.
fn not_applicable(f: Family) -> &'static str {
    match f {
        Family::Vendor => "budget lines carry no supplier or payee (favorecido)",
        Family::Temporal => "budget lines carry no dates, only yearly amounts",
        Family::Duplicate => "budget lines are unique by classification; no documents to repeat",
        Family::Price => "budget lines carry no items or unit prices",
        Family::Payment | Family::Pattern => "",
    }
}

pub struct ExpensesPipeline {
    pool: Pool,
    analysis: AnalysisSettings,
    pattern: PatternSettings,
}

impl ExpensesPipeline {
    /// `pattern` holds the Benford thresholds, shared with the contracts' rule.
    pub fn new(pool: Pool, analysis: AnalysisSettings, pattern: PatternSettings) -> Self {
        Self {
            pool,
            analysis,
            pattern,
        }
    }
}

fn unavailable(e: impl Into<anyhow::Error>) -> JobError {
    JobError::retryable(
        "Não foi possível ler os dados do orçamento agora; a investigação será tentada de novo.",
        e.into(),
    )
}

fn invalid(e: FilterError) -> JobError {
    JobError::Permanent {
        message: e.message.clone(),
        detail: Some(anyhow::anyhow!("invalid filter {}", e.key)),
    }
}

/// The share of allocations a family can examine.
fn coverage(family: Family, data: &Budget) -> f64 {
    let n = data.allocations.len();
    if n == 0 {
        return 0.0;
    }
    let usable = data
        .allocations
        .iter()
        .filter(|a| match family {
            Family::Payment => a.amounts.atualizado != 0.0 || a.amounts.empenhado != 0.0,
            Family::Pattern => a.amounts.inicial > 0.0 || a.amounts.empenhado > 0.0,
            _ => false,
        })
        .count();
    usable as f64 / n as f64
}

#[async_trait]
impl Pipeline for ExpensesPipeline {
    async fn run(
        &self,
        job: &Job,
        progress: &Progress,
        cancel: &CancellationToken,
    ) -> Result<Completion, JobError> {
        let started = Instant::now();
        let filters = BudgetFilters::parse(&job.filters).map_err(invalid)?;
        let asked = families(&job.anomaly_types)?;
        let (run, skipped): (Vec<Family>, Vec<Family>) =
            asked.iter().partition(|f| APPLICABLE.contains(f));
        if run.is_empty() {
            let names: Vec<&str> = asked.iter().map(|f| f.as_str()).collect();
            return Err(JobError::permanent(format!(
                "Os tipos de anomalia pedidos ({}) não se aplicam ao orçamento: as linhas do \
                 orçamento não trazem favorecido, datas nem preços. Para despesas, peça \
                 \"payment\" (execução acima do orçamento) ou \"pattern\" (revisões e padrões \
                 estatísticos), ou deixe anomaly_types vazio.",
                names.join(", ")
            )));
        }

        progress.set(Phase::DataRetrieval, 0.05);
        let client = self.pool.get().await.map_err(unavailable)?;
        let retrieval = retrieve(
            &client,
            &filters,
            rules::MIN_INITIAL,
            self.analysis.max_records,
            cancel,
        );
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
                "Os filtros selecionam mais de {} alocações do orçamento, mais do que uma \
                 investigação analisa de uma vez. Restrinja por ano ou órgão.",
                super::format::count(limit)
            )),
            RetrievalError::Database(e) => unavailable(e),
        })?;
        drop(client);
        progress.records_analyzed(data.allocations.len());
        let retrieval_ms = started.elapsed().as_millis() as u64;

        progress.set(Phase::AnomalyDetection, 0.40);
        let detection_started = Instant::now();
        let detectors: Vec<Arc<dyn Detector<Budget>>> = run
            .iter()
            .map(|f| -> Arc<dyn Detector<Budget>> {
                if *f == Family::Payment {
                    Arc::new(PaymentRules)
                } else {
                    Arc::new(PatternRules {
                        settings: self.pattern.clone(),
                    })
                }
            })
            .collect();
        let mut stage = Stage::new(progress, cancel, detectors.len());
        let data = stage.run(detectors, data).await?;
        let detection_ms = detection_started.elapsed().as_millis() as u64;

        let (born, born_total) = rules::born_during_year(&data);
        let mut applicability = serde_json::Map::new();
        for f in &skipped {
            applicability.insert(f.as_str().into(), json!(not_applicable(*f)));
        }
        let metadata = json!({
            "pipeline": "expenses",
            "anomaly_types": run.iter().map(|f| f.as_str()).collect::<Vec<_>>(),
            "not_applicable": applicability,
            "question": {
                "interpreted": false,
                "reason": "the question's text is read into filters for contracts only; \
                           the row's filters were analysed",
            },
            "rows_read": {"budget_lines": stats.lines, "allocations": stats.allocations},
            "peers": data.peers.iter().map(|p| json!({
                "exercicio": p.exercicio,
                "grupo_despesa": p.grupo,
                "allocations": p.allocations,
                "p01_ratio": p.p01.exp(),
                "median_ratio": p.median.exp(),
                "p99_ratio": p.p99.exp(),
            })).collect::<Vec<_>>(),
            "allocations_born_during_year": {"count": born, "updated_budget": born_total},
            "phases_ms": {
                "data_retrieval": retrieval_ms,
                "anomaly_detection": detection_ms,
            },
        });
        let preface = (!skipped.is_empty()).then(|| {
            let names: Vec<&str> = skipped.iter().map(|f| family_pt(*f)).collect();
            format!(
                "Linhas do orçamento não trazem favorecido, datas nem preços: as regras de {} \
                 não se aplicam e não foram executadas.",
                crate::analysis::summary::list(
                    &names.iter().map(|n| n.to_string()).collect::<Vec<_>>()
                )
            )
        });
        let confidence_score =
            confidence_score(&run, data.allocations.len(), |f| coverage(f, &data));
        Ok(conclude(
            Detected {
                job: job.id,
                data: &data,
                per_family: stage.per_family,
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
