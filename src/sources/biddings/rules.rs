//! The rules of a biddings investigation, over [`Tenders`].
//!
//! Rule `vendor.single_bidder`: a competitive bidding with one participant.
//! Bidding exists to find the best proposal through competition (Lei 14.133/2021,
//! art. 11; Lei 8.666/1993, art. 3º); one bidder means there was none. A convite
//! needs three valid proposals or a justification, or it must be repeated (Lei
//! 8.666/1993, art. 22, §§3º and 7º), so a convite with fewer than three
//! participants is high. Dispensas and inexigibilidades are not competitive by
//! design and are left out. Otherwise severity follows the value: high from
//! R$ 1 million, medium from R$ 100 thousand, low below. Confidence 0.6, 0.75
//! for a convite. `financial_impact` = the bidding's value.
//!
//! Rule `vendor.bidder_rotation`: the same group of two or more participants
//! meeting in at least [`ROTATION_MIN_TENDERS`] biddings of one UG, with the
//! win passing between them. A fixed group that takes turns winning is the
//! rotation pattern of bid-rigging cartels (Lei 12.529/2011, art. 36, §3º, I,
//! d; CADE's guide to fighting cartels in public procurement). Medium, high
//! from five biddings; confidence 0.5 + 0.08 per bidding past the third, at
//! most 0.85. `financial_impact` = the biddings' total value.

use std::collections::BTreeMap;

use serde_json::json;

use super::{Tender, Tenders};
use crate::analysis::rank::strongest;
use crate::analysis::{Detector, Family, Finding, Severity};
use crate::domain::format::{count, date, reais};
use crate::domain::text::fold;

pub const SINGLE_BIDDER: &str = "vendor.single_bidder";
pub const BIDDER_ROTATION: &str = "vendor.bidder_rotation";

/// Every rule of this source, for the README's table and its test.
pub const RULES: &[&str] = &[SINGLE_BIDDER, BIDDER_ROTATION];

/// Biddings one group must meet in before its turns are a pattern.
pub const ROTATION_MIN_TENDERS: usize = 3;
const MAX_FINDINGS: usize = 200;

fn label(t: &Tender) -> String {
    format!(
        "licitação {} ({}) de {} ({})",
        t.numero,
        t.modalidade
            .as_deref()
            .unwrap_or("modalidade não informada"),
        t.ug.1,
        t.ug.0
    )
}

/// The vendor family: competition that did not happen.
pub struct VendorRules;

impl Detector<Tenders> for VendorRules {
    fn family(&self) -> Family {
        Family::Vendor
    }

    fn detect(&self, data: &Tenders) -> Vec<Finding> {
        let mut found: Vec<Finding> = data
            .tenders
            .iter()
            .enumerate()
            .filter_map(|(i, t)| single_bidder(i, t))
            .collect();
        found.extend(rotation(data));
        strongest(found, data, MAX_FINDINGS)
    }
}

