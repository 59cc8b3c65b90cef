//! The investigation's `summary`: what a citizen reads first, in Brazilian
//! Portuguese — how much was analysed, how many anomalies of which severity and
//! type, the money involved, and the top findings — in the words of the source
//! (see [`Vocabulary`]).

use std::collections::BTreeMap;

use super::results::Ranked;
use super::{Family, Severity, Vocabulary};
use crate::domain::format::{count, reais};

/// How many findings the summary names.
const TOP: usize = 3;

fn severity_pt(s: Severity, n: usize) -> String {
    let word = match (s, n == 1) {
        (Severity::Critical, true) => "crítica",
        (Severity::Critical, false) => "críticas",
        (Severity::High, true) => "alta",
        (Severity::High, false) => "altas",
        (Severity::Medium, true) => "média",
        (Severity::Medium, false) => "médias",
        (Severity::Low, true) => "baixa",
        (Severity::Low, false) => "baixas",
    };
    format!("{} {word}", count(n))
}

/// "a, b e c".
pub(crate) fn list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} e {last}", init.join(", ")),
    }
}

/// `scope` says what was asked ("contratos assinados em 2024 com valor a partir de
/// R$ 1.000.000,00"); `shown` is how many results the row carries.
pub fn write(
    words: &Vocabulary,
    records: usize,
    scope: &str,
    ranked: &[Ranked],
    shown: usize,
) -> String {
    if records == 0 {
        return format!(
            "{} ({scope}). Nada foi analisado; confira {}.",
            words.none_found, words.when_empty
        );
    }
    let noun = if records == 1 { words.one } else { words.many };
    if ranked.is_empty() {
        return format!(
            "Analisamos {} {noun} ({scope}) e não encontramos anomalias pelas regras \
             aplicadas. Isso não garante que não haja irregularidades, apenas que nenhum \
             indício passou dos limites definidos.",
            count(records)
        );
    }
    let mut by_severity: BTreeMap<std::cmp::Reverse<Severity>, usize> = BTreeMap::new();
    let mut by_family: BTreeMap<Family, usize> = BTreeMap::new();
    let mut at_stake = 0.0;
    for r in ranked {
        *by_severity
            .entry(std::cmp::Reverse(r.finding.severity))
            .or_default() += 1;
        *by_family.entry(r.finding.family).or_default() += 1;
        at_stake += r.finding.financial_impact.max(0.0);
    }
    let severities: Vec<String> = by_severity
        .iter()
        .map(|(s, n)| severity_pt(s.0, *n))
        .collect();
    let families: Vec<String> = by_family
        .iter()
        .map(|(f, n)| format!("{} {}", (words.family)(*f), count(*n)))
        .collect();
    let total = ranked.len();
    let anomalias = if total == 1 { "anomalia" } else { "anomalias" };
    let mut text = format!(
        "Analisamos {} {noun} ({scope}) e encontramos {} {anomalias}: {}. Por tipo: {}. \
         Valor somado dos indícios: {} ({} pode aparecer em mais de um indício).",
        count(records),
        count(total),
        list(&severities),
        list(&families),
        reais(at_stake),
        words.same_one,
    );
    let top: Vec<String> = ranked
        .iter()
        .take(TOP)
        .enumerate()
        .map(|(i, r)| format!("{}) {}", i + 1, r.finding.description.trim_end_matches('.')))
        .collect();
    text.push_str(&format!(" Principais achados: {}.", top.join("; ")));
    if shown < total {
        text.push_str(&format!(
            " A lista traz os {} indícios mais graves de {}.",
            count(shown),
            count(total)
        ));
    }
    text.push_str(&format!(
        " Indícios não são provas: cada um pede verificação {}.",
        words.verify_in
    ));
    text
}
