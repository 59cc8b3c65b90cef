//! Payment anomalies: how a contract's value moves after signature.
//!
//! Rules (values are `initial_value` and `final_value`; amendments are the
//! contract's termos aditivos, which the Portal links by UG and contract number):
//!
//! - `payment.amendment_over_legal_limit`: the final value exceeds the initial by
//!   more than Lei 8.666/1993 art. 65 §1º allows for additions: 25%, or 50% for
//!   the renovation ("reforma") of buildings or equipment. Additions beyond the
//!   limit are illegal, and growth through amendments is where a low winning bid
//!   gets its money back. Term extensions of continuous services are not
//!   additions: each renews the value for a new period (art. 57, II). In the real
//!   data 1,296 of 49,414 contracts end above 125% of their initial value, most of
//!   them extended services, so the rule allows one initial value per 12-month
//!   period of validity (beyond `period_slack_days`) whenever the contract shows
//!   continuity: an amendment about prorrogação/vigência/prazo/renovação, an
//!   object about "serviço contínuo/continuado", or no amendment that speaks of an
//!   addition (acréscimo, quantitativo, aditamento de valor) at all — then the
//!   validity period is the best evidence there is. Without such signs (explicit
//!   additions, no extensions) one period is allowed. Reajuste, repactuação and
//!   reequilíbrio are price updates, outside the limit by law; they lower the
//!   confidence instead of excusing the growth. Contracts above
//!   `discrepancy_high_ratio` are left to `payment.value_discrepancy`.
//!   financial_impact = final − initial × periods × (1 + limit), and only excesses
//!   of at least `min_excess_value` count. Severity adds points for the impact
//!   (≥ R$ 100 thousand: 1, ≥ R$ 1 million: 2) and for the growth per period
//!   beyond the limit (≥ 25 points: 1, ≥ 100 points: 2): 4 critical, 3 high, 1–2
//!   medium, 0 low. Confidence 0.85 with explicit additions and no extension, 0.6
//!   with both, 0.45 without amendments that explain anything, 0.35 when only
//!   price updates are recorded.
//! - `payment.value_discrepancy`: the final value is below `discrepancy_low_ratio`
//!   or above `discrepancy_high_ratio` times the initial value, whatever the
//!   amendments say, in contracts of at least `discrepancy_min_value`. A ratio
//!   that is a power of ten, or 12, points at a mistyped record (decimal places,
//!   a monthly value taken for the total): the published data itself is wrong,
//!   which matters to anyone relying on it (confidence 0.9, financial_impact 0:
//!   there is no telling which value is true). Otherwise growth is money paid far
//!   beyond the contract (confidence 0.6, financial_impact = final − initial,
//!   severity medium/high/critical at R$ 10 and 100 million of difference), and a
//!   collapse is a cancelled or interrupted execution or a wrong record
//!   (financial_impact 0, low, medium from R$ 10 million initial). A final value
//!   of zero is left out: the source cannot tell a cancelled contract from an
//!   unfilled field.
//! - `payment.many_amendments`: a contract amended unusually often — at least
//!   `many_min_amendments` distinct amendments and more than `many_min_per_year`
//!   per year between signature and the last amendment — or with at least
//!   `many_min_value_additions` amendments that add value. Serial amendments point
//!   at poor planning or an object that changes after the tender. One finding per
//!   (UG, contract number), listing every record with that number. Severity high
//!   with the value additions and 25% growth, critical when those added R$ 10
//!   million or more; financial_impact = final − initial when positive.
//!
//! Each rule keeps at most `max_findings_per_rule` findings, the strongest first.

pub use crate::config::detectors::PaymentSettings;
use std::collections::HashMap;

use chrono::NaiveDate;
use serde_json::json;

use crate::domain::format;
use crate::domain::text::fold;
use crate::sources::contracts::model::contract_label;
use crate::sources::contracts::model::{Contract, Dataset, Detector, Family, Finding, Severity};

pub const AMENDMENT_OVER_LEGAL_LIMIT: &str = "payment.amendment_over_legal_limit";
pub const VALUE_DISCREPANCY: &str = "payment.value_discrepancy";
pub const MANY_AMENDMENTS: &str = "payment.many_amendments";

/// Folded words that make an amendment a term extension, a value addition, or
/// a price update. Substrings, so "prorrog" covers prorrogação and prorrogar.
const EXTENSION_WORDS: &[&str] = &["prorrog", "vigencia", "prazo", "renovac", "renovar"];
const ADDITION_WORDS: &[&str] = &[
    "acresc",
    "quantitativ",
    "aditamento de valor",
    "aditivo de valor",
];
const PRICE_UPDATE_WORDS: &[&str] = &["reajust", "repactu", "reequilibr"];

pub struct PaymentDetector {
    pub settings: PaymentSettings,
}

impl Detector<Dataset> for PaymentDetector {
    fn family(&self) -> Family {
        Family::Payment
    }

    fn detect(&self, data: &Dataset) -> Vec<Finding> {
        let s = &self.settings;
        let c = &data.contracts;
        let cap = s.max_findings_per_rule;
        let mut out = Vec::new();
        out.extend(strongest(over_legal_limit(c, s), c, cap));
        out.extend(strongest(value_discrepancy(c, s), c, cap));
        out.extend(strongest(many_amendments(c, s), c, cap));
        out
    }
}

use crate::analysis::rank::{keep_strongest, strongest, Rank};

