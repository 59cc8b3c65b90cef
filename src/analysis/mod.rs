//! What every investigation shares, whatever its data source: the findings a
//! rule reports, one rank order, the `results` JSON, the summary, and the
//! detection stage that runs a source's rules.
//!
//! A source (contracts, expenses…) provides typed records behind [`Records`],
//! its filters and retrieval, and its rules as [`Detector`]s over its own
//! dataset type; everything after detection is written once, here.

pub mod investigation;
pub mod rank;
pub mod results;
pub mod summary;

use serde::Serialize;
use serde_json::Value;

/// The detector families: the values of `type` in results (DESIGN §3). Every
/// source's rules belong to one of them; a rule's id starts with its family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    Price,
    Vendor,
    Temporal,
    Payment,
    Duplicate,
    Pattern,
}

impl Family {
    pub const ALL: [Family; 6] = [
        Family::Price,
        Family::Vendor,
        Family::Temporal,
        Family::Payment,
        Family::Duplicate,
        Family::Pattern,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Family::Price => "price",
            Family::Vendor => "vendor",
            Family::Temporal => "temporal",
            Family::Payment => "payment",
            Family::Duplicate => "duplicate",
            Family::Pattern => "pattern",
        }
    }

    pub fn parse(name: &str) -> Option<Family> {
        Family::ALL.into_iter().find(|f| f.as_str() == name)
    }
}

/// Ordered from least to most serious, so sorting descending puts critical first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    /// One step less serious; low stays low.
    pub fn lower(self) -> Self {
        match self {
            Severity::Critical => Severity::High,
            Severity::High => Severity::Medium,
            Severity::Medium | Severity::Low => Severity::Low,
        }
    }

    /// One step more serious; critical stays critical.
    pub fn higher(self) -> Self {
        match self {
            Severity::Low => Severity::Medium,
            Severity::Medium => Severity::High,
            Severity::High | Severity::Critical => Severity::Critical,
        }
    }
}

/// One anomaly as a rule sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub family: Family,
    /// `family.rule_name`, e.g. `price.robust_zscore`; stable, documented.
    pub rule: &'static str,
    pub severity: Severity,
    /// 0..1: how sure the rule is that this is not regular.
    pub confidence: f64,
    /// One line, pt-BR.
    pub description: String,
    /// Why this is unusual, with the numbers, pt-BR.
    pub explanation: String,
    /// Indices into the dataset's records (see [`Records`]).
    pub records: Vec<usize>,
    pub suggested_actions: Vec<String>,
    /// The numbers behind the finding (group size, median, z…), for the metadata.
    pub evidence: Value,
    /// Reais at stake, by the rule's own definition (see its module).
    pub financial_impact: f64,
}

/// The records of one investigation as the shared stages see them: a stable key
/// for each (anomaly ids and tie-breaks), and its entry in `affected_records`.
pub trait Records {
    fn count(&self) -> usize;
    /// Unique and stable across runs and re-imports.
    fn key(&self, index: usize) -> Option<&str>;
    /// The record as `affected_records` lists it: `id` (the key) and the fields
    /// a citizen needs to find it in the source.
    fn listed(&self, index: usize) -> Option<Value>;
}

/// A rule family over one source's dataset. Implementations are deterministic:
/// the same dataset gives the same findings in the same order.
pub trait Detector<D>: Send + Sync {
    fn family(&self) -> Family;
    fn detect(&self, data: &D) -> Vec<Finding>;
}

/// The words a summary uses for a source's records and families.
#[derive(Debug, Clone, Copy)]
pub struct Vocabulary {
    /// "contrato", "linha do orçamento".
    pub one: &'static str,
    /// "contratos", "linhas do orçamento".
    pub many: &'static str,
    /// "Nenhum contrato encontrado", "Nenhuma linha do orçamento encontrada".
    pub none_found: &'static str,
    /// "um mesmo contrato", "uma mesma linha".
    pub same_one: &'static str,
    /// The family as a citizen reads it for this source.
    pub family: fn(Family) -> &'static str,
    /// What to check when nothing was found ("os filtros ou se os dados desse
    /// período já foram importados").
    pub when_empty: &'static str,
    /// Where each finding is to be verified ("nos documentos do contrato").
    pub verify_in: &'static str,
}

impl<T> Records for Vec<T>
where
    [T]: Records,
{
    fn count(&self) -> usize {
        self.as_slice().count()
    }

    fn key(&self, index: usize) -> Option<&str> {
        self.as_slice().key(index)
    }

    fn listed(&self, index: usize) -> Option<Value> {
        self.as_slice().listed(index)
    }
}

/// The rule ids the README's data sources table lists for `source`, sorted:
/// each source's test compares them with its list in code.
#[cfg(test)]
pub(crate) fn readme_rules(source: &str) -> Vec<&'static str> {
    let readme = include_str!("../../README.md");
    let row = readme
        .lines()
        .find(|l| l.starts_with(&format!("| `{source}` |")))
        .unwrap_or_else(|| panic!("the README's data sources table has no {source} row"));
    let mut listed: Vec<&str> = row
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|s| {
            s.split_once('.')
                .is_some_and(|(family, _)| Family::parse(family).is_some())
        })
        .collect();
    listed.sort_unstable();
    listed
}

/// Records that are only keys `k0`, `k1`…, for the shared stages' tests.
#[cfg(test)]
pub(crate) struct Keys(pub Vec<String>);

#[cfg(test)]
impl Keys {
    pub fn new(n: usize) -> Self {
        Keys((0..n).map(|i| format!("k{i}")).collect())
    }
}

#[cfg(test)]
impl Records for Keys {
    fn count(&self) -> usize {
        self.0.len()
    }

    fn key(&self, index: usize) -> Option<&str> {
        self.0.get(index).map(String::as_str)
    }

    fn listed(&self, index: usize) -> Option<Value> {
        self.key(index).map(|k| serde_json::json!({ "id": k }))
    }
}
