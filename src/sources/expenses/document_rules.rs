//! The rules of an expenses investigation over its documents (commitments and
//! payments, [`super::documents`]), beside the allocations' rules.
//!
//! Rule `temporal.year_end_commitments`: a UG that committed a large share of
//! its year's money in the last days of December. Lei 4.320/1964 (arts. 35 and
//! 60) counts as the year's expense what is committed in it, so credit left
//! near the year's end is committed before it lapses, and much of it is then
//! carried as restos a pagar (Decreto 93.872/1986, art. 35): the "queima de
//! orçamento" audits warn about, purchases made without planning. Judged per
//! UG and year over commitments from [`YEAR_END_FROM`], only where the year is
//! represented (commitments in [`MIN_MONTHS`] months at least, so a fetch of
//! December alone says nothing), from [`MIN_SHARE`] of the year's value and
//! [`MIN_LATE`] reais. Severity: high from half of the year and R$ 10 million,
//! medium from 40% or R$ 10 million, low below. Confidence
//! 0.5 + 0.4·min(1, (share − 30%)/40%), times the share of months covered.
//! `financial_impact` = the money committed late.
//!
//! Rule `vendor.payee_concentration`: one company receiving most of what a UG
//! paid companies in the period read. Concentration is not illegal, but without
//! a contract won in competition behind it, it is what directed purchases look
//! like (Lei 8.666/1993 art. 3º; Lei 14.133/2021 arts. 5º and 11). Judged per UG
//! and year over payments to companies (a CNPJ payee; units, people and
//! foreigners left out) — not commitments: a continuous service is committed
//! for the whole year in January (empenho estimativo) — from
//! [`MIN_PAYEES`] companies, [`MIN_DOCUMENTS`] documents and R$ 1 million, when
//! one company holds [`MIN_PAYEE_SHARE`] or more. Severity: high from 80% and
//! R$ 10 million, medium from 60% or R$ 10 million, low below. Confidence
//! 0.45 + 0.4·min(1, (share − 50%)/40%). `financial_impact` = the company's
//! share of the money.

use std::collections::BTreeMap;

use chrono::Datelike;
use serde_json::json;

use super::documents::{Document, Fase};
use super::Budget;
use crate::analysis::rank::strongest;
use crate::analysis::{Detector, Family, Finding, Severity};
use crate::domain::format::{count, date, percent, reais};

pub const YEAR_END_COMMITMENTS: &str = "temporal.year_end_commitments";
pub const PAYEE_CONCENTRATION: &str = "vendor.payee_concentration";

/// Commitments from this day of December on are the year's end.
pub const YEAR_END_FROM: u32 = 15;
/// Fewest months with commitments for a year to be judged.
pub const MIN_MONTHS: usize = 9;
/// Fewest commitments in a UG's year.
pub const MIN_COMMITMENTS: usize = 20;
/// Share of the year committed at its end from which it is a finding.
pub const MIN_SHARE: f64 = 0.30;
/// Reais committed at the year's end before it is a finding.
pub const MIN_LATE: f64 = 500_000.0;
/// Fewest companies paid for a concentration to mean anything.
pub const MIN_PAYEES: usize = 3;
/// Fewest documents in a UG's year.
pub const MIN_DOCUMENTS: usize = 10;
/// Share of the money to companies one company must hold.
pub const MIN_PAYEE_SHARE: f64 = 0.5;
/// Reais paid to companies in a UG's year before concentration is judged.
const MIN_PAID: f64 = 1_000_000.0;
/// Documents listed per finding, the largest.
const LISTED: usize = 20;
/// Findings each rule keeps, the strongest.
const MAX_FINDINGS: usize = 200;

/// The documents of each UG and year, by record index.
fn by_ug_year(
    data: &Budget,
    keep: impl Fn(&Document) -> bool,
) -> BTreeMap<(&str, i32), Vec<(usize, &Document)>> {
    let mut groups: BTreeMap<(&str, i32), Vec<(usize, &Document)>> = BTreeMap::new();
    for (i, d) in data.documents.iter().enumerate() {
        if keep(d) && d.valor.is_some() {
            groups
                .entry((d.codigo_ug.as_str(), d.data.year()))
                .or_default()
                .push((data.document_record(i), d));
        }
    }
    groups
}

