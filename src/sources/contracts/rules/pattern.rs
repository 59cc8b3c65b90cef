//! Pattern: statistical fingerprints of a whole agency's contracting, rather than
//! of single contracts. They are leads for where to look, never proof, so their
//! severity stays at or below high.
//!
//! Rule `pattern.benford_first_digit` tests the first digits of an agency's
//! contract values against Benford's law (a value starts with d with probability
//! log10(1 + 1/d): 30.1% with 1, 4.6% with 9), which values spread over orders of
//! magnitude follow. Invented values, prices steered just under a threshold and
//! many values copied from one template break it. The test is Nigrini's mean
//! absolute deviation (MAD) over the nine digits: above `benford_marginal_mad`
//! (0.012) conformity is marginal, above `benford_nonconformity_mad` (0.015) there
//! is none. Nigrini's bands assume large samples: a conforming sample of 300 values
//! has a MAD of about 0.013 by chance alone, so a group also needs
//! `benford_min_records` values (default 300) and a MAD at least
//! `benford_min_mad_over_chance` times the MAD chance gives at its size
//! (E|p̂−p| ≈ √(2p(1−p)/(πn)), averaged over the digits). The test runs per agency
//! and, when the dataset holds several agencies, over all of them. One finding per
//! nonconforming group; its records are the group's largest contracts starting
//! with the most over-represented digit (at most `max_records`). Values are the
//! contract's initial value (else the final one), at least `benford_min_value`
//! (R$ 0,01 placeholders and Nigrini's advice to test values ≥ 10).
//! Severity from the MAD band: low (marginal), medium (nonconformity), high (from
//! `benford_high_mad`). Confidence grows with the sample: 0.3 + 0.6·(1 − e^(−n/1000)),
//! at most 0.9. `financial_impact` = the total of the cited contracts.
//!
//! Rule `pattern.periodic_daily_counts` looks for a cycle in the number of
//! contracts an agency signs per day. The week's rhythm (nothing signed at
//! weekends) is normal and is excluded: periods within 6% of 7, 3.5 and 7/3 days,
//! the weekly cycle and its harmonics. Any other strong cycle is unusual: a
//! purchase split into parcels signed on a schedule (scheduled fracionamento), or
//! contracts registered in batches (an artefact of how the agency feeds the system,
//! which matters to anyone reading its dates). The series is the daily count of
//! the agency's contracts by signature date over its last
//! `periodic_max_days` days (at least `periodic_min_days` days and
//! `periodic_min_contracts` contracts). Its power spectrum ([`power_spectrum`], a
//! plain DFT: rustfft is not a dependency, and at most 1024 days is about half a
//! million multiply-adds per agency, skipping days without contracts) is searched
//! for the fundamental period, between `periodic_min_period_days` and
//! `periodic_max_period_days` (and a quarter of the series), whose harmonics hold the
//! largest share of the power of that band. Harmonics are summed because a batch
//! every 30 days is a comb, whose power spreads evenly over the multiples of its
//! frequency; the fundamental alone would hold a few percent of it. Flagged when
//! that share reaches `periodic_min_share` and chance is ruled out: under pure
//! noise each periodogram ordinate is exponential, so a sum of H of them is
//! Gamma(H); the p-value is multiplied by the number of periods tried (Bonferroni)
//! and must not exceed `periodic_max_p_value`. On the 2021–2022 file no agency comes
//! close (the smallest adjusted p-value is 0.12, shares at most 0.11): the rule
//! finds nothing there, as it should, and a test shows it finds a monthly batch. Records: the contracts signed in the cycle's
//! busiest phase (at most `max_records`, largest first). Severity low, medium from a
//! share of 0.5. Confidence 0.4 + 0.4·share + 0.1·min(1, contracts/1000), at most
//! 0.9. `financial_impact` = the total of the cited contracts.
//!
//! Republications are not removed here: the postgres source reads each contract
//! once (at its latest publication), and the rows that still repeat (about 2% of
//! the raw file) cannot move a distribution of hundreds of values; finding them
//! would cost another pass over every contract's strings.
//! Each rule keeps at most `max_findings_per_rule` findings, the strongest.

pub use crate::config::detectors::PatternSettings;
use std::f64::consts::PI;

