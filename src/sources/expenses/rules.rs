//! The rules of an expenses investigation, over [`Budget`] allocations.
//!
//! Rule `payment.committed_above_budget`: more committed (empenhado) than the
//! updated budget allows. Lei 4.320/1964 art. 59 forbids commitments beyond the
//! credits granted, and the Constitution (art. 167, II) expenses beyond the
//! budget's credits. It is judged per allocation — programa de trabalho and
//! expense group (GND), the level the budget law authorises — because moving
//! money between the elements of one group is ordinary execution. Flagged from
//! an excess of [`MIN_EXCESS`] and 0.1% of the budget. Two explanations are
//! recognised and said, lowering the severity one step: an allocation with no
//! updated budget at all in the file (its credit usually sits in another unit
//! that executes it by descentralização, or the Portal left it out), and the
//! commitments in foreign currency, revalued by the exchange rate — Foreign
//! Affairs (embassies are paid abroad) and Defence's investments (aircraft,
//! submarines), not its housing allowances or uniforms. Severity: critical from R$ 10 million and 5%
//! over the budget, high from R$ 1 million, medium below. Confidence
//! 0.6 + 0.3·min(1, excess/budget/10%), times 0.6 when explained.
//! `financial_impact` = the excess.
//!
//! Rule `pattern.budget_revision_outlier`: an allocation whose updated budget
//! ended far from its initial one, beyond what its peers saw. Peers are every
//! imported allocation of the same year and GND, whatever the investigation's
//! filters (the whole federal budget, [`super::retrieval::Peers`]); flagged
//! beyond their 1st or 99th percentile of ln(updated/initial), by at least a
//! factor of 2 and [`MIN_CHANGE`] reais. Groups with fewer than [`MIN_PEERS`]
//! allocations (debt, financial investments) and the contingency reserve (GND 9
//! and actions named so, moved by design) are not judged. Allocations born during the year (an initial
//! budget under [`MIN_INITIAL`]) are créditos especiais or extraordinários, not
//! revisions: they are counted in the metadata, not flagged. Court-ordered
//! payments (sentenças judiciais, precatórios, whose amount follows the courts,
//! CF art. 100), emergencies (créditos extraordinários, CF art. 167 §3º) and
//! budgets moved between units (the same action and group moved the other way,
//! by at least half as much, in another unit of the selection: ministries were
//! reorganised in 2021–2022) are explained and shown as low. Severity: high from R$ 1 billion changed, medium
//! from R$ 100 million, low below. Confidence 0.5 + 0.35·(1 − 1/k), where k is
//! how many times beyond the percentile the ratio lies, times 0.6 when
//! explained. `financial_impact` = the change.
//!
//! Rule `pattern.benford_first_digit`: the first digits of the amounts committed
//! per element, per órgão superior and over the whole selection, against
//! Benford's law, with the thresholds of the contracts' rule
//! (`[detectors.pattern]`, src/sources/contracts/rules/pattern.rs). Records: the
//! allocations holding the largest amounts that start with the over-represented
//! digit.

use std::collections::BTreeMap;

use serde_json::json;

use super::{Allocation, Budget};
use crate::analysis::rank::strongest;
use crate::analysis::{Detector, Family, Finding, Severity};
use crate::domain::format::{count, decimal, percent, reais};
use crate::domain::stats::{benford_expected, benford_test, first_digit};
use crate::domain::text::fold;
use crate::sources::contracts::rules::pattern::{benford_verdict, PatternSettings};

pub const COMMITTED_ABOVE_BUDGET: &str = "payment.committed_above_budget";
pub const BUDGET_REVISION_OUTLIER: &str = "pattern.budget_revision_outlier";
pub const BENFORD_FIRST_DIGIT: &str = "pattern.benford_first_digit";

/// Every rule of this source, for the README's table and its test.
pub const RULES: &[&str] = &[
    COMMITTED_ABOVE_BUDGET,
    BUDGET_REVISION_OUTLIER,
    BENFORD_FIRST_DIGIT,
    super::document_rules::YEAR_END_COMMITMENTS,
    super::document_rules::PAYEE_CONCENTRATION,
];

