//! Price: contracts that cost far more than comparable contracts.
//!
//! Rule `price.robust_zscore` compares each contract's value (the final value when
//! known, else the initial one) with the values of comparable contracts, on a log
//! scale, and flags the ones many robust standard deviations above the group's
//! median. Overpricing is the costliest irregularity in public purchasing, and a
//! value orders of magnitude above its peers is also how a typing error (a misplaced
//! decimal comma) shows, which corrupts every total built on the data.
//!
//! Comparable means: the same agency (its code, else the superior agency's), the
//! same purchase modality (a `Dispensa` is not priced like a `Pregão`), and a
//! similar object. Similar objects share a signature: the first two meaningful words
//! of the object (the words of [`text::tokens`], skipping numbers and the phrases
//! that open an object without saying what is bought, such as "o presente
//! instrumento"), sorted, so "Manutenção preventiva de elevadores" and "manutenção
//! preventiva e corretiva" meet. Where such a group is smaller than
//! `min_group_size`, the contract is compared with its agency and modality as a
//! whole: a coarser yardstick, reported as such and with less confidence. Contracts
//! without a modality, an agency or a value of at least `min_value` (R$ 0,01 is a
//! placeholder, not a price) are skipped, never read as zero. At most
//! `max_findings` findings are kept, the strongest in the one rank order
//! (severity, confidence, excess; `analysis::rank`).
//!
//! Values span orders of magnitude, so the comparison uses log(value): the median
//! and 1.4826·MAD of [`stats::robust_center_scale`], which a few outliers cannot
//! inflate. The spread is floored at `min_log_scale`: in a group of identical
//! values any difference would otherwise be infinitely unusual. A contract is
//! flagged when its robust z exceeds `z_threshold` AND its value is at least
//! `min_ratio_to_median` times the group's typical value (exp of the median log),
//! so that a statistically odd but practically small difference is not reported.
//! Only high outliers by default; `include_low_outliers` adds suspiciously cheap
//! ones.
//!
//! Severity, for high outliers (v = value, `severe_z` 6, `large_value` R$ 1 million,
//! and the midpoint m = (`z_threshold` + `severe_z`) / 2):
//! - critical: z ≥ `severe_z` and v ≥ `large_value`;
//! - high: z ≥ `severe_z`, or v ≥ `large_value` and z ≥ m;
//! - medium: v ≥ `large_value`, or z ≥ m;
//! - low: otherwise.
//!
//! Low outliers put no money at stake: medium when z ≤ −`severe_z`, else low.
//!
//! Confidence grows from 0.5 at the threshold to 0.9 at twice the threshold, times
//! 0.85 for the coarse (agency and modality) comparison and 0.9 for a group under
//! twice the minimum size. `financial_impact` = value − the group's typical value:
//! the excess over the usual price (0 for low outliers).
//!
//! A credenciamento (`recognised::is_credenciamento`) registers a ceiling, not
//! a price: it is two steps lower, with 0.7 times the confidence, and says so.
//! A support foundation, utility, state company or public laboratory
//! (`recognised::is_routine_supplier`) is one step lower, with 0.85 times it
//! (`recognised::Recognised`).

pub use crate::config::detectors::PriceSettings;
use std::hash::Hasher;
use std::sync::OnceLock;

use serde_json::json;

use crate::analysis::rank::{keep_strongest, Rank};
use crate::domain::format::{self, count, round, thousands};
use crate::domain::stats;
use crate::domain::text;
use crate::sources::contracts::model::{
    supplier_name, Contract, Dataset, Detector, Family, Finding, Severity,
};

use super::recognised::Recognised;

/// A contract far above (or below) the value of comparable contracts.
pub const ROBUST_ZSCORE: &str = "price.robust_zscore";

pub struct PriceDetector {
    pub settings: PriceSettings,
}

impl Detector<Dataset> for PriceDetector {
    fn family(&self) -> Family {
        Family::Price
    }

    fn detect(&self, data: &Dataset) -> Vec<Finding> {
        let mut findings = robust_zscore(&self.settings, data);
        findings.extend(super::item_price::item_unit_price(&self.settings, data));
        findings
    }
}

/// Words that open an object statement without naming what is bought, beyond the
/// stop words of [`text::tokens`]: "O objeto do presente instrumento é a
/// contratação de serviços continuados de ..." must sign as what follows.
const OPENING_WORDS: &[&str] = &[
    "presente",
    "instrumento",
    "tem",
    "objetivo",
    "continuados",
    "continuada",
    "continuado",
    "comuns",
    "especializados",
    "execucao",
];

