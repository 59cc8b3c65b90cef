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
//! The question's text is read by src/question for what a budget can answer —
//! the year, the organ, the value — where the row's `filters` are silent; a
//! period within one year is read as that budget year, and what the budget
//! cannot answer (a supplier, a modality, a UG) is listed in the metadata as
//! not used.

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use serde_json::{json, Map, Value};
use tokio_util::sync::CancellationToken;

use super::{Completion, Job, JobError, Phase, Pipeline, Progress};
use crate::analysis::investigation::{conclude, confidence_score, families, Detected};
use crate::analysis::{Detector, Family, Vocabulary};
use crate::config::AnalysisSettings;
use crate::db::Pool;
use crate::question::{self, Group, Reading};
use crate::sources::contracts::rules::pattern::PatternSettings;
use crate::sources::expenses::filters::BudgetFilters;
use crate::sources::expenses::retrieval::retrieve;
use crate::sources::expenses::rules::{self, PatternRules, PaymentRules};
use crate::sources::expenses::Budget;

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

/// What the question added to the row's filters.
struct Question {
    filters: Value,
    /// "Entendi pela pergunta: orçamento de 2022, órgão superior 36000."
    sentence: Option<String>,
    metadata: Value,
}

/// The keys of each group of src/question a budget can take.
fn budget_keys(group: Group) -> &'static [&'static str] {
    match group {
        Group::Period => &["year"],
        Group::Agency => &["codigo_orgao_superior", "codigo_orgao"],
        Group::Value => &["min_value", "max_value"],
        _ => &[],
    }
}

/// A reading's filters as a budget takes them; a period inside one calendar
/// year is that budget year.
fn as_budget(r: &Reading) -> Map<String, Value> {
    let keys = budget_keys(r.group);
    let mut out: Map<String, Value> = r
        .filters
        .iter()
        .filter(|(k, _)| keys.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if r.group == Group::Period && out.is_empty() {
        let year = |k: &str| {
            r.filters
                .get(k)
                .and_then(Value::as_str)
                .and_then(|d| d.get(..4))
                .and_then(|y| y.parse::<i32>().ok())
        };
        if let (Some(a), Some(b)) = (year("data_inicial"), year("data_final")) {
            if a == b {
                out.insert("year".into(), json!(a));
            }
        }
    }
    out
}

async fn read_question(client: &tokio_postgres::Client, job: &Job) -> Result<Question, JobError> {
    let vocab = question::Vocabulary::builtin();
    let today = crate::sources::portal_api::brasilia_now().date();
    let draft = question::read(&job.query, today, vocab);
    let directory = if draft.agencies.is_empty() {
        question::Directory::default()
    } else {
        question::lookup::load(client, &[], vocab)
            .await
            .map_err(unavailable)?
    };
    let understood = question::resolve(draft, vocab, &directory);
    let mut merged = job.filters.as_object().cloned().unwrap_or_default();
    let explicit = |group: Group, merged: &Map<String, Value>| {
        budget_keys(group)
            .iter()
            .any(|k| merged.get(*k).is_some_and(|v| !v.is_null()))
    };
    let mut used = Vec::new();
    let mut not_used = Vec::new();
    let mut widened = false;
    for r in &understood.readings {
        let taken = as_budget(r);
        if taken.is_empty() {
            not_used.push(r.words.clone());
        } else if !explicit(r.group, &merged) {
            widened |= r.group == Group::Period && !r.filters.contains_key("year");
            merged.extend(taken);
            used.push(r.words.clone());
        }
    }
    if let Some(p) = understood
        .problems
        .iter()
        .find(|p| p.group == Group::Agency && !explicit(Group::Agency, &merged))
    {
        return Err(JobError::permanent(p.message.clone()));
    }
    let derived =
        BudgetFilters::parse(&Value::Object(merged.clone())).map_err(super::invalid_filter)?;
    let sentence = (!used.is_empty()).then(|| {
        let annual = if widened {
            " O orçamento é anual: o ano inteiro foi analisado."
        } else {
            ""
        };
        format!("Entendi pela pergunta: {}.{annual}", derived.describe())
    });
    Ok(Question {
        filters: Value::Object(merged),
        metadata: json!({
            "derived_from": used,
            "not_used": not_used,
            "understood": sentence,
        }),
        sentence,
    })
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
        // The citizen's own filters are checked first: their mistakes are the
        // ones to tell.
        BudgetFilters::parse(&job.filters).map_err(super::invalid_filter)?;
        let asked = families(&job.anomaly_types)?;
        let (run, skipped) = super::applicable(&asked, &APPLICABLE, |names| {
            format!(
                "Os tipos de anomalia pedidos ({names}) não se aplicam ao orçamento: as linhas do \
                 orçamento não trazem favorecido, datas nem preços. Para despesas, peça \
                 \"payment\" (execução acima do orçamento) ou \"pattern\" (revisões e padrões \
                 estatísticos), ou deixe anomaly_types vazio."
            )
        })?;

        progress.set(Phase::DataRetrieval, 0.05);
        let client = self.pool.get().await.map_err(unavailable)?;
        let question = read_question(&client, job).await?;
        let filters = BudgetFilters::parse(&question.filters).map_err(super::invalid_filter)?;
        let retrieval = retrieve(
            &client,
            &filters,
            rules::MIN_INITIAL,
            self.analysis.max_records,
            cancel,
        );
        let (data, stats) = super::read_until_cancelled(
            &self.pool,
            &client,
            retrieval,
            cancel,
            |limit| {
                    format!(
                        "Os filtros selecionam mais de {limit} alocações do orçamento, mais do que uma \
                         investigação analisa de uma vez. Restrinja por ano ou órgão."
                    )
                },
                unavailable,
        )
        .await?;
        drop(client);
        progress.records_analyzed(data.allocations.len());
        let retrieval_ms = started.elapsed().as_millis() as u64;

        let (data, per_family, detection_ms) = super::detect(
            progress,
            cancel,
            &run,
            |f| -> Arc<dyn Detector<Budget>> {
                if f == Family::Payment {
                    Arc::new(PaymentRules)
                } else {
                    Arc::new(PatternRules {
                        settings: self.pattern.clone(),
                    })
                }
            },
            data,
        )
        .await?;

        let (born, born_total) = rules::born_during_year(&data);
        let metadata = json!({
            "pipeline": "expenses",
            "anomaly_types": run.iter().map(|f| f.as_str()).collect::<Vec<_>>(),
            "not_applicable": super::not_run(&skipped, not_applicable),
            "question": question.metadata,
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
        let not_applied = (!skipped.is_empty()).then(|| {
            let names: Vec<&str> = skipped.iter().map(|f| family_pt(*f)).collect();
            format!(
                "Linhas do orçamento não trazem favorecido, datas nem preços: as regras de {} \
                 não se aplicam e não foram executadas.",
                crate::analysis::summary::list(
                    &names.iter().map(|n| n.to_string()).collect::<Vec<_>>()
                )
            )
        });
        let preface = match (question.sentence, not_applied) {
            (Some(a), Some(b)) => Some(format!("{a} {b}")),
            (a, b) => a.or(b),
        };
        let confidence_score =
            confidence_score(&run, data.allocations.len(), |f| coverage(f, &data));
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