/// Reais committed beyond the budget before it is a finding: below, rounding
/// and late cancellations.
pub const MIN_EXCESS: f64 = 100_000.0;
/// Reais an allocation must have changed by to be a revision worth reading.
pub const MIN_CHANGE: f64 = 10_000_000.0;
/// An initial budget below this is a placeholder: the allocation was born
/// during the year.
pub const MIN_INITIAL: f64 = 100_000.0;
/// Fewest peer allocations whose percentiles mean anything.
pub const MIN_PEERS: usize = 100;
/// Findings each rule keeps, the strongest.
const MAX_FINDINGS: usize = 200;

/// Ministério das Relações Exteriores: embassies and consulates are paid abroad.
const FOREIGN_AFFAIRS: &str = "35000";
/// Ministério da Defesa: its investments (aircraft, submarines) are bought
/// abroad; its current expenses (housing allowances, uniforms) are not.
const DEFENCE: &str = "52000";

fn where_(a: &Allocation) -> String {
    format!(
        "ação {} — {}, {} ({})",
        a.acao.label(),
        a.uo.label(),
        a.grupo.name.to_lowercase(),
        a.exercicio
    )
}

fn lower(s: Severity) -> Severity {
    match s {
        Severity::Critical => Severity::High,
        Severity::High => Severity::Medium,
        _ => Severity::Low,
    }
}

/// The payment family: what was committed against what was authorised.
pub struct PaymentRules;

impl Detector<Budget> for PaymentRules {
    fn family(&self) -> Family {
        Family::Payment
    }

    fn detect(&self, data: &Budget) -> Vec<Finding> {
        let found = data
            .allocations
            .iter()
            .enumerate()
            .filter_map(|(i, a)| committed_above_budget(i, a))
            .collect();
        strongest(found, data, MAX_FINDINGS)
    }
}

