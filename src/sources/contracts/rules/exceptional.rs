//! Vendor: a direct award far larger than its agency's direct awards usually are.
//!
//! Rule `vendor.exceptional_direct_award`: a dispensa or inexigibilidade of at
//! least `exceptional_min_value` whose value is at least `exceptional_ratio`
//! times the 90th percentile of its agency's direct awards, counted over the
//! whole database (migration 0020), where the agency has at least
//! `exceptional_min_agency_awards` of them. Bidding is the rule and direct
//! hiring the exception (Constituição art. 37 XXI; Lei 8.666/1993 arts. 24–26;
//! Lei 14.133/2021 arts. 72–75, which require the process to justify the choice
//! of supplier and the price); an agency whose direct awards are tens of
//! thousands of reais signing one for tens of millions is how the reported cases
//! of intermediaries and directed awards look in contract data. The yardstick
//! is the agency's own: the Army's 90th percentile is R$ 1 million, IPHAN's
//! R$ 164 thousand.
//!
//! Severity, for a dispensa: critical at 100 times the percentile and 10 ×
//! `large_value`; high at 50 times or 10 × `large_value`; medium otherwise. An
//! inexigibilidade is one step lower: a sole provider (a manufacturer, an
//! exclusive distributor) is the lawful reason for it and is in the process to
//! check. A credenciamento or a routine supplier (`recognised`) is lowered as
//! it says, and explained. Confidence 0.5 at the ratio, growing with its
//! logarithm up to 0.8; × 0.85 for an inexigibilidade, and the recognised case's
//! factor. `financial_impact` is the award's value.

use serde_json::json;

use crate::analysis::rank::{keep_strongest, Rank};
use crate::domain::format::{self, count, decimal, round};
use crate::sources::contracts::model::{
    supplier_name, unit_label, AgencyDirectAwards, Dataset, Family, Finding, Severity,
};

use super::recognised::Recognised;
use super::vendor::VendorSettings;

/// A direct award far above its agency's usual direct awards.
pub const EXCEPTIONAL_DIRECT_AWARD: &str = "vendor.exceptional_direct_award";

/// What one reported award rests on.
struct Exceptional<'a> {
    idx: usize,
    dispensa: bool,
    recognised: Option<Recognised>,
    norms: &'a AgencyDirectAwards,
    ratio: f64,
    /// The ratio the rule was run with, as the explanation states it.
    limit: f64,
}

/// `direct` lists the investigation's direct awards: (record, is a dispensa).
pub fn exceptional_direct_award(
    s: &VendorSettings,
    data: &Dataset,
    direct: impl Iterator<Item = (usize, bool)>,
) -> Vec<Finding> {
    if data.agency_direct_awards.is_empty() {
        return Vec::new();
    }
    let mut ranked = Vec::new();
    for (idx, dispensa) in direct {
        let c = &data.contracts[idx];
        let (Some(value), Some(agency)) = (c.value_signed(), c.agency.code.as_ref()) else {
            continue;
        };
        let Some(norms) = data.agency_direct_awards.get(agency) else {
            continue;
        };
        let p90 = norms.values[1];
        if value < s.exceptional_min_value
            || norms.awards < s.exceptional_min_agency_awards
            || p90 <= 0.0
            || value < s.exceptional_ratio * p90
        {
            continue;
        }
        let ratio = value / p90;
        let recognised = Recognised::of(c);
        let huge = value >= 10.0 * s.large_value;
        let mut severity = if ratio >= 100.0 && huge {
            Severity::Critical
        } else if ratio >= 50.0 || huge {
            Severity::High
        } else {
            Severity::Medium
        };
        let mut confidence =
            (0.5 + 0.15 * (ratio / s.exceptional_ratio.max(1.0)).log10()).clamp(0.5, 0.8);
        if !dispensa {
            severity = severity.lower();
            confidence *= 0.85;
        }
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
        ranked.push((
            rank,
            Exceptional {
                idx,
                dispensa,
                recognised,
                norms,
                ratio,
                limit: s.exceptional_ratio,
            },
        ));
    }
    keep_strongest(ranked, &data.contracts[..], s.max_findings)
        .into_iter()
        .map(|(rank, e)| finding(data, &e, &rank))
        .collect()
}

