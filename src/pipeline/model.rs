//! What detectors read and what they report.
//!
//! A [`Dataset`] holds the contracts one investigation retrieved, already typed:
//! unknown values are `None` (the source's sentinels `-3`, `-99`, `Sem Informação`
//! never become zero). Detectors return [`Finding`]s that point at records by
//! index; the analysis phase turns them into the result JSON of DESIGN §3.
//!
//! Detectors must be deterministic: the same dataset gives the same findings in
//! the same order (iterate sorted maps, break ties by record key), because the same
//! input must give the same `results`, byte for byte.

use std::sync::Arc;

use chrono::NaiveDate;
use serde::Serialize;

/// Text that repeats across many records (names, modalities, codes), shared
/// rather than copied: a million contracts name a few thousand agencies.
pub type Shared = Arc<str>;

/// A code with its published name (agency, UG, superior agency).
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Unit {
    pub code: Option<Shared>,
    pub name: Option<Shared>,
}

/// One amendment (termo aditivo) of a contract.
#[derive(Debug, Clone, PartialEq)]
pub struct Amendment {
    pub number: Option<String>,
    pub published: Option<NaiveDate>,
    /// What the amendment does, as published ("PRORROGAÇÃO DO PRAZO…").
    pub object: String,
}

/// One contract as the Portal da Transparência publishes it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Contract {
    /// Unique and stable across re-imports (the number alone repeats).
    pub key: String,
    /// The contract number as published.
    pub number: String,
    pub object: String,
    pub legal_basis: Option<Shared>,
    /// Purchase modality ("Pregão", "Dispensa de Licitação", "Inexigibilidade"…).
    pub modality: Option<Shared>,
    pub superior_agency: Unit,
    pub agency: Unit,
    /// Unidade gestora: the management unit that signed.
    pub ug: Unit,
    pub signed: Option<NaiveDate>,
    pub published: Option<NaiveDate>,
    pub valid_from: Option<NaiveDate>,
    pub valid_until: Option<NaiveDate>,
    /// CNPJ (14 digits) or CPF (11 digits) of the supplier, digits only.
    pub supplier_code: Option<Shared>,
    pub supplier_name: Option<Shared>,
    /// In reais.
    pub initial_value: Option<f64>,
    pub final_value: Option<f64>,
    pub bidding_modality: Option<Shared>,
    pub amendments: Vec<Amendment>,
}

/// A penalty of a supplier in a sanctions list (CNEP, CEIS).
#[derive(Debug, Clone, PartialEq)]
pub struct SupplierSanction {
    /// "CNEP" or "CEIS".
    pub registry: String,
    /// The Portal's id (`skSancao`).
    pub id: i64,
    pub name: String,
    pub category: String,
    /// The sanctioning body.
    pub body: String,
    /// Unknown in some records ("Sem informação").
    pub published: Option<NaiveDate>,
    pub fine: Option<f64>,
}

/// The records of one investigation.
#[derive(Debug, Clone, Default)]
pub struct Dataset {
    pub contracts: Vec<Contract>,
    /// The penalties of the suppliers of `contracts`, by supplier code, in
    /// publication order.
    pub sanctions: std::collections::HashMap<String, Vec<SupplierSanction>>,
}

/// The detector families: the values of `type` in results.
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

/// One anomaly as a detector sees it.
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
    /// Indices into `Dataset::contracts`.
    pub records: Vec<usize>,
    pub suggested_actions: Vec<String>,
    /// The numbers behind the finding (group size, median, z…), for the metadata.
    pub evidence: serde_json::Value,
    /// Reais at stake, by the rule's own definition (see its module).
    pub financial_impact: f64,
}

/// A detector family. Implementations live in `detectors/`, one module each.
pub trait Detector: Send + Sync {
    fn family(&self) -> Family;
    fn detect(&self, data: &Dataset) -> Vec<Finding>;
}