fn committed_above_budget(index: usize, a: &Allocation) -> Option<Finding> {
    let m = a.amounts;
    let excess = m.empenhado - m.atualizado.max(0.0);
    if excess < MIN_EXCESS || excess <= 0.001 * m.atualizado {
        return None;
    }
    let no_budget = m.atualizado <= 0.0;
    let foreign = match a.orgao_superior.code.as_str() {
        FOREIGN_AFFAIRS => true,
        DEFENCE => a.grupo.code == "4",
        _ => false,
    };
    let ratio = if no_budget {
        f64::INFINITY
    } else {
        excess / m.atualizado
    };
    let mut severity = if excess >= 10_000_000.0 && ratio >= 0.05 {
        Severity::Critical
    } else if excess >= 1_000_000.0 && ratio >= 0.01 {
        Severity::High
    } else {
        Severity::Medium
    };
    let mut confidence = 0.6 + 0.3 * (ratio / 0.10).min(1.0);
    let reason = if no_budget {
        Some(
            "Esta alocação não tem dotação atualizada no arquivo: o crédito costuma estar em \
             outra unidade orçamentária, que o descentraliza para esta executar, ou o Portal \
             não o publicou aqui. Verifique de onde veio o crédito antes de concluir que houve \
             empenho sem orçamento."
                .to_string(),
        )
    } else if foreign {
        Some(format!(
            "O {} faz compras e mantém despesas no exterior (aeronaves, navios, \
             representações) empenhadas em moeda estrangeira, e o valor em reais desses \
             empenhos é atualizado pelo câmbio: uma alta do dólar ou do euro pode levar o \
             empenhado acima da dotação sem novo empenho. Confira se o excesso corresponde à \
             variação cambial do ano.",
            a.orgao_superior.name
        ))
    } else {
        None
    };
    if reason.is_some() {
        severity = lower(severity);
        confidence *= 0.6;
    }
    let over: Vec<String> = a
        .elements
        .iter()
        .filter(|e| e.amounts.empenhado > e.amounts.atualizado.max(0.0))
        .take(3)
        .map(|e| {
            format!(
                "{}: {} empenhados contra {} de dotação",
                e.element.label(),
                reais(e.amounts.empenhado),
                reais(e.amounts.atualizado)
            )
        })
        .collect();
    let share = if no_budget {
        "sem dotação atualizada".to_string()
    } else {
        format!("{} acima da dotação", percent(ratio))
    };
    let description = format!(
        "Empenhado acima do orçamento autorizado: {}: {} empenhados contra {} de dotação \
         atualizada ({share})",
        where_(a),
        reais(m.empenhado),
        reais(m.atualizado)
    );
    let mut explanation = format!(
        "A Lei 4.320/1964 (art. 59) proíbe empenhar além dos créditos concedidos, e a \
         Constituição (art. 167, II) veda despesas que excedam os créditos orçamentários. Em \
         {year}, a ação {acao} da unidade {uo}, no grupo {grupo}, teve dotação inicial de \
         {ini}, dotação atualizada de {atu} e empenhos de {emp}: {excess} a mais que o \
         autorizado. A comparação é feita no nível em que a lei autoriza a despesa (programa \
         de trabalho {pt} e grupo de despesa); remanejar entre elementos de despesa do mesmo \
         grupo é permitido.",
        year = a.exercicio,
        acao = a.acao.label(),
        uo = a.uo.label(),
        grupo = a.grupo.label(),
        ini = reais(m.inicial),
        atu = reais(m.atualizado),
        emp = reais(m.empenhado),
        excess = reais(excess),
        pt = a.programa_trabalho(),
    );
    if !over.is_empty() {
        explanation.push_str(&format!(" Elementos acima: {}.", over.join("; ")));
    }
    if let Some(reason) = &reason {
        explanation.push(' ');
        explanation.push_str(reason);
    }
    Some(Finding {
        family: Family::Payment,
        rule: COMMITTED_ABOVE_BUDGET,
        severity,
        confidence: confidence.min(0.9),
        description,
        explanation,
        records: vec![index],
        suggested_actions: vec![
            format!(
                "Consultar no SIOP ou no Tesouro Gerencial os créditos da ação {} em {} \
                 (créditos adicionais, destaques e descentralizações).",
                a.acao.code, a.exercicio
            ),
            "Pedir ao órgão as notas de empenho e a justificativa do valor acima da dotação."
                .to_string(),
            format!(
                "Procurar a ação no parecer do TCU sobre as contas do Presidente da República de {}.",
                a.exercicio
            ),
        ],
        evidence: json!({
            "inicial": m.inicial,
            "atualizado": m.atualizado,
            "empenhado": m.empenhado,
            "realizado": m.realizado,
            "excess": excess,
            "excess_share": if no_budget { None } else { Some(ratio) },
            "explained_by": if no_budget {
                Some("no_budget_in_file")
            } else if foreign {
                Some("foreign_currency")
            } else {
                None
            },
            "elements": a.elements.len(),
        }),
        financial_impact: excess,
    })
}

/// The pattern family: revisions beyond the peers, and Benford's law.
pub struct PatternRules {
    pub settings: PatternSettings,
}

impl Detector<Budget> for PatternRules {
    fn family(&self) -> Family {
        Family::Pattern
    }

    fn detect(&self, data: &Budget) -> Vec<Finding> {
        let revisions = data
            .allocations
            .iter()
            .enumerate()
            .filter_map(|(i, a)| revision_outlier(i, a, data))
            .collect();
        let mut found = strongest(revisions, data, MAX_FINDINGS);
        found.extend(benford(data, &self.settings));
        found
    }
}

/// Allocations born during the year: created by crédito especial or
/// extraordinário rather than revised. Counted, for the metadata.
pub fn born_during_year(data: &Budget) -> (usize, f64) {
    data.allocations
        .iter()
        .filter(|a| a.amounts.inicial < MIN_INITIAL && a.amounts.atualizado >= MIN_CHANGE)
        .fold((0, 0.0), |(n, total), a| {
            (n + 1, total + a.amounts.atualizado)
        })
}