fn value(d: &Document) -> f64 {
    d.valor.unwrap_or(0.0)
}

/// The `LISTED` largest of `docs`, by record index.
fn largest(mut docs: Vec<(usize, &Document)>) -> Vec<usize> {
    docs.sort_by(|a, b| value(b.1).total_cmp(&value(a.1)).then(a.0.cmp(&b.0)));
    docs.into_iter().take(LISTED).map(|(i, _)| i).collect()
}

fn ug_label(d: &Document) -> String {
    if d.nome_ug.is_empty() {
        format!("UG {}", d.codigo_ug)
    } else {
        format!("{} ({})", d.nome_ug, d.codigo_ug)
    }
}

/// The temporal family over documents: when the money was committed.
pub struct YearEndRules;

impl Detector<Budget> for YearEndRules {
    fn family(&self) -> Family {
        Family::Temporal
    }

    fn detect(&self, data: &Budget) -> Vec<Finding> {
        // Anulações count, negative: money taken back is not committed.
        let found = by_ug_year(data, |d| d.fase == Fase::Empenho)
            .into_iter()
            .filter_map(|((_, year), docs)| year_end(year, docs))
            .collect();
        strongest(found, data, MAX_FINDINGS)
    }
}

fn year_end(year: i32, docs: Vec<(usize, &Document)>) -> Option<Finding> {
    let mut months: Vec<u32> = docs.iter().map(|(_, d)| d.data.month()).collect();
    months.sort_unstable();
    months.dedup();
    if docs.len() < MIN_COMMITMENTS || months.len() < MIN_MONTHS {
        return None;
    }
    let total: f64 = docs.iter().map(|(_, d)| value(d)).sum();
    if total <= 0.0 {
        return None;
    }
    let (late, early): (Vec<_>, Vec<_>) = docs
        .into_iter()
        .partition(|(_, d)| d.data.month() == 12 && d.data.day() >= YEAR_END_FROM);
    let late_value: f64 = late.iter().map(|(_, d)| value(d)).sum();
    let share = late_value / total;
    if share < MIN_SHARE || late_value < MIN_LATE {
        return None;
    }
    let severity = if share >= 0.5 && late_value >= 1e7 {
        Severity::High
    } else if share >= 0.4 || late_value >= 1e7 {
        Severity::Medium
    } else {
        Severity::Low
    };
    let ug = ug_label(late.first()?.1);
    let commitments = late.len() + early.len();
    let confidence =
        (0.5 + 0.4 * ((share - MIN_SHARE) / 0.4).min(1.0)) * (months.len() as f64 / 12.0).min(1.0);
    Some(Finding {
        family: Family::Temporal,
        rule: YEAR_END_COMMITMENTS,
        severity,
        confidence,
        description: format!(
            "{ug}: {} do que os empenhos lidos de {year} comprometem foi empenhado de \
             {YEAR_END_FROM} a 31 de dezembro",
            percent(share)
        ),
        explanation: format!(
            "Dos {} que os empenhos lidos da UG comprometem em {year} ({} empenhos, em {} \
             meses do ano, anulações descontadas), {} ({}) foram empenhados de \
             {YEAR_END_FROM} a 31 de dezembro, em {} empenhos. A Lei \
             4.320/1964 (arts. 35 e 60) conta como despesa do ano o que nele se empenha, e o \
             crédito que sobra no fim do ano se perde: empenhar às pressas para não perdê-lo \
             costuma gerar compras sem planejamento e restos a pagar (Decreto 93.872/1986, art. \
             35). Há explicações legítimas, como crédito liberado ou descentralizado só em \
             dezembro; confira nos empenhos listados o objeto, o processo e se a despesa foi \
             liquidada no ano seguinte.",
            reais(total),
            count(commitments),
            months.len(),
            reais(late_value),
            percent(share),
            count(late.len())
        ),
        records: largest(late.into_iter().filter(|(_, d)| value(d) > 0.0).collect()),
        suggested_actions: vec![
            "Verificar, nos processos dos maiores empenhos de dezembro, quando a compra foi \
             planejada e se houve pesquisa de preços e licitação."
                .into(),
            "Conferir quanto desses empenhos foi inscrito em restos a pagar e quando foi pago."
                .into(),
        ],
        evidence: json!({
            "year": year,
            "year_end_from": format!("{YEAR_END_FROM:02}/12"),
            "committed_in_year": total,
            "committed_at_year_end": late_value,
            "share": share,
            "commitments": commitments,
            "months_with_commitments": months.len(),
        }),
        financial_impact: late_value,
    })
}