fn single_bidder(index: usize, t: &Tender) -> Option<Finding> {
    let modality = fold(t.modalidade.as_deref().unwrap_or(""));
    if modality.contains("dispensa") || modality.contains("inexigibilidade") {
        return None;
    }
    let convite = modality.contains("convite");
    let n = t.bidders.len();
    if n == 0 || n > 1 && !(convite && n < 3) {
        return None;
    }
    let value = t.valor.unwrap_or(0.0).max(0.0);
    let severity = if convite || value >= 1e6 {
        Severity::High
    } else if value >= 1e5 {
        Severity::Medium
    } else {
        Severity::Low
    };
    let names: Vec<String> = t
        .bidders
        .iter()
        .map(|b| b.name.clone().unwrap_or_else(|| b.code.clone()))
        .collect();
    let description = if convite {
        format!(
            "Convite com {n} participante(s), menos que os três exigidos: {} — {}",
            label(t),
            t.objeto
        )
    } else {
        format!(
            "Licitação com um único participante ({}): {} — {}",
            names.join(", "),
            label(t),
            t.objeto
        )
    };
    let mut explanation = format!(
        "A licitação existe para obter a proposta mais vantajosa pela competição (Lei \
         14.133/2021, art. 11; Lei 8.666/1993, art. 3º). A {}, aberta em {}, com valor de {}, \
         teve {n} participante(s): {}.",
        label(t),
        t.abertura.map_or("data não informada".to_string(), date),
        reais(value),
        names.join(", ")
    );
    if convite {
        explanation.push_str(
            " No convite, são necessárias três propostas válidas; com menos, o processo deve \
             justificar a impossibilidade ou o convite deve ser repetido (Lei 8.666/1993, art. \
             22, §§3º e 7º).",
        );
    } else {
        explanation.push_str(
            " Um só concorrente pode vir de um objeto muito específico, mas também de um edital \
             restritivo ou de pouca publicidade.",
        );
    }
    Some(Finding {
        family: Family::Vendor,
        rule: SINGLE_BIDDER,
        severity,
        confidence: if convite { 0.75 } else { 0.6 },
        description,
        explanation,
        records: vec![index],
        suggested_actions: vec![
            "Ler o edital: exigências de habilitação, prazo e onde foi publicado.".to_string(),
            "Verificar se houve impugnações ou licitantes inabilitados.".to_string(),
        ],
        evidence: json!({
            "participants": n,
            "convite": convite,
            "value": t.valor,
        }),
        financial_impact: value,
    })
}