/// The records whose values pass `test(initial, final)`, grouped so that the
/// same contract published more than once (republished with a new end date, or
/// once per subsystem: several keys, one value history) is reported once. A
/// group is the records sharing UG, number, supplier and both values, in order
/// of its first record. Only the records that pass are grouped: the test is on
/// the values, which a group shares, and it is cheap where hashing a million
/// identities is not.
fn value_groups(contracts: &[Contract], test: impl Fn(f64, f64) -> bool) -> Vec<Vec<usize>> {
    type Identity<'a> = (Option<&'a str>, &'a str, Option<&'a str>, u64, u64);
    // A hash map is safe here: the groups are put in record order below, so its
    // iteration order never reaches the output.
    let mut groups: HashMap<Identity, Vec<usize>> = HashMap::new();
    for (i, c) in contracts.iter().enumerate() {
        let (Some(initial), Some(fin)) = (c.initial_value, c.final_value) else {
            continue;
        };
        if !test(initial, fin) {
            continue;
        }
        groups
            .entry((
                c.ug.code.as_deref(),
                c.number.as_str(),
                c.supplier_code.as_deref(),
                initial.to_bits(),
                fin.to_bits(),
            ))
            .or_default()
            .push(i);
    }
    let mut out: Vec<Vec<usize>> = groups.into_values().collect();
    out.sort_unstable_by_key(|g| g[0]);
    out
}

fn plural(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// What a contract's distinct amendments say.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
struct AmendmentSummary {
    distinct: usize,
    extensions: usize,
    additions: usize,
    price_updates: usize,
    /// Neither extension, addition nor price update ("alteração contratual", a
    /// change of address, the object repeated…).
    other: usize,
    last_published: Option<NaiveDate>,
}

/// Amendments repeat in the source (the same term in two monthly files): one
/// per number, or per (date, text) when the number is missing.
fn summarize_amendments(c: &Contract) -> AmendmentSummary {
    // A contract has a handful of amendments: a linear search beats a set.
    let mut seen: Vec<(Option<&str>, Option<NaiveDate>, &str)> = Vec::new();
    let mut sum = AmendmentSummary::default();
    for a in &c.amendments {
        let id = match a.number.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
            Some(n) => (Some(n), None, ""),
            None => (None, a.published, a.object.as_str()),
        };
        if seen.contains(&id) {
            continue;
        }
        seen.push(id);
        sum.distinct += 1;
        let folded = fold(&a.object);
        let has = |words: &[&str]| words.iter().any(|w| folded.contains(w));
        let (ext, add, price) = (
            has(EXTENSION_WORDS),
            has(ADDITION_WORDS),
            has(PRICE_UPDATE_WORDS),
        );
        sum.extensions += usize::from(ext);
        sum.additions += usize::from(add);
        sum.price_updates += usize::from(price);
        sum.other += usize::from(!ext && !add && !price);
        sum.last_published = sum.last_published.max(a.published);
    }
    sum
}

fn amendments_text(a: &AmendmentSummary) -> String {
    if a.distinct == 0 {
        return "Não há termos aditivos deste contrato no conjunto analisado.".to_string();
    }
    format!(
        "Termos aditivos registrados: {} ({} de prorrogação, {} de acréscimo de valor, {} \
         de reajuste, repactuação ou reequilíbrio, {} de outros tipos; um aditivo pode \
         tratar de mais de um assunto).",
        a.distinct, a.extensions, a.additions, a.price_updates, a.other
    )
}

/// Validity in days, when both ends are known and in order.
fn validity_days(c: &Contract) -> Option<i64> {
    match (c.valid_from, c.valid_until) {
        (Some(from), Some(until)) if until > from => Some((until - from).num_days()),
        _ => None,
    }
}

/// The numbers behind one `payment.amendment_over_legal_limit` finding.
struct OverLimit {
    records: Vec<usize>,
    initial: f64,
    fin: f64,
    limit: f64,
    renovation: bool,
    continuous: bool,
    continuous_object: bool,
    periods: usize,
    days: Option<i64>,
    allowed: f64,
    growth: f64,
    amendments: AmendmentSummary,
    /// Energy, water and sewage, post: bought by estimated consumption.
    utility: bool,
}