use chrono::NaiveDate;
use serde_json::json;

use crate::analysis::rank::strongest;
use crate::domain::format::{date, decimal, percent, reais};
use crate::domain::stats::{benford_expected, benford_test, first_digit, BenfordTest};
use crate::sources::contracts::model::{Dataset, Detector, Family, Finding, Severity, Unit};

/// An agency whose contract values' first digits do not follow Benford's law.
pub const BENFORD_FIRST_DIGIT: &str = "pattern.benford_first_digit";
/// An agency whose daily contract counts follow a non-weekly cycle.
pub const PERIODIC_DAILY_COUNTS: &str = "pattern.periodic_daily_counts";

/// The pattern family.
pub struct PatternDetector {
    pub settings: PatternSettings,
}

impl Detector<Dataset> for PatternDetector {
    fn family(&self) -> Family {
        Family::Pattern
    }

    fn detect(&self, data: &Dataset) -> Vec<Finding> {
        let agencies = by_agency(data);
        let mut findings = benford(data, &agencies, &self.settings);
        findings.extend(periodic(data, &agencies, &self.settings));
        findings
    }
}

/// What both rules read of a contract, gathered in one pass: on a million
/// contracts, reaching each contract in memory is most of the cost.
struct Row {
    idx: usize,
    signed: Option<NaiveDate>,
    value: Option<f64>,
}

/// The contracts of each agency (by code; contracts without one are left out),
/// agencies in code order.
fn by_agency(data: &Dataset) -> Vec<Vec<Row>> {
    // FNV: agency codes are short and trusted; SipHash's protection buys nothing.
    let mut slot: fnv::FnvHashMap<&str, usize> = fnv::FnvHashMap::default();
    let mut groups: Vec<(&str, Vec<Row>)> = Vec::new();
    for (idx, c) in data.contracts.iter().enumerate() {
        let Some(code) = c.agency.code.as_deref() else {
            continue;
        };
        let k = *slot.entry(code).or_insert_with(|| {
            groups.push((code, Vec::new()));
            groups.len() - 1
        });
        groups[k].1.push(Row {
            idx,
            signed: c.signed,
            value: c.value_signed(),
        });
    }
    groups.sort_unstable_by(|a, b| a.0.cmp(b.0));
    groups.into_iter().map(|(_, rows)| rows).collect()
}

fn unit_label(u: &Unit) -> String {
    match (&u.name, &u.code) {
        (Some(name), Some(code)) => format!("{name} ({code})"),
        (Some(name), None) => name.to_string(),
        (None, Some(code)) => code.to_string(),
        (None, None) => "órgão não informado".to_string(),
    }
}

/// Records `items` sorted largest value first (unknown values last), then by key.
fn largest_first(data: &Dataset, items: &mut [usize]) {
    items.sort_by(|&a, &b| {
        let (ca, cb) = (&data.contracts[a], &data.contracts[b]);
        let (va, vb) = (
            ca.value_signed().unwrap_or(-1.0),
            cb.value_signed().unwrap_or(-1.0),
        );
        vb.total_cmp(&va).then_with(|| ca.key.cmp(&cb.key))
    });
}

fn cited_total(data: &Dataset, records: &[usize]) -> f64 {
    records
        .iter()
        .filter_map(|&i| data.contracts[i].value_signed())
        .sum()
}

// ---------------------------------------------------------------- Benford

fn benford(data: &Dataset, agencies: &[Vec<Row>], s: &PatternSettings) -> Vec<Finding> {
    let mut findings = Vec::new();
    let mut all: Vec<(usize, u8)> = Vec::new();
    for rows in agencies {
        let items: Vec<(usize, u8)> = rows
            .iter()
            .filter_map(|r| {
                let value = r.value.filter(|v| *v >= s.benford_min_value)?;
                Some((r.idx, first_digit(value)?))
            })
            .collect();
        if let Some(&(first, _)) = items.first() {
            let agency = unit_label(&data.contracts[first].agency);
            if let Some(f) = benford_finding(data, &items, &format!("do órgão {agency}"), s) {
                findings.push(f);
            }
        }
        all.extend(items);
    }
    if agencies.len() > 1 {
        if let Some(f) = benford_finding(data, &all, "do conjunto analisado", s) {
            findings.push(f);
        }
    }
    strongest(findings, data, s.max_findings_per_rule)
}

