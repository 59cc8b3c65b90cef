//! The anomaly pipeline over federal expenses (`data_source = 'expenses'`):
//! `data_retrieval` (the budget allocations the filters select, and their peers
//! in the whole imported budget; the commitments and payments of the period,
//! fetched first from `/despesas/documentos` for a UG when a Portal key is
//! configured) → `anomaly_detection` → `analysis` → `summary_generation`, the
//! last two shared with every source (src/analysis).
//!
//! Allocations answer the payment and pattern families; documents the temporal
//! (when money was committed) and vendor (who was paid) ones. Neither carries
//! unit prices or repeats by design: price and duplicate do not apply, and the
//! summary and the metadata say so. The summary opens with what was read, and
//! says so when no document was, since the temporal and vendor rules then had
//! nothing to judge.
//!
//! The question's text is read by src/question for what expenses can answer —
//! the year, the organ or UG, the value — where the row's `filters` are
//! silent; a period within one year is read as that budget year and as the
//! period of its documents, and what expenses cannot answer (a supplier, a
//! modality) is listed in the metadata as not used.

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
use crate::sources::expenses::by_organ;
use crate::sources::expenses::document_rules::{PayeeRules, YearEndRules};
use crate::sources::expenses::documents::{self, DailyStats, Fase};
use crate::sources::expenses::filters::BudgetFilters;
use crate::sources::expenses::retrieval::retrieve;
use crate::sources::expenses::rules::{self, PatternRules, PaymentRules};
use crate::sources::expenses::Budget;
use crate::sources::filters::FilterError;
use crate::sources::portal_api::{ApiError, PortalClient};

/// How the summary speaks of the budget.
const WORDS: Vocabulary = Vocabulary {
    one: "registro de despesa",
    many: "registros de despesa",
    none_found: "Nenhum registro de despesa (alocação do orçamento ou documento) encontrado",
    same_one: "um mesmo registro",
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

/// The families budget lines (payment, pattern) and documents (temporal,
/// vendor) can answer.
const APPLICABLE: [Family; 4] = [
    Family::Temporal,
    Family::Payment,
    Family::Vendor,
    Family::Pattern,
];

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
        Group::Period => &["year", "data_inicial", "data_final"],
        Group::Agency => &["codigo_orgao_superior", "codigo_orgao", "codigo_ug"],
        Group::Value => &["min_value", "max_value"],
        _ => &[],
    }
}

