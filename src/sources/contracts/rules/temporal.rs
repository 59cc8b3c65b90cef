//! Temporal anomalies: when contracts are signed and published.
//!
//! Rules (all read `Contract::signed`; money is `initial_value`, the value agreed
//! at signature):
//!
//! - `temporal.monthly_spike`: a month in which an agency signed far more value
//!   (or far more contracts) than in its other months. Sudden concentrations of
//!   spending are where split purchases, emergency contracting and rushed
//!   procurement show up. Per agency, over the months in which it signed at least
//!   one contract (with at least `spike_min_months` of them), the robust z
//!   (median and 1.4826·MAD, see `stats`) of the month's total value and of its
//!   count, both on a log scale — monthly totals vary by factors, not by fixed
//!   amounts, so "z = 2.5" reads as "this many times the typical spread of the
//!   ratios". Months without contracts are not counted as zero: in a download
//!   organised by publication month, an empty month is as likely a gap in the
//!   source as a month without contracts. One finding per (agency, month);
//!   severity by z (≥ 1.5× and 2× the threshold step up) plus one step when the
//!   excess over the median month is ≥ R$ 10 million; financial_impact = month
//!   value − median monthly value.
//! - `temporal.year_end_rush`: an agency that signed a large share of its year's
//!   value in the last `year_end_days` days of December, well above what an even
//!   spread over the year would give. Rushing to commit the budget before it
//!   lapses is a classic source of poorly planned purchases. Only years the
//!   dataset covers completely count (publications in every month of the year
//!   and in the following January): a partial year makes any month look large.
//!   One finding per agency-year; severity by share/expected (5× and 8× step up)
//!   plus one step at ≥ R$ 10 million excess; financial_impact = value in the
//!   window − expected share × year total.
//! - `temporal.weekend_or_holiday_signature`: a UG (unidade gestora) with an
//!   unusual number of contracts dated on Saturdays, Sundays or national holidays
//!   (see `holidays`). One such date alone is common in the real data (2.8% of the
//!   49,414 contracts of 2021–2022; most are 1 January, contracts dated back to
//!   the start of the fiscal year), so the rule is aggregated per UG: at least
//!   `offday_min_count` such contracts, a share at least `offday_share_multiple`
//!   times `offday_expected_share`, and a binomial tail probability below
//!   `offday_max_p_value`. Backdated or mis-recorded signatures undermine the
//!   paper trail auditors rely on. Severity by the share (20% and 50% step up);
//!   financial_impact = value of the contracts with such dates. When most of
//!   them are dated on the day their validity starts (the convention of
//!   recording the start of validity as the signature), the finding says so and
//!   drops one step, with half the confidence, and lists only three of them;
//!   when all are, it is low.
//! - `temporal.signed_after_validity_start`: a contract whose validity began more
//!   than `retroactive_min_days` days before it was signed: services delivered
//!   without a contract (a "contrato verbal", void under Lei 8.666/1993 art. 60,
//!   parágrafo único) and regularised afterwards. Severity by days (90 and 365 step
//!   up) plus one step at ≥ R$ 1 million; financial_impact = initial value × share
//!   of the validity period that preceded the signature.
//! - `temporal.late_dou_publication`: a UG that publishes its contracts' extracts
//!   in the Diário Oficial after the legal deadline. Lei 8.666/1993 art. 61,
//!   parágrafo único: publication is a condition of the contract's efficacy; the
//!   extract must be sent by the 5th working day of the month after signature and
//!   published within 20 days of that date (`publication_grace_days`). Contracts
//!   under Lei 14.133/2021 publish on the PNCP instead (art. 94), but in 2021–2022
//!   almost all federal contracts still followed Lei 8.666. Aggregated per UG
//!   (7,514 of the real contracts are individually late: per contract it would be
//!   noise): at least `late_min_count` late contracts and a late share of at least
//!   `late_min_share`. Severity by share and median delay; financial_impact =
//!   value of the late contracts. Republications are not late publications: the
//!   Portal republishes old contracts (a 1996 signature with a 2021 DOU date), so
//!   a signature more than `republication_days` before its publication is left
//!   out here, and out of the monthly and year-end statistics, which would
//!   otherwise count decades-old months. The deadline follows the law's text
//!   rather than a flat "20 days after signature": that reading would call 16,364
//!   real contracts late, many of them published on time.
//!
//! Confidence grows with how far past its threshold a finding is; each rule's
//! function says how.

pub use crate::config::detectors::TemporalSettings;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{Datelike, NaiveDate};
use serde_json::json;

use crate::domain::format;
use crate::domain::law::{dou, holidays};
use crate::domain::stats::{median, robust_center_scale, robust_z};
use crate::sources::contracts::model::{contract_label, unit_label};
use crate::sources::contracts::model::{Contract, Dataset, Detector, Family, Finding, Severity};

pub const MONTHLY_SPIKE: &str = "temporal.monthly_spike";
pub const YEAR_END_RUSH: &str = "temporal.year_end_rush";
pub const WEEKEND_OR_HOLIDAY_SIGNATURE: &str = "temporal.weekend_or_holiday_signature";
pub const SIGNED_AFTER_VALIDITY_START: &str = "temporal.signed_after_validity_start";
pub const LATE_DOU_PUBLICATION: &str = "temporal.late_dou_publication";

/// Amounts above which a finding is one severity step more serious.
const LARGE_EXCESS: f64 = 10_000_000.0;
const LARGE_CONTRACT: f64 = 1_000_000.0;

pub struct TemporalDetector {
    pub settings: TemporalSettings,
}

impl Detector<Dataset> for TemporalDetector {
    fn family(&self) -> Family {
        Family::Temporal
    }

    fn detect(&self, data: &Dataset) -> Vec<Finding> {
        let s = &self.settings;
        let c = &data.contracts;
        let p = prepare(c, s);
        let cap = s.max_findings_per_rule;
        let mut out = Vec::new();
        out.extend(strongest(monthly_spike(&p, c, s), c, cap));
        out.extend(strongest(year_end_rush(&p, c, s), c, cap));
        out.extend(strongest(offday_signature(&p, c, s), c, cap));
        out.extend(strongest(signed_after_validity(c, s), c, cap));
        out.extend(strongest(late_publication(&p, c, s), c, cap));
        out
    }
}

/// Where a finding ranks, known before its text is written: a per-contract rule
/// can match hundreds of thousands of records in odd data, and only the ones
/// that survive the cap are worth writing up.
use crate::analysis::rank::{keep_strongest, strongest, Rank};