/// Nigrini's verdict on a group's first digits under the settings: its
/// severity, the band in words and the confidence; `None` when they conform,
/// or deviate no more than chance would at that size.
pub fn benford_verdict(
    t: &BenfordTest,
    s: &PatternSettings,
) -> Option<(Severity, &'static str, f64)> {
    if t.mad <= s.benford_marginal_mad || t.mad < s.benford_min_mad_over_chance * t.chance_mad {
        return None;
    }
    let (severity, band) = if t.mad >= s.benford_high_mad {
        (Severity::High, "muito acima do limite de não conformidade")
    } else if t.mad > s.benford_nonconformity_mad {
        (Severity::Medium, "acima do limite de não conformidade")
    } else {
        (Severity::Low, "na faixa de conformidade apenas marginal")
    };
    let confidence = (0.3 + 0.6 * (1.0 - (-(t.n as f64) / 1000.0).exp())).min(0.9);
    Some((severity, band, confidence))
}

fn benford_finding(
    data: &Dataset,
    items: &[(usize, u8)],
    scope: &str,
    s: &PatternSettings,
) -> Option<Finding> {
    if items.len() < s.benford_min_records.max(1) {
        return None;
    }
    let digits: Vec<u8> = items.iter().map(|&(_, d)| d).collect();
    let t = benford_test(&digits)?;
    let (severity, band, confidence) = benford_verdict(&t, s)?;
    let mut records: Vec<usize> = items
        .iter()
        .filter(|&&(_, d)| d == t.digit)
        .map(|&(i, _)| i)
        .collect();
    largest_first(data, &mut records);
    records.truncate(s.max_records);
    let expected = benford_expected();
    let k = usize::from(t.digit) - 1;
    let description = format!(
        "Primeiros dígitos dos valores dos contratos {scope} fogem da Lei de Benford (MAD {}; excesso de \
         valores começando com {})",
        decimal(t.mad, 4),
        t.digit
    );
    let explanation = format!(
        "Em conjuntos grandes de valores financeiros, o primeiro dígito costuma seguir a Lei \
         de Benford: cerca de 30,1% dos valores começam com 1 e só 4,6% com 9. Nos {n} \
         contratos {scope} com valor a partir de {min}, o desvio médio absoluto (MAD) \
         entre a distribuição observada e a esperada foi {mad}, {band} (Nigrini: conformidade \
         marginal acima de {marg}, não conformidade acima de {non}), e {times} vezes o desvio \
         que o acaso produziria numa amostra desse tamanho ({chance}). O dígito {d} inicia \
         {obs} dos valores, contra {exp} esperados. Isso não prova irregularidade — preços \
         tabelados, limites de modalidade e valores arredondados também desviam a \
         distribuição —, mas indica onde olhar: os {k} maiores contratos que começam com {d} \
         estão listados.",
        n = t.n,
        min = reais(s.benford_min_value),
        mad = decimal(t.mad, 4),
        marg = decimal(s.benford_marginal_mad, 3),
        non = decimal(s.benford_nonconformity_mad, 3),
        times = decimal(t.mad / t.chance_mad, 1),
        chance = decimal(t.chance_mad, 4),
        d = t.digit,
        obs = percent(t.observed[k]),
        exp = percent(expected[k]),
        k = records.len(),
    );
    let financial_impact = cited_total(data, &records);
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
                "Examinar os contratos listados, que começam com {}: valores repetidos, \
                 arredondados ou logo abaixo de limites de modalidade.",
                t.digit
            ),
            "Comparar a distribuição com a de órgãos semelhantes antes de tirar conclusões."
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
        financial_impact,
    })
}

// ------------------------------------------------------------ Periodicity

