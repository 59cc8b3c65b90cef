//! The rules of an agreements investigation, over [`Agreements`].
//!
//! Rule `payment.released_above_agreed`: more federal money released than the
//! agreement's whole value. Releases follow the agreed work plan within the
//! value of the instrument; beyond it, the money needs an amendment (termo
//! aditivo) the data does not show, or was released in error. Flagged from
//! R$ 1.000 and 0.1% over; high from R$ 100 thousand, critical from R$ 1
//! million and 10%. Confidence 0.7. `financial_impact` = the excess.
//!
//! Rule `temporal.released_after_validity`: a release dated after the end of
//! the agreement's validity. After it ends, the instrument is no longer in
//! force and money can only follow an extension (prorrogação) the record does
//! not carry. Medium; high when the last release exceeds R$ 1 million or came
//! more than a year after the end. Confidence 0.6. `financial_impact` = the last
//! release's value.

use chrono::NaiveDate;
use serde_json::json;

use super::{Agreement, Agreements};
use crate::analysis::rank::strongest;
use crate::analysis::{Detector, Family, Finding, Severity};
use crate::domain::format::{date, percent, reais};

pub const RELEASED_ABOVE_AGREED: &str = "payment.released_above_agreed";
pub const RELEASED_AFTER_VALIDITY: &str = "temporal.released_after_validity";

/// Every rule of this source, for the README's table and its test.
pub const RULES: &[&str] = &[RELEASED_ABOVE_AGREED, RELEASED_AFTER_VALIDITY];

const MAX_FINDINGS: usize = 200;

fn label(a: &Agreement) -> String {
    format!(
        "{} {} de {} com {}",
        a.tipo_instrumento.as_deref().unwrap_or("instrumento"),
        a.numero,
        a.nome_orgao.as_deref().unwrap_or("órgão não informado"),
        a.nome_convenente
            .as_deref()
            .unwrap_or("convenente não informado")
    )
}

/// The payment family: money released against what was agreed.
pub struct PaymentRules;

impl Detector<Agreements> for PaymentRules {
    fn family(&self) -> Family {
        Family::Payment
    }

    fn detect(&self, data: &Agreements) -> Vec<Finding> {
        let found = data
            .agreements
            .iter()
            .enumerate()
            .filter_map(|(i, a)| released_above_agreed(i, a))
            .collect();
        strongest(found, data, MAX_FINDINGS)
    }
}

fn released_above_agreed(index: usize, a: &Agreement) -> Option<Finding> {
    let (agreed, released) = (a.valor?, a.valor_liberado?);
    let excess = released - agreed;
    if agreed <= 0.0 || excess < 1_000.0 || excess <= 0.001 * agreed {
        return None;
    }
    let share = excess / agreed;
    let severity = if excess >= 1e6 && share >= 0.10 {
        Severity::Critical
    } else if excess >= 1e5 {
        Severity::High
    } else {
        Severity::Medium
    };
    Some(Finding {
        family: Family::Payment,
        rule: RELEASED_ABOVE_AGREED,
        severity,
        confidence: 0.7,
        description: format!(
            "Liberado acima do valor do convênio: {}: {} liberados contra {} acordados ({} a mais)",
            label(a),
            reais(released),
            reais(agreed),
            percent(share)
        ),
        explanation: format!(
            "As liberações de um convênio seguem o plano de trabalho, dentro do valor do \
             instrumento. O {} ({}) tem valor de {} e já recebeu {}: {} além do acordado. Sem um \
             termo aditivo que aumente o valor, o excesso indica liberação indevida ou erro de \
             registro.",
            label(a),
            a.objeto,
            reais(agreed),
            reais(released),
            reais(excess)
        ),
        records: vec![index],
        suggested_actions: vec![
            "Consultar no Transferegov (antigo SICONV) os termos aditivos e o cronograma de \
             desembolso do instrumento."
                .to_string(),
            "Conferir as ordens bancárias do convênio no Portal da Transparência.".to_string(),
        ],
        evidence: json!({"valor": agreed, "valor_liberado": released, "excess": excess}),
        financial_impact: excess,
    })
}

/// The temporal family: releases outside the agreement's validity.
pub struct TemporalRules;

impl Detector<Agreements> for TemporalRules {
    fn family(&self) -> Family {
        Family::Temporal
    }