/// The contingency reserve (GND 9, and actions named so under other groups) is
/// there to be moved: its revisions are its purpose.
fn is_reserve(a: &Allocation) -> bool {
    a.grupo.code == "9" || fold(&a.acao.name).contains("reserva de contingencia")
}

/// Other units' allocations of the same action, year and group that moved the
/// other way by at least half as much: a budget moved between units (a
/// reorganisation of ministries, a fund taken over), not raised or cut.
fn counterparts<'a>(a: &Allocation, change: f64, data: &'a Budget) -> Vec<&'a Allocation> {
    data.allocations
        .iter()
        .filter(|b| {
            b.exercicio == a.exercicio
                && b.acao.code == a.acao.code
                && b.grupo.code == a.grupo.code
                && b.uo.code != a.uo.code
        })
        .filter(|b| {
            let other = b.amounts.atualizado - b.amounts.inicial;
            other.signum() != change.signum() && other.abs() >= 0.5 * change.abs()
        })
        .collect()
}

/// Why an action's budget moves with events rather than decisions.
fn revision_reason(a: &Allocation) -> Option<&'static str> {
    let name = fold(&a.acao.name);
    let any = |words: &[&str]| words.iter().any(|w| name.contains(w));
    if any(&[
        "sentencas judiciais",
        "precatorio",
        "requisicoes de pequeno valor",
    ]) {
        Some(
            "A ação paga sentenças judiciais e precatórios: seu valor segue as decisões dos \
             tribunais inscritas para o ano (CF art. 100), não uma escolha do órgão.",
        )
    } else if any(&[
        "emergencia",
        "calamidade",
        "coronavirus",
        "covid",
        "defesa civil",
        "desastre",
    ]) {
        Some(
            "A ação atende emergências ou calamidades, que a Constituição permite atender por \
             crédito extraordinário, para despesas imprevisíveis e urgentes (CF art. 167, §3º).",
        )
    } else {
        None
    }
}