/// Power |X_k|² of the discrete Fourier transform of `series`, for k = 0..=n/2
/// (k cycles over the series; period n/k). A direct DFT with a table of twiddle
/// factors, skipping zero entries: O(n·nonzero), fine for n ≤ 1024.
pub fn power_spectrum(series: &[f64]) -> Vec<f64> {
    let n = series.len();
    if n == 0 {
        return Vec::new();
    }
    let half = n / 2;
    let twiddle: Vec<(f64, f64)> = (0..n)
        .map(|j| {
            let angle = 2.0 * PI * j as f64 / n as f64;
            (angle.cos(), angle.sin())
        })
        .collect();
    let mut re = vec![0.0; half + 1];
    let mut im = vec![0.0; half + 1];
    for (t, &x) in series.iter().enumerate() {
        if x == 0.0 {
            continue;
        }
        // e^(−2πi·k·t/n) for k = 0, 1, …: the twiddle index advances by t
        // (mod n) at each k, which spares a division per term.
        let mut j = 0;
        for k in 0..=half {
            let (c, s) = twiddle[j];
            re[k] += x * c;
            im[k] -= x * s;
            j += t;
            if j >= n {
                j -= n;
            }
        }
    }
    re.iter().zip(&im).map(|(r, i)| r * r + i * i).collect()
}

/// P(X ≥ x) for X ~ Gamma(h, 1): e^(−x)·Σ_{i<h} x^i/i!, in log space.
fn gamma_upper_tail(h: usize, x: f64) -> f64 {
    if x <= 0.0 {
        return 1.0;
    }
    let ln_x = x.ln();
    let mut ln_term = -x;
    let mut sum = ln_term.exp();
    for i in 1..h {
        ln_term += ln_x - (i as f64).ln();
        sum += ln_term.exp();
    }
    sum.min(1.0)
}

fn is_weekly(period: f64) -> bool {
    [7.0, 3.5, 7.0 / 3.0]
        .iter()
        .any(|w| (period - w).abs() <= 0.06 * w)
}

/// The strongest non-weekly cycle of a daily series.
struct Cycle {
    period: f64,
    share: f64,
    harmonics: usize,
    p_value: f64,
}

fn strongest_cycle(counts: &[f64], s: &PatternSettings) -> Option<Cycle> {
    let n = counts.len();
    if n < 8 {
        return None;
    }
    // A series without variation has no cycle; what its spectrum shows beyond
    // k = 0 is rounding noise, which must not be read as a share of anything.
    let mean = counts.iter().sum::<f64>() / n as f64;
    let variation: f64 = counts.iter().map(|c| (c - mean).powi(2)).sum();
    if variation <= 1e-9 * counts.iter().map(|c| c * c).sum::<f64>() {
        return None;
    }
    // The raw counts, not centred: the mean only moves k = 0, which is never
    // used, and days without contracts stay zeros the DFT can skip.
    let power = power_spectrum(counts);
    let nf = n as f64;
    let max_period = s.periodic_max_period_days.min(nf / 4.0);
    let min_period = s.periodic_min_period_days.max(2.0);
    if max_period < min_period {
        return None;
    }
    let half = n / 2;
    let in_band: Vec<bool> = (0..=half)
        .map(|k| k >= 1 && nf / k as f64 <= max_period && !is_weekly(nf / k as f64))
        .collect();
    let band_bins = in_band.iter().filter(|&&b| b).count();
    let band_power: f64 = (0..=half).filter(|&k| in_band[k]).map(|k| power[k]).sum();
    // By Parseval, the non-zero frequencies hold n·variation in all; a band
    // holding a vanishing part of it (a series that is exactly weekly) is noise.
    if band_bins == 0 || band_power <= 1e-9 * nf * variation {
        return None;
    }
    // Fundamentals in quarter-bin steps: a 30.4-day month over 1000 days falls
    // between bins, and its harmonics drift off integer multiples.
    let first = (4.0 * nf / max_period).ceil() as usize;
    let last = (4.0 * nf / min_period).floor() as usize;
    let mut tried = 0usize;
    let mut best: Option<Cycle> = None;
    for q in first.max(4)..=last {
        let f = q as f64 / 4.0;
        let period = nf / f;
        if is_weekly(period) {
            continue;
        }
        tried += 1;
        let mut harmonics = 0usize;
        let mut sum = 0.0;
        let mut previous = 0usize;
        let mut h = 1.0;
        loop {
            let k = (h * f).round() as usize;
            if k > half {
                break;
            }
            if k != previous && in_band[k] {
                harmonics += 1;
                sum += power[k];
            }
            previous = k;
            h += 1.0;
        }
        if harmonics == 0 {
            continue;
        }
        let share = sum / band_power;
        let p = gamma_upper_tail(harmonics, share * band_bins as f64);
        let better = match &best {
            None => true,
            Some(b) => p < b.p_value || (p == b.p_value && share > b.share),
        };
        if better {
            best = Some(Cycle {
                period,
                share,
                harmonics,
                p_value: p,
            });
        }
    }
    best.map(|mut c| {
        c.p_value = (c.p_value * tried as f64).min(1.0);
        c
    })
}