/// `payment.amendment_over_legal_limit`.
fn over_legal_limit(contracts: &[Contract], s: &PaymentSettings) -> Vec<Finding> {
    let smallest_limit = s.addition_limit.min(s.renovation_limit);
    // Cheap numeric tests first: text is folded only for the few candidates.
    let groups = value_groups(contracts, |initial, fin| {
        initial > 0.0
            && fin > initial * (1.0 + smallest_limit)
            && fin <= initial * s.discrepancy_high_ratio
            // Exactly 10× (a zero typed twice) is a slip for value_discrepancy to
            // report, not an addition: on the real data it made critical findings.
            && typing_pattern(fin / initial).is_none()
    });
    let mut candidates = Vec::new();
    for records in groups {
        let c = &contracts[records[0]];
        let (Some(initial), Some(fin)) = (c.initial_value, c.final_value) else {
            continue;
        };
        let object = fold(&c.object);
        let renovation = object.contains("reforma");
        let limit = if renovation {
            s.renovation_limit
        } else {
            s.addition_limit
        };
        if fin <= initial * (1.0 + limit) {
            continue;
        }
        let a = summarize_amendments(c);
        let continuous_object = object.contains("continu");
        let continuous = a.extensions > 0 || continuous_object || a.additions == 0;
        let days = validity_days(c);
        let periods = match (continuous, days) {
            (false, _) => 1,
            (true, Some(days)) => {
                (((days - s.period_slack_days) as f64 / 365.25).ceil() as usize).max(1)
            }
            (true, None) => 1 + a.extensions,
        };
        let allowed = initial * periods as f64 * (1.0 + limit);
        let excess = fin - allowed;
        if excess < s.min_excess_value.max(f64::MIN_POSITIVE) {
            continue;
        }
        let growth = fin / (initial * periods as f64) - 1.0;
        let points = match excess {
            e if e >= 1_000_000.0 => 2,
            e if e >= 100_000.0 => 1,
            _ => 0,
        } + match growth - limit {
            g if g >= 1.0 => 2,
            g if g >= 0.25 => 1,
            _ => 0,
        };
        let utility = c
            .supplier_name
            .as_deref()
            .is_some_and(super::vendor::is_utility);
        let severity = match points {
            // Consumption measured against an estimate: worth a look, not the
            // front page.
            3 | 4 if utility => Severity::Medium,
            _ if utility => Severity::Low,
            4 => Severity::Critical,
            3 => Severity::High,
            1 | 2 => Severity::Medium,
            _ => Severity::Low,
        };
        let confidence = match (a.additions > 0, a.extensions > 0) {
            (true, false) => 0.85,
            (true, true) => 0.6,
            (false, _) if a.price_updates > 0 => 0.35,
            (false, _) => 0.45,
        } * if utility { 0.6 } else { 1.0 };
        let rank = Rank {
            severity,
            impact: excess,
            confidence,
            first: records[0],
        };
        candidates.push((
            rank,
            OverLimit {
                records,
                initial,
                fin,
                limit,
                renovation,
                continuous,
                continuous_object,
                periods,
                days,
                allowed,
                growth,
                amendments: a,
                utility,
            },
        ));
    }
    keep_strongest(candidates, contracts, s.max_findings_per_rule)
        .into_iter()
        .map(|(rank, o)| over_limit_finding(&contracts[rank.first], rank, o))
        .collect()
}

fn over_limit_finding(c: &Contract, rank: Rank, o: OverLimit) -> Finding {
    let a = &o.amendments;
    let limit_text = if o.renovation {
        format!(
            "{} para reforma de edifício ou equipamento",
            format::percent(o.limit)
        )
    } else {
        format::percent(o.limit)
    };
    let period_text = if o.periods > 1 {
        let why = if a.extensions > 0 {
            "há termos de prorrogação"
        } else if o.continuous_object {
            "o objeto é um serviço contínuo"
        } else {
            "a vigência é longa e nenhum aditivo registrado fala em acréscimo"
        };
        let span = match (c.valid_from, c.valid_until) {
            (Some(from), Some(until)) => format!(
                "a vigência de {} a {} ",
                format::date(from),
                format::date(until)
            ),
            _ => String::new(),
        };
        format!(
            "Como {why}, tratamos o contrato como serviço contínuo, em que cada prorrogação \
             renova o valor por um novo período e não conta para o limite: {span}equivale a \
             {} períodos de 12 meses, o que admite até {}.",
            o.periods,
            format::reais(o.allowed)
        )
    } else if a.additions > 0 {
        format!(
            "Há aditivos de acréscimo e nada indica prorrogações de serviço contínuo, que \
             renovariam o valor: o máximo permitido é {}.",
            format::reais(o.allowed)
        )
    } else {
        format!(
            "Nada indica prorrogações de um serviço contínuo (que renovariam o valor por um \
             novo período): o máximo permitido é {}.",
            format::reais(o.allowed)
        )
    };
    let price_text = if a.price_updates > 0 {
        " Reajustes, repactuações e reequilíbrios não se sujeitam ao limite e podem explicar \
         parte do aumento."
    } else {
        ""
    };
    let utility_text = if o.utility {
        " Energia, água e esgoto e serviços postais são contratados por estimativa de \
         consumo: o valor final acompanha o consumo medido, e um acréscimo além do limite \
         costuma indicar estimativa ruim, mais do que aditivo irregular."
    } else {
        ""
    };
    let total_growth = o.fin / o.initial - 1.0;
    Finding {
        family: Family::Payment,
        rule: AMENDMENT_OVER_LEGAL_LIMIT,
        severity: rank.severity,
        confidence: rank.confidence,
        description: format!(
            "{}: valor final {} ({} acima do inicial), além do limite legal de {}",
            contract_label(c),
            format::reais(o.fin),
            format::percent(total_growth),
            format::percent(o.limit)
        ),
        explanation: format!(
            "O contrato começou com {} e chegou a {}, {} a mais. A Lei 8.666/1993 (art. 65, \
             §1º) limita os acréscimos a {limit_text} do valor inicial. {period_text} \
             {}{price_text} O valor final supera o permitido em {}.{utility_text}",
            format::reais(o.initial),
            format::reais(o.fin),
            format::percent(total_growth),
            amendments_text(a),
            format::reais(rank.impact),
        ),
        records: o.records,
        suggested_actions: vec![
            "Examinar os termos aditivos e as justificativas técnicas de cada acréscimo."
                .to_string(),
            "Verificar se o objeto foi descaracterizado em relação ao que foi licitado."
                .to_string(),
        ],
        evidence: json!({
            "initial_value": o.initial,
            "final_value": o.fin,
            "limit": o.limit,
            "renovation": o.renovation,
            "periods": o.periods,
            "validity_days": o.days,
            "continuous": o.continuous,
            "allowed_value": o.allowed,
            "growth_per_period": o.growth,
            "amendments": a.distinct,
            "extension_amendments": a.extensions,
            "addition_amendments": a.additions,
            "price_update_amendments": a.price_updates,
            "utility": o.utility,
        }),
        financial_impact: rank.impact,
    }
}

