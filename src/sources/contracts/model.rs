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

/// What every agency in the database paid for one catalogue item (migration
/// 0019's `item_price_peers`): unit prices of contracts whose items add up to
/// their value.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemPeers {
    /// Priced purchases of the item, this one included.
    pub purchases: u32,
    /// Distinct agencies (órgãos) among them.
    pub agencies: u32,
    /// Unit price at the 10th, 25th, 50th, 75th and 90th percentile, in reais.
    pub prices: [f64; 5],
    pub median_quantity: f64,
}

impl ItemPeers {
    pub fn median(&self) -> f64 {
        self.prices[2]
    }
}

/// One item of a contract with its unit price, as migration 0019 reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemPrice {
    /// The catalogue name, upper case ("ÁGUA MINERAL NATURAL").
    pub item: Shared,
    pub quantity: f64,
    /// In reais.
    pub unit_price: f64,
    /// Absent when no other agency bought the item.
    pub peers: Option<Arc<ItemPeers>>,
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
    /// Its priced items (empty where the items do not add up to the value).
    pub items: Vec<ItemPrice>,
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

/// One emergency dispensa anywhere in the database.
#[derive(Debug, Clone, PartialEq)]
pub struct EmergencyAward {
    /// The contract's key (`Contract::key`), so the ones inside the
    /// investigation can be found among its records.
    pub key: String,
    pub number: String,
    pub signed: Option<NaiveDate>,
    pub value: Option<f64>,
    pub object: String,
}

/// Every emergency dispensa in the database between one UG and one supplier,
/// in signature order, for the pairs that have one in the investigation.
#[derive(Debug, Clone, PartialEq)]
pub struct EmergencyHistory {
    pub ug: Unit,
    pub supplier_code: Shared,
    pub supplier_name: Option<Shared>,
    pub awards: Vec<EmergencyAward>,
}

/// A supplier's contracts anywhere in the database.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SupplierHistory {
    /// Its earliest signature date in the database.
    pub first_signed: Option<NaiveDate>,
    /// How many contracts it has in the database.
    pub contracts: u32,
}

/// An agency's direct awards anywhere in the database (migration 0020's
/// `agency_direct_awards`): what it usually contracts without bidding.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AgencyDirectAwards {
    /// Direct awards of known value.
    pub awards: u32,
    /// Their value at the median, the 90th and the 99th percentile, in reais.
    pub values: [f64; 3],
}

/// One UG that hired a supplier by dispensa, with how many and how much.
#[derive(Debug, Clone, PartialEq)]
pub struct UnitDispensas {
    pub ug: Unit,
    pub contracts: u32,
    pub total: f64,
}

/// A supplier's dispensas anywhere in the database (migration 0020's
/// `supplier_dispensas`), for suppliers hired that way by two UGs or more.
#[derive(Debug, Clone, PartialEq)]
pub struct SupplierDispensas {
    pub contracts: u32,
    pub units: u32,
    pub agencies: u32,
    /// In reais, known values only.
    pub total: f64,
    /// The UGs that paid it most, at most ten, largest first.
    pub largest: Vec<UnitDispensas>,
}

/// The records of one investigation.
#[derive(Debug, Clone, Default)]
pub struct Dataset {
    pub contracts: Vec<Contract>,
    /// Emergency dispensas by (UG, supplier), read from the whole database
    /// (see `rules::emergency`).
    pub emergencies: Vec<EmergencyHistory>,
    /// The whole database's record of the suppliers of the investigation's
    /// direct awards (see `rules::newcomer`), by supplier code.
    pub supplier_history: std::collections::HashMap<Shared, SupplierHistory>,
    /// The earliest month of publication in the database: what "first" can
    /// mean.
    pub published_from: Option<NaiveDate>,
    /// What the agencies of the investigation's direct awards usually award
    /// that way, by agency code (see `rules::exceptional`).
    pub agency_direct_awards: std::collections::HashMap<Shared, AgencyDirectAwards>,
    /// The dispensas, across the database, of the suppliers of the
    /// investigation's dispensas, by supplier code (see `rules::spread`).
    pub supplier_dispensas: std::collections::HashMap<Shared, SupplierDispensas>,
    /// The penalties of the suppliers of `contracts`, by supplier code, in
    /// publication order.
    pub sanctions: std::collections::HashMap<String, Vec<SupplierSanction>>,
}