fn step_up(severity: Severity, when: bool) -> Severity {
    match (when, severity) {
        (false, s) => s,
        (true, Severity::Low) => Severity::Medium,
        (true, Severity::Medium) => Severity::High,
        (true, _) => Severity::Critical,
    }
}

/// What the temporal rules read of one contract.
#[derive(Debug, Clone, Copy)]
struct Row {
    agency: Option<u32>,
    ug: Option<u32>,
    signed: Option<NaiveDate>,
    published: Option<NaiveDate>,
    value: Option<f64>,
    /// Signed more than `republication_days` before its DOU publication.
    republication: bool,
}

/// The contracts read once, compactly: agency and UG codes become dense ids (in
/// order of first appearance), so the rules group by index instead of hashing
/// or comparing strings a million times each.
struct Prepared {
    rows: Vec<Row>,
    /// The first record of each agency id, which names it.
    agency_first: Vec<usize>,
    /// The first record of each UG id.
    ug_first: Vec<usize>,
}

fn dense_id<'a>(
    code: Option<&'a str>,
    i: usize,
    ids: &mut HashMap<&'a str, u32>,
    first: &mut Vec<usize>,
) -> Option<u32> {
    let code = code?;
    Some(*ids.entry(code).or_insert_with(|| {
        first.push(i);
        (first.len() - 1) as u32
    }))
}

fn prepare(contracts: &[Contract], s: &TemporalSettings) -> Prepared {
    let mut agency_ids = HashMap::new();
    let mut ug_ids = HashMap::new();
    let mut agency_first = Vec::new();
    let mut ug_first = Vec::new();
    let rows = contracts
        .iter()
        .enumerate()
        .map(|(i, c)| Row {
            agency: dense_id(
                c.agency.code.as_deref(),
                i,
                &mut agency_ids,
                &mut agency_first,
            ),
            ug: dense_id(c.ug.code.as_deref(), i, &mut ug_ids, &mut ug_first),
            signed: c.signed,
            published: c.published,
            value: c.value_signed(),
            republication: matches!((c.signed, c.published),
                (Some(sig), Some(publ)) if (publ - sig).num_days() > s.republication_days),
        })
        .collect();
    Prepared {
        rows,
        agency_first,
        ug_first,
    }
}

/// Records sorted largest value first (unknown values last), ties by key.
fn largest_first(mut records: Vec<usize>, contracts: &[Contract], cap: usize) -> Vec<usize> {
    records.sort_by(|&a, &b| {
        let (va, vb) = (contracts[a].value_signed(), contracts[b].value_signed());
        vb.unwrap_or(-1.0)
            .total_cmp(&va.unwrap_or(-1.0))
            .then_with(|| contracts[a].key.cmp(&contracts[b].key))
    });
    records.truncate(cap);
    records
}