/// How many leading words make an object's signature.
const SIGNATURE_WORDS: usize = 2;
/// Only the start of an object is read for its signature: it names the thing
/// bought, and folding whole objects (hundreds of characters) would dominate the
/// detector's time.
const SIGNATURE_PREFIX_BYTES: usize = 200;

/// `text::fold` of each Latin-1 character, computed by `fold` itself so the fast
/// path cannot drift from it. Folding is per character for these (none is a
/// combining mark), so folding a Latin-1 string character by character equals
/// folding it whole.
struct Latin1Fold {
    /// The folded ASCII byte; `SEPARATOR`, or `OTHER` when the fold is not one
    /// ASCII byte (ß, æ, ª…) and is in `other`.
    ascii: [u8; 256],
    other: Vec<String>,
}

const SEPARATOR: u8 = 0;
const OTHER: u8 = 0xFF;

fn latin1_fold() -> &'static Latin1Fold {
    static TABLE: OnceLock<Latin1Fold> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut ascii = [SEPARATOR; 256];
        let mut other = vec![String::new(); 256];
        for b in 0u8..=255 {
            let folded = text::fold(&char::from(b).to_string());
            ascii[b as usize] = match folded.as_bytes() {
                [] => SEPARATOR,
                [c] if c.is_ascii() && *c != SEPARATOR => *c,
                _ => OTHER,
            };
            other[b as usize] = folded;
        }
        Latin1Fold { ascii, other }
    })
}

/// FNV-1a: the signer hashes millions of short words, where SipHash's
/// resistance to chosen keys buys nothing and costs a third of the time.
type FnvMap<K, V> = fnv::FnvHashMap<K, V>;

/// The start of an object that its signature reads: up to the last whitespace
/// before `SIGNATURE_PREFIX_BYTES`, so no word is cut.
fn signature_prefix(object: &str) -> &str {
    if object.len() <= SIGNATURE_PREFIX_BYTES {
        return object;
    }
    let mut end = SIGNATURE_PREFIX_BYTES;
    while !object.is_char_boundary(end) {
        end -= 1;
    }
    let prefix = &object[..end];
    match prefix.rfind(char::is_whitespace) {
        Some(space) => &prefix[..space],
        None => prefix,
    }
}

/// Finds the first `SIGNATURE_WORDS` meaningful words of objects: the words
/// `text::tokens` keeps, of at least 3 letters and not only digits, and not
/// `OPENING_WORDS`. Mostly Latin-1 text is folded through a table and scanning
/// stops at the second word, because folding every object whole costs seconds
/// over a million contracts; other text goes through `text::fold`.
#[derive(Default)]
struct Signer {
    /// Whether `text::tokens` keeps a folded word, remembered per word.
    meaningful: FnvMap<String, bool>,
    word: String,
    found: Vec<String>,
}

impl Signer {
    fn words(&mut self, object: &str) -> &[String] {
        self.found.clear();
        self.word.clear();
        let prefix = signature_prefix(object);
        let table = latin1_fold();
        let mut fast = true;
        for ch in prefix.chars() {
            let Ok(b) = u8::try_from(u32::from(ch)) else {
                fast = false;
                break;
            };
            match table.ascii[b as usize] {
                SEPARATOR => {
                    self.finish_word();
                    if self.found.len() == SIGNATURE_WORDS {
                        return &self.found;
                    }
                }
                OTHER => self.word.push_str(&table.other[b as usize]),
                c => self.word.push(char::from(c)),
            }
        }
        if fast {
            self.finish_word();
            return &self.found;
        }
        self.found.clear();
        self.word.clear();
        for w in text::fold(prefix).split(' ') {
            self.word.push_str(w);
            self.finish_word();
            if self.found.len() == SIGNATURE_WORDS {
                break;
            }
        }
        &self.found
    }

    fn finish_word(&mut self) {
        let word = self.word.as_str();
        if self.found.len() < SIGNATURE_WORDS
            && word.len() >= 3
            && word.chars().any(char::is_alphabetic)
            && !OPENING_WORDS.contains(&word)
            && !self.found.iter().any(|w| w == word)
        {
            let keep = match self.meaningful.get(word) {
                Some(keep) => *keep,
                None => {
                    let keep = text::tokens(word).contains(word);
                    self.meaningful.insert(word.to_string(), keep);
                    keep
                }
            };
            if keep {
                self.found.push(word.to_string());
            }
        }
        self.word.clear();
    }
}

