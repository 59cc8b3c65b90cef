//! Vendor: a large direct award as a supplier's first contract in the database.
//!
//! Rule `vendor.newcomer_direct_award`: a dispensa or inexigibilidade of at
//! least `newcomer_min_value` that is its supplier's earliest contract in the
//! whole database (none signed before it, whatever the investigation's filters).
//! Hiring without bidding rests on the supplier being the one able to deliver
//! (inexigibilidade: "inviabilidade de competição", Lei 8.666/1993 art. 25, Lei
//! 14.133/2021 art. 74) or on a reason that excuses competition (dispensa); a
//! firm with no record of public contracts receiving millions that way is how
//! intermediaries and newly created companies show up in reported cases.
//!
//! "First" is only as good as the database: a contract signed less than
//! `newcomer_min_history_days` after the earliest month of publication imported
//! is not judged, since the supplier may have older contracts outside it; the
//! explanation says from when the database knows. A credenciamento, a
//! building's lease, a remainder or a supplier hired as a matter of course
//! (`recognised`) is lowered as it says, and explained.
//!
//! Severity: critical from 10 × `large_value` by dispensa, high from 10 ×
//! `large_value` or from `large_value` by dispensa, medium otherwise.
//! Confidence 0.6, 0.7 for a dispensa (no claim of a sole supplier to check),
//! times the recognised case's factor. `financial_impact` is the contract's value.

use chrono::NaiveDate;
use serde_json::json;

use crate::analysis::rank::{keep_strongest, Rank};
use crate::domain::format::{self, count, round};
use crate::sources::contracts::model::{
    supplier_name, unit_label, Dataset, Family, Finding, Severity,
};

use super::recognised::Recognised;
use super::vendor::VendorSettings;

/// A large direct award as the supplier's first contract in the database.
pub const NEWCOMER_DIRECT_AWARD: &str = "vendor.newcomer_direct_award";

/// `direct` lists the investigation's direct awards: (record, is a dispensa).
pub fn newcomer_direct_award(
    s: &VendorSettings,
    data: &Dataset,
    direct: impl Iterator<Item = (usize, bool)>,
) -> Vec<Finding> {
    let Some(from) = data.published_from else {
        return Vec::new();
    };
    let judged_from = from + chrono::Duration::days(s.newcomer_min_history_days as i64);
    let mut ranked = Vec::new();
    for (idx, dispensa) in direct {
        let c = &data.contracts[idx];
        let (Some(value), Some(signed), Some(code)) =
            (c.value_signed(), c.signed, c.supplier_code.as_ref())
        else {
            continue;
        };
        if value < s.newcomer_min_value || signed < judged_from {
            continue;
        }
        let Some(history) = data.supplier_history.get(code) else {
            continue;
        };
        if history.first_signed != Some(signed) {
            continue;
        }
        let recognised = Recognised::of(c);
        let large = value >= s.large_value;
        let huge = value >= 10.0 * s.large_value;
        let mut severity = if huge && dispensa {
            Severity::Critical
        } else if huge || (large && dispensa) {
            Severity::High
        } else {
            Severity::Medium
        };
        let mut confidence = if dispensa { 0.7 } else { 0.6 };
        if let Some(r) = recognised {
            severity = r.lowered(severity);
            confidence *= r.confidence_factor();
        }
        let rank = Rank {
            severity,
            confidence,
            impact: round(value, 2),
            first: idx,
        };
        ranked.push((rank, (idx, dispensa, recognised, history.contracts)));
    }
    keep_strongest(ranked, &data.contracts[..], s.max_findings)
        .into_iter()
        .map(|(rank, (idx, dispensa, recognised, contracts))| {
            finding(data, (idx, dispensa, recognised, contracts), from, &rank)
        })
        .collect()
}