/// Confidence is a judgement, not a measurement: two decimals say all it means.
fn two_places(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn month_label((year, month): (i32, u32)) -> String {
    format!("{month:02}/{year}")
}

fn plural(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

#[derive(Default)]
struct Month {
    count: usize,
    value: f64,
    valued: usize,
    records: Vec<usize>,
}

/// `temporal.monthly_spike`. Confidence 0.5 at the threshold, +0.1 per unit of z
/// above it, at most 0.9.
fn monthly_spike(p: &Prepared, contracts: &[Contract], s: &TemporalSettings) -> Vec<Finding> {
    let mut agencies: Vec<BTreeMap<(i32, u32), Month>> =
        p.agency_first.iter().map(|_| BTreeMap::new()).collect();
    for (i, r) in p.rows.iter().enumerate() {
        let (Some(agency), Some(signed)) = (r.agency, r.signed) else {
            continue;
        };
        if r.republication {
            continue;
        }
        let m = agencies[agency as usize]
            .entry((signed.year(), signed.month()))
            .or_default();
        m.count += 1;
        m.records.push(i);
        if let Some(v) = r.value {
            m.value += v;
            m.valued += 1;
        }
    }

    let mut out = Vec::new();
    for (months, first) in agencies.iter().zip(&p.agency_first) {
        if months.len() < s.spike_min_months.max(2) {
            continue;
        }
        let counts: Vec<f64> = months.values().map(|m| (m.count as f64).ln_1p()).collect();
        let valued: Vec<&Month> = months.values().filter(|m| m.valued > 0).collect();
        let values: Vec<f64> = valued.iter().map(|m| m.value.ln_1p()).collect();
        let count_cs = robust_center_scale(&counts);
        let value_cs = (values.len() >= s.spike_min_months)
            .then(|| robust_center_scale(&values))
            .flatten();
        let median_value =
            median(&mut valued.iter().map(|m| m.value).collect::<Vec<_>>()).unwrap_or(0.0);
        let median_count =
            median(&mut months.values().map(|m| m.count as f64).collect::<Vec<_>>()).unwrap_or(0.0);
        let agency = unit_label(&contracts[*first].agency);

        for (&key, m) in months {
            let z_value = value_cs
                .filter(|_| m.valued > 0)
                .map(|(c, sc)| robust_z(m.value.ln_1p(), c, sc));
            let z_count = count_cs.map(|(c, sc)| robust_z((m.count as f64).ln_1p(), c, sc));
            let value_spike =
                z_value.is_some_and(|z| z > s.spike_z) && m.value >= s.spike_min_month_value;
            let count_spike =
                z_count.is_some_and(|z| z > s.spike_z) && m.count >= s.spike_min_month_contracts;
            if !value_spike && !count_spike {
                continue;
            }
            let z = match (value_spike, count_spike) {
                (true, true) => z_value.unwrap_or(0.0).max(z_count.unwrap_or(0.0)),
                (true, false) => z_value.unwrap_or(0.0),
                _ => z_count.unwrap_or(0.0),
            };
            let excess = (m.value - median_value).max(0.0);
            let base = if z >= 2.0 * s.spike_z {
                Severity::High
            } else if z >= 1.5 * s.spike_z {
                Severity::Medium
            } else {
                Severity::Low
            };
            // A "spike" of one contract is one large purchase: what the month
            // says is the contract's own size, reported by the price and payment
            // rules, not a rush. Shown lower, and said.
            let single = m.count == 1;
            let severity = if single {
                Severity::Low
            } else {
                step_up(base, excess >= LARGE_EXCESS)
            };
            let month = month_label(key);
            let times = if median_value > 0.0 {
                format!(
                    ", {} vezes a mediana",
                    format::decimal(m.value / median_value, 1)
                )
            } else {
                String::new()
            };
            let mut explanation = format!(
                "Em {month}, {agency} assinou {} somando {}. Nos {} meses em que este órgão \
                 assinou contratos no conjunto analisado, a mediana mensal é de {} em {} \
                 contratos.",
                plural(m.count, "contrato", "contratos"),
                format::reais(m.value),
                months.len(),
                format::reais(median_value),
                format::decimal(median_count, usize::from(median_count.fract() != 0.0)),
            );
            if value_spike {
                explanation += &format!(
                    " O valor do mês destoa dos demais{times} (escore z robusto de {} sobre o \
                     logaritmo do valor mensal; o limite é {}).",
                    format::decimal(z_value.unwrap_or(0.0), 1),
                    format::decimal(s.spike_z, 1)
                );
            }
            if count_spike {
                explanation += &format!(
                    " O número de contratos do mês destoa dos demais (escore z robusto de {} \
                     sobre o logaritmo da contagem; o limite é {}).",
                    format::decimal(z_count.unwrap_or(0.0), 1),
                    format::decimal(s.spike_z, 1)
                );
            }
            explanation += " Concentrações súbitas podem indicar compras fracionadas, \
                            contratações emergenciais ou pressa em empenhar o orçamento.";
            if single {
                explanation += " Aqui o mês tem um único contrato: o pico é o tamanho dessa \
                                compra, que merece conferência por si, e não uma concentração \
                                de contratações.";
            }
            out.push(Finding {
                family: Family::Temporal,
                rule: MONTHLY_SPIKE,
                severity,
                confidence: two_places(
                    (0.5 + 0.1 * (z - s.spike_z)).clamp(0.5, 0.9) * if single { 0.5 } else { 1.0 },
                ),
                description: format!(
                    "Pico de contratações em {month} em {agency}: {} em {}",
                    format::reais(m.value),
                    plural(m.count, "contrato", "contratos")
                ),
                explanation,
                records: largest_first(m.records.clone(), contracts, s.max_records_per_finding),
                suggested_actions: vec![
                    "Verificar se os contratos do mês têm o mesmo objeto ou fornecedor \
                     (possível fracionamento)."
                        .to_string(),
                    "Conferir as justificativas de urgência ou dispensa dos maiores contratos \
                     do mês."
                        .to_string(),
                ],
                evidence: json!({
                    "month": month,
                    "contracts": m.count,
                    "value": m.value,
                    "months_in_history": months.len(),
                    "median_month_value": median_value,
                    "median_month_contracts": median_count,
                    "z_value_log": z_value,
                    "z_count_log": z_count,
                    "z_threshold": s.spike_z,
                    "value_spike": value_spike,
                    "count_spike": count_spike,
                    // The history the month was judged against, for a chart.
                    "by_month": months.iter().map(|(k, m)| json!({
                        "month": month_label(*k),
                        "value": m.value,
                        "contracts": m.count,
                    })).collect::<Vec<_>>(),
                }),
                financial_impact: excess,
            });
        }
    }
    out
}

/// Years the dataset holds publications for in every month, and in the January
/// after (when late-December signatures get published).
fn covered_years(p: &Prepared) -> BTreeSet<i32> {
    let mut published: BTreeSet<(i32, u32)> = BTreeSet::new();
    let mut last = None;
    for d in p.rows.iter().filter_map(|r| r.published) {
        let month = (d.year(), d.month());
        // Records come in runs of one month: skip the set for repeats.
        if last != Some(month) {
            published.insert(month);
            last = Some(month);
        }
    }
    let years: BTreeSet<i32> = published.iter().map(|&(y, _)| y).collect();
    years
        .into_iter()
        .filter(|&y| {
            (1..=12).all(|m| published.contains(&(y, m))) && published.contains(&(y + 1, 1))
        })
        .collect()
}

#[derive(Default)]
struct AgencyYear {
    first: usize,
    count: usize,
    total: f64,
    window_value: f64,
    window: Vec<usize>,
}

/// `temporal.year_end_rush`. Confidence 0.5 at the threshold, +0.05 per unit of
/// share/expected above it, at most 0.85.
fn year_end_rush(p: &Prepared, contracts: &[Contract], s: &TemporalSettings) -> Vec<Finding> {
    let covered = s.year_end_require_full_year.then(|| covered_years(p));
    let days = s.year_end_days.clamp(1, 366);
    let mut groups: BTreeMap<(u32, i32), AgencyYear> = BTreeMap::new();
    for (i, r) in p.rows.iter().enumerate() {
        let (Some(agency), Some(signed), Some(v)) = (r.agency, r.signed, r.value) else {
            continue;
        };
        if r.republication
            || covered
                .as_ref()
                .is_some_and(|y| !y.contains(&signed.year()))
        {
            continue;
        }
        let g = groups
            .entry((agency, signed.year()))
            .or_insert_with(|| AgencyYear {
                first: i,
                ..AgencyYear::default()
            });
        g.count += 1;
        g.total += v;
        if signed.ordinal0() + days >= days_in_year(signed.year()) {
            g.window_value += v;
            g.window.push(i);
        }
    }

    let mut out = Vec::new();
    for (&(_, year), g) in &groups {
        if g.count < s.year_end_min_contracts || g.total <= 0.0 {
            continue;
        }
        let expected = f64::from(days) / f64::from(days_in_year(year));
        let share = g.window_value / g.total;
        let ratio = share / expected;
        if g.window_value < s.year_end_min_value || ratio <= s.year_end_share_multiple {
            continue;
        }
        let excess = g.window_value - expected * g.total;
        let base = if ratio >= 8.0 {
            Severity::High
        } else if ratio >= 5.0 {
            Severity::Medium
        } else {
            Severity::Low
        };
        let agency = unit_label(&contracts[g.first].agency);
        let window_text = if days == 1 {
            "em 31 de dezembro".to_string()
        } else {
            format!("nos últimos {days} dias do ano")
        };
        out.push(Finding {
            family: Family::Temporal,
            rule: YEAR_END_RUSH,
            severity: step_up(base, excess >= LARGE_EXCESS),
            confidence: two_places(
                (0.5 + 0.05 * (ratio - s.year_end_share_multiple)).clamp(0.5, 0.85),
            ),
            description: format!(
                "{agency}: {} do valor contratado em {year} foi assinado {window_text}",
                format::percent(share)
            ),
            explanation: format!(
                "Em {year}, {agency} assinou {} somando {}; {} ({}) foram assinados \
                 {window_text}, o equivalente a {} do valor do ano. Se as contratações se \
                 distribuíssem por igual ao longo do ano, esse período concentraria cerca de \
                 {}: a concentração observada é {} vezes maior (o limite desta regra é {} \
                 vezes). Contratar às pressas no fim do exercício para não perder o orçamento \
                 favorece compras mal planejadas.",
                plural(g.count, "contrato", "contratos"),
                format::reais(g.total),
                plural(g.window.len(), "contrato", "contratos"),
                format::reais(g.window_value),
                format::percent(share),
                format::percent(expected),
                format::decimal(ratio, 1),
                format::decimal(s.year_end_share_multiple, 1),
            ),
            records: largest_first(g.window.clone(), contracts, s.max_records_per_finding),
            suggested_actions: vec![
                "Verificar o planejamento das contratações de fim de ano e se os objetos \
                 eram necessários naquele momento."
                    .to_string(),
                "Conferir se houve empenhos inscritos em restos a pagar sem execução.".to_string(),
            ],
            evidence: json!({
                "year": year,
                "window_days": days,
                "year_contracts": g.count,
                "year_value": g.total,
                "window_contracts": g.window.len(),
                "window_value": g.window_value,
                "share": share,
                "expected_share": expected,
                "ratio": ratio,
                "threshold_ratio": s.year_end_share_multiple,
            }),
            financial_impact: excess,
        });
    }
    out
}

fn days_in_year(year: i32) -> u32 {
    if NaiveDate::from_ymd_opt(year, 2, 29).is_some() {
        366
    } else {
        365
    }
}

/// P(X ≥ k) for X ~ Binomial(n, p), summed in log space so that n in the
/// thousands neither overflows nor underflows.
fn binomial_tail(n: usize, k: usize, p: f64) -> f64 {
    if k == 0 {
        return 1.0;
    }
    if k > n || p <= 0.0 {
        return 0.0;
    }
    if p >= 1.0 {
        return 1.0;
    }
    let (nf, kf) = (n as f64, k as f64);
    let ln_choose: f64 = (1..=k)
        .map(|i| ((nf - kf + i as f64) / i as f64).ln())
        .sum();
    let mut term = (ln_choose + kf * p.ln() + (nf - kf) * (1.0 - p).ln()).exp();
    let mut sum = 0.0;
    let odds = p / (1.0 - p);
    for j in k..=n {
        sum += term;
        // Past the mode the terms only shrink; stop once they no longer count.
        if term < sum * 1e-15 && (j as f64) > nf * p {
            break;
        }
        term *= (nf - j as f64) / (j as f64 + 1.0) * odds;
    }
    sum.min(1.0)
}

/// "menos de 1 em 1 milhão" / "cerca de 1 em 25.000".
fn chance_text(p: f64) -> String {
    if p < 1e-6 {
        "menos de 1 em 1 milhão".to_string()
    } else {
        let one_in = (1.0 / p).round();
        format!(
            "cerca de 1 em {}",
            format::reais(one_in)
                .trim_start_matches("R$ ")
                .trim_end_matches(",00")
        )
    }
}

/// `temporal.weekend_or_holiday_signature`. Confidence 0.5 + 0.05 per order of
/// magnitude of improbability, at most 0.95.
fn offday_signature(p: &Prepared, contracts: &[Contract], s: &TemporalSettings) -> Vec<Finding> {
    // Per UG id: contracts with a signature date, and those dated on days off.
    let mut ugs: Vec<(usize, Vec<usize>)> = p.ug_first.iter().map(|_| (0, Vec::new())).collect();
    // A million contracts carry a few thousand distinct dates.
    let mut offday: HashMap<NaiveDate, bool> = HashMap::new();
    for (i, r) in p.rows.iter().enumerate() {
        let (Some(ug), Some(signed)) = (r.ug, r.signed) else {
            continue;
        };
        let entry = &mut ugs[ug as usize];
        entry.0 += 1;
        let off = *offday
            .entry(signed)
            .or_insert_with(|| !holidays::is_working_day(signed));
        if off {
            entry.1.push(i);
        }
    }

    let mut out = Vec::new();
    for ((n, off), first) in ugs.iter().zip(&p.ug_first) {
        let k = off.len();
        let share = k as f64 / *n as f64;
        if k < s.offday_min_count.max(1)
            || share < s.offday_share_multiple * s.offday_expected_share
        {
            continue;
        }
        let p = binomial_tail(*n, k, s.offday_expected_share);
        if p > s.offday_max_p_value {
            continue;
        }
        let mut by_date: BTreeMap<NaiveDate, usize> = BTreeMap::new();
        for &i in off {
            if let Some(d) = contracts[i].signed {
                *by_date.entry(d).or_default() += 1;
            }
        }
        let mut dates: Vec<(NaiveDate, usize)> = by_date.into_iter().collect();
        dates.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let top: Vec<String> = dates
            .iter()
            .take(3)
            .map(|&(d, count)| {
                let what =
                    holidays::holiday_name(d).unwrap_or(if d.weekday() == chrono::Weekday::Sat {
                        "sábado"
                    } else {
                        "domingo"
                    });
                format!(
                    "{}, {what}: {}",
                    format::date(d),
                    plural(count, "contrato", "contratos")
                )
            })
            .collect();
        let value_sum: f64 = off
            .iter()
            .filter_map(|&i| contracts[i].value_signed())
            .sum();
        // Dated on the day their validity starts (1 January, mostly): the
        // convention of recording the start as the signature, not a signature
        // on a day off. Explained and shown lower, not dropped.
        let at_start = off
            .iter()
            .filter(|&&i| {
                contracts[i].signed.is_some() && contracts[i].signed == contracts[i].valid_from
            })
            .count();
        let convention = at_start * 2 > k;
        let severity = match (share >= 0.5, share >= 0.2) {
            _ if at_start == k => Severity::Low,
            (true, _) if convention => Severity::Medium,
            (true, _) => Severity::High,
            (false, true) if convention => Severity::Low,
            (false, true) => Severity::Medium,
            _ => Severity::Low,
        };
        let mut confidence = two_places((0.5 + 0.05 * (-p.max(1e-300).log10())).clamp(0.5, 0.95));
        if convention {
            confidence = two_places(confidence * 0.5);
        }
        let convention_text = if convention {
            format!(
                " Desses {k}, {at_start} têm a assinatura na mesma data do início da vigência, \
                 o que sugere a prática de registrar o início da vigência como data de \
                 assinatura, e não uma assinatura em dia sem expediente; vale conferir, mas \
                 com menos peso."
            )
        } else {
            String::new()
        };
        let ug = unit_label(&contracts[*first].ug);
        out.push(Finding {
            family: Family::Temporal,
            rule: WEEKEND_OR_HOLIDAY_SIGNATURE,
            severity,
            confidence,
            description: format!(
                "{ug}: {k} de {n} contratos com assinatura em fim de semana ou feriado nacional"
            ),
            explanation: format!(
                "Dos {n} contratos desta unidade gestora com data de assinatura, {k} ({}) têm \
                 data em sábado, domingo ou feriado nacional, somando {}. Nos contratos federais \
                 de 2021 e 2022 essa proporção é de cerca de {}; a chance de uma unidade chegar \
                 a {k} por acaso é de {}. Datas mais frequentes: {}. Datas assim costumam \
                 indicar contratos datados retroativamente (por exemplo, no início do exercício \
                 em 1º de janeiro) ou erros de registro, que enfraquecem a trilha \
                 documental.{convention_text}",
                format::percent(share),
                format::reais(value_sum),
                format::percent(s.offday_expected_share),
                chance_text(p),
                top.join("; "),
            ),
            // Dated by the convention, the contracts are examples of a habit of
            // registration, not each a suspect: a few are listed, the count is in
            // the evidence.
            records: largest_first(
                off.clone(),
                contracts,
                super::recognised::listed_at_most(convention, s.max_records_per_finding),
            ),
            suggested_actions: vec![
                "Conferir nos processos a data real de assinatura dos contratos e se os \
                 serviços começaram antes dela."
                    .to_string(),
                "Verificar se a unidade registra como data de assinatura o início da vigência."
                    .to_string(),
            ],
            evidence: json!({
                "contracts": n,
                "offday_contracts": k,
                "share": share,
                "expected_share": s.offday_expected_share,
                "p_value": p,
                "offday_value": value_sum,
                "dated_at_validity_start": at_start,
                "top_dates": dates.iter().take(3).map(|(d, c)| json!({"date": d.to_string(), "contracts": c})).collect::<Vec<_>>(),
            }),
            financial_impact: value_sum,
        });
    }
    out
}

/// `temporal.signed_after_validity_start`. Confidence 0.8, 0.5 when the gap
/// exceeds five years (more likely a mistyped date).
fn signed_after_validity(contracts: &[Contract], s: &TemporalSettings) -> Vec<Finding> {
    let mut candidates = Vec::new();
    for (i, c) in contracts.iter().enumerate() {
        let (Some(signed), Some(from)) = (c.signed, c.valid_from) else {
            continue;
        };
        let days = (signed - from).num_days();
        if days <= s.retroactive_min_days {
            continue;
        }
        let v = c.value_signed();
        let duration = c
            .valid_until
            .map(|u| (u - from).num_days())
            .filter(|&d| d > 0);
        let impact = match (v, duration) {
            (Some(v), Some(d)) => v * (days as f64 / d as f64).min(1.0),
            _ => 0.0,
        };
        let base = if days >= 365 {
            Severity::High
        } else if days >= 90 {
            Severity::Medium
        } else {
            Severity::Low
        };
        let rank = Rank {
            severity: step_up(base, v.is_some_and(|v| v >= LARGE_CONTRACT)),
            impact,
            confidence: if days > 5 * 365 { 0.5 } else { 0.8 },
            first: i,
        };
        candidates.push((rank, (signed, from, days, v)));
    }
    let kept = keep_strongest(candidates, contracts, s.max_findings_per_rule);
    kept.into_iter()
        .map(|(rank, (signed, from, days, v))| {
            let c = &contracts[rank.first];
            let value_text = v.map_or_else(
                || "O valor do contrato não foi informado.".to_string(),
                |v| format!("Valor inicial do contrato: {}.", format::reais(v)),
            );
            Finding {
                family: Family::Temporal,
                rule: SIGNED_AFTER_VALIDITY_START,
                severity: rank.severity,
                confidence: rank.confidence,
                description: format!(
                    "{} assinado {days} dias depois do início da vigência",
                    contract_label(c)
                ),
                explanation: format!(
                    "O contrato foi assinado em {}, mas sua vigência começou em {}, {days} dias \
                     antes (esta regra aponta atrasos acima de {} dias). O que foi executado \
                     antes da assinatura não tinha cobertura contratual: contrato verbal, nulo \
                     pela Lei 8.666/1993 (art. 60, parágrafo único), regularizado depois. \
                     {value_text}",
                    format::date(signed),
                    format::date(from),
                    s.retroactive_min_days,
                ),
                records: vec![rank.first],
                suggested_actions: vec![
                    "Verificar se houve execução e pagamento antes da assinatura e a \
                     justificativa para a regularização."
                        .to_string(),
                    "Conferir se a data de início da vigência foi registrada corretamente."
                        .to_string(),
                ],
                evidence: json!({
                    "signed": signed.to_string(),
                    "valid_from": from.to_string(),
                    "valid_until": c.valid_until.map(|d| d.to_string()),
                    "days_after_start": days,
                    "threshold_days": s.retroactive_min_days,
                    "initial_value": v,
                }),
                financial_impact: rank.impact,
            }
        })
        .collect()
}

/// `temporal.late_dou_publication`. Confidence 0.5 + 0.4 × late share.
fn late_publication(p: &Prepared, contracts: &[Contract], s: &TemporalSettings) -> Vec<Finding> {
    // Per UG id: contracts judged, and the late ones with their delay in days.
    let mut ugs: Vec<(usize, Vec<(usize, i64)>)> =
        p.ug_first.iter().map(|_| (0, Vec::new())).collect();
    // The deadline depends only on the month of signature.
    let mut fifth_working_day: HashMap<(i32, u32), Option<NaiveDate>> = HashMap::new();
    for (i, r) in p.rows.iter().enumerate() {
        let (Some(ug), Some(signed), Some(published)) = (r.ug, r.signed, r.published) else {
            continue;
        };
        let lag = (published - signed).num_days();
        // A publication before the signature is a data error, and a very old
        // signature is a republication: neither says anything about deadlines.
        if lag < 0 || lag > s.republication_days {
            continue;
        }
        let fifth = *fifth_working_day
            .entry((signed.year(), signed.month()))
            .or_insert_with(|| dou::publication_deadline(signed));
        let Some(deadline) = fifth.map(|d| d + chrono::Duration::days(s.publication_grace_days))
        else {
            continue;
        };
        let entry = &mut ugs[ug as usize];
        entry.0 += 1;
        if published > deadline {
            entry.1.push((i, (published - deadline).num_days()));
        }
    }

    let mut out = Vec::new();
    for ((n, late), first) in ugs.iter().zip(&p.ug_first) {
        let k = late.len();
        let share = k as f64 / *n as f64;
        if k < s.late_min_count.max(1) || share < s.late_min_share {
            continue;
        }
        let mut delays: Vec<f64> = late.iter().map(|&(_, d)| d as f64).collect();
        let median_delay = median(&mut delays).unwrap_or(0.0);
        let max_delay = late.iter().map(|&(_, d)| d).max().unwrap_or(0);
        let value_sum: f64 = late
            .iter()
            .filter_map(|&(i, _)| contracts[i].value_signed())
            .sum();
        let severity = if share >= 0.8 && median_delay >= 90.0 {
            Severity::High
        } else if share >= 0.8 || median_delay >= 60.0 {
            Severity::Medium
        } else {
            Severity::Low
        };
        let mut records = late.clone();
        records.sort_by(|a, b| {
            b.1.cmp(&a.1)
                .then_with(|| contracts[a.0].key.cmp(&contracts[b.0].key))
        });
        records.truncate(s.max_records_per_finding);
        let ug = unit_label(&contracts[*first].ug);
        out.push(Finding {
            family: Family::Temporal,
            rule: LATE_DOU_PUBLICATION,
            severity,
            confidence: two_places((0.5 + 0.4 * share).clamp(0.5, 0.9)),
            description: format!(
                "{ug}: {k} de {n} contratos publicados no DOU depois do prazo legal"
            ),
            explanation: format!(
                "Dos {n} contratos desta unidade gestora publicados no Diário Oficial da União \
                 até {} dias após a assinatura, {k} ({}) saíram depois do prazo da Lei \
                 8.666/1993 (art. 61, parágrafo único: extrato enviado até o 5º dia útil do \
                 mês seguinte à assinatura e publicado em até {} dias dessa data). O atraso \
                 mediano além do prazo é de {} dias, e o maior, de {max_delay} dias; os \
                 contratos atrasados somam {}. A publicação é condição de eficácia do \
                 contrato: pagamentos antes dela não têm respaldo. Contratos assinados mais de \
                 {} dias antes da publicação foram tratados como republicações e não contam.",
                s.republication_days,
                format::percent(share),
                s.publication_grace_days,
                format::decimal(median_delay, 0),
                format::reais(value_sum),
                s.republication_days,
            ),
            records: records.into_iter().map(|(i, _)| i).collect(),
            suggested_actions: vec![
                "Verificar se houve pagamentos antes da publicação dos extratos.".to_string(),
                "Cobrar da unidade a rotina de envio dos extratos à Imprensa Nacional.".to_string(),
            ],
            evidence: json!({
                "contracts": n,
                "late_contracts": k,
                "late_share": share,
                "median_delay_days": median_delay,
                "max_delay_days": max_delay,
                "late_value": value_sum,
                "grace_days": s.publication_grace_days,
                "republication_days": s.republication_days,
            }),
            financial_impact: value_sum,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::contracts::model::Unit;
    use crate::sources::contracts::rules::{of_rule, severity_counts};

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("valid date")
    }

    fn unit(code: &str, name: &str) -> Unit {
        Unit {
            code: Some(code.into()),
            name: Some(name.into()),
        }
    }

    /// A contract signed on `signed`, published 10 days later, valid from the
    /// signature for a year.
    fn contract(key: &str, agency: &str, signed: NaiveDate, value: f64) -> Contract {
        Contract {
            key: key.to_string(),
            number: key.to_string(),
            object: "Serviços de limpeza".to_string(),
            agency: unit(agency, &format!("Órgão {agency}")),
            ug: unit(&format!("{agency}0"), &format!("UG {agency}")),
            signed: Some(signed),
            published: Some(signed + chrono::Duration::days(10)),
            valid_from: Some(signed),
            valid_until: Some(signed + chrono::Duration::days(365)),
            supplier_code: Some("11222333000181".into()),
            supplier_name: Some("ACME LTDA".into()),
            initial_value: Some(value),
            final_value: Some(value),
            ..Contract::default()
        }
    }

    fn detect(contracts: Vec<Contract>) -> Vec<Finding> {
        TemporalDetector {
            settings: TemporalSettings::default(),
        }
        .detect(&Dataset {
            contracts,
            ..Default::default()
        })
    }

    /// Agency `agency` signs two contracts on the first working days from the
    /// 10th of each month of 2022, of slightly different values.
    fn regular_year(agency: &str) -> Vec<Contract> {
        let mut out = Vec::new();
        for m in 1..=12 {
            let mut day = d(2022, m, 10);
            for j in 0..2 {
                while !holidays::is_working_day(day) {
                    day += chrono::Duration::days(1);
                }
                let v = 100_000.0 + 7_000.0 * ((m * 3 + j) % 5) as f64;
                out.push(contract(&format!("{agency}-{m}-{j}"), agency, day, v));
                day += chrono::Duration::days(1);
            }
        }
        out
    }

    #[test]
    fn a_month_with_fifty_times_the_usual_value_is_a_spike() {
        let mut contracts = regular_year("A");
        contracts.push(contract("A-big-1", "A", d(2022, 6, 20), 6_000_000.0));
        contracts.push(contract("A-big-2", "A", d(2022, 6, 21), 4_000_000.0));
        // A smaller spike in another agency ranks after.
        contracts.extend(regular_year("B"));
        contracts.push(contract("B-big", "B", d(2022, 3, 20), 1_500_000.0));
        let findings = detect(contracts.clone());
        let spikes = of_rule(&findings, MONTHLY_SPIKE);
        assert_eq!(spikes.len(), 2, "{spikes:#?}");
        let a = spikes[0];
        assert!(a.description.contains("06/2022"), "{}", a.description);
        assert!(a.description.contains("Órgão A"));
        assert!(a.description.contains("R$ 10.2"), "{}", a.description);
        let keys: Vec<&str> = a
            .records
            .iter()
            .map(|&i| contracts[i].key.as_str())
            .collect();
        assert_eq!(keys[..2], ["A-big-1", "A-big-2"]);
        assert_eq!(a.records.len(), 4, "the whole month is listed");
        assert!(a.explanation.contains("12 meses"), "{}", a.explanation);
        assert!(a.explanation.contains("mediana mensal"));
        assert!(spikes[0].severity >= spikes[1].severity);
        assert!(spikes[1].description.contains("03/2022"));
        assert!(a.financial_impact > 9_000_000.0);
    }

    #[test]
    fn a_spike_of_one_contract_is_said_to_be_one_purchase_and_shown_lower() {
        let mut contracts = regular_year("A");
        contracts.push(contract("A-alone", "A", d(2023, 1, 20), 20_000_000.0));
        let findings = detect(contracts);
        let spikes = of_rule(&findings, MONTHLY_SPIKE);
        assert_eq!(spikes.len(), 1, "still reported: {spikes:#?}");
        assert_eq!(spikes[0].severity, Severity::Low);
        assert!(
            spikes[0].explanation.contains("um único contrato"),
            "{}",
            spikes[0].explanation
        );
    }

    #[test]
    fn steady_months_give_no_spike_and_no_other_finding() {
        let mut contracts = regular_year("A");
        contracts.extend(regular_year("B"));
        assert!(detect(contracts).is_empty());
    }

    /// Publications in every month of 2022 and January 2023, so 2022 is covered.
    fn covered_2022(agency: &str) -> Vec<Contract> {
        let mut out = regular_year(agency);
        out.push(contract(
            &format!("{agency}-jan23"),
            agency,
            d(2023, 1, 5),
            100_000.0,
        ));
        out
    }

    #[test]
    fn signing_most_of_the_year_in_late_december_is_a_year_end_rush() {
        let mut contracts = covered_2022("A");
        contracts.push(contract("A-dec-1", "A", d(2022, 12, 22), 2_000_000.0));
        contracts.push(contract("A-dec-2", "A", d(2022, 12, 28), 1_000_000.0));
        let findings = detect(contracts.clone());
        let rush = of_rule(&findings, YEAR_END_RUSH);
        assert_eq!(rush.len(), 1, "{findings:#?}");
        let f = rush[0];
        assert!(f.description.contains("2022"));
        assert!(
            f.description.contains("últimos 15 dias"),
            "{}",
            f.description
        );
        let keys: Vec<&str> = f
            .records
            .iter()
            .map(|&i| contracts[i].key.as_str())
            .collect();
        assert_eq!(keys, ["A-dec-1", "A-dec-2"]);
        assert!(
            f.explanation.contains("R$ 3.000.000,00"),
            "{}",
            f.explanation
        );
        assert!(
            f.explanation.contains("4,1%"),
            "expected share: {}",
            f.explanation
        );
    }

    #[test]
    fn a_year_the_data_does_not_cover_is_not_judged() {
        // Same rush, but no publications in January 2023: the data may stop
        // before the year's last signatures are published.
        let mut contracts = regular_year("A");
        let mut rush = contract("A-dec-1", "A", d(2022, 12, 22), 2_000_000.0);
        rush.published = Some(d(2022, 12, 29));
        contracts.push(rush);
        assert!(of_rule(&detect(contracts.clone()), YEAR_END_RUSH).is_empty());
        let all_years = TemporalDetector {
            settings: TemporalSettings {
                year_end_require_full_year: false,
                ..TemporalSettings::default()
            },
        };
        let found = all_years.detect(&Dataset {
            contracts,
            ..Default::default()
        });
        assert_eq!(
            of_rule(&found, YEAR_END_RUSH).len(),
            1,
            "found when coverage is not required"
        );
        // An even year gives nothing either.
        assert!(of_rule(&detect(covered_2022("A")), YEAR_END_RUSH).is_empty());
    }

    #[test]
    fn a_ug_signing_on_new_years_day_and_weekends_is_flagged_once() {
        let mut contracts = regular_year("A");
        // Signed on days off, for validities that start later.
        let later = |mut c: Contract| {
            c.valid_from = c.signed.map(|s| s + chrono::Duration::days(5));
            c
        };
        for j in 0..6 {
            contracts.push(later(contract(
                &format!("A-ny-{j}"),
                "A",
                d(2022, 1, 1),
                50_000.0,
            )));
        }
        contracts.push(later(contract("A-sun", "A", d(2022, 5, 8), 70_000.0)));
        // Another UG with one Saturday in 25 contracts is regular.
        let mut other = regular_year("B");
        other.push(contract("B-sat", "B", d(2022, 5, 7), 70_000.0));
        contracts.extend(other);
        let findings = detect(contracts.clone());
        let off = of_rule(&findings, WEEKEND_OR_HOLIDAY_SIGNATURE);
        assert_eq!(off.len(), 1, "{off:#?}");
        let f = off[0];
        assert_eq!(f.records.len(), 5, "five examples");
        assert_eq!(f.evidence["offday_contracts"], 7, "all of them counted");
        assert_eq!(contracts[f.records[0]].key, "A-sun", "largest first");
        assert!(
            f.description.contains("7 de 31 contratos"),
            "{}",
            f.description
        );
        assert!(
            f.explanation
                .contains("01/01/2022, Confraternização Universal: 6 contratos"),
            "{}",
            f.explanation
        );
        assert!(f.explanation.contains("22,6%"), "{}", f.explanation);
        assert_eq!(f.severity, Severity::Medium);
    }

    #[test]
    fn contracts_dated_on_new_years_day_as_their_validity_starts_are_explained_and_shown_lower() {
        let mut contracts = regular_year("A");
        // The helper dates validity from the signature: 1 January for both.
        for j in 0..6 {
            contracts.push(contract(&format!("A-ny-{j}"), "A", d(2022, 1, 1), 50_000.0));
        }
        contracts.push(contract("A-sun", "A", d(2022, 5, 8), 70_000.0));
        let findings = detect(contracts);
        let off = of_rule(&findings, WEEKEND_OR_HOLIDAY_SIGNATURE);
        assert_eq!(off.len(), 1, "still reported: {off:#?}");
        assert_eq!(off[0].severity, Severity::Low);
        assert!(off[0].confidence < 0.5, "{}", off[0].confidence);
        assert!(
            off[0]
                .explanation
                .contains("início da vigência como data de assinatura"),
            "{}",
            off[0].explanation
        );
        assert_eq!(off[0].evidence["dated_at_validity_start"], 7);
    }

    #[test]
    fn contracts_signed_months_after_their_validity_began_are_flagged_by_delay() {
        let mut late = contract("late", "A", d(2022, 5, 10), 2_000_000.0);
        late.valid_from = Some(d(2021, 3, 1));
        late.valid_until = Some(d(2023, 3, 1));
        let mut mild = contract("mild", "A", d(2022, 5, 10), 50_000.0);
        mild.valid_from = Some(d(2022, 3, 20));
        let mut fine = contract("fine", "A", d(2022, 5, 10), 50_000.0);
        fine.valid_from = Some(d(2022, 4, 20));
        let contracts = vec![mild, fine, late];
        let findings = detect(contracts.clone());
        let retro = of_rule(&findings, SIGNED_AFTER_VALIDITY_START);
        assert_eq!(retro.len(), 2);
        assert_eq!(contracts[retro[0].records[0]].key, "late");
        assert_eq!(retro[0].severity, Severity::Critical);
        assert_eq!(retro[1].severity, Severity::Low);
        assert!(
            retro[0].description.contains("435 dias"),
            "{}",
            retro[0].description
        );
        assert!(retro[0].explanation.contains("01/03/2021"));
        assert!(retro[0].explanation.contains("R$ 2.000.000,00"));
        // 435 of 730 days of validity preceded the signature.
        assert!((retro[0].financial_impact - 2_000_000.0 * 435.0 / 730.0).abs() < 1.0);
        assert!(retro[1].description.contains("51 dias"));
    }

    #[test]
    fn a_ug_that_publishes_months_late_is_flagged_but_republications_are_not() {
        let mut contracts = Vec::new();
        for j in 0..6 {
            let mut c = contract(&format!("late-{j}"), "A", d(2022, 2, 1 + j), 100_000.0);
            c.published = Some(d(2022, 8, 1 + j));
            contracts.push(c);
        }
        contracts.push(contract("on-time", "A", d(2022, 2, 10), 100_000.0));
        // UG B only republishes contracts signed years ago.
        for j in 0..6 {
            let mut c = contract(&format!("old-{j}"), "B", d(2015, 2, 1 + j), 100_000.0);
            c.published = Some(d(2022, 6, 1 + j));
            contracts.push(c);
        }
        // Signed 10/01, published 20/02: on time (5th working day of February,
        // 07/02, + 20 days = 27/02), more than 20 days after the signature.
        let mut edge = contract("edge", "C", d(2022, 1, 10), 100_000.0);
        edge.published = Some(d(2022, 2, 20));
        contracts.push(edge);
        let findings = detect(contracts.clone());
        let late = of_rule(&findings, LATE_DOU_PUBLICATION);
        assert_eq!(late.len(), 1, "{late:#?}");
        let f = late[0];
        assert!(
            f.description.contains("6 de 7 contratos"),
            "{}",
            f.description
        );
        assert!(f
            .records
            .iter()
            .all(|&i| contracts[i].key.starts_with("late-")));
        assert!(f.explanation.contains("85,7%"), "{}", f.explanation);
        assert!(f.explanation.contains("R$ 600.000,00"));
        assert_eq!(
            f.severity,
            Severity::High,
            "86% late by a median of about four months"
        );
    }

    #[test]
    fn binomial_tail_matches_exact_values() {
        assert!((binomial_tail(10, 0, 0.3) - 1.0).abs() < 1e-12);
        // P(X >= 3), n = 5, p = 0.5: (10 + 5 + 1) / 32.
        assert!((binomial_tail(5, 3, 0.5) - 0.5).abs() < 1e-12);
        assert!((binomial_tail(20, 20, 0.5) - 0.5f64.powi(20)).abs() < 1e-18);
        let tiny = binomial_tail(5_000, 2_000, 0.03);
        assert!((0.0..1e-100).contains(&tiny));
    }

    #[test]
    fn the_same_data_gives_the_same_findings_in_the_same_order() {
        let mut contracts = regular_year("A");
        contracts.push(contract("A-big", "A", d(2022, 6, 20), 9_000_000.0));
        for j in 0..6 {
            contracts.push(contract(&format!("A-ny-{j}"), "A", d(2022, 1, 1), 50_000.0));
        }
        let first = detect(contracts.clone());
        assert!(!first.is_empty());
        assert_eq!(first, detect(contracts));
    }

    /// Real data, when the Portal parser can read it: how many findings each rule
    /// gives over the 49,414 contracts of 2021–2022 (run with --nocapture).
    #[test]
    fn real_contracts_give_a_modest_number_of_findings_per_rule() {
        let contracts = crate::sources::contracts::rules::real_data().contracts;
        let contracts_again = contracts.clone();
        let started = std::time::Instant::now();
        let findings = TemporalDetector {
            settings: TemporalSettings::default(),
        }
        .detect(&Dataset {
            contracts,
            ..Default::default()
        });
        let elapsed = started.elapsed();
        for rule in [
            MONTHLY_SPIKE,
            YEAR_END_RUSH,
            WEEKEND_OR_HOLIDAY_SIGNATURE,
            SIGNED_AFTER_VALIDITY_START,
            LATE_DOU_PUBLICATION,
        ] {
            let n = of_rule(&findings, rule).len();
            eprintln!("{rule}: {n}");
            eprintln!(
                "  severities c/h/m/l: {:?}",
                severity_counts(&of_rule(&findings, rule))
            );
            assert!(n <= 200, "{rule} gives {n} findings");
        }
        eprintln!("temporal over the real file in {elapsed:?}");
        // What the year-end rule would say if partial years were judged: the
        // reason it requires full coverage (2021 lacks July to November).
        let partial = TemporalDetector {
            settings: TemporalSettings {
                year_end_require_full_year: false,
                ..TemporalSettings::default()
            },
        }
        .detect(&Dataset {
            contracts: contracts_again,
            ..Default::default()
        });
        eprintln!(
            "temporal.year_end_rush without the coverage check: {}",
            of_rule(&partial, YEAR_END_RUSH).len()
        );
        assert!(of_rule(&findings, WEEKEND_OR_HOLIDAY_SIGNATURE).len() >= 5);
        assert!(of_rule(&findings, LATE_DOU_PUBLICATION).len() >= 20);
    }
}