fn finding(data: &Dataset, e: &Exceptional, rank: &Rank) -> Finding {
    let c = &data.contracts[e.idx];
    let agency = unit_label(&c.agency);
    let unit = unit_label(&c.ug);
    let supplier = supplier_name(c);
    let [median, p90, p99] = e.norms.values;
    let (kind, reason) = if e.dispensa {
        (
            "dispensa de licitação",
            "Na dispensa não há alegação de fornecedor exclusivo: vale conferir qual hipótese \
             do art. 24 da Lei 8.666/1993 (ou do art. 75 da Lei 14.133/2021) foi invocada e por \
             que o valor não foi disputado.",
        )
    } else {
        (
            "inexigibilidade de licitação",
            "Na inexigibilidade o motivo legal é a inviabilidade de competição (Lei 8.666/1993, \
             art. 25; Lei 14.133/2021, art. 74), como um fabricante ou distribuidor exclusivo; \
             por isso a gravidade é um grau menor, e o que vale conferir é a prova da \
             exclusividade e do preço.",
        )
    };
    let note = e.recognised.map_or("", Recognised::note);
    Finding {
        family: Family::Vendor,
        rule: EXCEPTIONAL_DIRECT_AWARD,
        severity: rank.severity,
        confidence: rank.confidence,
        description: format!(
            "Contrato {} de {unit} com {supplier}: {} por {kind}, {} vezes o que o órgão \
             costuma contratar sem licitação",
            c.number,
            format::reais(rank.impact),
            decimal(e.ratio, 0),
        ),
        explanation: format!(
            "{unit} contratou {supplier} por {kind} no valor de {}. Em toda a base, {agency} \
             tem {} contratações diretas com valor informado: metade vale até {}, nove em cada \
             dez até {} e 99 em cada 100 até {}. Este contrato vale {} vezes o percentil 90 \
             (o limite desta regra é {} vezes). Licitar é a regra e contratar diretamente, a \
             exceção, e o processo precisa justificar a escolha do fornecedor e o preço \
             (Constituição, art. 37, XXI; Lei 8.666/1993, art. 26; Lei 14.133/2021, art. 72). \
             {reason}{note}",
            format::reais(rank.impact),
            count(e.norms.awards as usize),
            format::reais(median),
            format::reais(p90),
            format::reais(p99),
            decimal(e.ratio, 1),
            decimal(e.limit, 0),
        ),
        records: vec![e.idx],
        suggested_actions: vec![
            "Solicitar o processo da contratação direta: a hipótese legal invocada, a \
             justificativa da escolha do fornecedor e a pesquisa de preços."
                .to_string(),
            "Verificar se o objeto poderia ter sido licitado, no todo ou em partes.".to_string(),
            "Conferir os pagamentos efetivamente feitos ao fornecedor.".to_string(),
        ],
        evidence: json!({
            "supplier_code": c.supplier_code,
            "kind": if e.dispensa { "dispensa" } else { "inexigibilidade" },
            "agency_code": c.agency.code,
            "agency_direct_awards": e.norms.awards,
            "agency_direct_award_median": round(median, 2),
            "agency_direct_award_p90": round(p90, 2),
            "agency_direct_award_p99": round(p99, 2),
            "ratio_to_p90": round(e.ratio, 1),
            "recognised": e.recognised.map(Recognised::label),
            "counted_over": "whole_database",
        }),
        financial_impact: round(rank.impact, 2),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::sources::contracts::model::{Contract, Unit};

    fn award(number: &str, object: &str, value: f64) -> Contract {
        Contract {
            key: format!("k-{number}"),
            number: number.into(),
            object: object.into(),
            agency: Unit {
                code: Some("20411".into()),
                name: Some("IPHAN".into()),
            },
            supplier_code: Some("01232642000189".into()),
            supplier_name: Some("LIMP CAR LOCACAO E SERVICOS LTDA".into()),
            initial_value: Some(value),
            ..Default::default()
        }
    }

    fn detect(mut contracts: Vec<Contract>, awards: u32, dispensa: bool) -> Vec<Finding> {
        let modality = if dispensa {
            "Dispensa de Licitação"
        } else {
            "Inexigibilidade de Licitação"
        };
        for c in &mut contracts {
            c.modality = Some(modality.into());
        }
        let n = contracts.len();
        let data = Dataset {
            contracts,
            agency_direct_awards: HashMap::from([(
                "20411".into(),
                AgencyDirectAwards {
                    awards,
                    values: [17_600.0, 163_924.0, 2_000_000.0],
                },
            )]),
            ..Default::default()
        };
        exceptional_direct_award(
            &VendorSettings::default(),
            &data,
            (0..n).map(|i| (i, dispensa)),
        )
    }

    #[test]
    fn a_dispensa_thousands_of_times_the_agencys_usual_is_critical() {
        let findings = detect(
            vec![award(
                "22022",
                "CONTRATAÇÃO DE SERVIÇOS DE MOTORISTAS",
                867_249_600.0,
            )],
            74,
            true,
        );
        assert_eq!(findings.len(), 1);
        let f = &findings[0];
        assert_eq!(f.severity, Severity::Critical);
        assert!(f.description.contains("5291 vezes"), "{}", f.description);
        assert!(
            f.explanation.contains("74 contratações diretas"),
            "{}",
            f.explanation
        );
        assert_eq!(f.evidence["agency_direct_award_p90"], 163_924.0);
    }

    #[test]
    fn an_award_within_the_agencys_habit_or_an_agency_with_few_awards_is_not_judged() {
        assert!(detect(vec![award("1", "LIMPEZA", 2_500_000.0)], 74, true).is_empty());
        assert!(detect(vec![award("1", "LIMPEZA", 867_249_600.0)], 12, true).is_empty());
        assert!(detect(vec![award("1", "LIMPEZA", 900_000.0)], 74, true).is_empty());
    }

    #[test]
    fn an_inexigibilidade_is_a_step_lower_and_a_credenciamento_two_more() {
        let sole = detect(
            vec![award("1", "AQUISIÇÃO DE MUNIÇÃO", 867_249_600.0)],
            74,
            false,
        );
        assert_eq!(sole[0].severity, Severity::High);
        let health = detect(
            vec![award(
                "2",
                "PRESTAÇÃO DE SERVIÇOS MÉDICO-HOSPITALARES",
                867_249_600.0,
            )],
            74,
            false,
        );
        assert_eq!(health[0].severity, Severity::Low);
        assert!(health[0].explanation.contains("credenciamento"));
    }
}