/// A ratio that reads as a typing slip: a power of ten, or 12 (a monthly value
/// against a yearly one), either way up. A power of ten within 2.6% counts: a
/// slip of the decimal comma on a value also amended a little (98.4 times, on
/// the real file, is R$ 2.4 million typed as R$ 240 million after a 1.6% cut).
fn typing_pattern(ratio: f64) -> Option<&'static str> {
    let r = if ratio < 1.0 { 1.0 / ratio } else { ratio };
    let l = r.log10();
    if l.round() >= 1.0 && (l - l.round()).abs() < 0.011 {
        Some("power_of_ten")
    } else if (r / 12.0 - 1.0).abs() < 0.01 {
        Some("twelve")
    } else if r >= crate::sources::contracts::sanitize::IMPROBABLE_RATIO {
        Some("improbable")
    } else {
        None
    }
}

/// `payment.value_discrepancy`.
fn value_discrepancy(contracts: &[Contract], s: &PaymentSettings) -> Vec<Finding> {
    let groups = value_groups(contracts, |initial, fin| {
        initial > 0.0
            && fin > 0.0
            && initial.max(fin) >= s.discrepancy_min_value
            && (fin > initial * s.discrepancy_high_ratio
                || fin < initial * s.discrepancy_low_ratio
                || typing_pattern(fin / initial).is_some())
    });
    let mut candidates = Vec::new();
    for records in groups {
        let c = &contracts[records[0]];
        let (Some(initial), Some(fin)) = (c.initial_value, c.final_value) else {
            continue;
        };
        let ratio = fin / initial;
        let growth = ratio > 1.0;
        let pattern = typing_pattern(ratio);
        let severity = match (growth, pattern.is_some()) {
            (true, false) if fin - initial >= 100_000_000.0 => Severity::Critical,
            (true, false) if fin - initial >= 10_000_000.0 => Severity::High,
            (true, false) => Severity::Medium,
            (true, true) if fin >= 10_000_000.0 => Severity::Medium,
            (false, false) if initial >= 10_000_000.0 => Severity::Medium,
            _ => Severity::Low,
        };
        let rank = Rank {
            severity,
            impact: if growth && pattern.is_none() {
                fin - initial
            } else {
                0.0
            },
            confidence: if pattern.is_some() { 0.9 } else { 0.6 },
            first: records[0],
        };
        candidates.push((rank, (records, initial, fin, pattern)));
    }
    keep_strongest(candidates, contracts, s.max_findings_per_rule)
        .into_iter()
        .map(|(rank, (records, initial, fin, pattern))| {
            let c = &contracts[rank.first];
            let ratio = fin / initial;
            let growth = ratio > 1.0;
            let ratio_text = if growth {
                format!("{} vezes o inicial", format::decimal(ratio, 1))
            } else {
                format!("apenas {} do inicial", format::percent(ratio))
            };
            let reading = match (pattern, growth) {
                (Some("twelve"), _) => format!(
                    "A razão entre os valores é de 12 vezes ({}), o que sugere que um deles foi \
                     registrado como valor mensal e o outro como total: o dado publicado \
                     provavelmente está errado.",
                    format::decimal(if growth { ratio } else { 1.0 / ratio }, 2)
                ),
                (Some("improbable"), _) => format!(
                    "Os valores diferem {} vezes, muito além do que aditivos permitem (a lei \
                     limita acréscimos a {} do valor inicial): o mais provável é um erro de \
                     registro, como casas decimais, valor mensal contra total, ou o valor global \
                     de uma ata registrado como valor do contrato. O erro em si merece correção \
                     nos dados publicados.",
                    format::decimal(if growth { ratio } else { 1.0 / ratio }, 0),
                    format::percent(s.addition_limit),
                ),
                (Some(_), _) => format!(
                    "A razão entre os valores é uma potência de dez ({}), o que sugere erro de \
                     digitação das casas decimais em um deles: o dado publicado provavelmente \
                     está errado.",
                    format::decimal(if growth { ratio } else { 1.0 / ratio }, 0)
                ),
                (None, true) => format!(
                    "Um aumento desse tamanho não cabe no limite de aditamentos da Lei \
                     8.666/1993 ({} do valor inicial) nem em prorrogações usuais; {} foram \
                     pagos ou comprometidos além do contratado, ou o registro está errado.",
                    format::percent(s.addition_limit),
                    format::reais(fin - initial)
                ),
                (None, false) => "Pode indicar execução cancelada ou interrompida, rescisão, \
                                  ou erro de registro."
                    .to_string(),
            };
            Finding {
                family: Family::Payment,
                rule: VALUE_DISCREPANCY,
                severity: rank.severity,
                confidence: rank.confidence,
                description: format!(
                    "{}: valor final {} é {ratio_text} ({})",
                    contract_label(c),
                    format::reais(fin),
                    format::reais(initial)
                ),
                explanation: format!(
                    "O contrato foi registrado com valor inicial de {} e valor final de {}. \
                     {reading} Esta regra aponta valores finais abaixo de {} ou acima de {} \
                     vezes o inicial, em contratos de pelo menos {}. {}",
                    format::reais(initial),
                    format::reais(fin),
                    format::percent(s.discrepancy_low_ratio),
                    format::decimal(s.discrepancy_high_ratio, 0),
                    format::reais(s.discrepancy_min_value),
                    amendments_text(&summarize_amendments(c)),
                ),
                records,
                suggested_actions: vec![
                    "Conferir os valores no processo e nos empenhos e pagamentos do contrato."
                        .to_string(),
                    "Pedir à unidade a correção do registro no Portal, se o valor estiver \
                     errado."
                        .to_string(),
                ],
                evidence: json!({
                    "initial_value": initial,
                    "final_value": fin,
                    "ratio": ratio,
                    "pattern": pattern,
                    "low_ratio": s.discrepancy_low_ratio,
                    "high_ratio": s.discrepancy_high_ratio,
                }),
                financial_impact: rank.impact,
            }
        })
        .collect()
}