fn rotation(data: &Tenders) -> Vec<Finding> {
    // (UG, sorted participant codes) → tenders.
    let mut groups: BTreeMap<(&str, Vec<&str>), Vec<usize>> = BTreeMap::new();
    for (i, t) in data.tenders.iter().enumerate() {
        if t.bidders.len() < 2 {
            continue;
        }
        let mut codes: Vec<&str> = t.bidders.iter().map(|b| b.code.as_str()).collect();
        codes.sort_unstable();
        groups.entry((t.ug.0.as_str(), codes)).or_default().push(i);
    }
    let mut found = Vec::new();
    for ((ug, codes), tenders) in groups {
        if tenders.len() < ROTATION_MIN_TENDERS {
            continue;
        }
        let mut wins: BTreeMap<&str, usize> = BTreeMap::new();
        for &i in &tenders {
            for w in data.tenders[i].winners() {
                *wins.entry(w.code.as_str()).or_default() += 1;
            }
        }
        if wins.len() < 2 {
            continue;
        }
        let first = &data.tenders[tenders[0]];
        let name = |code: &str| {
            first
                .bidders
                .iter()
                .find(|b| b.code == code)
                .and_then(|b| b.name.clone())
                .unwrap_or_else(|| code.to_string())
        };
        let turns: Vec<String> = wins
            .iter()
            .map(|(code, n)| format!("{} venceu {}", name(code), count(*n)))
            .collect();
        let total: f64 = tenders.iter().filter_map(|&i| data.tenders[i].valor).sum();
        let k = tenders.len();
        let names: Vec<String> = codes.iter().map(|c| name(c)).collect();
        found.push(Finding {
            family: Family::Vendor,
            rule: BIDDER_ROTATION,
            severity: if k >= 5 {
                Severity::High
            } else {
                Severity::Medium
            },
            confidence: (0.5 + 0.08 * (k - ROTATION_MIN_TENDERS) as f64).min(0.85),
            description: format!(
                "Os mesmos {} concorrentes disputaram {} licitações de {} ({ug}) e se revezaram \
                 na vitória: {}",
                codes.len(),
                count(k),
                first.ug.1,
                turns.join("; ")
            ),
            explanation: format!(
                "Em {} licitações da unidade {} ({ug}), somando {}, participaram sempre os mesmos \
                 concorrentes — {} — e a vitória passou de um a outro ({}). Um grupo fixo que se \
                 reveza na vitória é o padrão de rodízio descrito nos cartéis em licitação (Lei \
                 12.529/2011, art. 36, §3º, I, d; Guia de Combate a Cartéis em Licitação do \
                 CADE). Pode também refletir um mercado pequeno; vale comparar os preços \
                 propostos e a relação entre as empresas.",
                count(k),
                first.ug.1,
                reais(total),
                names.join(", "),
                turns.join("; ")
            ),
            records: tenders.clone(),
            suggested_actions: vec![
                "Comparar as propostas de preço dos perdedores: propostas de cobertura ficam \
                 pouco acima da vencedora."
                    .to_string(),
                "Verificar sócios, endereços e contadores em comum entre as empresas (Receita \
                 Federal, juntas comerciais)."
                    .to_string(),
            ],
            evidence: json!({
                "participants": codes,
                "tenders": k,
                "wins": wins,
                "total_value": total,
            }),
            financial_impact: total,
        });
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::biddings::Bidder;

    fn tender(i: usize, modalidade: &str, valor: f64, bidders: &[(&str, bool)]) -> Tender {
        Tender {
            id: format!("158000/{i}2022/5"),
            numero: format!("{i}2022"),
            ug: ("158000".into(), "INSTITUTO FEDERAL".into()),
            orgao: (Some("26000".into()), "Ministério da Educação".into()),
            modalidade: Some(modalidade.into()),
            objeto: "Aquisição de material de limpeza".into(),
            situacao: Some("Homologada".into()),
            abertura: chrono::NaiveDate::from_ymd_opt(2022, 3, i as u32 + 1),
            valor: Some(valor),
            bidders: bidders
                .iter()
                .map(|(code, won)| Bidder {
                    code: code.to_string(),
                    name: Some(format!("EMPRESA {code}")),
                    won: *won,
                })
                .collect(),
        }
    }

    #[test]
    fn a_pregao_with_one_bidder_and_a_convite_with_two_are_flagged() {
        let data = Tenders {
            tenders: vec![
                tender(1, "Pregão", 2e6, &[("111", true)]),
                tender(2, "Convite", 80_000.0, &[("111", true), ("222", false)]),
            ],
        };
        let found = VendorRules.detect(&data);
        assert_eq!(found.len(), 2, "{found:#?}");
        assert!(found.iter().all(|f| f.rule == SINGLE_BIDDER));
        assert!(found.iter().all(|f| f.severity == Severity::High));
        assert!(found.iter().any(|f| f.explanation.contains("art. 22")));
    }

    #[test]
    fn competition_and_direct_awards_are_not_single_bidder_findings() {
        let data = Tenders {
            tenders: vec![
                tender(1, "Pregão", 2e6, &[("111", true), ("222", false)]),
                tender(2, "Dispensa de Licitação", 2e6, &[("111", true)]),
                tender(
                    3,
                    "Convite",
                    80_000.0,
                    &[("1", true), ("2", false), ("3", false)],
                ),
            ],
        };
        assert!(VendorRules.detect(&data).is_empty());
    }

    #[test]
    fn the_same_group_taking_turns_to_win_is_a_rotation() {
        let data = Tenders {
            tenders: vec![
                tender(1, "Pregão", 1e5, &[("111", true), ("222", false)]),
                tender(2, "Pregão", 1e5, &[("111", false), ("222", true)]),
                tender(3, "Pregão", 1e5, &[("111", true), ("222", false)]),
            ],
        };
        let found = VendorRules.detect(&data);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(found[0].rule, BIDDER_ROTATION);
        assert_eq!(found[0].records, vec![0, 1, 2]);
        assert!((found[0].financial_impact - 3e5).abs() < 1.0);
    }

    #[test]
    fn one_group_where_the_same_company_always_wins_is_not_a_rotation() {
        let data = Tenders {
            tenders: (0..4)
                .map(|i| tender(i, "Pregão", 1e5, &[("111", true), ("222", false)]))
                .collect(),
        };
        assert!(VendorRules.detect(&data).is_empty());
    }

    #[test]
    fn the_readme_lists_exactly_the_rules_of_this_source() {
        let mut rules = RULES.to_vec();
        rules.sort_unstable();
        assert_eq!(crate::analysis::readme_rules("biddings"), rules);
    }
}
