//! Vendor: one supplier hired by dispensa by many units.
//!
//! Rule `vendor.dispensas_across_units`: a supplier of the investigation's
//! dispensas that, across the whole database (migration 0020), was hired by
//! dispensa by at least `spread_min_units` UGs for a total of at least
//! `large_value`. A dispensa waives competition for a reason each unit must
//! justify for itself (Lei 8.666/1993 art. 24, art. 26; Lei 14.133/2021 art. 75,
//! art. 72); one firm collecting them across many units is how intermediaries
//! selling the same thing to the whole administration, and emergencies sold
//! unit by unit, appear in the reported cases. Inexigibilidades are not
//! counted: a sole provider is hired that way everywhere by law.
//!
//! One finding per supplier. Records are the investigation's dispensas with it,
//! largest first, at most `spread_max_records` (three for a routine
//! supplier): the pattern is the supplier's, so the count and sum of all its
//! dispensas in the investigation are in the explanation and the evidence,
//! with the whole database's counts and the ten UGs that paid it most.
//! `financial_impact` is the whole database's total.
//!
//! Severity: high from 10 UGs or 3 agencies with a total of 10 ×
//! `large_value`; medium otherwise. A state company, utility or support
//! foundation (`recognised`), or a purchase of family farming (the PAA, whose
//! dispensa is by law: Lei 12.512/2011 art. 17, Lei 14.133/2021 art. 75 XII),
//! is low and says why. Confidence 0.5 at the minimum of units, growing by 0.05
//! a unit up to 0.8; half for a low case.

use std::collections::BTreeMap;

use serde_json::json;

use crate::analysis::rank::{keep_strongest, Rank};
use crate::domain::format::{self, count, round};
use crate::domain::text;
use crate::sources::contracts::model::{
    supplier_name, unit_label, Contract, Dataset, Family, Finding, Severity, Shared,
    SupplierDispensas,
};

use super::recognised::{is_routine_supplier, listed_at_most};
use super::vendor::VendorSettings;

/// One supplier hired by dispensa by many units.
pub const DISPENSAS_ACROSS_UNITS: &str = "vendor.dispensas_across_units";

/// Why a supplier's spread is lawful by design.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lawful {
    RoutineSupplier,
    FamilyFarming,
}

/// A purchase of family farming's produce (Programa de Aquisição de
/// Alimentos), by its folded object.
fn is_family_farming(c: &Contract) -> bool {
    let object = text::fold(&c.object);
    [
        "agricultura familiar",
        "compra institucional",
        "aquisicao de alimentos",
    ]
    .iter()
    .any(|w| object.contains(w))
}

/// `dispensas` lists the investigation's dispensas, by record.
pub fn dispensas_across_units(
    s: &VendorSettings,
    data: &Dataset,
    dispensas: impl Iterator<Item = usize>,
) -> Vec<Finding> {
    if data.supplier_dispensas.is_empty() {
        return Vec::new();
    }
    let mut by_supplier: BTreeMap<&Shared, Vec<usize>> = BTreeMap::new();
    for idx in dispensas {
        if let Some(code) = data.contracts[idx].supplier_code.as_ref() {
            by_supplier.entry(code).or_default().push(idx);
        }
    }
    let mut ranked = Vec::new();
    for (code, mut records) in by_supplier {
        let Some(spread) = data.supplier_dispensas.get(code) else {
            continue;
        };
        if (spread.units as usize) < s.spread_min_units.max(2) || spread.total < s.large_value {
            continue;
        }
        records.sort_by(|&a, &b| {
            let value = |i: usize| data.contracts[i].value_signed().unwrap_or(0.0);
            value(b)
                .total_cmp(&value(a))
                .then_with(|| data.contracts[a].key.cmp(&data.contracts[b].key))
        });
        let lawful = if records
            .iter()
            .any(|&i| is_routine_supplier(&data.contracts[i]))
        {
            Some(Lawful::RoutineSupplier)
        } else if records
            .iter()
            .all(|&i| is_family_farming(&data.contracts[i]))
        {
            Some(Lawful::FamilyFarming)
        } else {
            None
        };
        let found = Found {
            dispensas: records.len(),
            total: records
                .iter()
                .filter_map(|&i| data.contracts[i].value_signed())
                .sum(),
        };
        records.truncate(listed_at_most(
            lawful.is_some(),
            s.spread_max_records.min(s.max_records).max(1),
        ));
        let wide = spread.units >= 10 || spread.agencies >= 3;
        let severity = if lawful.is_some() {
            Severity::Low
        } else if wide && spread.total >= 10.0 * s.large_value {
            Severity::High
        } else {
            Severity::Medium
        };
        let mut confidence =
            (0.5 + 0.05 * (spread.units as f64 - s.spread_min_units as f64)).clamp(0.5, 0.8);
        if lawful.is_some() {
            confidence *= 0.5;
        }
        let rank = Rank {
            severity,
            confidence,
            impact: round(spread.total, 2),
            first: records[0],
        };
        ranked.push((rank, (spread, records, found, lawful)));
    }
    keep_strongest(ranked, &data.contracts[..], s.max_findings)
        .into_iter()
        .map(|(rank, (spread, records, found, lawful))| {
            finding(data, spread, records, found, lawful, &rank)
        })
        .collect()
}