/// The vendor family over documents: who was paid.
pub struct PayeeRules;

impl Detector<Budget> for PayeeRules {
    fn family(&self) -> Family {
        Family::Vendor
    }

    fn detect(&self, data: &Budget) -> Vec<Finding> {
        // Payments say who was paid. Commitments do not: a continuous service
        // is committed for the whole year in January (empenho estimativo).
        let found = by_ug_year(data, |d| {
            d.fase == Fase::Pagamento && d.paid_to_company() && value(d) > 0.0
        })
        .into_values()
        .filter_map(concentration)
        .collect();
        strongest(found, data, MAX_FINDINGS)
    }
}

fn concentration(docs: Vec<(usize, &Document)>) -> Option<Finding> {
    let total: f64 = docs.iter().map(|(_, d)| value(d)).sum();
    let mut by_payee: BTreeMap<&str, f64> = BTreeMap::new();
    for (_, d) in &docs {
        if let Some(code) = d.codigo_favorecido.as_deref() {
            *by_payee.entry(code).or_default() += value(d);
        }
    }
    if by_payee.len() < MIN_PAYEES || docs.len() < MIN_DOCUMENTS || total < MIN_PAID {
        return None;
    }
    let (top, top_value) = by_payee
        .iter()
        .max_by(|a, b| a.1.total_cmp(b.1).then(b.0.cmp(a.0)))
        .map(|(c, v)| (c.to_string(), *v))?;
    let share = top_value / total;
    if share < MIN_PAYEE_SHARE {
        return None;
    }
    let severity = if share >= 0.8 && top_value >= 1e7 {
        Severity::High
    } else if share >= 0.6 || top_value >= 1e7 {
        Severity::Medium
    } else {
        Severity::Low
    };
    let ug = ug_label(docs.first()?.1);
    let first = docs.iter().map(|(_, d)| d.data).min()?;
    let last = docs.iter().map(|(_, d)| d.data).max()?;
    let period = format!("de {} a {}", date(first), date(last));
    let theirs: Vec<(usize, &Document)> = docs
        .iter()
        .filter(|(_, d)| d.codigo_favorecido.as_deref() == Some(top.as_str()))
        .copied()
        .collect();
    let name = theirs
        .iter()
        .find_map(|(_, d)| d.nome_favorecido.clone())
        .unwrap_or_else(|| "empresa sem nome informado".into());
    Some(Finding {
        family: Family::Vendor,
        rule: PAYEE_CONCENTRATION,
        severity,
        confidence: 0.45 + 0.4 * ((share - MIN_PAYEE_SHARE) / 0.4).min(1.0),
        description: format!(
            "{ug}: {name} recebeu {} do que a UG pagou a empresas {period}",
            percent(share)
        ),
        explanation: format!(
            "{} a UG pagou {} a {} empresas, em {} pagamentos; {name} (CNPJ {top}) recebeu {} \
             ({}) em {} pagamentos. Concentração não é ilegal por si, mas sem um contrato \
             disputado por trás é o que se vê em compras direcionadas ou fracionadas (Lei \
             8.666/1993, art. 3º; Lei 14.133/2021, arts. 5º e 11). Há explicações legítimas, \
             como um único contrato grande de serviço contínuo; confira os contratos e os \
             processos que amparam os pagamentos listados.",
            capitalised(&period),
            reais(total),
            count(by_payee.len()),
            count(docs.len()),
            reais(top_value),
            percent(share),
            count(theirs.len())
        ),
        records: largest(theirs),
        suggested_actions: vec![
            format!(
                "Verificar quais contratos amparam os pagamentos a {name} e como foram \
                     contratados."
            ),
            "Comparar com os contratos da UG no mesmo ano (data_source contracts, filtro \
             codigo_ug)."
                .into(),
        ],
        evidence: json!({
            "from": first,
            "until": last,
            "to_companies": total,
            "companies": by_payee.len(),
            "payments": docs.len(),
            "payee": top,
            "payee_value": top_value,
            "share": share,
        }),
        financial_impact: top_value,
    })
}