fn agency_code(c: &Contract) -> Option<&str> {
    c.agency
        .code
        .as_deref()
        .or(c.superior_agency.code.as_deref())
        .filter(|s| !s.trim().is_empty())
}

fn agency_name(c: &Contract) -> String {
    c.agency
        .name
        .as_deref()
        .or(c.superior_agency.name.as_deref())
        .or(agency_code(c))
        .unwrap_or("órgão não informado")
        .to_string()
}

fn modality(c: &Contract) -> Option<&str> {
    c.modality
        .as_deref()
        .or(c.bidding_modality.as_deref())
        .filter(|s| !s.trim().is_empty())
}

/// One contract that can be priced, as its group keys: FNV hashes of the agency
/// code, the folded modality and the signature words (64-bit hashes of a few
/// thousand distinct strings do not collide in practice). Hashes let each thread
/// key its share of the contracts without shared tables.
struct Priced {
    idx: usize,
    agency: u64,
    modality: u64,
    /// Sorted word hashes; `NO_WORD` where the object has fewer words.
    words: [u64; 2],
    log_value: f64,
}

impl Priced {
    fn coarse_key(&self) -> (u64, u64) {
        (self.agency, self.modality)
    }
}

const NO_WORD: u64 = 0;

fn fnv(s: &str) -> u64 {
    let mut h = fnv::FnvHasher::default();
    h.write(s.as_bytes());
    // 0 marks "no word".
    h.finish().max(1)
}

/// Below this many contracts, one thread does all the work.
const PARALLEL_FROM: usize = 50_000;

/// The priceable contracts of `contracts` (which start at index `offset`).
fn price_chunk(s: &PriceSettings, contracts: &[Contract], offset: usize) -> Vec<Priced> {
    let mut modalities: FnvMap<&str, u64> = FnvMap::default();
    let mut signer = Signer::default();
    let mut priced = Vec::with_capacity(contracts.len());
    for (i, c) in contracts.iter().enumerate() {
        let (Some(value), Some(agency), Some(raw_modality)) =
            (c.value_now(), agency_code(c), modality(c))
        else {
            continue;
        };
        if !value.is_finite() || value <= 0.0 || value < s.min_value {
            continue;
        }
        let modality = *modalities
            .entry(raw_modality)
            .or_insert_with(|| fnv(&text::fold(raw_modality)));
        let mut words = [NO_WORD; 2];
        for (slot, word) in words.iter_mut().zip(signer.words(&c.object)) {
            *slot = fnv(word);
        }
        words.sort_unstable();
        priced.push(Priced {
            idx: offset + i,
            agency: fnv(agency),
            modality,
            words,
            log_value: value.ln(),
        });
    }
    priced
}

/// The yardstick a contract was measured against.
#[derive(Clone, Copy, PartialEq)]
enum Yardstick {
    /// Same agency, modality and object signature.
    SimilarObjects,
    /// Same agency and modality only.
    AgencyModality,
}

#[derive(Clone, Copy, PartialEq)]
enum Direction {
    Above,
    Below,
}

struct GroupStats {
    size: usize,
    center: f64,
    scale: f64,
    yardstick: Yardstick,
}

fn group_stats(members: &[Priced], yardstick: Yardstick, s: &PriceSettings) -> Option<GroupStats> {
    if members.len() < s.min_group_size.max(2) {
        return None;
    }
    let logs: Vec<f64> = members.iter().map(|p| p.log_value).collect();
    let (center, scale) = stats::robust_center_scale(&logs)?;
    Some(GroupStats {
        size: members.len(),
        center,
        scale: scale.max(s.min_log_scale),
        yardstick,
    })
}

/// Minimum, 10th, 25th, 75th, 90th percentile and maximum of a group's values.
fn spread_of(members: &[Priced]) -> [f64; 6] {
    let mut values: Vec<f64> = members.iter().map(|p| p.log_value.exp()).collect();
    values.sort_unstable_by(f64::total_cmp);
    [0.0, 0.1, 0.25, 0.75, 0.9, 1.0]
        .map(|q| round(stats::quantile_sorted(&values, q).unwrap_or(0.0), 2))
}