fn revision_outlier(index: usize, a: &Allocation, data: &Budget) -> Option<Finding> {
    let m = a.amounts;
    if m.inicial < MIN_INITIAL || m.atualizado <= 0.0 || is_reserve(a) {
        return None;
    }
    let change = m.atualizado - m.inicial;
    if change.abs() < MIN_CHANGE {
        return None;
    }
    let peers = data.peers_of(a)?;
    if peers.allocations < MIN_PEERS {
        return None;
    }
    let ratio = m.atualizado / m.inicial;
    let x = ratio.ln();
    let (beyond, raised) = if x > peers.p99 && ratio >= 2.0 {
        ((x - peers.p99).exp(), true)
    } else if x < peers.p01 && ratio <= 0.5 {
        ((peers.p01 - x).exp(), false)
    } else {
        return None;
    };
    let moved = counterparts(a, change, data);
    let transfer = moved.first().map(|b| {
        format!(
            "A mesma ação, no mesmo grupo de despesa, {} na unidade {} ({} → {}): o \
             orçamento parece ter sido transferido entre unidades, como acontece quando \
             ministérios são reorganizados, e não {}.",
            if change < 0.0 { "subiu" } else { "caiu" },
            b.uo.label(),
            reais(b.amounts.inicial),
            reais(b.amounts.atualizado),
            if change < 0.0 {
                "cortado"
            } else {
                "acrescentado"
            }
        )
    });
    let reason = transfer.or_else(|| revision_reason(a).map(str::to_string));
    let mut severity = if change.abs() >= 1e9 {
        Severity::High
    } else if change.abs() >= 1e8 {
        Severity::Medium
    } else {
        Severity::Low
    };
    let mut confidence = 0.5 + 0.35 * (1.0 - 1.0 / beyond);
    if reason.is_some() {
        severity = Severity::Low;
        confidence *= 0.6;
    }
    let times = |r: f64| format!("{}×", decimal(r, if r < 10.0 { 2 } else { 1 }));
    let (verb, bound, bound_ratio) = if raised {
        ("subiu", "só 1% subiu mais que", peers.p99.exp())
    } else {
        ("caiu", "só 1% caiu abaixo de", peers.p01.exp())
    };
    let description = format!(
        "Orçamento revisto muito além dos pares: {}: de {} para {} ({} a dotação inicial)",
        where_(a),
        reais(m.inicial),
        reais(m.atualizado),
        times(ratio)
    );
    let mut explanation = format!(
        "Ao longo do ano a dotação de uma ação muda por créditos adicionais — suplementares, \
         especiais e extraordinários (Lei 4.320/1964, arts. 40 a 46) — e por cancelamentos. \
         Entre as {n} alocações do grupo {grupo} no orçamento federal de {year}, a dotação \
         atualizada ficou em mediana em {median} da inicial, e {bound} {bound_ratio}. A da \
         ação {acao} na unidade {uo} {verb} de {ini} para {atu} ({ratio}), {k} vezes além \
         desse limite, uma mudança de {change}. Vale conferir os atos que alteraram a dotação \
         (decretos, leis e medidas provisórias de crédito) e o que os motivou.",
        n = count(peers.allocations),
        grupo = a.grupo.label(),
        year = a.exercicio,
        median = times(peers.median.exp()),
        bound_ratio = times(bound_ratio),
        acao = a.acao.label(),
        uo = a.uo.label(),
        ini = reais(m.inicial),
        atu = reais(m.atualizado),
        ratio = times(ratio),
        k = decimal(beyond, 1),
        change = reais(change.abs()),
    );
    if let Some(reason) = &reason {
        explanation.push(' ');
        explanation.push_str(reason);
    }
    Some(Finding {
        family: Family::Pattern,
        rule: BUDGET_REVISION_OUTLIER,
        severity,
        confidence,
        description,
        explanation,
        records: vec![index],
        suggested_actions: vec![
            format!(
                "Listar no SIOP os créditos adicionais e cancelamentos da ação {} em {}.",
                a.acao.code, a.exercicio
            ),
            if raised {
                "Verificar de onde saiu o dinheiro acrescentado e se foi empenhado e pago."
                    .to_string()
            } else {
                "Verificar para onde foi o dinheiro cancelado e o que deixou de ser feito."
                    .to_string()
            },
        ],
        evidence: json!({
            "inicial": m.inicial,
            "atualizado": m.atualizado,
            "ratio": ratio,
            "peers": peers.allocations,
            "peer_median_ratio": peers.median.exp(),
            "peer_p01_ratio": peers.p01.exp(),
            "peer_p99_ratio": peers.p99.exp(),
            "beyond_percentile": beyond,
            "explained": reason.is_some(),
            "moved_to_or_from": moved.iter().map(|b| b.key.as_str()).collect::<Vec<_>>(),
        }),
        financial_impact: change.abs(),
    })
}

/// One committed amount: its allocation and first digit.
struct Amount {
    allocation: usize,
    value: f64,
    digit: u8,
}

fn benford(data: &Budget, s: &PatternSettings) -> Vec<Finding> {
    let mut by_agency: BTreeMap<&str, Vec<Amount>> = BTreeMap::new();
    for (i, a) in data.allocations.iter().enumerate() {
        for e in &a.elements {
            let value = e.amounts.empenhado;
            if value < s.benford_min_value {
                continue;
            }
            if let Some(digit) = first_digit(value) {
                by_agency
                    .entry(a.orgao_superior.code.as_str())
                    .or_default()
                    .push(Amount {
                        allocation: i,
                        value,
                        digit,
                    });
            }
        }
    }
    let mut found = Vec::new();
    let groups = by_agency.len();
    let mut all = Vec::new();
    for (_, amounts) in by_agency {
        if let Some(first) = amounts.first() {
            let agency = data.allocations[first.allocation].orgao_superior.label();
            found.extend(benford_finding(&amounts, &format!("do órgão {agency}"), s));
        }
        all.extend(amounts);
    }
    if groups > 1 {
        found.extend(benford_finding(&all, "do conjunto analisado", s));
    }
    strongest(found, data, MAX_FINDINGS)
}