fn finding(
    data: &Dataset,
    (idx, dispensa, recognised, contracts): (usize, bool, Option<Recognised>, u32),
    from: NaiveDate,
    rank: &Rank,
) -> Finding {
    let c = &data.contracts[idx];
    let unit = unit_label(&c.ug);
    let supplier = supplier_name(c);
    let kind = if dispensa {
        "dispensa de licitação"
    } else {
        "inexigibilidade de licitação"
    };
    let signed = c
        .signed
        .map_or("data não informada".to_string(), format::date);
    let later = match contracts.saturating_sub(1) {
        0 => "e nenhum outro depois".to_string(),
        1 => "e um outro depois".to_string(),
        n => format!("e outros {} depois", count(n as usize)),
    };
    let caveat = recognised.map_or("", Recognised::note);
    Finding {
        family: Family::Vendor,
        rule: NEWCOMER_DIRECT_AWARD,
        severity: rank.severity,
        confidence: rank.confidence,
        description: format!(
            "Contrato {} de {unit} com {supplier}: {} por {kind}, o primeiro contrato do \
             fornecedor na base",
            c.number,
            format::reais(rank.impact)
        ),
        explanation: format!(
            "{unit} contratou {supplier} sem licitação ({kind}) por {} em {signed}. Na base, \
             que reúne contratos publicados desde {}, este é o primeiro contrato do fornecedor \
             com qualquer órgão, {later}. Contratar sem licitação supõe que o fornecedor é o \
             único capaz de atender (inexigibilidade: Lei 8.666/1993, art. 25; Lei \
             14.133/2021, art. 74) ou um motivo que dispensa a competição (dispensa: art. 24 e \
             art. 75); uma empresa sem histórico de contratos públicos recebendo um valor \
             alto assim é como intermediários e empresas recém-criadas aparecem em casos \
             apurados. O fornecedor pode ter contratos anteriores fora da base.{caveat}",
            format::reais(rank.impact),
            format::date(from),
        ),
        records: vec![idx],
        suggested_actions: vec![
            "Consultar a data de abertura, o capital social e a atividade do CNPJ na Receita \
             Federal."
                .to_string(),
            "Solicitar o processo e a justificativa da escolha do fornecedor e do preço."
                .to_string(),
            "Verificar se o fornecedor é representante ou intermediário de outro fabricante \
             ou prestador."
                .to_string(),
        ],
        evidence: json!({
            "supplier_code": c.supplier_code,
            "kind": if dispensa { "dispensa" } else { "inexigibilidade" },
            "supplier_contracts_in_database": contracts,
            "database_published_from": from,
            "recognised": recognised.map(Recognised::label),
            "counted_over": "whole_database",
        }),
        financial_impact: round(rank.impact, 2),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::sources::contracts::model::{Contract, SupplierHistory};

    fn date(y: i32, m: u32, d: u32) -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt(y, m, d)
    }

    fn award(supplier: &str, signed: Option<NaiveDate>, value: f64) -> Contract {
        Contract {
            key: format!("k-{supplier}"),
            number: "12022".into(),
            object: "AQUISIÇÃO DE TESTES RÁPIDOS".into(),
            modality: Some("Dispensa de Licitação".into()),
            supplier_code: Some(supplier.into()),
            supplier_name: Some(format!("EMPRESA {supplier}").into()),
            signed,
            initial_value: Some(value),
            ..Default::default()
        }
    }

    fn detect(
        contracts: Vec<Contract>,
        history: &[(&str, Option<NaiveDate>, u32)],
    ) -> Vec<Finding> {
        let supplier_history: HashMap<_, _> = history
            .iter()
            .map(|(code, first_signed, contracts)| {
                (
                    (*code).into(),
                    SupplierHistory {
                        first_signed: *first_signed,
                        contracts: *contracts,
                    },
                )
            })
            .collect();
        let n = contracts.len();
        let data = Dataset {
            contracts,
            supplier_history,
            published_from: date(2021, 1, 1),
            ..Default::default()
        };
        newcomer_direct_award(&VendorSettings::default(), &data, (0..n).map(|i| (i, true)))
    }

    #[test]
    fn a_first_contract_worth_millions_by_dispensa_is_reported() {
        let findings = detect(
            vec![award("1", date(2022, 3, 10), 12_000_000.0)],
            &[("1", date(2022, 3, 10), 1)],
        );
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].severity, Severity::Critical);
        assert!(findings[0].explanation.contains("desde 01/01/2021"));
    }

    #[test]
    fn a_supplier_with_earlier_contracts_or_too_early_to_tell_is_not_reported() {
        let findings = detect(
            vec![
                award("1", date(2022, 3, 10), 12_000_000.0),
                award("2", date(2021, 2, 1), 12_000_000.0),
                award("3", date(2022, 3, 10), 200_000.0),
            ],
            &[
                ("1", date(2021, 5, 2), 4),
                ("2", date(2021, 2, 1), 1),
                ("3", date(2022, 3, 10), 1),
            ],
        );
        assert!(findings.is_empty(), "{findings:?}");
    }
}