struct Candidate {
    idx: usize,
    value: f64,
    z: f64,
    typical: f64,
    size: usize,
    /// The peers' values: minimum, 10th, 25th, 75th, 90th percentile, maximum.
    spread: [f64; 6],
    yardstick: Yardstick,
    direction: Direction,
    severity: Severity,
    financial_impact: f64,
    /// A credenciamento or a routine supplier, shown lower.
    recognised: Option<Recognised>,
}

fn robust_zscore(s: &PriceSettings, data: &Dataset) -> Vec<Finding> {
    let contracts = &data.contracts;
    // Reading a million contracts' scattered strings is most of the time, so it is
    // spread over the cores; chunks are joined in order, so the result does not
    // depend on how many there are.
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut priced = if threads < 2 || contracts.len() < PARALLEL_FROM {
        price_chunk(s, contracts, 0)
    } else {
        let size = contracts.len().div_ceil(threads);
        std::thread::scope(|scope| {
            let parts: Vec<_> = contracts
                .chunks(size)
                .enumerate()
                .map(|(k, part)| scope.spawn(move || price_chunk(s, part, k * size)))
                .collect();
            let mut all = Vec::with_capacity(contracts.len());
            for part in parts {
                match part.join() {
                    Ok(p) => all.extend(p),
                    Err(panic) => std::panic::resume_unwind(panic),
                }
            }
            all
        })
    };
    priced.sort_unstable_by_key(|p| (p.agency, p.modality, p.words, p.idx));

    let mut candidates = Vec::new();
    for coarse in priced.chunk_by(|a, b| a.coarse_key() == b.coarse_key()) {
        let coarse_stats = group_stats(coarse, Yardstick::AgencyModality, s);
        // Sorted only for groups that hold a candidate, once each.
        let mut coarse_spread = None;
        for fine in coarse.chunk_by(|a, b| a.words == b.words) {
            let mut fine_spread = None;
            let has_signature = fine[0].words.iter().any(|w| *w != NO_WORD);
            let fine_stats = if has_signature {
                group_stats(fine, Yardstick::SimilarObjects, s)
            } else {
                None
            };
            let Some(g) = fine_stats.as_ref().or(coarse_stats.as_ref()) else {
                continue;
            };
            let typical = g.center.exp();
            for p in fine {
                let z = stats::robust_z(p.log_value, g.center, g.scale);
                let value = contracts[p.idx]
                    .value_now()
                    .unwrap_or_else(|| p.log_value.exp());
                let direction = if z > s.z_threshold && value >= s.min_ratio_to_median * typical {
                    Direction::Above
                } else if s.include_low_outliers
                    && z < -s.z_threshold
                    && value * s.min_ratio_to_median <= typical
                {
                    Direction::Below
                } else {
                    continue;
                };
                let recognised = Recognised::of(&contracts[p.idx]);
                let mut severity = severity(s, direction, z, value);
                if let Some(case) = recognised {
                    severity = case.lowered(severity);
                }
                let financial_impact = match direction {
                    Direction::Above => round(value - typical, 2).max(0.0),
                    Direction::Below => 0.0,
                };
                let spread = if fine_stats.is_some() {
                    *fine_spread.get_or_insert_with(|| spread_of(fine))
                } else {
                    *coarse_spread.get_or_insert_with(|| spread_of(coarse))
                };
                candidates.push(Candidate {
                    idx: p.idx,
                    value,
                    z,
                    typical,
                    size: g.size,
                    spread,
                    yardstick: g.yardstick,
                    direction,
                    severity,
                    financial_impact,
                    recognised,
                });
            }
        }
    }

    let ranked = candidates
        .into_iter()
        .map(|cand| {
            let rank = Rank {
                severity: cand.severity,
                confidence: confidence(s, &cand),
                impact: cand.financial_impact,
                first: cand.idx,
            };
            (rank, cand)
        })
        .collect();
    let mut signer = Signer::default();
    keep_strongest(ranked, contracts, s.max_findings)
        .iter()
        .map(|(rank, cand)| {
            let c = &contracts[cand.idx];
            finding(s, c, (cand, rank.confidence), signer.words(&c.object))
        })
        .collect()
}