/// The investigation's dispensas with one supplier, before a finding lists
/// a few of them.
struct Found {
    dispensas: usize,
    total: f64,
}

fn finding(
    data: &Dataset,
    spread: &SupplierDispensas,
    records: Vec<usize>,
    found: Found,
    lawful: Option<Lawful>,
    rank: &Rank,
) -> Finding {
    let first = &data.contracts[records[0]];
    let supplier = supplier_name(first);
    let largest: Vec<String> = spread
        .largest
        .iter()
        .take(3)
        .map(|u| {
            format!(
                "{} ({} por {})",
                unit_label(&u.ug),
                format::reais(u.total),
                if u.contracts == 1 {
                    "uma dispensa".to_string()
                } else {
                    format!("{} dispensas", count(u.contracts as usize))
                }
            )
        })
        .collect();
    let note = match lawful {
        Some(Lawful::RoutineSupplier) => {
            " O fornecedor é uma estatal, concessionária de serviço público ou fundação de \
             apoio, que a lei permite contratar diretamente (Lei 8.666/1993, art. 24; Lei \
             14.133/2021, art. 75; Lei 8.958/1994): ser contratado assim por muitas unidades é \
             esperado, e por isso a gravidade é baixa."
        }
        Some(Lawful::FamilyFarming) => {
            " As compras são da agricultura familiar (Programa de Aquisição de Alimentos), \
             que a lei manda fazer por dispensa (Lei 12.512/2011, art. 17; Lei 14.133/2021, \
             art. 75, XII): ser contratado assim por muitas unidades é esperado, e por isso a \
             gravidade é baixa."
        }
        None => "",
    };
    Finding {
        family: Family::Vendor,
        rule: DISPENSAS_ACROSS_UNITS,
        severity: rank.severity,
        confidence: rank.confidence,
        description: format!(
            "{supplier}: contratado por dispensa de licitação por {} unidades gestoras de {} \
             órgãos, {} na base",
            count(spread.units as usize),
            count(spread.agencies as usize),
            format::reais(spread.total),
        ),
        explanation: format!(
            "Em toda a base, {supplier} recebeu {} dispensas de licitação de {} unidades \
             gestoras, de {} órgãos, somando {}; as que mais pagaram foram {}. Esta \
             investigação encontrou {} delas, somando {}. Cada dispensa precisa de \
             justificativa própria, da hipótese legal e do preço (Lei 8.666/1993, arts. 24 e \
             26; Lei 14.133/2021, arts. 72 e 75); uma mesma empresa contratada sem disputa por \
             muitas unidades é como aparecem intermediários que vendem o mesmo objeto a toda a \
             administração e emergências vendidas unidade por unidade.{note}",
            count(spread.contracts as usize),
            count(spread.units as usize),
            count(spread.agencies as usize),
            format::reais(spread.total),
            largest.join(", "),
            count(found.dispensas),
            format::reais(found.total),
        ),
        suggested_actions: vec![
            "Comparar as justificativas e os preços das dispensas das diferentes unidades."
                .to_string(),
            "Verificar se o objeto, comum a várias unidades, poderia ter sido licitado em \
             conjunto (compra compartilhada ou ata de registro de preços)."
                .to_string(),
            "Consultar o quadro societário e a atividade do fornecedor.".to_string(),
        ],
        evidence: json!({
            "supplier_code": first.supplier_code,
            "dispensas_in_database": spread.contracts,
            "units": spread.units,
            "agencies": spread.agencies,
            "total_in_database": round(spread.total, 2),
            "dispensas_in_investigation": found.dispensas,
            "total_in_investigation": round(found.total, 2),
            "largest_units": spread.largest.iter().map(|u| json!({
                "codigo_ug": u.ug.code,
                "nome_ug": u.ug.name,
                "dispensas": u.contracts,
                "total": round(u.total, 2),
            })).collect::<Vec<_>>(),
            "lawful_by_design": match lawful {
                Some(Lawful::RoutineSupplier) => Some("routine_supplier"),
                Some(Lawful::FamilyFarming) => Some("family_farming"),
                None => None,
            },
            "counted_over": "whole_database",
        }),
        records,
        financial_impact: round(rank.impact, 2),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::sources::contracts::model::{Unit, UnitDispensas};

    fn dispensa(supplier: &str, name: &str, object: &str, value: f64) -> Contract {
        Contract {
            key: format!("k-{supplier}-{value}"),
            number: "302022".into(),
            object: object.into(),
            supplier_code: Some(supplier.into()),
            supplier_name: Some(name.into()),
            initial_value: Some(value),
            ..Default::default()
        }
    }

    fn spread(units: u32, agencies: u32, total: f64) -> SupplierDispensas {
        SupplierDispensas {
            contracts: units + 1,
            units,
            agencies,
            total,
            largest: vec![UnitDispensas {
                ug: Unit {
                    code: Some("158476".into()),
                    name: Some("INST.FED.MINAS GERAIS/CAMPUS S.J.EVANGELISTA".into()),
                },
                contracts: 1,
                total: 4_543_611.48,
            }],
        }
    }

    fn detect(contracts: Vec<Contract>, spreads: Vec<(&str, SupplierDispensas)>) -> Vec<Finding> {
        let n = contracts.len();
        let data = Dataset {
            contracts,
            supplier_dispensas: spreads
                .into_iter()
                .map(|(code, s)| (Shared::from(code), s))
                .collect::<HashMap<_, _>>(),
            ..Default::default()
        };
        dispensas_across_units(&VendorSettings::default(), &data, 0..n)
    }

    #[test]
    fn a_firm_hired_by_dispensa_by_many_units_of_several_agencies_is_reported() {
        let found = detect(
            vec![dispensa(
                "1",
                "VILLAGE ADMINISTRACAO",
                "LIMPEZA EMERGENCIAL",
                93_939.54,
            )],
            vec![("1", spread(6, 4, 12_508_181.86))],
        );
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].severity, Severity::High);
        assert!(found[0].explanation.contains("CAMPUS S.J.EVANGELISTA"));
        assert!(found[0]
            .description
            .contains("6 unidades gestoras de 4 órgãos"));
    }

    #[test]
    fn a_finding_lists_five_examples_and_counts_all_the_investigations_dispensas() {
        let contracts = (1..=12)
            .map(|i| dispensa("1", "VILLAGE", "LIMPEZA", 10_000.0 * i as f64))
            .collect();
        let found = detect(contracts, vec![("1", spread(6, 4, 12_508_181.86))]);
        assert_eq!(found.len(), 1);
        let f = &found[0];
        assert_eq!(f.records.len(), 5);
        assert_eq!(f.evidence["dispensas_in_investigation"], 12);
        assert_eq!(f.evidence["total_in_investigation"], 780_000.0);
        assert!(
            f.explanation
                .contains("Esta investigação encontrou 12 delas, somando R$ 780.000,00"),
            "{}",
            f.explanation
        );
    }

    #[test]
    fn few_units_or_little_money_is_not_reported() {
        let few = detect(
            vec![dispensa("1", "VILLAGE", "LIMPEZA", 93_939.54)],
            vec![("1", spread(4, 4, 12_508_181.86))],
        );
        assert!(few.is_empty());
        let small = detect(
            vec![dispensa("1", "VILLAGE", "LIMPEZA", 93_939.54)],
            vec![("1", spread(9, 4, 400_000.0))],
        );
        assert!(small.is_empty());
    }

    #[test]
    fn state_companies_and_family_farming_are_low_and_say_why() {
        let found = detect(
            vec![
                dispensa(
                    "1",
                    "EMPRESA BRASILEIRA DE CORREIOS E TELEGRAFOS",
                    "POSTAGEM",
                    1e5,
                ),
                dispensa("2", "COOPERATIVA AGRO", "COMPRA INSTITUCIONAL DO PAA", 2e5),
            ],
            vec![
                ("1", spread(54, 35, 1_985_663_778.0)),
                ("2", spread(6, 3, 5_311_662.0)),
            ],
        );
        assert_eq!(found.len(), 2);
        for f in &found {
            assert_eq!(f.severity, Severity::Low, "{}", f.description);
            assert!(f.evidence["lawful_by_design"].is_string());
        }
    }
}