    fn detect(&self, data: &Agreements) -> Vec<Finding> {
        let found = data
            .agreements
            .iter()
            .enumerate()
            .filter_map(|(i, a)| released_after_validity(i, a))
            .collect();
        strongest(found, data, MAX_FINDINGS)
    }
}

fn days_between(a: NaiveDate, b: NaiveDate) -> i64 {
    (b - a).num_days()
}

fn released_after_validity(index: usize, a: &Agreement) -> Option<Finding> {
    let (end, last) = (a.data_fim_vigencia?, a.data_ultima_liberacao?);
    let late = days_between(end, last);
    if late <= 0 {
        return None;
    }
    let value = a.valor_ultima_liberacao.unwrap_or(0.0).max(0.0);
    let severity = if value >= 1e6 || late > 365 {
        Severity::High
    } else {
        Severity::Medium
    };
    Some(Finding {
        family: Family::Temporal,
        rule: RELEASED_AFTER_VALIDITY,
        severity,
        confidence: 0.6,
        description: format!(
            "Liberação {late} dias depois do fim da vigência: {}: {} em {}, vigência até {}",
            label(a),
            reais(value),
            date(last),
            date(end)
        ),
        explanation: format!(
            "Depois do fim da vigência o instrumento não está mais em vigor, e só uma prorrogação \
             permitiria novas liberações. O {} ({}) tinha vigência até {}, mas a última liberação, \
             de {}, é de {}, {late} dias depois. Ou houve prorrogação que o registro não mostra, \
             ou o dinheiro saiu fora do prazo.",
            label(a),
            a.objeto,
            date(end),
            reais(value),
            date(last)
        ),
        records: vec![index],
        suggested_actions: vec![
            "Verificar no Transferegov se a vigência foi prorrogada (de ofício ou por termo \
             aditivo) antes da liberação."
                .to_string(),
        ],
        evidence: json!({
            "data_fim_vigencia": end,
            "data_ultima_liberacao": last,
            "days_after_end": late,
            "valor_ultima_liberacao": a.valor_ultima_liberacao,
        }),
        financial_impact: value,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agreement(
        valor: f64,
        liberado: f64,
        fim: (i32, u32, u32),
        ultima: (i32, u32, u32),
    ) -> Agreement {
        Agreement {
            numero: "900001".into(),
            objeto: "Construção de unidade básica de saúde".into(),
            nome_orgao: Some("Fundo Nacional de Saúde".into()),
            nome_convenente: Some("MUNICIPIO DE EXEMPLO".into()),
            tipo_instrumento: Some("Convênio".into()),
            valor: Some(valor),
            valor_liberado: Some(liberado),
            data_fim_vigencia: NaiveDate::from_ymd_opt(fim.0, fim.1, fim.2),
            data_ultima_liberacao: NaiveDate::from_ymd_opt(ultima.0, ultima.1, ultima.2),
            valor_ultima_liberacao: Some(200_000.0),
            ..Agreement::default()
        }
    }

    #[test]
    fn money_released_beyond_the_agreed_value_is_a_finding() {
        let data = Agreements {
            agreements: vec![agreement(1e6, 1.25e6, (2023, 12, 31), (2023, 6, 1))],
        };
        let found = PaymentRules.detect(&data);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].severity, Severity::High);
        assert!((found[0].financial_impact - 250_000.0).abs() < 0.01);
    }

    #[test]
    fn releases_within_the_value_and_the_validity_are_not_findings() {
        let data = Agreements {
            agreements: vec![agreement(1e6, 1e6, (2023, 12, 31), (2023, 12, 31))],
        };
        assert!(PaymentRules.detect(&data).is_empty());
        assert!(TemporalRules.detect(&data).is_empty());
    }

    #[test]
    fn a_release_after_the_end_of_validity_is_dated_in_the_finding() {
        let data = Agreements {
            agreements: vec![agreement(1e6, 5e5, (2022, 6, 30), (2023, 8, 15))],
        };
        let found = TemporalRules.detect(&data);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].severity, Severity::High, "more than a year late");
        assert!(
            found[0].description.contains("411 dias"),
            "{}",
            found[0].description
        );
    }

    #[test]
    fn the_readme_lists_exactly_the_rules_of_this_source() {
        let mut rules = RULES.to_vec();
        rules.sort_unstable();
        assert_eq!(crate::analysis::readme_rules("agreements"), rules);
    }
}