fn benford_finding(amounts: &[Amount], scope: &str, s: &PatternSettings) -> Option<Finding> {
    if amounts.len() < s.benford_min_records.max(1) {
        return None;
    }
    let digits: Vec<u8> = amounts.iter().map(|a| a.digit).collect();
    let t = benford_test(&digits)?;
    let (severity, band, confidence) = benford_verdict(&t, s)?;
    let mut cited: Vec<&Amount> = amounts.iter().filter(|a| a.digit == t.digit).collect();
    cited.sort_by(|a, b| {
        b.value
            .total_cmp(&a.value)
            .then(a.allocation.cmp(&b.allocation))
    });
    let mut records: Vec<usize> = Vec::new();
    let mut cited_total = 0.0;
    for a in cited {
        if records.len() >= s.max_records {
            break;
        }
        cited_total += a.value;
        if !records.contains(&a.allocation) {
            records.push(a.allocation);
        }
    }
    let expected = benford_expected();
    let k = usize::from(t.digit) - 1;
    let description = format!(
        "Primeiros dígitos dos valores empenhados {scope} fogem da Lei de Benford (MAD {}; \
         excesso de valores começando com {})",
        decimal(t.mad, 4),
        t.digit
    );
    let explanation = format!(
        "Em conjuntos grandes de valores financeiros, o primeiro dígito costuma seguir a Lei \
         de Benford: cerca de 30,1% dos valores começam com 1 e só 4,6% com 9. Nos {n} valores \
         empenhados por elemento de despesa {scope}, a partir de {min}, o desvio médio \
         absoluto (MAD) entre a distribuição observada e a esperada foi {mad}, {band} \
         (Nigrini: conformidade marginal acima de {marg}, não conformidade acima de {non}), e \
         {times} vezes o desvio que o acaso produziria numa amostra desse tamanho. O dígito \
         {d} inicia {obs} dos valores, contra {exp} esperados. Isso não prova irregularidade — \
         valores fixados em lei, parcelas iguais e transferências padronizadas também desviam \
         a distribuição —, mas indica onde olhar: as alocações com os maiores valores que \
         começam com {d} estão listadas.",
        n = count(t.n),
        min = reais(s.benford_min_value),
        mad = decimal(t.mad, 4),
        marg = decimal(s.benford_marginal_mad, 3),
        non = decimal(s.benford_nonconformity_mad, 3),
        times = decimal(t.mad / t.chance_mad, 1),
        d = t.digit,
        obs = percent(t.observed[k]),
        exp = percent(expected[k]),
    );
    Some(Finding {
        family: Family::Pattern,
        rule: BENFORD_FIRST_DIGIT,
        severity,
        confidence,
        description,
        explanation,
        records,
        suggested_actions: vec![
            format!(
                "Examinar os empenhos das alocações listadas que começam com {}: valores \
                 repetidos, arredondados ou fracionados.",
                t.digit
            ),
            "Comparar com a distribuição de órgãos semelhantes antes de tirar conclusões."
                .to_string(),
        ],
        evidence: json!({
            "values": t.n,
            "mad": t.mad,
            "chance_mad": t.chance_mad,
            "marginal_mad": s.benford_marginal_mad,
            "nonconformity_mad": s.benford_nonconformity_mad,
            "observed": t.observed,
            "expected": expected,
            "over_represented_digit": t.digit,
        }),
        financial_impact: cited_total,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::expenses::retrieval::Peers;
    use crate::sources::expenses::{Amounts, Coded, Element};

    fn coded(code: &str, name: &str) -> Coded {
        Coded {
            code: code.into(),
            name: name.into(),
        }
    }

    /// An allocation of one element with these amounts.
    fn allocation(uo: &str, acao: &str, gnd: &str, amounts: Amounts) -> Allocation {
        Allocation {
            key: format!("2021/{uo}/10.302/5018.{acao}/{gnd}"),
            exercicio: 2021,
            orgao_superior: coded("36000", "Ministério da Saúde"),
            orgao: coded("36901", "Fundo Nacional de Saúde"),
            uo: coded(uo, "FUNDO NACIONAL DE SAUDE"),
            funcao: coded("10", "Saúde"),
            subfuncao: coded("302", "Assistência hospitalar"),
            programa: coded("5018", "ATENCAO ESPECIALIZADA"),
            acao: coded(acao, "ATENCAO A SAUDE DA POPULACAO"),
            grupo: coded(gnd, "Outras Despesas Correntes"),
            amounts,
            elements: vec![Element {
                element: coded("39", "Outros Serviços de Terceiros - PJ"),
                amounts,
            }],
        }
    }

    fn amounts(inicial: f64, atualizado: f64, empenhado: f64) -> Amounts {
        Amounts {
            inicial,
            atualizado,
            empenhado,
            realizado: empenhado * 0.9,
        }
    }

    fn budget(allocations: Vec<Allocation>) -> Budget {
        Budget {
            allocations,
            peers: vec![Peers {
                exercicio: 2021,
                grupo: "3".into(),
                allocations: 2_500,
                p01: 0.1f64.ln(),
                median: 1.0f64.ln(),
                p99: 6.0f64.ln(),
            }],
            documents: Vec::new(),
        }
    }

    #[test]
    fn a_commitment_beyond_the_updated_budget_is_critical_with_the_law_and_the_numbers() {
        let data = budget(vec![allocation(
            "36901",
            "8585",
            "3",
            amounts(100e6, 150e6, 170e6),
        )]);
        let found = PaymentRules.detect(&data);
        assert_eq!(found.len(), 1, "{found:#?}");
        let f = &found[0];
        assert_eq!(f.rule, COMMITTED_ABOVE_BUDGET);
        assert_eq!(f.severity, Severity::Critical);
        assert!((f.financial_impact - 20e6).abs() < 1.0);
        assert!(f.explanation.contains("art. 59"), "{}", f.explanation);
        assert!(f.description.contains("13,3% acima"), "{}", f.description);
    }

    #[test]
    fn commitments_within_the_budget_or_over_by_cents_are_not_findings() {
        let data = budget(vec![
            allocation("36901", "8585", "3", amounts(100e6, 150e6, 150e6)),
            allocation(
                "36901",
                "8730",
                "3",
                amounts(100e6, 150e6, 150e6 + 50_000.0),
            ),
        ]);
        assert!(PaymentRules.detect(&data).is_empty());
    }

    #[test]
    fn an_element_over_its_share_inside_a_group_within_budget_is_ordinary_execution() {
        let mut a = allocation("36901", "8585", "3", amounts(100e6, 100e6, 90e6));
        a.elements = vec![
            Element {
                element: coded("30", "Material de Consumo"),
                amounts: amounts(50e6, 50e6, 80e6),
            },
            Element {
                element: coded("39", "Outros Serviços de Terceiros - PJ"),
                amounts: amounts(50e6, 50e6, 10e6),
            },
        ];
        assert!(PaymentRules.detect(&budget(vec![a])).is_empty());
    }

    #[test]
    fn foreign_currency_and_missing_budget_are_explained_and_shown_one_step_lower() {
        let mut jets = allocation("52111", "14T0", "4", amounts(1.4e9, 1.3e9, 1.45e9));
        jets.orgao_superior = coded("52000", "Ministério da Defesa");
        let elsewhere = allocation("25207", "2211", "3", amounts(0.0, 0.0, 405e6));
        let found = PaymentRules.detect(&budget(vec![jets, elsewhere]));
        assert_eq!(found.len(), 2);
        for f in &found {
            assert_eq!(f.severity, Severity::High, "{}", f.description);
        }
        let text: Vec<&str> = found.iter().map(|f| f.explanation.as_str()).collect();
        assert!(text.iter().any(|t| t.contains("câmbio")), "{text:?}");
        assert!(text.iter().any(|t| t.contains("outra unidade")), "{text:?}");
    }

    #[test]
    fn a_revision_beyond_the_peers_99th_percentile_is_flagged_with_them() {
        let data = budget(vec![allocation(
            "36201",
            "8327",
            "3",
            amounts(16e6, 1_107e6, 1_000e6),
        )]);
        let found = PatternRules {
            settings: PatternSettings::default(),
        }
        .detect(&data);
        assert_eq!(found.len(), 1, "{found:#?}");
        let f = &found[0];
        assert_eq!(f.rule, BUDGET_REVISION_OUTLIER);
        assert_eq!(f.severity, Severity::High);
        assert!(
            f.explanation.contains("2.500 alocações"),
            "{}",
            f.explanation
        );
        assert!(f.description.contains("69,2×"), "{}", f.description);
    }

    #[test]
    fn revisions_within_the_peers_small_ones_and_the_reserve_are_not_flagged() {
        let mut reserve = allocation("71101", "0Z00", "3", amounts(546e6, 50e6, 0.0));
        reserve.acao.name = "RESERVA DE CONTINGENCIA - FINANCEIRA".into();
        let data = budget(vec![
            allocation("36901", "8585", "3", amounts(100e6, 500e6, 400e6)),
            allocation("36901", "8730", "3", amounts(1e6, 9e6, 9e6)),
            reserve,
        ]);
        let found = PatternRules {
            settings: PatternSettings::default(),
        }
        .detect(&data);
        assert!(found.is_empty(), "{found:#?}");
    }

    #[test]
    fn a_cut_matched_by_a_raise_of_the_same_action_elsewhere_is_told_as_a_transfer() {
        let data = budget(vec![
            allocation("93379", "20WW", "3", amounts(472e6, 0.02, 0.0)),
            allocation("35101", "20WW", "3", amounts(368e6, 930e6, 900e6)),
        ]);
        let found = PatternRules {
            settings: PatternSettings::default(),
        }
        .detect(&data);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(found[0].severity, Severity::Low);
        assert!(
            found[0].explanation.contains("transferido entre unidades"),
            "{}",
            found[0].explanation
        );
    }

    #[test]
    fn an_allocation_born_during_the_year_is_counted_not_flagged() {
        let data = budget(vec![allocation(
            "36901",
            "21C0",
            "3",
            amounts(0.0, 21_854e6, 20_000e6),
        )]);
        let found = PatternRules {
            settings: PatternSettings::default(),
        }
        .detect(&data);
        assert!(found.is_empty(), "{found:#?}");
        assert_eq!(born_during_year(&data), (1, 21_854e6));
    }

    fn with_commitments(values: impl Iterator<Item = f64>) -> Budget {
        let mut a = allocation("30907", "155N", "3", amounts(1e9, 1e9, 1e9));
        a.orgao_superior = coded("30000", "Ministério da Justiça e Segurança Pública");
        a.elements = values
            .map(|v| Element {
                element: coded("39", "Outros Serviços de Terceiros - PJ"),
                amounts: amounts(v, v, v),
            })
            .collect();
        budget(vec![a])
    }

    #[test]
    fn commitments_crowded_on_one_first_digit_break_benford() {
        let data = with_commitments((0..600).map(|i| 50_000.0 + 16.0 * i as f64));
        let found = benford(&data, &PatternSettings::default());
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].rule, BENFORD_FIRST_DIGIT);
        assert_eq!(found[0].evidence["over_represented_digit"], 5);
    }

    #[test]
    fn commitments_spread_over_magnitudes_follow_benford() {
        // 10^u for u evenly spread over four decades: Benford's law exactly.
        let data = with_commitments((0..1200).map(|i| 10f64.powf(2.0 + 4.0 * i as f64 / 1200.0)));
        assert!(benford(&data, &PatternSettings::default()).is_empty());
    }

    #[test]
    fn the_readme_lists_exactly_the_rules_of_this_source() {
        let mut rules = RULES.to_vec();
        rules.sort_unstable();
        assert_eq!(crate::analysis::readme_rules("expenses"), rules);
    }
}