fn periodic(data: &Dataset, agencies: &[Vec<Row>], s: &PatternSettings) -> Vec<Finding> {
    let mut findings = Vec::new();
    for rows in agencies {
        let items: Vec<(usize, NaiveDate)> = rows
            .iter()
            .filter_map(|r| Some((r.idx, r.signed?)))
            .collect();
        if let Some(f) = periodic_finding(data, &items, s) {
            findings.push(f);
        }
    }
    strongest(findings, data, s.max_findings_per_rule)
}

/// Which of `bins` equal parts of a cycle of `period` days day `t` falls in.
fn phase_bin(t: usize, period: f64, bins: usize) -> usize {
    let phase = (t as f64 % period) / period;
    ((phase * bins as f64) as usize).min(bins - 1)
}

fn periodic_finding(
    data: &Dataset,
    items: &[(usize, NaiveDate)],
    s: &PatternSettings,
) -> Option<Finding> {
    let last = items.iter().map(|&(_, d)| d).max()?;
    let earliest = items.iter().map(|&(_, d)| d).min()?;
    let max_days = i64::try_from(s.periodic_max_days.max(1)).unwrap_or(i64::MAX);
    let span = (last - earliest).num_days() + 1;
    let days = span.min(max_days);
    let start = last - chrono::Duration::days(days - 1);
    let n = usize::try_from(days).ok()?;
    let members: Vec<(usize, usize)> = items
        .iter()
        .filter(|&&(_, d)| d >= start)
        .filter_map(|&(i, d)| Some((i, usize::try_from((d - start).num_days()).ok()?)))
        .collect();
    if n < s.periodic_min_days || members.len() < s.periodic_min_contracts.max(1) {
        return None;
    }
    let mut counts = vec![0.0; n];
    for &(_, t) in &members {
        counts[t] += 1.0;
    }
    let cycle = strongest_cycle(&counts, s)?;
    if cycle.share < s.periodic_min_share || cycle.p_value > s.periodic_max_p_value {
        return None;
    }

    // The busiest phase of the cycle, by epoch folding: contracts are placed by
    // their phase in bins of about two days. The spectrum knows the period only to
    // a quarter bin, which over many cycles drifts by days, so the period is
    // refined to the one, within that uncertainty, that piles the most contracts
    // into one phase.
    let bins = ((cycle.period / 2.0).round() as usize).max(2);
    let fold = |period: f64| {
        let mut per_bin = vec![0usize; bins];
        for &(_, t) in &members {
            per_bin[phase_bin(t, period, bins)] += 1;
        }
        let mut peak = 0;
        for b in 1..bins {
            if per_bin[b] > per_bin[peak] {
                peak = b;
            }
        }
        (per_bin[peak], peak)
    };
    let uncertainty = cycle.period * cycle.period / n as f64;
    let mut period = cycle.period;
    let (mut most, mut peak) = fold(period);
    for step in 1..=20 {
        for sign in [-1.0, 1.0] {
            let candidate = cycle.period + sign * uncertainty * f64::from(step) / 20.0;
            if candidate < 2.0 {
                continue;
            }
            let (count, bin) = fold(candidate);
            if count > most {
                (most, peak, period) = (count, bin, candidate);
            }
        }
    }
    let cycle = Cycle { period, ..cycle };
    let per_bin_peak = most;
    let peak_share = per_bin_peak as f64 / members.len() as f64;
    let mut records: Vec<usize> = members
        .iter()
        .filter(|&&(_, t)| phase_bin(t, cycle.period, bins) == peak)
        .map(|&(i, _)| i)
        .collect();
    largest_first(data, &mut records);
    records.truncate(s.max_records);

    let severity = if cycle.share >= 0.5 {
        Severity::Medium
    } else {
        Severity::Low
    };
    let confidence =
        (0.4 + 0.4 * cycle.share + 0.1 * (members.len() as f64 / 1000.0).min(1.0)).min(0.9);
    let agency = unit_label(&data.contracts[members[0].0].agency);
    let p_text = if cycle.p_value < 0.0001 {
        "menos de 0,01%".to_string()
    } else {
        percent(cycle.p_value)
    };
    let description = format!(
        "Contratos de {agency} seguem um ciclo de {} dias, fora o ritmo semanal",
        decimal(cycle.period, 1)
    );
    let explanation = format!(
        "Contamos os contratos assinados a cada dia por {agency} em {n} dias ({d1} a {d2}, \
         {m} contratos) e procuramos ciclos na série. O ritmo da semana (dias úteis e fins de \
         semana) é normal e foi descartado. Um ciclo de {period} dias concentra {share} da \
         variação da série entre ciclos de {minp} a {maxp} dias; o acaso explicaria isso com \
         probabilidade de {p}. Na fase de pico do ciclo caem {peak} dos contratos, contra \
         {expected} se estivessem espalhados. Um ritmo assim pode vir de uma compra dividida \
         em parcelas assinadas periodicamente (fracionamento programado) ou de cadastro em \
         lote no sistema; os contratos da fase de pico estão listados.",
        n = n,
        d1 = date(start),
        d2 = date(last),
        m = members.len(),
        period = decimal(cycle.period, 1),
        share = percent(cycle.share),
        minp = decimal(s.periodic_min_period_days.max(2.0), 0),
        maxp = decimal(s.periodic_max_period_days.min(n as f64 / 4.0), 0),
        p = p_text,
        peak = percent(peak_share),
        expected = percent(1.0 / bins as f64),
    );
    let financial_impact = cited_total(data, &records);
    Some(Finding {
        family: Family::Pattern,
        rule: PERIODIC_DAILY_COUNTS,
        severity,
        confidence,
        description,
        explanation,
        records,
        suggested_actions: vec![
            "Verificar se os contratos da fase de pico têm o mesmo objeto e fornecedor \
             (parcelas de uma mesma compra)."
                .to_string(),
            "Perguntar ao órgão se o registro dos contratos é feito em lotes periódicos, o \
             que tornaria as datas publicadas pouco confiáveis."
                .to_string(),
        ],
        evidence: json!({
            "days": n,
            "contracts": members.len(),
            "period_days": cycle.period,
            "harmonics": cycle.harmonics,
            "power_share": cycle.share,
            "p_value_bonferroni": cycle.p_value,
            "phase_bins": bins,
            "peak_phase_share": peak_share,
            "first_day": start,
            "last_day": last,
        }),
        financial_impact,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::contracts::model::Contract;
    use crate::sources::contracts::rules::of_rule;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
    }

    fn contract(agency: &str, n: usize, signed: NaiveDate, value: f64) -> Contract {
        Contract {
            key: format!("{agency}|{n}"),
            number: format!("{n}2022"),
            object: "Aquisição de material".to_string(),
            agency: Unit {
                code: Some(agency.into()),
                name: Some(format!("Órgão {agency}").into()),
            },
            ug: Unit {
                code: Some(format!("{agency}0").into()),
                name: None,
            },
            supplier_code: Some(format!("{n:014}").into()),
            signed: Some(signed),
            initial_value: Some(value),
            ..Contract::default()
        }
    }

    fn detect(contracts: Vec<Contract>) -> (Dataset, Vec<Finding>) {
        let data = Dataset {
            contracts,
            ..Default::default()
        };
        let findings = PatternDetector {
            settings: PatternSettings::default(),
        }
        .detect(&data);
        (data, findings)
    }

    /// `n` values spread evenly over three decades on a log scale: their first
    /// digits follow Benford's law. One in `every` (if any) is replaced by a value
    /// starting with 5.
    fn benford_agency(agency: &str, n: usize, every: Option<usize>) -> Vec<Contract> {
        let start = day(2022, 1, 3);
        (0..n)
            .map(|i| {
                let mut value = 10f64.powf(2.0 + 3.0 * (i as f64 + 0.5) / n as f64);
                if every.is_some_and(|k| i % k == 0) {
                    value = 5_000.0 + i as f64;
                }
                contract(
                    agency,
                    i,
                    start + chrono::Duration::days((i % 300) as i64),
                    value,
                )
            })
            .collect()
    }

    #[test]
    fn first_digits_are_read_from_any_magnitude() {
        assert_eq!(first_digit(1000.0), Some(1));
        assert_eq!(first_digit(999.99), Some(9));
        assert_eq!(first_digit(0.05), Some(5));
        assert_eq!(first_digit(53_170.04), Some(5));
        assert_eq!(first_digit(0.0), None);
        assert_eq!(first_digit(f64::NAN), None);
    }

    #[test]
    fn agencies_whose_values_break_benford_are_flagged_by_how_far() {
        let mut contracts = benford_agency("10000", 600, None);
        contracts.extend(benford_agency("20000", 2_000, Some(10)));
        contracts.extend(benford_agency("30000", 400, Some(2)));
        let (data, findings) = detect(contracts);
        let benford = of_rule(&findings, BENFORD_FIRST_DIGIT);
        assert!(
            benford
                .iter()
                .all(|f| !f.description.contains("Órgão 10000")),
            "{benford:#?}"
        );
        let strong = benford
            .iter()
            .find(|f| f.description.contains("Órgão 30000"))
            .expect("half the values start with 5");
        let mild = benford
            .iter()
            .find(|f| f.description.contains("Órgão 20000"))
            .expect("a tenth of the values start with 5");
        assert_eq!(strong.severity, Severity::High);
        assert_eq!(mild.severity, Severity::Medium);
        assert!(strong
            .records
            .iter()
            .all(|&i| { first_digit(data.contracts[i].initial_value.unwrap_or(0.0)) == Some(5) }));
        assert_eq!(strong.records.len(), 50);
        assert!(
            mild.confidence > strong.confidence,
            "2000 values weigh more than 400"
        );
        assert!(
            strong.explanation.contains("Nos 400 contratos"),
            "{}",
            strong.explanation
        );
        assert!(
            strong.explanation.contains("O dígito 5 inicia"),
            "{}",
            strong.explanation
        );
        assert!(
            strong.explanation.contains("0,015"),
            "{}",
            strong.explanation
        );
    }

    #[test]
    fn conforming_or_small_samples_produce_no_benford_finding() {
        let (_, findings) = detect(benford_agency("10000", 600, None));
        assert!(findings.is_empty(), "{findings:#?}");
        // 250 values all starting with 9: too few to test.
        let nines = (0..250)
            .map(|i| contract("40000", i, day(2022, 3, 1), 9_000.0 + i as f64))
            .collect();
        let (_, findings) = detect(nines);
        assert!(
            of_rule(&findings, BENFORD_FIRST_DIGIT).is_empty(),
            "{findings:#?}"
        );
    }

    #[test]
    fn the_spectrum_of_a_pure_cycle_peaks_at_its_frequency() {
        let series: Vec<f64> = (0..64)
            .map(|t| (2.0 * PI * 5.0 * t as f64 / 64.0).cos())
            .collect();
        let power = power_spectrum(&series);
        assert_eq!(power.len(), 33);
        assert!((power[5] - 1024.0).abs() < 1e-6, "{}", power[5]);
        assert!(power.iter().enumerate().all(|(k, p)| k == 5 || *p < 1e-6));
    }

    /// A tiny deterministic generator, so "noise" is the same on every run.
    struct Lcg(u64);

    impl Lcg {
        fn below(&mut self, n: u64) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (self.0 >> 33) % n
        }
    }

    /// Weekday contracts (0 to 4 a day, none at weekends) over `days` days from a
    /// Monday, plus `batch` contracts every `every` days if asked.
    fn daily_agency(
        agency: &str,
        days: i64,
        batch: Option<(i64, usize)>,
        seed: u64,
    ) -> Vec<Contract> {
        let monday = day(2021, 1, 4);
        let mut rng = Lcg(seed);
        let mut out = Vec::new();
        for t in 0..days {
            let signed = monday + chrono::Duration::days(t);
            let mut count = if t % 7 < 5 { rng.below(5) as usize } else { 0 };
            if let Some((every, size)) = batch {
                if t % every == 3 {
                    count += size;
                }
            }
            for _ in 0..count {
                let n = out.len();
                out.push(contract(
                    agency,
                    n,
                    signed,
                    1_000.0 + rng.below(100_000) as f64,
                ));
            }
        }
        out
    }

    #[test]
    fn a_monthly_batch_of_contracts_is_a_periodic_pattern() {
        let mut contracts = daily_agency("50000", 400, Some((30, 12)), 7);
        contracts.extend(daily_agency("60000", 400, Some((45, 4)), 11));
        let (data, findings) = detect(contracts);
        let periodic = of_rule(&findings, PERIODIC_DAILY_COUNTS);
        let strong = periodic
            .iter()
            .find(|f| f.description.contains("Órgão 50000"))
            .expect("a batch of 12 every 30 days");
        let period = strong.evidence["period_days"].as_f64().expect("period");
        assert!((period - 30.0).abs() < 0.5, "{period}");
        assert!(
            strong.description.contains("ciclo de 30,"),
            "{}",
            strong.description
        );
        assert!(
            strong.explanation.contains("em 400 dias"),
            "{}",
            strong.explanation
        );
        // The batch days (day 3 of each cycle) are the busiest phase.
        let start = day(2021, 1, 4);
        assert!(strong.records.iter().all(|&i| {
            let t = (data.contracts[i].signed.expect("dated") - start).num_days();
            (t % 30 - 3).abs() <= 1
        }));
        if let Some(weak) = periodic
            .iter()
            .find(|f| f.description.contains("Órgão 60000"))
        {
            assert!(strong.confidence > weak.confidence);
            assert!(strong.severity >= weak.severity);
        }
        assert_eq!(
            periodic[0].description, strong.description,
            "strongest first"
        );
    }

    #[test]
    fn the_working_week_alone_is_not_a_periodic_pattern() {
        let mut contracts = daily_agency("70000", 700, None, 3);
        contracts.extend(daily_agency("80000", 200, None, 5));
        let (_, findings) = detect(contracts);
        assert!(
            of_rule(&findings, PERIODIC_DAILY_COUNTS).is_empty(),
            "{findings:#?}"
        );
    }

    #[test]
    fn the_real_file_gives_a_modest_number_of_findings() {
        let data = crate::sources::contracts::rules::real_data();
        let started = std::time::Instant::now();
        let findings = PatternDetector {
            settings: PatternSettings::default(),
        }
        .detect(&data);
        let elapsed = started.elapsed();
        let benford = of_rule(&findings, BENFORD_FIRST_DIGIT);
        let periodic = of_rule(&findings, PERIODIC_DAILY_COUNTS);
        eprintln!(
            "{} contracts: {} benford, {} periodic in {elapsed:?}",
            data.contracts.len(),
            benford.len(),
            periodic.len()
        );
        for f in &findings {
            eprintln!(
                "{:?} {:.2} {}\n  {}\n",
                f.severity, f.confidence, f.description, f.explanation
            );
        }
        assert!(benford.len() <= 20, "{}", benford.len());
        assert!(periodic.len() <= 20, "{}", periodic.len());
        // How close the strongest cycles come to the thresholds.
        let permissive = PatternDetector {
            settings: PatternSettings {
                periodic_min_share: 0.0,
                periodic_max_p_value: 1.0,
                ..PatternSettings::default()
            },
        }
        .detect(&data);
        let mut cycles: Vec<(f64, f64, f64)> = of_rule(&permissive, PERIODIC_DAILY_COUNTS)
            .iter()
            .map(|f| {
                let e = &f.evidence;
                let get = |k: &str| e[k].as_f64().unwrap_or(f64::NAN);
                (
                    get("p_value_bonferroni"),
                    get("power_share"),
                    get("period_days"),
                )
            })
            .collect();
        cycles.sort_by(|a, b| a.0.total_cmp(&b.0));
        eprintln!(
            "strongest cycles (p, share, period): {:?}",
            &cycles[..cycles.len().min(5)]
        );
    }
}
