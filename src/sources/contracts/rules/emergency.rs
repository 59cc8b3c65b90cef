//! Vendor: the same supplier hired again and again by emergency dispensa.
//!
//! Rule `vendor.repeated_emergency_dispensa`: at least `emergency_min_awards`
//! emergency dispensas between one UG and one supplier, counted over the whole
//! database (an investigation about 2022 still sees the 2021 emergency), and
//! reported where at least one of them is among the investigation's contracts.
//! An emergency dispensa is a dispensa whose object speaks of an emergency: the
//! Portal rarely fills in the legal basis, so the object is what says it.
//!
//! The law keeps an emergency short and single: Lei 8.666/1993 art. 24 IV
//! allows 180 days "vedada a prorrogação dos respectivos contratos", and Lei
//! 14.133/2021 art. 75 VIII one year, "vedadas a prorrogação dos respectivos
//! contratos e a recontratação de empresa já contratada com base no disposto
//! neste inciso". Emergencies that follow one another for the same service are
//! how a permanent need escapes bidding (the "emergência fabricada" that
//! control bodies describe). Genuine ones exist (the pandemic, a flooded road);
//! the finding asks for the reasons, it does not presume them absent.
//!
//! One finding per (UG, supplier); records are the investigation's contracts
//! among them, the evidence lists them all. `financial_impact` is the total
//! value of all of them. Severity: critical when there are at least three and
//! the total reaches 10 × `large_value`; high with three or more, or a total of
//! at least `large_value`; medium otherwise. A support foundation hired by its
//! university or institute (Lei 8.958/1994) is one step lower, and says so.
//! Confidence: 0.6 for two, 0.7 for three, 0.8 from four, 0.1 less for a
//! support foundation.

use std::collections::HashMap;

use serde_json::json;

use crate::analysis::rank::{keep_strongest, Rank};
use crate::domain::format::{self, count, round};
use crate::sources::contracts::model::{
    unit_label, Dataset, EmergencyHistory, Family, Finding, Severity,
};

use super::vendor::{is_support_foundation, VendorSettings};

/// Emergency dispensas repeated between one UG and one supplier.
pub const REPEATED_EMERGENCY_DISPENSA: &str = "vendor.repeated_emergency_dispensa";

pub fn repeated_emergency_dispensa(s: &VendorSettings, data: &Dataset) -> Vec<Finding> {
    if data.emergencies.is_empty() {
        return Vec::new();
    }
    let index: HashMap<&str, usize> = data
        .contracts
        .iter()
        .enumerate()
        .map(|(i, c)| (c.key.as_str(), i))
        .collect();
    let mut ranked = Vec::new();
    for history in &data.emergencies {
        let n = history.awards.len();
        if n < s.emergency_min_awards.max(2) {
            continue;
        }
        let mut records: Vec<usize> = history
            .awards
            .iter()
            .filter_map(|a| index.get(a.key.as_str()).copied())
            .collect();
        if records.is_empty() {
            continue;
        }
        records.sort_unstable();
        let total: f64 = history.awards.iter().filter_map(|a| a.value).sum();
        let foundation = is_support_foundation(
            history.ug.name.as_deref().unwrap_or(""),
            history.supplier_name.as_deref().unwrap_or(""),
        );
        let mut severity = if n >= 3 && total >= 10.0 * s.large_value {
            Severity::Critical
        } else if n >= 3 || total >= s.large_value {
            Severity::High
        } else {
            Severity::Medium
        };
        if foundation {
            severity = severity.lower();
        }
        let mut confidence: f64 = match n {
            2 => 0.6,
            3 => 0.7,
            _ => 0.8,
        };
        if foundation {
            confidence -= 0.1;
        }
        let rank = Rank {
            severity,
            confidence,
            impact: round(total, 2),
            first: records[0],
        };
        ranked.push((rank, (history, records, foundation)));
    }
    keep_strongest(ranked, &data.contracts[..], s.max_findings)
        .into_iter()
        .map(|(rank, (history, records, foundation))| finding(history, records, foundation, &rank))
        .collect()
}