fn severity(s: &PriceSettings, direction: Direction, z: f64, value: f64) -> Severity {
    let mid = (s.z_threshold + s.severe_z) / 2.0;
    match direction {
        Direction::Below if z <= -s.severe_z => Severity::Medium,
        Direction::Below => Severity::Low,
        Direction::Above => {
            let large = value >= s.large_value;
            if z >= s.severe_z && large {
                Severity::Critical
            } else if z >= s.severe_z || (large && z >= mid) {
                Severity::High
            } else if large || z >= mid {
                Severity::Medium
            } else {
                Severity::Low
            }
        }
    }
}

fn confidence(s: &PriceSettings, cand: &Candidate) -> f64 {
    let t = s.z_threshold.max(f64::EPSILON);
    let excess = ((cand.z.abs() - t) / t).clamp(0.0, 1.0);
    let mut c = 0.5 + 0.4 * excess;
    if cand.yardstick == Yardstick::AgencyModality {
        c *= 0.85;
    }
    if cand.size < 2 * s.min_group_size {
        c *= 0.9;
    }
    if let Some(case) = cand.recognised {
        c *= case.confidence_factor();
    }
    (c * 1000.0).round() / 1000.0
}

/// "12,5" below 10, "340" or "6.293.976" from there: how many times the median.
fn times(ratio: f64) -> String {
    if ratio < 10.0 {
        return format::decimal(ratio, 1);
    }
    thousands(ratio)
}