pub use crate::analysis::{Family, Finding, Severity};

/// A rule family over contracts.
pub use crate::analysis::Detector;

/// The contract's value as signed: the initial value, else the final one; only
/// positive amounts count. What splitting and statistical rules judge.
impl Contract {
    pub fn value_signed(&self) -> Option<f64> {
        positive(self.initial_value).or(positive(self.final_value))
    }

    /// The contract's value now: the final value when known, else the initial;
    /// only positive amounts count. What concentration and price rules judge.
    pub fn value_now(&self) -> Option<f64> {
        positive(self.final_value).or(positive(self.initial_value))
    }
}

/// An amount that counts: the Portal writes 0 where a value was never filled
/// in (91 contracts of 2021–2022 have a final value of 0 beside an initial one
/// of millions, 497 the other way round), so 0 falls back to the other value.
fn positive(value: Option<f64>) -> Option<f64> {
    value.filter(|v| v.is_finite() && *v > 0.0)
}

impl crate::analysis::Records for [Contract] {
    fn count(&self) -> usize {
        self.len()
    }

    fn key(&self, index: usize) -> Option<&str> {
        self.get(index).map(|c| c.key.as_str())
    }

    fn listed(&self, index: usize) -> Option<serde_json::Value> {
        let c = self.get(index)?;
        Some(serde_json::json!({
            "id": c.key,
            "numero": c.number,
            "objeto": c.object,
            "fornecedor": c.supplier_name,
            "orgao": c.agency.name.as_ref().or(c.superior_agency.name.as_ref()),
            "valor": c.value_now().or(c.final_value).or(c.initial_value).map(|v| crate::domain::format::round(v, 2)),
        }))
    }
}

impl crate::analysis::Records for Dataset {
    fn count(&self) -> usize {
        self.contracts.len()
    }

    fn key(&self, index: usize) -> Option<&str> {
        self.contracts.key(index)
    }

    fn listed(&self, index: usize) -> Option<serde_json::Value> {
        self.contracts.listed(index)
    }
}

/// A unit as citizens read it: "UNIVERSIDADE FEDERAL DE GOIAS (153052)".
pub fn unit_label(unit: &Unit) -> String {
    match (&unit.name, &unit.code) {
        (Some(name), Some(code)) => format!("{name} ({code})"),
        (Some(name), None) => name.to_string(),
        (None, Some(code)) => format!("código {code}"),
        (None, None) => "unidade não identificada".to_string(),
    }
}

/// The supplier as a sentence names it: its name, else its code.
pub fn supplier_name(c: &Contract) -> &str {
    c.supplier_name
        .as_deref()
        .or(c.supplier_code.as_deref())
        .unwrap_or("fornecedor não informado")
}

/// "Contrato 12021 de FORNECEDOR, UG (código)".
pub fn contract_label(c: &Contract) -> String {
    let supplier = c
        .supplier_name
        .as_deref()
        .unwrap_or("fornecedor não identificado");
    format!("Contrato {} de {supplier}, {}", c.number, unit_label(&c.ug))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_of_zero_falls_back_to_the_other_value() {
        // The Army's 2021 surveillance contracts at UG 160195: R$ 19,908,144.00
        // signed, 0 as final value.
        let never_updated = Contract {
            initial_value: Some(19_908_144.0),
            final_value: Some(0.0),
            ..Default::default()
        };
        assert_eq!(never_updated.value_now(), Some(19_908_144.0));
        assert_eq!(never_updated.value_signed(), Some(19_908_144.0));
        let signed_blank = Contract {
            initial_value: Some(0.0),
            final_value: Some(250_000.0),
            ..Default::default()
        };
        assert_eq!(signed_blank.value_signed(), Some(250_000.0));
        let nothing = Contract {
            initial_value: Some(0.0),
            final_value: None,
            ..Default::default()
        };
        assert_eq!(nothing.value_now(), None);
        let listed =
            crate::analysis::Records::listed(&[never_updated][..], 0).expect("one contract");
        assert_eq!(listed["valor"], 19_908_144.0);
    }
}