/// How many dispensas a description spells out; the evidence lists them all.
const TOLD: usize = 5;

fn finding(
    history: &EmergencyHistory,
    records: Vec<usize>,
    foundation: bool,
    rank: &Rank,
) -> Finding {
    let unit = unit_label(&history.ug);
    let supplier = history
        .supplier_name
        .as_deref()
        .unwrap_or(&history.supplier_code);
    let n = history.awards.len();
    let told: Vec<String> = history
        .awards
        .iter()
        .take(TOLD)
        .map(|a| {
            format!(
                "contrato {} de {} ({})",
                a.number,
                a.signed
                    .map_or("data não informada".to_string(), format::date),
                a.value
                    .map_or("valor não informado".to_string(), format::reais)
            )
        })
        .collect();
    let more = if n > TOLD {
        format!(" e mais {}", n - TOLD)
    } else {
        String::new()
    };
    let outside = n - records.len();
    let outside = match outside {
        0 => String::new(),
        1 => " Uma delas está fora dos filtros desta investigação, mas na base.".to_string(),
        k => format!(" {k} delas estão fora dos filtros desta investigação, mas na base."),
    };
    let caveat = if foundation {
        " O fornecedor é uma fundação de apoio da própria instituição (Lei 8.958/1994), \
         que costuma ser contratada diretamente; por isso a gravidade é um grau menor, mas a \
         emergência repetida continua precisando de justificativa."
    } else {
        ""
    };
    Finding {
        family: Family::Vendor,
        rule: REPEATED_EMERGENCY_DISPENSA,
        severity: rank.severity,
        confidence: rank.confidence,
        description: format!(
            "{unit} contratou {supplier} {} vezes por dispensa emergencial, somando {}",
            count(n),
            format::reais(rank.impact)
        ),
        explanation: format!(
            "Encontramos na base {} dispensas de licitação por emergência entre {unit} e \
             {supplier}: {}{more}.{outside} A contratação emergencial é exceção curta e \
             única: a Lei 8.666/1993 (art. 24, IV) permite até 180 dias, vedada a prorrogação, \
             e a Lei 14.133/2021 (art. 75, VIII) até um ano, vedadas a prorrogação e a \
             recontratação de empresa já contratada por esse motivo. Emergências seguidas \
             com o mesmo fornecedor costumam indicar falta de planejamento ou uma necessidade \
             permanente que deveria ter ido a licitação. Emergências reais (pandemia, \
             desastres) existem; o que se pede é a justificativa de cada uma.{caveat}",
            count(n),
            told.join("; "),
        ),
        records,
        suggested_actions: vec![
            "Solicitar os processos das dispensas e a justificativa da emergência de cada uma."
                .to_string(),
            "Verificar se houve licitação aberta para o mesmo objeto e por que não foi concluída."
                .to_string(),
            "Comparar os preços das contratações emergenciais com os de contratos licitados do \
             mesmo serviço."
                .to_string(),
        ],
        evidence: json!({
            "ug_code": history.ug.code,
            "supplier_code": history.supplier_code,
            "awards": history.awards.iter().map(|a| json!({
                "id": a.key,
                "numero": a.number,
                "signed": a.signed,
                "value": a.value,
            })).collect::<Vec<_>>(),
            "awards_in_database": n,
            "support_foundation": foundation,
            "counted_over": "whole_database",
        }),
        financial_impact: round(rank.impact, 2),
    }
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;
    use crate::sources::contracts::model::{Contract, EmergencyAward, Unit};

    fn award(key: &str, date: (i32, u32, u32), value: f64) -> EmergencyAward {
        EmergencyAward {
            key: key.into(),
            number: key.trim_start_matches('k').into(),
            signed: NaiveDate::from_ymd_opt(date.0, date.1, date.2),
            value: Some(value),
            object: "CONTRATAÇÃO EMERGENCIAL DE SERVIÇOS DE LIMPEZA".into(),
        }
    }

    fn history(supplier: &str, awards: Vec<EmergencyAward>) -> EmergencyHistory {
        EmergencyHistory {
            ug: Unit {
                code: Some("153080".into()),
                name: Some("UNIVERSIDADE FEDERAL DE PERNAMBUCO".into()),
            },
            supplier_code: "09422042000195".into(),
            supplier_name: Some(supplier.into()),
            awards,
        }
    }

    fn contract(key: &str) -> Contract {
        Contract {
            key: key.into(),
            number: key.trim_start_matches('k').into(),
            ..Default::default()
        }
    }

    fn detect(contracts: Vec<Contract>, emergencies: Vec<EmergencyHistory>) -> Vec<Finding> {
        repeated_emergency_dispensa(
            &VendorSettings::default(),
            &Dataset {
                contracts,
                emergencies,
                ..Default::default()
            },
        )
    }

    #[test]
    fn a_supplier_hired_by_emergency_five_times_is_reported_with_the_ones_outside_the_filters() {
        let awards = vec![
            award("k12021", (2021, 3, 16), 300_000.0),
            award("k22022", (2022, 3, 25), 320_000.0),
            award("k32022", (2022, 4, 15), 330_000.0),
            award("k42022", (2022, 5, 26), 320_000.0),
            award("k52022", (2022, 8, 30), 336_136.0),
        ];
        // The investigation asked about 2022 only.
        let contracts = ["k22022", "k32022", "k42022", "k52022"]
            .map(contract)
            .to_vec();
        let findings = detect(contracts, vec![history("ETICA EMPREENDIMENTO", awards)]);
        assert_eq!(findings.len(), 1);
        let f = &findings[0];
        assert_eq!(f.rule, REPEATED_EMERGENCY_DISPENSA);
        assert_eq!(f.severity, Severity::High, "five, R$ 1.6 million");
        assert_eq!(f.records, vec![0, 1, 2, 3]);
        assert_eq!(f.evidence["awards_in_database"], 5);
        assert!(f.explanation.contains("Uma delas está fora dos filtros"));
        assert!(f.explanation.contains("art. 75, VIII"));
        assert!((f.financial_impact - 1_606_136.0).abs() < 0.01);
    }

    #[test]
    fn a_single_emergency_or_one_outside_the_investigation_is_not_reported() {
        let once = history("ETICA", vec![award("k12021", (2021, 3, 16), 300_000.0)]);
        let elsewhere = history(
            "ETICA",
            vec![
                award("k12021", (2021, 3, 16), 300_000.0),
                award("k22022", (2022, 3, 25), 320_000.0),
            ],
        );
        assert!(detect(vec![contract("k12021")], vec![once]).is_empty());
        assert!(detect(vec![contract("k99")], vec![elsewhere]).is_empty());
    }

    #[test]
    fn a_support_foundation_is_one_step_lower_and_says_why() {
        let awards = vec![
            award("k1", (2021, 5, 28), 100_000_000.0),
            award("k2", (2022, 1, 18), 200_000_000.0),
            award("k3", (2022, 8, 16), 147_835_790.0),
        ];
        let mut h = history(
            "FIOTEC - FUNDACAO PARA O DESENVOLVIMENTO CIENTIFICO E TECNOLOGICO EM SAUDE",
            awards,
        );
        h.ug.name = Some("FUNDACAO OSWALDO CRUZ".into());
        let findings = detect(["k1", "k2", "k3"].map(contract).to_vec(), vec![h]);
        assert_eq!(findings[0].severity, Severity::High);
        assert_eq!(findings[0].evidence["support_foundation"], true);
        assert!(findings[0].explanation.contains("Lei 8.958/1994"));
    }
}