fn finding(
    s: &PriceSettings,
    c: &Contract,
    (cand, confidence): (&Candidate, f64),
    keywords: &[String],
) -> Finding {
    let agency = agency_name(c);
    let modality_shown = modality(c).unwrap_or_default().to_string();
    let supplier = supplier_name(c);
    let (ratio, relation) = match cand.direction {
        Direction::Above => (cand.value / cand.typical, "acima"),
        Direction::Below => (cand.typical / cand.value, "abaixo"),
    };
    let group = match cand.yardstick {
        Yardstick::SimilarObjects => format!(
            "os {} contratos de {agency} na modalidade {modality_shown} com objeto semelhante \
             (palavras-chave: {})",
            count(cand.size),
            keywords.join(", ")
        ),
        Yardstick::AgencyModality => format!(
            "os {} contratos de {agency} na modalidade {modality_shown} (havia menos de {} \
             contratos com objeto semelhante, então a comparação usa o órgão e a modalidade, \
             uma régua mais grosseira)",
            count(cand.size),
            s.min_group_size
        ),
    };
    let description = match cand.direction {
        Direction::Above => format!(
            "Contrato {} de {agency} com {supplier}: {}, {} vezes o valor típico de contratos \
             comparáveis",
            c.number,
            format::reais(cand.value),
            times(ratio)
        ),
        Direction::Below => format!(
            "Contrato {} de {agency} com {supplier}: {}, {} vezes menor que o valor típico de \
             contratos comparáveis",
            c.number,
            format::reais(cand.value),
            times(ratio)
        ),
    };
    let multiple = match cand.direction {
        Direction::Above => format!("{} vezes a mediana", times(ratio)),
        Direction::Below => format!("{} vezes menos que a mediana", times(ratio)),
    };
    let explanation = format!(
        "Comparamos este contrato com {group}. O valor típico (mediana) do grupo é {}; este \
         contrato vale {}, {multiple}. Na escala logarítmica, que trata igualmente contratos \
         grandes e pequenos, ele está a {} desvios robustos {relation} do centro do grupo; \
         consideramos atípico a partir de {} desvios e de {} vezes a mediana.{}",
        format::reais(cand.typical),
        format::reais(cand.value),
        format::decimal(cand.z.abs(), 1),
        format::decimal(s.z_threshold, 1),
        format::decimal(s.min_ratio_to_median, 1),
        cand.recognised.map_or("", Recognised::note),
    );
    let suggested_actions = match cand.direction {
        Direction::Above => vec![
            "Verificar se o valor publicado não contém erro de digitação (casas decimais)."
                .to_string(),
            "Solicitar ao órgão a pesquisa de preços e o orçamento estimado que fundamentaram \
             o valor."
                .to_string(),
            "Comparar objeto, quantidades e prazo com os contratos semelhantes do mesmo órgão."
                .to_string(),
        ],
        Direction::Below => vec![
            "Verificar se o valor publicado está completo ou é um valor simbólico.".to_string(),
            "Verificar se o contrato é parte de uma compra maior dividida em contratos menores."
                .to_string(),
        ],
    };
    Finding {
        family: Family::Price,
        rule: ROBUST_ZSCORE,
        severity: cand.severity,
        confidence,
        description,
        explanation,
        records: vec![cand.idx],
        suggested_actions,
        evidence: json!({
            "value": cand.value,
            "group_median": round(cand.typical, 2),
            "group_size": cand.size,
            // The peers' distribution, for a picture of where this one falls.
            "group_spread": {
                "min": cand.spread[0],
                "p10": cand.spread[1],
                "p25": cand.spread[2],
                "p75": cand.spread[3],
                "p90": cand.spread[4],
                "max": cand.spread[5],
            },
            "yardstick": match cand.yardstick {
                Yardstick::SimilarObjects => "agency_modality_object",
                Yardstick::AgencyModality => "agency_modality",
            },
            "keywords": keywords,
            "agency_code": agency_code(c),
            "modality": modality_shown,
            "ratio_to_median": round(ratio, 2),
            "robust_z": round(cand.z, 2),
            "credenciamento": cand.recognised == Some(Recognised::Credenciamento),
            "routine_supplier": cand.recognised == Some(Recognised::RoutineSupplier),
            "recognised": cand.recognised.map(Recognised::label),
            "z_threshold": s.z_threshold,
            "min_ratio_to_median": s.min_ratio_to_median,
        }),
        financial_impact: cand.financial_impact,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contract(i: usize, agency: &str, modality: &str, object: &str, value: f64) -> Contract {
        Contract {
            key: format!("k{i:04}"),
            number: format!("{i}/2022"),
            object: object.to_string(),
            modality: Some(modality.into()),
            agency: crate::sources::contracts::model::Unit {
                code: Some(agency.into()),
                name: Some(format!("Órgão {agency}").into()),
            },
            supplier_code: Some(format!("{:014}", i).into()),
            supplier_name: Some(format!("Fornecedor {i}").into()),
            final_value: Some(value),
            ..Default::default()
        }
    }

    /// `n` regular contracts around `base`, spread between 0.8× and 1.25×.
    fn regular(
        start: usize,
        n: usize,
        agency: &str,
        modality: &str,
        object: &str,
        base: f64,
    ) -> Vec<Contract> {
        (0..n)
            .map(|i| {
                let factor = 0.8 + 0.45 * (i as f64) / (n.max(2) - 1) as f64;
                contract(start + i, agency, modality, object, base * factor)
            })
            .collect()
    }

    fn detect(contracts: Vec<Contract>) -> Vec<Finding> {
        PriceDetector {
            settings: PriceSettings::default(),
        }
        .detect(&Dataset {
            contracts,
            ..Default::default()
        })
    }

    #[test]
    fn a_contract_twenty_times_the_group_median_is_flagged() {
        let mut contracts = regular(
            0,
            12,
            "26000",
            "Pregão",
            "Aquisição de material de limpeza",
            10_000.0,
        );
        contracts.push(contract(
            99,
            "26000",
            "Pregão",
            "AQUISIÇÃO DE MATERIAL DE LIMPEZA.",
            200_000.0,
        ));
        let findings = detect(contracts);
        assert_eq!(findings.len(), 1, "{findings:#?}");
        let f = &findings[0];
        assert_eq!(f.rule, ROBUST_ZSCORE);
        assert_eq!(f.family, Family::Price);
        assert_eq!(f.records, vec![12]);
        assert!(f.description.contains("99/2022"), "{}", f.description);
        assert!(f.description.contains("R$ 200.000,00"), "{}", f.description);
        assert!(
            f.explanation.contains("os 13 contratos"),
            "{}",
            f.explanation
        );
        assert!(
            f.explanation.contains("material, limpeza"),
            "{}",
            f.explanation
        );
        assert!(f.explanation.contains("mediana"), "{}", f.explanation);
        let median = f.evidence["group_median"].as_f64().expect("median");
        assert!(
            f.explanation.contains(&format::reais(median)),
            "{}",
            f.explanation
        );
        assert!((f.financial_impact - (200_000.0 - median)).abs() < 0.01);
        // The peers' spread, for the page's picture: ordered, around the
        // median, the flagged contract its maximum.
        let spread = &f.evidence["group_spread"];
        let q: Vec<f64> = ["min", "p10", "p25", "p75", "p90", "max"]
            .iter()
            .map(|k| spread[k].as_f64().expect("a percentile"))
            .collect();
        assert!(q.windows(2).all(|w| w[0] <= w[1]), "{spread}");
        assert!(q[2] <= median && median <= q[3], "{spread} {median}");
        assert_eq!(q[5], 200_000.0);
        assert!(f.severity >= Severity::Medium);
        assert!(f.confidence > 0.5 && f.confidence <= 1.0);
    }

    #[test]
    fn a_million_real_outlier_ranks_above_a_small_one() {
        let mut contracts = regular(0, 10, "1", "Pregão", "Locação de veículos", 100_000.0);
        contracts.push(contract(
            50,
            "1",
            "Pregão",
            "Locação de veículos",
            50_000_000.0,
        ));
        contracts.extend(regular(
            100,
            10,
            "2",
            "Dispensa de Licitação",
            "Serviço de chaveiro",
            1_000.0,
        ));
        contracts.push(contract(
            150,
            "2",
            "Dispensa de Licitação",
            "Serviço de chaveiro",
            8_000.0,
        ));
        let findings = detect(contracts);
        assert_eq!(findings.len(), 2, "{findings:#?}");
        assert_eq!(findings[0].records, vec![10]);
        assert_eq!(findings[0].severity, Severity::Critical);
        assert_eq!(findings[1].records, vec![21]);
        assert!(findings[1].severity < Severity::Critical);
        assert!(
            findings[0].explanation.contains("476 vezes a mediana"),
            "{}",
            findings[0].explanation
        );
    }

    #[test]
    fn small_object_groups_fall_back_to_agency_and_modality() {
        let objects = [
            "Aquisição de cadeiras",
            "Aquisição de mesas",
            "Aquisição de armários",
        ];
        let mut contracts = Vec::new();
        for (g, object) in objects.iter().enumerate() {
            contracts.extend(regular(g * 10, 4, "3", "Pregão", object, 20_000.0));
        }
        contracts.push(contract(90, "3", "Pregão", "Aquisição de sofás", 900_000.0));
        let findings = detect(contracts);
        assert_eq!(findings.len(), 1, "{findings:#?}");
        assert_eq!(findings[0].records, vec![12]);
        assert!(
            findings[0].explanation.contains("os 13 contratos"),
            "{}",
            findings[0].explanation
        );
        assert!(findings[0].explanation.contains("régua mais grosseira"));
        assert_eq!(findings[0].evidence["yardstick"], "agency_modality");
    }

    #[test]
    fn regular_prices_produce_nothing() {
        let mut contracts = regular(0, 30, "4", "Pregão", "Aquisição de papel A4", 5_000.0);
        contracts.extend(regular(
            100,
            30,
            "4",
            "Pregão",
            "Obra de reforma do bloco B",
            2_000_000.0,
        ));
        contracts.extend(regular(
            200,
            9,
            "4",
            "Dispensa de Licitação",
            "Serviço de chaveiro",
            900.0,
        ));
        assert!(detect(contracts).is_empty());
    }

    #[test]
    fn different_modalities_and_agencies_are_not_compared() {
        // A concorrência for works next to small pregões of the same object: not
        // comparable, so not an outlier.
        let mut contracts = regular(0, 10, "5", "Pregão", "Reforma do prédio", 10_000.0);
        contracts.extend(regular(
            20,
            10,
            "5",
            "Concorrência",
            "Reforma do prédio",
            5_000_000.0,
        ));
        contracts.extend(regular(
            40,
            10,
            "6",
            "Pregão",
            "Reforma do prédio",
            5_000_000.0,
        ));
        assert!(detect(contracts).is_empty());
    }

    #[test]
    fn unknown_values_and_modalities_are_skipped_not_zero() {
        let mut contracts = regular(0, 10, "7", "Pregão", "Aquisição de toner", 3_000.0);
        for i in 0..5 {
            let mut c = contract(50 + i, "7", "Pregão", "Aquisição de toner", 0.0);
            c.final_value = None;
            contracts.push(c);
        }
        let mut no_modality = contract(60, "7", "Pregão", "Aquisição de toner", 900_000.0);
        no_modality.modality = None;
        contracts.push(no_modality);
        contracts.push(contract(61, "7", "Pregão", "Aquisição de toner", 0.01));
        assert!(detect(contracts).is_empty());
    }

    #[test]
    fn cheap_outliers_are_reported_only_when_asked() {
        let mut contracts = regular(0, 12, "8", "Pregão", "Aquisição de computadores", 500_000.0);
        contracts.push(contract(
            70,
            "8",
            "Pregão",
            "Aquisição de computadores",
            1_000.0,
        ));
        assert!(detect(contracts.clone()).is_empty());
        let settings = PriceSettings {
            include_low_outliers: true,
            ..PriceSettings::default()
        };
        let findings = PriceDetector { settings }.detect(&Dataset {
            contracts,
            ..Default::default()
        });
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].records, vec![12]);
        assert_eq!(findings[0].financial_impact, 0.0);
        assert!(findings[0].description.contains("vezes menor"));
        assert!(findings[0].severity <= Severity::Medium);
    }

    #[test]
    fn findings_are_capped_keeping_the_strongest_and_are_deterministic() {
        let mut contracts = Vec::new();
        for g in 0..5 {
            let agency = format!("9{g}");
            contracts.extend(regular(
                g * 20,
                10,
                &agency,
                "Pregão",
                "Aquisição de cadeiras",
                1_000.0,
            ));
            let value = 10_000.0 * 10f64.powi(g as i32);
            contracts.push(contract(
                g * 20 + 15,
                &agency,
                "Pregão",
                "Aquisição de cadeiras",
                value,
            ));
        }
        let settings = PriceSettings {
            max_findings: 2,
            ..PriceSettings::default()
        };
        let detector = PriceDetector { settings };
        let data = Dataset {
            contracts,
            ..Default::default()
        };
        let findings = detector.detect(&data);
        assert_eq!(findings.len(), 2);
        assert_eq!(
            findings[0].records,
            vec![54],
            "the 100-million contract first"
        );
        assert_eq!(findings[1].records, vec![43]);
        assert_eq!(findings, detector.detect(&data));
    }

    fn leading_words(object: &str) -> Vec<String> {
        Signer::default().words(object).to_vec()
    }

    #[test]
    fn the_latin1_fast_path_folds_as_text_fold_does() {
        let all: String = (0u8..=255).map(char::from).collect();
        let table = latin1_fold();
        let mut by_table = String::new();
        for b in 0u8..=255 {
            match table.ascii[b as usize] {
                SEPARATOR => by_table.push(' '),
                OTHER => by_table.push_str(&table.other[b as usize]),
                c => by_table.push(char::from(c)),
            }
        }
        let by_table = by_table.split_whitespace().collect::<Vec<_>>().join(" ");
        assert_eq!(by_table, text::fold(&all));
        // A character outside Latin-1 takes the slow path, with the same words.
        assert_eq!(
            leading_words("Manutenção – PREVENTIVA de elevadores"),
            leading_words("Manutenção - PREVENTIVA de elevadores")
        );
    }

    #[test]
    fn object_signatures_skip_boilerplate_and_keep_order_free() {
        assert_eq!(
            leading_words("O OBJETO DO PRESENTE INSTRUMENTO É A CONTRATAÇÃO DE SERVIÇOS CONTINUADOS DE MANUTENÇÃO DE AR CONDICIONADO"),
            vec!["manutencao", "condicionado"]
        );
        assert_eq!(
            leading_words("Aquisição de 200 (duzentas) cadeiras"),
            vec!["duzentas", "cadeiras"]
        );
        assert!(leading_words("").is_empty());
        let long = "Serviços de limpeza ".repeat(40) + "ÁGUA";
        assert_eq!(leading_words(&long), vec!["limpeza"]);
        assert_eq!(times(4.25), "4,2");
        assert_eq!(times(6_293_976.4), "6.293.976");
        assert_eq!(count(4075), "4.075");
        assert_eq!(count(8), "8");
    }

    #[test]
    fn the_real_file_yields_a_modest_number_of_findings() {
        let data = crate::sources::contracts::rules::real_data();
        let settings = PriceSettings {
            max_findings: usize::MAX,
            ..PriceSettings::default()
        };
        let findings = PriceDetector { settings }.detect(&data);
        eprintln!(
            "price.robust_zscore on {} contracts: {} findings, critical/high/medium/low {:?}",
            data.contracts.len(),
            findings.len(),
            crate::sources::contracts::rules::severity_counts(&findings.iter().collect::<Vec<_>>())
        );
        assert!((10..=400).contains(&findings.len()), "{}", findings.len());
    }
}
