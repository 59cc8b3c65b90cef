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

use async_trait::async_trait;
use serde_json::{json, Map, Value};

use super::source::{share, unavailable, Retrieval, Retrieved, Source, Understood};
use super::{Job, JobError};
use crate::analysis::{Detector, Family, Vocabulary};
use crate::config::AnalysisSettings;
use crate::db::Conn;
use crate::question::{self, Group, Reading};
use crate::sources::contracts::rules::pattern::PatternSettings;
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

async fn read_question(client: &Conn, job: &Job) -> Result<Question, JobError> {
    let vocab = question::Vocabulary::builtin();
    let today = crate::sources::portal_api::brasilia_now().date();
    let draft = question::read(&job.query, today, vocab);
    let directory = if draft.agencies.is_empty() {
        question::Directory::default()
    } else {
        question::lookup::load(client, &[], vocab)
            .await
            .map_err(unavailable::<Expenses>)?
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

/// The federal budget's allocations, with their peers in the whole imported
/// budget.
pub struct Expenses {
    /// The Benford thresholds, shared with the contracts' rule.
    pattern: PatternSettings,
}

impl Expenses {
    pub fn new(pattern: PatternSettings) -> Self {
        Self { pattern }
    }
}

#[async_trait]
impl Source for Expenses {
    type Filters = BudgetFilters;
    type Data = Budget;
    const NAME: &'static str = "expenses";
    const WORDS: Vocabulary = WORDS;
    const APPLICABLE: &'static [Family] = &APPLICABLE;
    const DATA: &'static str = "do orçamento";
    const NARROW: &'static str = "por ano ou órgão";

    fn parse(filters: &Value) -> Result<BudgetFilters, FilterError> {
        BudgetFilters::parse(filters)
    }

    async fn understand(
        &self,
        client: &Conn,
        job: &Job,
        _filters: BudgetFilters,
        asked: Vec<Family>,
        _analysis: &AnalysisSettings,
    ) -> Result<Understood<BudgetFilters>, JobError> {
        let question = read_question(client, job).await?;
        Ok(Understood {
            filters: BudgetFilters::parse(&question.filters).map_err(super::invalid_filter)?,
            asked,
            sentence: question.sentence,
            question: question.metadata,
        })
    }

    fn not_applicable(family: Family) -> &'static str {
        not_applicable(family)
    }

    fn none_applicable(names: &str) -> String {
        format!(
            "Os tipos de anomalia pedidos ({names}) não se aplicam ao orçamento: as linhas do \
             orçamento não trazem favorecido, datas nem preços. Para despesas, peça \
             \"payment\" (execução acima do orçamento) ou \"pattern\" (revisões e padrões \
             estatísticos), ou deixe anomaly_types vazio."
        )
    }

    async fn retrieve(
        &self,
        reading: &Retrieval<'_>,
        filters: &BudgetFilters,
    ) -> Result<Retrieved<Budget>, JobError> {
        let retrieval = retrieve(
            reading.client,
            filters,
            rules::MIN_INITIAL,
            reading.max_records,
            reading.cancel,
        );
        let (data, stats) = reading.bounded::<Self, _>(retrieval).await?;
        let metadata = json!({
            "rows_read": {"budget_lines": stats.lines, "allocations": stats.allocations},
            "peers": data.peers.iter().map(|p| json!({
                "exercicio": p.exercicio,
                "grupo_despesa": p.grupo,
                "allocations": p.allocations,
                "p01_ratio": p.p01.exp(),
                "median_ratio": p.median.exp(),
                "p99_ratio": p.p99.exp(),
            })).collect::<Vec<_>>(),
        });
        Ok(Retrieved { data, metadata })
    }

    fn detectors(&self, run: &[Family]) -> Vec<Arc<dyn Detector<Budget>>> {
        run.iter()
            .map(|f| -> Arc<dyn Detector<Budget>> {
                if *f == Family::Payment {
                    Arc::new(PaymentRules)
                } else {
                    Arc::new(PatternRules {
                        settings: self.pattern.clone(),
                    })
                }
            })
            .collect()
    }

    fn coverage(family: Family, data: &Budget) -> f64 {
        share(&data.allocations, |a| match family {
            Family::Payment => a.amounts.atualizado != 0.0 || a.amounts.empenhado != 0.0,
            Family::Pattern => a.amounts.inicial > 0.0 || a.amounts.empenhado > 0.0,
            _ => false,
        })
    }

    fn scope(filters: &BudgetFilters) -> String {
        filters.describe()
    }

    fn preface(skipped: &[Family]) -> Option<String> {
        (!skipped.is_empty()).then(|| {
            let names: Vec<String> = skipped.iter().map(|f| family_pt(*f).to_string()).collect();
            format!(
                "Linhas do orçamento não trazem favorecido, datas nem preços: as regras de {} \
                 não se aplicam e não foram executadas.",
                crate::analysis::summary::list(&names)
            )
        })
    }

    fn described(data: &Budget) -> Map<String, Value> {
        let (born, born_total) = rules::born_during_year(data);
        let mut out = Map::new();
        out.insert(
            "allocations_born_during_year".into(),
            json!({"count": born, "updated_budget": born_total}),
        );
        out
    }
}