/// The numbers behind one `payment.many_amendments` finding.
struct ManyAmendments {
    records: Vec<usize>,
    amendments: AmendmentSummary,
    start: Option<NaiveDate>,
    years: Option<f64>,
    rate: Option<f64>,
    growth: Option<f64>,
}

/// `payment.many_amendments`. Confidence 0.7 with the value additions, else 0.5.
fn many_amendments(contracts: &[Contract], s: &PaymentSettings) -> Vec<Finding> {
    let needed = s.many_min_amendments.min(s.many_min_value_additions).max(1);
    // Amendments attach by (UG, number): records sharing that pair share them.
    // As in `value_groups`, the hash map's order is replaced by record order.
    let mut by_number: HashMap<(Option<&str>, &str), Vec<usize>> = HashMap::new();
    for (i, c) in contracts.iter().enumerate() {
        if c.amendments.len() >= needed {
            by_number
                .entry((c.ug.code.as_deref(), c.number.as_str()))
                .or_default()
                .push(i);
        }
    }
    let mut groups: Vec<Vec<usize>> = by_number.into_values().collect();
    groups.sort_unstable_by_key(|g| g[0]);

    let mut candidates = Vec::new();
    for records in groups {
        // The record with the most amendments speaks for the group.
        let Some(&lead) = records.iter().max_by(|&&a, &&b| {
            contracts[a]
                .amendments
                .len()
                .cmp(&contracts[b].amendments.len())
                .then_with(|| contracts[b].key.cmp(&contracts[a].key))
        }) else {
            continue;
        };
        let c = &contracts[lead];
        let a = summarize_amendments(c);
        let start = c.signed.or(c.valid_from);
        let years = match (start, a.last_published) {
            (Some(start), Some(last)) => Some(((last - start).num_days() as f64 / 365.25).max(1.0)),
            _ => None,
        };
        let rate = years.map(|y| a.distinct as f64 / y);
        let frequent =
            a.distinct >= s.many_min_amendments && rate.is_some_and(|r| r > s.many_min_per_year);
        let additions = a.additions >= s.many_min_value_additions;
        if !frequent && !additions {
            continue;
        }
        let added = match (c.initial_value, c.final_value) {
            (Some(i), Some(f)) => Some(f - i),
            _ => None,
        };
        let growth = match (c.initial_value, c.final_value) {
            (Some(i), Some(f)) if i > 0.0 => Some(f / i - 1.0),
            _ => None,
        };
        let severity = if additions && added.is_some_and(|v| v >= 10_000_000.0) {
            Severity::Critical
        } else if additions && growth.is_some_and(|g| g >= 0.25) {
            Severity::High
        } else if additions || rate.is_some_and(|r| r >= 2.0 * s.many_min_per_year) {
            Severity::Medium
        } else {
            Severity::Low
        };
        let rank = Rank {
            severity,
            impact: added.unwrap_or(0.0).max(0.0),
            confidence: if additions { 0.7 } else { 0.5 },
            first: lead,
        };
        candidates.push((
            rank,
            ManyAmendments {
                records,
                amendments: a,
                start,
                years,
                rate,
                growth,
            },
        ));
    }
    keep_strongest(candidates, contracts, s.max_findings_per_rule)
        .into_iter()
        .map(|(rank, m)| many_amendments_finding(&contracts[rank.first], rank, m, s))
        .collect()
}