fn capitalised(s: &str) -> String {
    let mut chars = s.chars();
    chars
        .next()
        .map_or_else(String::new, |c| c.to_uppercase().chain(chars).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn doc(i: usize, fase: Fase, date: (i32, u32, u32), payee: &str, valor: f64) -> Document {
        Document {
            codigo: format!("158137264392022NE{i:06}"),
            fase,
            data: NaiveDate::from_ymd_opt(date.0, date.1, date.2).expect("date"),
            codigo_orgao_superior: Some("26000".into()),
            nome_orgao_superior: "Ministério da Educação".into(),
            codigo_orgao: Some("26439".into()),
            nome_orgao: "Instituto Federal de São Paulo".into(),
            codigo_ug: "158137".into(),
            nome_ug: "IFSP".into(),
            codigo_favorecido: Some(payee.into()),
            nome_favorecido: Some(format!("EMPRESA {payee}")),
            codigo_grupo: Some("3".into()),
            codigo_elemento: Some("39".into()),
            nome_elemento: Some("Outros Serviços de Terceiros - Pessoa Jurídica".into()),
            modalidade_licitacao: None,
            especie: None,
            observacao: None,
            valor: Some(valor),
        }
    }

    fn budget(documents: Vec<Document>) -> Budget {
        Budget {
            documents,
            ..Budget::default()
        }
    }

    /// Two commitments a month, January to November, of R$ 100 thousand.
    fn ordinary_year() -> Vec<Document> {
        (0..22)
            .map(|i| {
                let payee = format!("{:014}", 10 + i % 5);
                doc(
                    i,
                    Fase::Empenho,
                    (2022, 1 + (i / 2) as u32, 10),
                    &payee,
                    100_000.0,
                )
            })
            .collect()
    }

    /// `docs` and R$ 2.4 million committed on 28 December.
    fn with_december_rush(mut docs: Vec<Document>) -> Vec<Document> {
        for i in 0..4 {
            docs.push(doc(
                100 + i,
                Fase::Empenho,
                (2022, 12, 28),
                "00000000000099",
                600_000.0,
            ));
        }
        docs
    }

    #[test]
    fn half_a_year_committed_in_the_last_days_of_december_is_flagged() {
        let docs = with_december_rush(ordinary_year());
        let data = budget(docs);
        let found = YearEndRules.detect(&data);
        assert_eq!(found.len(), 1, "{found:#?}");
        let f = &found[0];
        assert_eq!(f.rule, YEAR_END_COMMITMENTS);
        assert_eq!(f.financial_impact, 2_400_000.0);
        assert_eq!(f.evidence["months_with_commitments"], 12);
        assert_eq!(f.records.len(), 4);
        assert!(f.description.contains("52,2%"), "{}", f.description);
        assert!(f.explanation.contains("4.320/1964"), "{}", f.explanation);
    }

    #[test]
    fn a_december_rush_taken_back_by_anulacoes_is_not_flagged() {
        let mut docs = with_december_rush(ordinary_year());
        for i in 0..4 {
            docs.push(doc(
                200 + i,
                Fase::Empenho,
                (2022, 12, 30),
                "00000000000099",
                -600_000.0,
            ));
        }
        assert!(YearEndRules.detect(&budget(docs)).is_empty());
    }

    #[test]
    fn documents_are_cited_after_the_allocations_and_listed_as_documents() {
        use crate::analysis::Records;
        let allocation = |key: &str| super::super::Allocation {
            key: key.into(),
            exercicio: 2022,
            orgao_superior: Default::default(),
            orgao: Default::default(),
            uo: Default::default(),
            funcao: Default::default(),
            subfuncao: Default::default(),
            programa: Default::default(),
            acao: Default::default(),
            grupo: Default::default(),
            amounts: Default::default(),
            elements: Vec::new(),
        };
        let docs = with_december_rush(ordinary_year());
        let data = Budget {
            allocations: vec![allocation("2022/a"), allocation("2022/b")],
            documents: docs,
            ..Budget::default()
        };
        let found = YearEndRules.detect(&data);
        let records = &found[0].records;
        assert!(records.iter().all(|&r| r >= 2), "{records:?}");
        let listed = data.listed(records[0]).expect("a record");
        assert_eq!(listed["fase"], "empenho", "{listed}");
        assert_eq!(data.key(0), Some("2022/a"));
        assert_eq!(data.count(), 2 + 26);
        assert_eq!(data.listed(28), None);
    }

    #[test]
    fn december_alone_or_an_even_year_is_not_flagged() {
        // The same year without the December rush.
        assert!(YearEndRules.detect(&budget(ordinary_year())).is_empty());
        // Only December was read: nothing is known of the rest of the year.
        let december: Vec<Document> = (0..30)
            .map(|i| {
                doc(
                    i,
                    Fase::Empenho,
                    (2022, 12, 20),
                    "00000000000099",
                    500_000.0,
                )
            })
            .collect();
        assert!(YearEndRules.detect(&budget(december)).is_empty());
    }

    #[test]
    fn one_company_paid_most_of_what_a_ug_paid_companies_is_flagged() {
        let mut docs: Vec<Document> = (0..8)
            .map(|i| {
                doc(
                    i,
                    Fase::Pagamento,
                    (2022, 3, 1 + i as u32),
                    "11111111000111",
                    900_000.0,
                )
            })
            .collect();
        docs.push(doc(
            50,
            Fase::Pagamento,
            (2022, 4, 1),
            "22222222000122",
            300_000.0,
        ));
        docs.push(doc(
            51,
            Fase::Pagamento,
            (2022, 5, 1),
            "33333333000133",
            200_000.0,
        ));
        // A federal unit paid is not a company.
        docs.push(doc(
            52,
            Fase::Pagamento,
            (2022, 5, 2),
            "158137",
            9_000_000.0,
        ));
        let data = budget(docs);
        let found = PayeeRules.detect(&data);
        assert_eq!(found.len(), 1, "{found:#?}");
        let f = &found[0];
        assert_eq!(f.rule, PAYEE_CONCENTRATION);
        assert_eq!(f.evidence["companies"], 3);
        assert_eq!(f.evidence["payee"], "11111111000111");
        assert_eq!(f.financial_impact, 7_200_000.0);
        assert_eq!(f.severity, Severity::Medium);
        assert_eq!(f.records.len(), 8);
    }

    #[test]
    fn money_spread_over_companies_or_too_few_of_them_is_not_flagged() {
        let spread: Vec<Document> = (0..12)
            .map(|i| {
                let payee = format!("{:014}", 1 + i % 4);
                doc(i, Fase::Pagamento, (2022, 3, 1), &payee, 200_000.0)
            })
            .collect();
        assert!(PayeeRules.detect(&budget(spread)).is_empty());
        let two: Vec<Document> = (0..12)
            .map(|i| {
                let payee = if i == 0 {
                    "22222222000122"
                } else {
                    "11111111000111"
                };
                doc(i, Fase::Pagamento, (2022, 3, 1), payee, 200_000.0)
            })
            .collect();
        assert!(PayeeRules.detect(&budget(two)).is_empty());
        // Commitments say who is to be paid, a year ahead for a continuous
        // service: they are not judged.
        let committed: Vec<Document> = (0..12)
            .map(|i| {
                let payee = if i < 3 {
                    format!("{:014}", 20 + i)
                } else {
                    "11111111000111".into()
                };
                doc(i, Fase::Empenho, (2022, 1, 2), &payee, 900_000.0)
            })
            .collect();
        assert!(PayeeRules.detect(&budget(committed)).is_empty());
    }
}