/// A reading's filters as a budget takes them: a period inside one calendar
/// year is that budget year, and the period of its documents; a period across
/// years is not one budget's.
fn as_budget(r: &Reading) -> Map<String, Value> {
    let keys = budget_keys(r.group);
    let mut out: Map<String, Value> = r
        .filters
        .iter()
        .filter(|(k, _)| keys.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if r.group == Group::Period && !out.contains_key("year") {
        let year = |k: &str| {
            r.filters
                .get(k)
                .and_then(Value::as_str)
                .and_then(|d| d.get(..4))
                .and_then(|y| y.parse::<i32>().ok())
        };
        match (year("data_inicial"), year("data_final")) {
            (Some(a), Some(b)) if a == b => {
                out.insert("year".into(), json!(a));
            }
            _ => out.clear(),
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
            " O orçamento é anual: suas alocações são as do ano inteiro; os documentos de \
             despesa, os do período."
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
/// budget, and the commitments and payments of the period.
pub struct Expenses {
    /// The Benford thresholds, shared with the contracts' rule.
    pattern: PatternSettings,
    portal: Option<PortalClient>,
}

impl Expenses {
    pub fn new(pattern: PatternSettings, portal: Option<PortalClient>) -> Self {
        Self { pattern, portal }
    }

    /// The `/despesas/documentos` part of retrieval: a UG's commitments and
    /// payments of the period, day by day, when a key is configured, the
    /// filters name the UG (the API requires one) and the period is at most
    /// [`documents::MAX_DAYS`] days. What was not fetched, and why, is said.
    async fn fetch(
        &self,
        reading: &Retrieval<'_>,
        filters: &BudgetFilters,
    ) -> Result<(Option<DailyStats>, Option<String>), JobError> {
        let (Some(api), Some(ug)) = (&self.portal, &filters.codigo_ug) else {
            return Ok((None, None));
        };
        let today = crate::sources::portal_api::brasilia_now().date();
        let Some((from, until)) = filters
            .document_period()
            .map(|(from, until)| (from, until.min(today)))
        else {
            return Ok((
                None,
                Some(
                    "Os documentos de despesa não foram consultados no Portal: diga o período \
                     com \"data_inicial\" e \"data_final\" (até 31 dias)."
                        .into(),
                ),
            ));
        };
        let days = (until - from).num_days() + 1;
        if days > documents::MAX_DAYS {
            return Ok((
                None,
                Some(format!(
                    "Os documentos de despesa não foram consultados no Portal: o período tem {} \
                     dias, e o Portal os entrega dia a dia; restrinja \"data_inicial\" e \
                     \"data_final\" a até {} dias. Foram analisados os documentos já \
                     importados.",
                    crate::domain::format::count(days.max(0) as usize),
                    documents::MAX_DAYS
                )),
            ));
        }
        let stats = documents::fetch(
            reading.client,
            api,
            ug,
            (from, until),
            reading.cancel,
            |done, total| {
                reading.progress.set(
                    super::Phase::DataRetrieval,
                    0.05 + 0.25 * done as f64 / total.max(1) as f64,
                )
            },
        )
        .await
        .map_err(|e| {
            super::portal_error(
                e,
                &format!("despesas da UG {ug}"),
                "o filtro \"codigo_ug\" é o código da unidade gestora, como 158137",
                unavailable::<Self>,
            )
        })?;
        tracing::info!(
            codigo_ug = %ug,
            days = stats.days,
            records = stats.fetched.records,
            changed = stats.fetched.changed,
            requests = stats.fetched.requests,
            "expense documents fetched from the Portal API"
        );
        Ok((Some(stats), None))
    }
}

impl Expenses {
    /// `/despesas/por-orgao`: the Portal's committed totals for the organs of
    /// the órgão superior asked, beside the imported budget's, when a key is
    /// configured and the filters name the year and the órgão superior. A
    /// check, not the data: when the Portal cannot answer it, the
    /// investigation goes on and the metadata says why.
    async fn check_import(
        &self,
        reading: &Retrieval<'_>,
        filters: &BudgetFilters,
    ) -> Result<(Value, Option<String>), JobError> {
        let (Some(api), Some(year), Some(superior), None) = (
            &self.portal,
            filters.year,
            &filters.codigo_orgao_superior,
            &filters.codigo_ug,
        ) else {
            return Ok((Value::Null, None));
        };
        let (totals, requests) =
            match by_organ::portal_totals(api, year, superior, reading.cancel).await {
                Ok(answer) => answer,
                Err(ApiError::Cancelled) => return Err(JobError::Cancelled),
                Err(e) => {
                    tracing::warn!(error = %e, "the Portal's totals per organ could not be read");
                    return Ok((json!({"error": e.to_string()}), None));
                }
            };
        let imported = by_organ::imported_totals(reading.client, year, superior)
            .await
            .map_err(unavailable::<Self>)?;
        let organs = by_organ::compare(totals, &imported);
        let note = by_organ::outdated(&organs, year);
        Ok((json!({"requests": requests, "organs": organs}), note))
    }
}

/// The summary's opening: what was read, and that the rules on dates and
/// payees had nothing to judge without documents.
fn what_was_read(data: &Budget) -> String {
    let n = |k: usize, one: &str, many: &str, none: &str| match k {
        0 => none.to_string(),
        1 => format!("1 {one}"),
        k => format!("{} {many}", crate::domain::format::count(k)),
    };
    let allocations = n(
        data.allocations.len(),
        "alocação do orçamento",
        "alocações do orçamento",
        "nenhuma alocação do orçamento",
    );
    let commitments = data
        .documents
        .iter()
        .filter(|d| d.fase == Fase::Empenho)
        .count();
    let payments = data.documents.len() - commitments;
    if data.documents.is_empty() {
        format!(
            "Registros lidos: {allocations} e nenhum documento de despesa (empenho ou \
             pagamento), de modo que as regras sobre datas de empenho e favorecidos não \
             tiveram o que analisar."
        )
    } else {
        format!(
            "Registros lidos: {allocations} e {} ({}, {}).",
            n(
                data.documents.len(),
                "documento de despesa",
                "documentos de despesa",
                ""
            ),
            n(commitments, "empenho", "empenhos", "nenhum empenho"),
            n(payments, "pagamento", "pagamentos", "nenhum pagamento")
        )
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
    const NARROW: &'static str = "por ano, órgão, UG ou período";

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

    /// Why each other family cannot be run on expenses, for the metadata.
    fn not_applicable(f: Family) -> &'static str {
        match f {
            Family::Duplicate => {
                "budget lines are unique by classification and documents by their code; no rule \
                 on repeated documents is built yet"
            }
            Family::Price => "neither budget lines nor documents carry items or unit prices",
            _ => "",
        }
    }

    fn none_applicable(names: &str) -> String {
        format!(
            "Os tipos de anomalia pedidos ({names}) não se aplicam a despesas: nem o orçamento \
             nem os documentos de despesa trazem preços unitários. Para despesas, peça \
             \"payment\" (execução acima do orçamento), \"pattern\" (revisões e padrões \
             estatísticos), \"temporal\" (empenhos no fim do ano) ou \"vendor\" \
             (favorecidos concentrados), ou deixe anomaly_types vazio."
        )
    }

    async fn retrieve(
        &self,
        reading: &Retrieval<'_>,
        filters: &BudgetFilters,
    ) -> Result<Retrieved<Budget>, JobError> {
        let (fetched, not_fetched) = self.fetch(reading, filters).await?;
        let (checked, outdated) = self.check_import(reading, filters).await?;
        let retrieval = retrieve(
            reading.client,
            filters,
            rules::MIN_INITIAL,
            reading.max_records,
            reading.cancel,
        );
        let (data, stats) = reading.bounded::<Self, _>(retrieval).await?;
        let mut notes = vec![what_was_read(&data)];
        if let Some(left) = stats.documents_left_out_beyond {
            notes.push(format!(
                "Há mais de {} documentos de despesa para esses filtros, além das alocações: \
                 eles não foram analisados; para analisá-los, restrinja por UG (\"codigo_ug\") \
                 ou período (\"data_inicial\"/\"data_final\").",
                crate::domain::format::count(left)
            ));
        }
        notes.extend(not_fetched.clone());
        notes.extend(outdated);
        let metadata = json!({
            "rows_read": {
                "budget_lines": stats.lines,
                "allocations": stats.allocations,
                "documents": stats.documents,
                "documents_left_out_beyond": stats.documents_left_out_beyond,
            },
            "documents_read": if filters.classifies_below_the_organ() {
                "no: a UO, função, programa or ação is not on every document"
            } else if filters.codigo_ug.is_some() {
                "only: a UG is not a budget classification, so no allocation was read"
            } else {
                "yes"
            },
            "portal_api": fetched,
            "portal_api_not_fetched": not_fetched,
            "portal_api_by_organ": checked,
            "peers": data.peers.iter().map(|p| json!({
                "exercicio": p.exercicio,
                "grupo_despesa": p.grupo,
                "allocations": p.allocations,
                "p01_ratio": p.p01.exp(),
                "median_ratio": p.median.exp(),
                "p99_ratio": p.p99.exp(),
            })).collect::<Vec<_>>(),
        });
        Ok(Retrieved {
            data,
            metadata,
            notes,
        })
    }

    fn detectors(&self, run: &[Family]) -> Vec<Arc<dyn Detector<Budget>>> {
        run.iter()
            .map(|f| -> Arc<dyn Detector<Budget>> {
                match f {
                    Family::Payment => Arc::new(PaymentRules),
                    Family::Temporal => Arc::new(YearEndRules),
                    Family::Vendor => Arc::new(PayeeRules),
                    _ => Arc::new(PatternRules {
                        settings: self.pattern.clone(),
                    }),
                }
            })
            .collect()
    }

    fn coverage(family: Family, data: &Budget) -> f64 {
        match family {
            Family::Temporal => share(&data.documents, |d| {
                d.fase == Fase::Empenho && d.valor.is_some()
            }),
            Family::Vendor => share(&data.documents, |d| {
                d.codigo_favorecido.is_some() && d.valor.is_some()
            }),
            _ => share(&data.allocations, |a| match family {
                Family::Payment => a.amounts.atualizado != 0.0 || a.amounts.empenhado != 0.0,
                _ => a.amounts.inicial > 0.0 || a.amounts.empenhado > 0.0,
            }),
        }
    }

    fn scope(filters: &BudgetFilters) -> String {
        filters.describe()
    }

    fn preface(skipped: &[Family]) -> Option<String> {
        (!skipped.is_empty()).then(|| {
            let names: Vec<String> = skipped.iter().map(|f| family_pt(*f).to_string()).collect();
            format!(
                "O orçamento e os documentos de despesa não trazem preços unitários nem \
                 repetições a comparar: as regras de {} não se aplicam e não foram executadas.",
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