fn many_amendments_finding(
    c: &Contract,
    rank: Rank,
    m: ManyAmendments,
    s: &PaymentSettings,
) -> Finding {
    let a = &m.amendments;
    let since = m.start.map_or_else(String::new, |d| {
        format!(", assinado em {},", format::date(d))
    });
    let until = a.last_published.map_or_else(String::new, |d| {
        format!(" publicados até {}", format::date(d))
    });
    let rate_text = m.rate.map_or_else(String::new, |r| {
        format!(" ({} por ano)", format::decimal(r, 1))
    });
    let values_text = match (c.initial_value, c.final_value) {
        (Some(i), Some(f)) => format!(
            " Valor inicial {}, valor final {}{}.",
            format::reais(i),
            format::reais(f),
            m.growth.map_or_else(String::new, |g| format!(
                " ({} de variação)",
                format::percent(g)
            ))
        ),
        _ => String::new(),
    };
    let shared = if m.records.len() > 1 {
        format!(
            " O número {} aparece em {} registros desta unidade; o Portal vincula os aditivos \
             ao número, por isso todos são listados.",
            c.number,
            m.records.len()
        )
    } else {
        String::new()
    };
    Finding {
        family: Family::Payment,
        rule: MANY_AMENDMENTS,
        severity: rank.severity,
        confidence: rank.confidence,
        description: format!(
            "{}: {}, {} de acréscimo de valor",
            contract_label(c),
            plural(a.distinct, "termo aditivo", "termos aditivos"),
            a.additions
        ),
        explanation: format!(
            "O contrato{since} tem {}{until}{rate_text}. {}{values_text} Esta regra aponta \
             contratos com pelo menos {} aditivos e mais de {} por ano, ou com {} ou mais \
             aditivos de acréscimo de valor. Aditivos em série podem indicar planejamento \
             deficiente ou um objeto que muda depois da licitação.{shared}",
            plural(
                a.distinct,
                "termo aditivo distinto",
                "termos aditivos distintos"
            ),
            amendments_text(a),
            s.many_min_amendments,
            format::decimal(s.many_min_per_year, 1),
            s.many_min_value_additions,
        ),
        evidence: json!({
            "amendments": a.distinct,
            "extension_amendments": a.extensions,
            "addition_amendments": a.additions,
            "price_update_amendments": a.price_updates,
            "other_amendments": a.other,
            "years": m.years,
            "amendments_per_year": m.rate,
            "initial_value": c.initial_value,
            "final_value": c.final_value,
            "records_with_number": m.records.len(),
        }),
        records: m.records,
        suggested_actions: vec![
            "Ler os termos aditivos em sequência e verificar se o objeto final corresponde ao \
             licitado."
                .to_string(),
            "Conferir os pareceres jurídicos e as justificativas de cada aditivo.".to_string(),
        ],
        financial_impact: rank.impact,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::contracts::model::Amendment;
    use crate::sources::contracts::model::Unit;
    use crate::sources::contracts::rules::{of_rule, severity_counts};

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("valid date")
    }

    /// A one-year contract signed 10/01/2022.
    fn contract(key: &str, initial: f64, fin: f64, object: &str) -> Contract {
        Contract {
            key: key.to_string(),
            number: key.to_string(),
            object: object.to_string(),
            ug: Unit {
                code: Some("153052".into()),
                name: Some("UNIVERSIDADE FEDERAL DE GOIAS".into()),
            },
            signed: Some(d(2022, 1, 10)),
            published: Some(d(2022, 1, 20)),
            valid_from: Some(d(2022, 1, 10)),
            valid_until: Some(d(2023, 1, 10)),
            supplier_code: Some("11222333000181".into()),
            supplier_name: Some("ACME LTDA".into()),
            initial_value: Some(initial),
            final_value: Some(fin),
            ..Contract::default()
        }
    }

    fn amendment(number: &str, published: NaiveDate, object: &str) -> Amendment {
        Amendment {
            number: Some(number.to_string()),
            published: Some(published),
            object: object.to_string(),
        }
    }

    fn detect(contracts: Vec<Contract>) -> Vec<Finding> {
        PaymentDetector {
            settings: PaymentSettings::default(),
        }
        .detect(&Dataset {
            contracts,
            ..Default::default()
        })
    }

    #[test]
    fn additions_beyond_a_quarter_of_the_initial_value_are_flagged() {
        let mut big = contract("big", 1_000_000.0, 3_000_000.0, "Aquisição de computadores");
        big.amendments = vec![
            amendment("1", d(2022, 5, 1), "ACRÉSCIMO QUANTITATIVO DE 25%"),
            amendment("2", d(2022, 8, 1), "ACRÉSCIMO DE ITENS"),
        ];
        let mut small = contract("small", 200_000.0, 320_000.0, "Material de limpeza");
        small.amendments = vec![amendment("1", d(2022, 5, 1), "ACRESCENTAR O VALOR")];
        let findings = detect(vec![small, big]);
        let over = of_rule(&findings, AMENDMENT_OVER_LEGAL_LIMIT);
        assert_eq!(over.len(), 2, "{over:#?}");
        assert_eq!(over[0].records, vec![1]);
        assert!(over[0].severity > over[1].severity);
        assert_eq!(over[0].severity, Severity::Critical);
        // 3.000.000 − 1.000.000 × 1,25
        assert_eq!(over[0].financial_impact, 1_750_000.0);
        assert_eq!(over[0].confidence, 0.85);
        assert!(over[0].description.contains("Contrato big de ACME LTDA"));
        assert!(
            over[0].description.contains("200,0% acima"),
            "{}",
            over[0].description
        );
        assert!(
            over[0].explanation.contains("R$ 1.250.000,00"),
            "{}",
            over[0].explanation
        );
        assert!(over[0].explanation.contains("2 de acréscimo de valor"));
        assert!(over[0].explanation.contains("R$ 1.750.000,00"));
        assert_eq!(over[1].financial_impact, 70_000.0);
    }

    #[test]
    fn a_utility_bought_by_estimate_is_explained_and_shown_lower() {
        let mut energy = contract(
            "energy",
            1_000_000.0,
            3_000_000.0,
            "Fornecimento de energia",
        );
        energy.supplier_name =
            Some("ENERGISA MATO GROSSO DO SUL - DISTRIBUIDORA DE ENERGIA S.A.".into());
        energy.amendments = vec![amendment("1", d(2022, 5, 1), "ACRÉSCIMO DE VALOR")];
        let findings = detect(vec![energy]);
        let over = of_rule(&findings, AMENDMENT_OVER_LEGAL_LIMIT);
        assert_eq!(over.len(), 1, "still reported");
        assert_eq!(
            over[0].severity,
            Severity::Medium,
            "critical for another supplier"
        );
        assert!(
            over[0].explanation.contains("estimativa de consumo"),
            "{}",
            over[0].explanation
        );
        assert_eq!(over[0].evidence["utility"], true);
    }

    #[test]
    fn extended_continuous_services_are_not_additions() {
        // 60 months of cleaning services at the initial yearly value, plus
        // inflation: the growth is the new periods, not an addition.
        let mut extended = contract("ext", 1_000_000.0, 5_600_000.0, "Serviços de limpeza");
        extended.valid_from = Some(d(2017, 1, 10));
        extended.valid_until = Some(d(2022, 1, 10));
        extended.amendments = vec![
            amendment("1", d(2018, 1, 5), "PRORROGAÇÃO DO PRAZO DE VIGÊNCIA"),
            amendment("2", d(2019, 1, 5), "PRORROGAÇÃO DA VIGÊNCIA E REAJUSTE"),
            amendment("3", d(2020, 1, 5), "PRORROGAÇÃO POR MAIS 12 MESES"),
        ];
        // No amendments recorded, but three years of validity.
        let mut long = contract("long", 500_000.0, 1_400_000.0, "Vigilância patrimonial");
        long.valid_from = Some(d(2019, 3, 1));
        long.valid_until = Some(d(2022, 3, 1));
        // Within 50% for a renovation.
        let reforma = contract(
            "ref",
            1_000_000.0,
            1_450_000.0,
            "Reforma do prédio da reitoria",
        );
        // Above 10× is the discrepancy rule's.
        let tenfold = contract("x", 100_000.0, 1_500_000.0, "Aquisição de mobiliário");
        let findings = detect(vec![extended, long, reforma, tenfold]);
        assert!(
            of_rule(&findings, AMENDMENT_OVER_LEGAL_LIMIT).is_empty(),
            "{findings:#?}"
        );
    }

    #[test]
    fn growth_beyond_the_extended_periods_is_still_flagged() {
        // Two years of validity allow 2 × 125% of the initial; 6× is far beyond.
        let mut c = contract("med", 500_000.0, 3_000_000.0, "Serviços médicos");
        c.valid_from = Some(d(2021, 1, 10));
        c.valid_until = Some(d(2023, 1, 10));
        c.amendments = vec![amendment("1", d(2022, 1, 5), "PRORROGAÇÃO DE VIGÊNCIA")];
        let findings = detect(vec![c]);
        let over = of_rule(&findings, AMENDMENT_OVER_LEGAL_LIMIT);
        assert_eq!(over.len(), 1);
        assert_eq!(
            over[0].financial_impact,
            3_000_000.0 - 2.0 * 500_000.0 * 1.25
        );
        assert!(
            over[0].explanation.contains("2 períodos de 12 meses"),
            "{}",
            over[0].explanation
        );
        assert!(
            over[0].explanation.contains("R$ 1.250.000,00"),
            "{}",
            over[0].explanation
        );
        assert_eq!(over[0].confidence, 0.45);
    }

    #[test]
    fn a_final_value_exactly_ten_times_the_initial_is_a_slip_not_an_addition() {
        // On the real data: R$ 19.690.000,00 registered as R$ 196.900.000,00.
        let contracts = vec![contract(
            "zero",
            19_690_000.0,
            196_900_000.0,
            "Obra de engenharia",
        )];
        let findings = detect(contracts);
        assert!(
            of_rule(&findings, AMENDMENT_OVER_LEGAL_LIMIT).is_empty(),
            "{findings:#?}"
        );
        let disc = of_rule(&findings, VALUE_DISCREPANCY);
        assert_eq!(disc.len(), 1, "{findings:#?}");
        assert_eq!(
            disc[0].financial_impact, 0.0,
            "a slip puts no money at stake"
        );
    }

    #[test]
    fn a_final_value_a_thousand_times_the_initial_is_a_registration_error_not_money() {
        // As in the real data: R$ 3.388.022.201,81 against R$ 3.940.000,00.
        let contracts = vec![contract(
            "ata",
            3_940_000.0,
            3_388_022_201.81,
            "Aquisição de equipamentos de informática",
        )];
        let findings = detect(contracts);
        let disc = of_rule(&findings, VALUE_DISCREPANCY);
        assert_eq!(disc.len(), 1);
        assert_eq!(
            disc[0].severity,
            Severity::Medium,
            "reported, not headlined"
        );
        assert_eq!(
            disc[0].financial_impact, 0.0,
            "a registration error puts no money at stake"
        );
        assert!(
            disc[0].explanation.contains("erro de registro"),
            "{}",
            disc[0].explanation
        );
    }

    #[test]
    fn huge_or_collapsed_final_values_are_discrepancies() {
        let typo = contract(
            "typo",
            1_290.10,
            1_290_100.0,
            "Solução de proteção de perímetro",
        );
        let grown = contract("grown", 2_000_000.0, 45_000_000.0, "Serviços de TI");
        let collapsed = contract("gone", 20_000_000.0, 500_000.0, "Obra de engenharia");
        let regular = contract("ok", 2_000_000.0, 2_100_000.0, "Serviços de TI");
        let tiny = contract("tiny", 10_000.0, 150_000.0, "Café");
        let contracts = vec![typo, grown, collapsed, regular, tiny];
        let findings = detect(contracts.clone());
        let disc = of_rule(&findings, VALUE_DISCREPANCY);
        let keys: Vec<&str> = disc
            .iter()
            .map(|f| contracts[f.records[0]].key.as_str())
            .collect();
        assert_eq!(keys, ["grown", "gone", "typo"], "{disc:#?}");
        assert_eq!(disc[0].severity, Severity::High);
        assert_eq!(disc[0].financial_impact, 43_000_000.0);
        assert!(
            disc[0].description.contains("22,5 vezes o inicial"),
            "{}",
            disc[0].description
        );
        assert!(
            disc[1].description.contains("apenas 2,5% do inicial"),
            "{}",
            disc[1].description
        );
        assert_eq!(disc[2].confidence, 0.9);
        assert_eq!(disc[2].financial_impact, 0.0);
        assert!(
            disc[2].explanation.contains("potência de dez (1000)"),
            "{}",
            disc[2].explanation
        );
        assert!(disc[2].explanation.contains("R$ 1.290.100,00"));
    }

    #[test]
    fn a_contract_amended_every_few_months_is_flagged_once_per_number() {
        let mut c = contract("many", 1_000_000.0, 1_400_000.0, "Obra de ampliação");
        c.amendments = (1..=7)
            .map(|n| {
                let object = if n <= 3 {
                    "ACRÉSCIMO DE SERVIÇOS"
                } else {
                    "PRORROGAÇÃO DE PRAZO"
                };
                amendment(&n.to_string(), d(2022, n, 15), object)
            })
            .collect();
        // The same amendment published twice counts once.
        c.amendments
            .push(amendment("7", d(2022, 7, 15), "PRORROGAÇÃO DE PRAZO"));
        let mut republished = c.clone();
        republished.key = "many-2".to_string();
        republished.valid_until = Some(d(2023, 6, 1));
        // Yearly extensions over ten years are routine.
        let mut lease = contract("lease", 100_000.0, 150_000.0, "Locação de imóvel");
        lease.signed = Some(d(2012, 1, 10));
        lease.amendments = (1..=10)
            .map(|n| amendment(&n.to_string(), d(2012 + n, 1, 5), "PRORROGAÇÃO DA VIGÊNCIA"))
            .collect();
        let contracts = vec![c, lease, republished];
        let findings = detect(contracts.clone());
        let many = of_rule(&findings, MANY_AMENDMENTS);
        assert_eq!(many.len(), 1, "{many:#?}");
        assert_eq!(many[0].records, vec![0, 2]);
        assert_eq!(many[0].severity, Severity::High);
        assert!(
            many[0]
                .description
                .contains("7 termos aditivos, 3 de acréscimo"),
            "{}",
            many[0].description
        );
        assert!(
            many[0].explanation.contains("7,0 por ano"),
            "{}",
            many[0].explanation
        );
        assert!(many[0].explanation.contains("2 registros"));
        assert_eq!(many[0].financial_impact, 400_000.0);
    }

    #[test]
    fn regular_contracts_give_nothing() {
        let mut a = contract("a", 1_000_000.0, 1_200_000.0, "Serviços de limpeza");
        a.amendments = vec![amendment("1", d(2022, 6, 1), "ACRÉSCIMO DE 20%")];
        let b = contract("b", 500_000.0, 500_000.0, "Aquisição de papel");
        let mut unknown = contract("c", 500_000.0, 0.0, "Aquisição de papel");
        unknown.final_value = None;
        assert!(detect(vec![a, b, unknown]).is_empty());
    }

    #[test]
    fn the_same_data_gives_the_same_findings_in_the_same_order() {
        let contracts = vec![
            contract("a", 1_000_000.0, 2_000_000.0, "Aquisição de papel"),
            contract("b", 1_000_000.0, 2_000_000.0, "Aquisição de papel"),
            contract("c", 2_000_000.0, 45_000_000.0, "Serviços de TI"),
        ];
        let first = detect(contracts.clone());
        assert_eq!(first.len(), 3);
        assert_eq!(first, detect(contracts));
    }

    /// Real data, when the Portal parser can read it (run with --nocapture).
    #[test]
    fn real_contracts_give_a_modest_number_of_findings_per_rule() {
        let contracts = crate::sources::contracts::rules::real_data().contracts;
        let started = std::time::Instant::now();
        let findings = PaymentDetector {
            settings: PaymentSettings::default(),
        }
        .detect(&Dataset {
            contracts,
            ..Default::default()
        });
        let elapsed = started.elapsed();
        for rule in [
            AMENDMENT_OVER_LEGAL_LIMIT,
            VALUE_DISCREPANCY,
            MANY_AMENDMENTS,
        ] {
            let n = of_rule(&findings, rule).len();
            eprintln!("{rule}: {n}");
            eprintln!(
                "  severities c/h/m/l: {:?}",
                severity_counts(&of_rule(&findings, rule))
            );
            assert!((20..=200).contains(&n), "{rule} gives {n} findings");
        }
        eprintln!("payment over the real files in {elapsed:?}");
    }
}
