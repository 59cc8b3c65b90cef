//! Duplicate: the same purchase contracted twice, or one purchase cut in pieces.
//!
//! Republications are not duplicates. The Portal republishes a contract in later
//! months (849 (number, UG) pairs repeat in 2021–2022), often with an edited
//! object text, a new end date or a final value raised by amendments. Both rules
//! work inside blocks of one UG and one supplier, and inside a block the rows with
//! the same contract number are one contract, of which the latest publication is
//! kept (the postgres source already reads each contract once; rows that differ in
//! signature date still repeat). The same number at one UG with another supplier
//! is a different contract (UGs reuse numbering across instrument types), and is
//! kept.
//!
//! Rule `duplicate.near_identical_object` flags two or more distinct contracts of
//! one UG with one supplier whose objects are near-identical (Jaccard similarity
//! of their meaningful words, [`text::tokens`], at least `min_similarity`), whose
//! values are the same amount (within `value_tolerance`) and which were signed at
//! most `near_window_days` apart. That is what contracting the same thing twice
//! looks like: possible double contracting (double payment) or a contract
//! registered twice under two numbers, which corrupts every total built on the
//! data. The value condition matters: on the 2021–2022 file, near-identical
//! objects with the same supplier and different values are nearly all successive
//! orders from one price registration (ata de registro de preços), a regular
//! practice (about 750 groups in 30 days); with the same amount they are about
//! 140 groups. Another supplier is not required to differ: near-identical objects
//! with different suppliers on the same day are accreditation ("credenciamento",
//! dozens of doctors on one call), not a duplicate.
//! Blocking keeps it linear: contracts are grouped by (UG, supplier), sorted by
//! signature date, and each is compared only with its successors inside the
//! window, at most `max_comparisons_per_contract` of them; object words are
//! computed only for pairs that already match on amount and date. Classified
//! objects ("Informação protegida por sigilo…") and objects with fewer than
//! `min_object_words` meaningful words say nothing about what was bought and are
//! skipped. Pairs are joined into groups (connected components): one finding each.
//! Severity counts three signs in the group's closest pair: exactly the same value
//! (to the centavo), signed the same day, similarity ≥ 0.95. Three signs: high;
//! two: medium; fewer: low; one level more when the amount at stake reaches
//! `critical_amount`. Confidence: 0.45, +0.15 per sign of value and day, +0.2
//! scaled by how far the similarity exceeds the threshold (max 0.95).
//! `financial_impact` = the group's total minus its largest contract: what would
//! be paid twice if they are one purchase. A group of credenciamentos of one
//! provider (`recognised::is_credenciamento`: same object and ceiling by design)
//! is two steps lower and says so; a group of a utility's or state company's
//! contracts (`recognised::is_routine_supplier`: one supply contract per building
//! or service) one step lower, a registration to check rather than a split.
//!
//! Rule `duplicate.split_purchase` flags fracionamento: several contracts of one
//! UG with one supplier, each within the limit under which the law lets a body buy
//! without bidding (dispensa por valor, [`dispensa_limits`]), that together exceed
//! it within `split_window_days`. Splitting a purchase to stay under the limit is
//! exactly how bidding is avoided, and the law forbids it (Lei 8.666/93 art. 23
//! §5º and art. 24 I–II; Lei 14.133/21 art. 75 §1º). Only contracts whose
//! modality is a direct purchase (`split_modalities`, "dispensa" by default) are
//! considered: a contract that went through a pregão avoided no bidding, and on
//! the real file adding all small contracts regardless of modality yields mostly
//! successive orders from one pregão. Contracts without a modality are unknown,
//! not dispensas, and are skipped. The limit is the one of the contract's law,
//! kind and date: the law its legal basis names, else the date
//! ([`dispensa_limits::applicable_law`], with `split_coexistence_law` between
//! 2021-04-01 and 2023-12-30), engineering or other from its object
//! ([`dispensa_limits::kind_of`]); engineering and other purchases are summed
//! separately, as the law does. A window is suspicious when its contracts total
//! more than the highest limit among them. Overlapping suspicious windows form
//! one group, one finding. Dispensas granted for reasons other than value
//! (family farming under Lei 11.947/09, fundações de apoio under Lei 8.958/94,
//! utilities and Correios under art. 24 XXII/VIII, revenue-earning "cessão de
//! uso") are left out by `split_excluded_terms`, matched in the object and the
//! supplier's name: on the real file they were most of the raw groups.
//! Severity: medium, high with two of these signs, critical with three or more:
//! the busiest window is at least twice the limit; at least five times; all
//! contracts signed within `split_batch_days`; similar objects (mean similarity
//! of consecutive objects ≥ 0.5). Confidence: 0.5, +0.15 for a batch, +0.15 for
//! similar objects, +0.15 scaled by the excess over the limit (max 0.95).
//! `financial_impact` = the group's total.
//!
//! Each rule keeps at most `max_findings_per_rule` findings, the strongest.

pub use crate::config::detectors::DuplicateSettings;
use std::collections::{BTreeSet, HashMap, VecDeque};

use chrono::{Datelike, NaiveDate};
use serde_json::json;

use super::recognised::{is_credenciamento, is_routine_supplier, Recognised};
use crate::analysis::rank::strongest;
use crate::domain::format::{date, decimal, percent, reais};
use crate::domain::law::dispensa_limits::{self, Inciso, Limit};
use crate::domain::text::{self, fold, jaccard};
use crate::sources::contracts::model::{
    Contract, Dataset, Detector, Family, Finding, Severity, Unit,
};

/// Near-identical contracts of one UG with one supplier, for the same amount.
pub const NEAR_IDENTICAL_OBJECT: &str = "duplicate.near_identical_object";
/// Direct purchases under the dispensa limit that together exceed it.
pub const SPLIT_PURCHASE: &str = "duplicate.split_purchase";

/// The duplicate family.
pub struct DuplicateDetector {
    pub settings: DuplicateSettings,
}

impl Detector<Dataset> for DuplicateDetector {
    fn family(&self) -> Family {
        Family::Duplicate
    }

    fn detect(&self, data: &Dataset) -> Vec<Finding> {
        // One pass over the contracts and one sort serve both rules: on a million
        // contracts, touching each one's strings is most of the cost.
        let mut entries = entries(data);
        let blocks = blocks(&mut entries);
        let mut findings = near_identical(data, &blocks, &self.settings);
        findings.extend(split_purchases(data, &blocks, &self.settings));
        findings
    }
}

/// A contract as both rules see it, with the hash of its block.
struct Entry {
    idx: usize,
    /// 128-bit FNV-1a of (UG, supplier), the block: sorting a million entries
    /// by an integer, rather than by strings scattered over the heap, is what
    /// keeps the rules fast. Two blocks would merge only on a 128-bit collision,
    /// about 10⁻²⁷ for a million blocks.
    hash: u128,
    signed: NaiveDate,
    value: f64,
}

/// The contracts both rules can read: with a UG, a supplier, a signature date
/// and a positive value.
fn entries(data: &Dataset) -> Vec<Entry> {
    data.contracts
        .iter()
        .enumerate()
        .filter_map(|(idx, c)| {
            Some(Entry {
                idx,
                hash: block_hash(c.ug.code.as_deref()?, c.supplier_code.as_deref()?),
                signed: c.signed?,
                value: c.value_signed()?,
            })
        })
        .collect()
}

fn block_hash(ug: &str, supplier: &str) -> u128 {
    const OFFSET: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
    const PRIME: u128 = 0x0000_0000_0100_0000_0000_0000_0000_013b;
    let mut h = OFFSET;
    for &b in ug
        .as_bytes()
        .iter()
        .chain(&[0xff])
        .chain(supplier.as_bytes())
    {
        h ^= u128::from(b);
        h = h.wrapping_mul(PRIME);
    }
    h
}

/// The (UG, supplier) blocks of `entries` that hold at least two rows, each in
/// signature order (ties in row order: findings sort their records by key, so
/// the output does not depend on it).
/// Republications are still in: each rule removes them
/// ([`without_republications`]) only where it found something, since reading
/// every contract's number is a cost a million rows feel.
fn blocks(entries: &mut [Entry]) -> Vec<Vec<&Entry>> {
    entries.sort_unstable_by_key(|e| (e.hash, e.signed, e.idx));
    entries
        .chunk_by(|a, b| a.hash == b.hash)
        .filter(|chunk| chunk.len() >= 2)
        .map(|chunk| chunk.iter().collect())
        .collect()
}

/// `block` (one UG and supplier) without republications: of the rows sharing a
/// contract number, the one published last (ties: the smallest key), which
/// carries the latest values. Order is kept.
fn without_republications<'e>(block: &[&'e Entry], data: &Dataset) -> Vec<&'e Entry> {
    let contract = |k: usize| &data.contracts[block[k].idx];
    let mut order: Vec<usize> = (0..block.len()).collect();
    order.sort_by(|&a, &b| {
        let (ca, cb) = (contract(a), contract(b));
        ca.number
            .cmp(&cb.number)
            .then(cb.published.cmp(&ca.published))
            .then_with(|| ca.key.cmp(&cb.key))
    });
    let mut keep = vec![false; block.len()];
    for run in order.chunk_by(|&a, &b| contract(a).number == contract(b).number) {
        keep[run[0]] = true;
    }
    block
        .iter()
        .zip(keep)
        .filter(|(_, k)| *k)
        .map(|(e, _)| *e)
        .collect()
}

fn unit_label(u: &Unit) -> String {
    match (&u.name, &u.code) {
        (Some(name), Some(code)) => format!("{name} ({code})"),
        (Some(name), None) => name.to_string(),
        (None, Some(code)) => code.to_string(),
        (None, None) => "não informada".to_string(),
    }
}

fn supplier_label(c: &Contract) -> String {
    match (&c.supplier_name, &c.supplier_code) {
        (Some(name), Some(code)) => format!("{name} ({code})"),
        (Some(name), None) => name.to_string(),
        (None, Some(code)) => code.to_string(),
        (None, None) => "fornecedor não informado".to_string(),
    }
}

fn days_between(a: NaiveDate, b: NaiveDate) -> i64 {
    (b - a).num_days().abs()
}

/// The meaningful words of an object, or an empty set when the object cannot
/// say what was bought: classified, or too short.
fn object_words(object: &str, min_words: usize) -> BTreeSet<String> {
    let words = text::tokens(object);
    let classified = words.contains("sigilo") && words.contains("protegida");
    if classified || words.len() < min_words.max(1) {
        BTreeSet::new()
    } else {
        words
    }
}

/// "nº 12021, nº 22021 e nº 32021"
fn number_list(data: &Dataset, records: &[usize]) -> String {
    let numbers: Vec<String> = records
        .iter()
        .map(|&i| format!("nº {}", data.contracts[i].number))
        .collect();
    match numbers.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} e {last}", rest.join(", ")),
        Some((last, _)) => last.clone(),
        None => String::new(),
    }
}

/// Union-find over block positions, for joining pairs into groups.
struct Groups {
    parent: Vec<usize>,
}

impl Groups {
    fn new(n: usize) -> Self {
        Self {
            parent: (0..n).collect(),
        }
    }

    fn root(&mut self, mut i: usize) -> usize {
        while self.parent[i] != i {
            self.parent[i] = self.parent[self.parent[i]];
            i = self.parent[i];
        }
        i
    }

    fn join(&mut self, a: usize, b: usize) {
        let (ra, rb) = (self.root(a), self.root(b));
        // The smaller root wins, so groups do not depend on the order of joins.
        if ra != rb {
            self.parent[ra.max(rb)] = ra.min(rb);
        }
    }
}

/// What makes the closest pair of a group look like one purchase.
#[derive(Clone, Copy)]
struct PairSigns {
    a: usize,
    b: usize,
    similarity: f64,
    same_value: bool,
    same_day: bool,
}

impl PairSigns {
    fn count(&self) -> u8 {
        u8::from(self.same_value) + u8::from(self.same_day) + u8::from(self.similarity >= 0.95)
    }

    fn strength(&self) -> (u8, f64) {
        (self.count(), self.similarity)
    }
}

fn near_identical(data: &Dataset, blocks: &[Vec<&Entry>], s: &DuplicateSettings) -> Vec<Finding> {
    let window = i64::from(s.near_window_days);
    let mut findings = Vec::new();
    // Cheap conditions first: same amount, close in time.
    let candidates_in = |block: &[&Entry]| {
        let mut pairs = Vec::new();
        for (i, a) in block.iter().enumerate() {
            for j in (i + 1..block.len()).take(s.max_comparisons_per_contract) {
                let b = &block[j];
                if days_between(a.signed, b.signed) > window {
                    break;
                }
                if (a.value - b.value).abs() <= s.value_tolerance * a.value.max(b.value) {
                    pairs.push((i, j));
                }
            }
        }
        pairs
    };
    for block in blocks {
        // Only where the comparison cap can bite does the order of same-day rows
        // change which pairs are compared: there, rows of a day are put in value
        // order (equal amounts side by side, within the cap), ties by key.
        let reordered;
        let block: &[&Entry] = if block.len() > s.max_comparisons_per_contract + 1 {
            let mut sorted = block.clone();
            let key = |e: &Entry| data.contracts[e.idx].key.as_str();
            for day in sorted.chunk_by_mut(|a, b| a.signed == b.signed) {
                day.sort_by(|a, b| a.value.total_cmp(&b.value).then_with(|| key(a).cmp(key(b))));
            }
            reordered = sorted;
            &reordered
        } else {
            block
        };
        let mut candidates = candidates_in(block);
        if candidates.is_empty() {
            continue;
        }
        let deduplicated;
        let mut block: &[&Entry] = block;
        let kept = without_republications(block, data);
        if kept.len() < block.len() {
            deduplicated = kept;
            block = &deduplicated;
            candidates = candidates_in(block);
            if candidates.is_empty() {
                continue;
            }
        }
        let mut words: Vec<Option<BTreeSet<String>>> = vec![None; block.len()];
        let mut groups = Groups::new(block.len());
        let mut best: HashMap<usize, PairSigns> = HashMap::new();
        let mut accepted = Vec::new();
        for &(i, j) in &candidates {
            for k in [i, j] {
                if words[k].is_none() {
                    let object = &data.contracts[block[k].idx].object;
                    words[k] = Some(object_words(object, s.min_object_words));
                }
            }
            let (Some(wi), Some(wj)) = (&words[i], &words[j]) else {
                continue;
            };
            if wi.is_empty() || wj.is_empty() {
                continue;
            }
            let similarity = jaccard(wi, wj);
            if similarity < s.min_similarity {
                continue;
            }
            groups.join(i, j);
            accepted.push(PairSigns {
                a: i,
                b: j,
                similarity,
                same_value: (block[i].value - block[j].value).abs() < 0.005,
                same_day: block[i].signed == block[j].signed,
            });
        }
        // Ties go to the pair with the smaller keys, whatever the row order.
        let keys = |p: &PairSigns| {
            let (ka, kb) = (
                data.contracts[block[p.a].idx].key.as_str(),
                data.contracts[block[p.b].idx].key.as_str(),
            );
            (ka.min(kb), ka.max(kb))
        };
        let stronger = |p: &PairSigns, q: &PairSigns| match p.strength().partial_cmp(&q.strength())
        {
            Some(std::cmp::Ordering::Equal) | None => keys(p) < keys(q),
            Some(order) => order == std::cmp::Ordering::Greater,
        };
        for pair in accepted {
            let root = groups.root(pair.a);
            match best.get(&root) {
                Some(b) if !stronger(&pair, b) => {}
                _ => {
                    best.insert(root, pair);
                }
            }
        }
        let mut members: HashMap<usize, Vec<usize>> = HashMap::new();
        for k in 0..block.len() {
            let root = groups.root(k);
            if best.contains_key(&root) {
                members.entry(root).or_default().push(k);
            }
        }
        let mut roots: Vec<usize> = members.keys().copied().collect();
        roots.sort_unstable();
        for root in roots {
            let positions = &members[&root];
            let pair = best[&root];
            findings.push(near_finding(data, block, positions, &pair, s));
        }
    }
    strongest(findings, data, s.max_findings_per_rule)
}

/// Contract numbers one keystroke apart: a digit typed twice or dropped
/// ("331202" and "3312022"). A changed digit is not counted: "2652021" and
/// "2662021" are consecutive numbers, two contracts signed together.
fn numbers_look_alike(a: &str, b: &str) -> bool {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let (short, long) = if a.len() <= b.len() {
        (&a, &b)
    } else {
        (&b, &a)
    };
    match long.len() - short.len() {
        1 => (0..long.len()).any(|skip| {
            long.iter()
                .enumerate()
                .filter(|(i, _)| *i != skip)
                .map(|(_, c)| c)
                .eq(short.iter())
        }),
        _ => false,
    }
}

/// A contract numbered again in a later year: "92018" signed in 2018 and
/// "100092022" with the same date, whose number carries 2022 and ends with the
/// first one's sequence. Numbers end in their year (`NNNNYYYY`), and nobody
/// numbers a contract with a year after the one it was signed in, so the later
/// one is the earlier contract registered anew. Returns (original, renumbered).
fn renumbered<'a>(a: &'a str, b: &'a str, signed_year: i32) -> Option<(&'a str, &'a str)> {
    let split = |n: &'a str| -> Option<(&'a str, i32)> {
        let cut = n.len().checked_sub(4)?;
        let (sequence, year) = (n.get(..cut)?, n.get(cut..)?);
        let year: i32 = year.parse().ok()?;
        let sequence = sequence.trim_start_matches('0');
        (!sequence.is_empty() && sequence.bytes().all(|c| c.is_ascii_digit()))
            .then_some((sequence, year))
    };
    let (sa, ya) = split(a)?;
    let (sb, yb) = split(b)?;
    let pair = |(orig, so, yo): (&'a str, &str, i32), (later, sl, yl): (&'a str, &str, i32)| {
        (yo == signed_year && yl > signed_year && sl.ends_with(so)).then_some((orig, later))
    };
    pair((a, sa, ya), (b, sb, yb)).or_else(|| pair((b, sb, yb), (a, sa, ya)))
}

fn near_finding(
    data: &Dataset,
    block: &[&Entry],
    positions: &[usize],
    pair: &PairSigns,
    s: &DuplicateSettings,
) -> Finding {
    let mut positions = positions.to_vec();
    positions.sort_by(|&a, &b| {
        let key = |k: usize| data.contracts[block[k].idx].key.as_str();
        (block[a].signed, key(a)).cmp(&(block[b].signed, key(b)))
    });
    let positions = positions.as_slice();
    let records: Vec<usize> = positions.iter().map(|&k| block[k].idx).collect();
    let values: Vec<f64> = positions.iter().map(|&k| block[k].value).collect();
    let total: f64 = values.iter().sum();
    let largest = values.iter().copied().fold(0.0, f64::max);
    let at_stake = total - largest;

    let (a, b) = (&block[pair.a], &block[pair.b]);
    let (ca, cb) = (&data.contracts[a.idx], &data.contracts[b.idx]);
    let typo = numbers_look_alike(&ca.number, &cb.number);
    let renumbered = (a.signed == b.signed)
        .then(|| renumbered(&ca.number, &cb.number, a.signed.year()))
        .flatten();
    let signs = pair.count();
    let mut severity = match signs {
        3 => Severity::High,
        2 => Severity::Medium,
        _ => Severity::Low,
    };
    if at_stake >= s.critical_amount {
        severity = Severity::higher(severity);
    }
    if typo || renumbered.is_some() {
        // One contract registered twice, by a slip of the keyboard or anew in a
        // later year: a register to fix and payments to check, not the front page.
        severity = severity.min(Severity::Medium);
    }
    // Credenciamentos share object and value by design.
    let credenciamento = records
        .iter()
        .all(|&i| is_credenciamento(&data.contracts[i]));
    // A utility's or a state company's supply is one contract per building or
    // service: two alike are a registration to check, not a split.
    let recognised = if credenciamento {
        Some(Recognised::Credenciamento)
    } else if records
        .iter()
        .all(|&i| is_routine_supplier(&data.contracts[i]))
    {
        Some(Recognised::RoutineSupplier)
    } else {
        None
    };
    if let Some(r) = recognised {
        severity = r.lowered(severity);
    }
    let excess =
        ((pair.similarity - s.min_similarity) / (1.0 - s.min_similarity).max(1e-9)).clamp(0.0, 1.0);
    let confidence = (0.45
        + 0.15 * f64::from(u8::from(pair.same_value))
        + 0.15 * f64::from(u8::from(pair.same_day))
        + 0.2 * excess)
        .min(0.95)
        * if typo { 0.8 } else { 1.0 };

    let first = &data.contracts[records[0]];
    let ug = unit_label(&first.ug);
    let supplier = supplier_label(first);
    let listed: Vec<String> = positions
        .iter()
        .take(10)
        .map(|&k| {
            let c = &data.contracts[block[k].idx];
            format!(
                "nº {} de {}, {}",
                c.number,
                date(block[k].signed),
                reais(block[k].value)
            )
        })
        .collect();
    let more = if positions.len() > 10 {
        format!(" e outros {}", positions.len() - 10)
    } else {
        String::new()
    };
    let amounts = if pair.same_value {
        format!("os valores são iguais ({})", reais(a.value))
    } else {
        format!(
            "os valores diferem só {} ({} e {})",
            percent((a.value - b.value).abs() / a.value.max(b.value)),
            reais(a.value),
            reais(b.value)
        )
    };
    let gap = days_between(a.signed, b.signed);
    let timing = if pair.same_day {
        "foram assinados no mesmo dia".to_string()
    } else {
        format!("foram assinados com {gap} dias de diferença")
    };
    let description = format!(
        "{} contratos de objeto quase idêntico e mesmo valor com {supplier} na UG {ug}: {}",
        records.len(),
        number_list(data, &records)
    );
    let explanation = format!(
        "A UG {ug} assinou com {supplier} {n} contratos de objeto praticamente igual \
         ({list}{more}). No par mais parecido (nº {na} e nº {nb}), as palavras do objeto \
         coincidem em {sim} (o critério é a partir de {min}), {amounts} e eles {timing} \
         (o critério é até {window} dias). Republicações de um mesmo contrato (mesmo número, \
         UG e fornecedor) já foram descontadas. Dois contratos para a mesma coisa, com o \
         mesmo fornecedor e pelo mesmo valor, podem indicar contratação em duplicidade ou \
         erro de cadastro; se forem uma só compra, {stake} estariam contratados a mais.{typo_text}",
        n = records.len(),
        list = listed.join("; "),
        na = ca.number,
        nb = cb.number,
        sim = percent(pair.similarity),
        min = percent(s.min_similarity),
        window = s.near_window_days,
        stake = reais(at_stake),
        typo_text = if typo {
            format!(
                " Os números nº {} e nº {} diferem por um só dígito, o que sugere o mesmo \
                 contrato cadastrado duas vezes por erro de digitação; ainda assim, vale \
                 conferir se houve empenho ou pagamento nos dois.",
                ca.number, cb.number
            )
        } else if let Some((original, later)) = renumbered {
            format!(
                " O nº {later} termina pelo número do nº {original} e traz um ano posterior à \
                 assinatura, em {signed}, o que sugere o mesmo contrato cadastrado de novo \
                 anos depois; ainda assim, vale conferir se houve empenho ou pagamento nos dois.",
                signed = date(a.signed),
            )
        } else {
            String::new()
        },
    ) + recognised.map_or("", Recognised::note);
    Finding {
        family: Family::Duplicate,
        rule: NEAR_IDENTICAL_OBJECT,
        severity,
        confidence,
        description,
        explanation,
        records,
        suggested_actions: vec![
            "Verificar se os contratos se referem à mesma entrega: comparar notas fiscais, \
             empenhos e ordens de serviço de cada um."
                .to_string(),
            "Confirmar no Diário Oficial e no Comprasnet se um dos registros é erro de \
             cadastro, cancelado ou substituído."
                .to_string(),
            "Conferir os pagamentos feitos a cada contrato para descartar pagamento em \
             duplicidade."
                .to_string(),
        ],
        evidence: json!({
            "contracts": positions.len(),
            "ug": first.ug.code,
            "supplier": first.supplier_code,
            "closest_pair": [ca.key, cb.key],
            "similarity": pair.similarity,
            "min_similarity": s.min_similarity,
            "same_value": pair.same_value,
            "days_apart": gap,
            "window_days": s.near_window_days,
            "value_tolerance": s.value_tolerance,
            "total": total,
            "largest": largest,
            "recognised": recognised.map(Recognised::label),
        }),
        financial_impact: at_stake,
    }
}

/// A member of one (UG, supplier, inciso) sequence.
struct Member {
    idx: usize,
    signed: NaiveDate,
    value: f64,
    limit: &'static Limit,
    law_named: bool,
}

fn split_purchases<'d>(
    data: &'d Dataset,
    blocks: &[Vec<&Entry>],
    s: &DuplicateSettings,
) -> Vec<Finding> {
    let excluded: Vec<String> = s.split_excluded_terms.iter().map(|t| fold(t)).collect();
    let modalities: Vec<String> = s.split_modalities.iter().map(|m| fold(m)).collect();
    // A dataset holds a dozen modality spellings: each is folded once.
    let mut direct_modality: Vec<(&str, bool)> = Vec::new();
    let mut is_direct = |modality: &'d str| {
        if let Some(&(_, d)) = direct_modality.iter().find(|(m, _)| *m == modality) {
            return d;
        }
        let folded = fold(modality);
        let d = modalities
            .iter()
            .any(|m| !m.is_empty() && folded.contains(m.as_str()));
        direct_modality.push((modality, d));
        d
    };
    let mut findings = Vec::new();
    for block in blocks {
        // Cheap conditions first (modality, value within the highest limit); the
        // object is read only for contracts that have a partner.
        let law_of = |e: &Entry| {
            let c = &data.contracts[e.idx];
            dispensa_limits::applicable_law(
                c.legal_basis.as_deref(),
                e.signed,
                s.split_coexistence_law,
            )
        };
        let mut direct: Vec<&Entry> = Vec::new();
        for &e in block {
            // Inciso I (engineering) is the higher limit: above it, no kind helps.
            let within = dispensa_limits::limit(law_of(e), Inciso::I, e.signed)
                .is_some_and(|l| e.value <= l.value);
            if within
                && data.contracts[e.idx]
                    .modality
                    .as_deref()
                    .is_some_and(&mut is_direct)
            {
                direct.push(e);
            }
        }
        if direct.len() < 2 {
            continue;
        }
        let direct = without_republications(&direct, data);
        if direct.len() < 2 {
            continue;
        }
        // A group needs a window whose total exceeds at least the lower (inciso
        // II) limit: where none does, no object text needs reading.
        let lowest = direct
            .iter()
            .filter_map(|e| dispensa_limits::limit(law_of(e), Inciso::II, e.signed))
            .map(|l| l.value)
            .fold(f64::INFINITY, f64::min);
        if busiest_window(&direct, i64::from(s.split_window_days)) <= lowest {
            continue;
        }
        let supplier_name = format!(
            " {} ",
            fold(
                data.contracts[block[0].idx]
                    .supplier_name
                    .as_deref()
                    .unwrap_or("")
            )
        );
        let mut by_inciso: [Vec<Member>; 2] = [Vec::new(), Vec::new()];
        for e in direct {
            let law = law_of(e);
            let c = &data.contracts[e.idx];
            let object = fold(&c.object);
            let padded = format!(" {object} ");
            if excluded.iter().any(|t| {
                dispensa_limits::has_phrase(&padded, t)
                    || dispensa_limits::has_phrase(&supplier_name, t)
            }) {
                continue;
            }
            let inciso = dispensa_limits::kind_of_folded(&object).inciso(law);
            let Some(limit) = dispensa_limits::limit(law, inciso, e.signed) else {
                continue;
            };
            if e.value > limit.value {
                continue;
            }
            let law_named = c
                .legal_basis
                .as_deref()
                .and_then(dispensa_limits::law_named_in)
                .is_some();
            let slot = usize::from(inciso == Inciso::II);
            by_inciso[slot].push(Member {
                idx: e.idx,
                signed: e.signed,
                value: e.value,
                limit,
                law_named,
            });
        }
        for members in &by_inciso {
            for group in split_groups(members, i64::from(s.split_window_days)) {
                findings.push(split_finding(data, members, &group, s));
            }
        }
    }
    strongest(findings, data, s.max_findings_per_rule)
}

/// The largest total of contracts signed within `window` days of each other.
fn busiest_window(entries: &[&Entry], window: i64) -> f64 {
    let (mut best, mut total, mut start) = (0.0, 0.0, 0);
    for e in entries {
        total += e.value;
        while days_between(entries[start].signed, e.signed) > window {
            total -= entries[start].value;
            start += 1;
        }
        best = f64::max(best, total);
    }
    best
}

/// A run of members whose windows each exceed their limit.
struct SplitGroup {
    start: usize,
    end: usize,
    /// The window with the highest total-to-limit ratio.
    best: (usize, usize),
    best_total: f64,
    best_limit: &'static Limit,
}

impl SplitGroup {
    fn ratio(&self) -> f64 {
        self.best_total / self.best_limit.value
    }
}

/// Groups of `members` (sorted by date) in which every contract belongs to some
/// window of at most `window` days whose total exceeds the highest limit in it.
fn split_groups(members: &[Member], window: i64) -> Vec<SplitGroup> {
    let n = members.len();
    if n < 2 {
        return Vec::new();
    }
    let mut prefix = vec![0.0; n + 1];
    for (k, m) in members.iter().enumerate() {
        prefix[k + 1] = prefix[k] + m.value;
    }
    let mut groups: Vec<SplitGroup> = Vec::new();
    // Sliding maximum of the limit over the window [i, j].
    let mut highest: VecDeque<usize> = VecDeque::new();
    let mut pushed = 0;
    let mut j = 0;
    for i in 0..n {
        j = j.max(i);
        while j + 1 < n && days_between(members[i].signed, members[j + 1].signed) <= window {
            j += 1;
        }
        while pushed <= j {
            while highest
                .back()
                .is_some_and(|&b| members[b].limit.value <= members[pushed].limit.value)
            {
                highest.pop_back();
            }
            highest.push_back(pushed);
            pushed += 1;
        }
        while highest.front().is_some_and(|&f| f < i) {
            highest.pop_front();
        }
        let Some(&top) = highest.front() else {
            continue;
        };
        if j == i {
            continue;
        }
        let total = prefix[j + 1] - prefix[i];
        let limit = members[top].limit;
        if total <= limit.value {
            continue;
        }
        let ratio = total / limit.value;
        match groups.last_mut() {
            Some(g) if i <= g.end => {
                g.end = g.end.max(j);
                if ratio > g.ratio() {
                    g.best = (i, j);
                    g.best_total = total;
                    g.best_limit = limit;
                }
            }
            _ => groups.push(SplitGroup {
                start: i,
                end: j,
                best: (i, j),
                best_total: total,
                best_limit: limit,
            }),
        }
    }
    groups
}

fn split_finding(
    data: &Dataset,
    members: &[Member],
    g: &SplitGroup,
    s: &DuplicateSettings,
) -> Finding {
    // Signature order, ties by key: the order records and similarity are read in.
    let mut group: Vec<&Member> = members[g.start..=g.end].iter().collect();
    group.sort_by(|a, b| {
        (a.signed, &data.contracts[a.idx].key).cmp(&(b.signed, &data.contracts[b.idx].key))
    });
    let records: Vec<usize> = group.iter().map(|m| m.idx).collect();
    let total: f64 = group.iter().map(|m| m.value).sum();
    let largest = group.iter().map(|m| m.value).fold(0.0, f64::max);
    let first_day = group[0].signed;
    let last_day = group[group.len() - 1].signed;
    let span = days_between(first_day, last_day);
    let batch = span <= i64::from(s.split_batch_days);
    let similarity = {
        let words: Vec<BTreeSet<String>> = group
            .iter()
            .map(|m| text::tokens(&data.contracts[m.idx].object))
            .collect();
        let pairs: Vec<f64> = words.windows(2).map(|w| jaccard(&w[0], &w[1])).collect();
        pairs.iter().sum::<f64>() / pairs.len().max(1) as f64
    };
    let similar = similarity >= 0.5;
    let ratio = g.ratio();
    let signs =
        u8::from(ratio >= 2.0) + u8::from(ratio >= 5.0) + u8::from(batch) + u8::from(similar);
    let severity = match signs {
        0 | 1 => Severity::Medium,
        2 => Severity::High,
        _ => Severity::Critical,
    };
    let confidence = (0.5
        + 0.15 * f64::from(u8::from(batch))
        + 0.15 * f64::from(u8::from(similar))
        + 0.15 * ((ratio - 1.0) / 4.0).clamp(0.0, 1.0))
    .min(0.95);

    let first = &data.contracts[records[0]];
    let ug = unit_label(&first.ug);
    let supplier = supplier_label(first);
    let limit = g.best_limit;
    let kind = match limit.inciso {
        Inciso::I => "obras e serviços de engenharia",
        Inciso::II => "compras e outros serviços",
    };
    let law_origin = if group.iter().all(|m| m.law_named) {
        "a lei citada no fundamento legal dos contratos"
    } else {
        "a lei escolhida pela data de assinatura, pois o fundamento legal não a informa"
    };
    let window_count = g.best.1 - g.best.0 + 1;
    let batch_text = if batch {
        format!(" Todos foram assinados em {span} dias ou menos.")
    } else {
        String::new()
    };
    let similar_text = if similar {
        format!(
            " Os objetos são parecidos entre si (similaridade média de {}).",
            percent(similarity)
        )
    } else {
        String::new()
    };
    let description = format!(
        "{} dispensas de {} na UG {ug} com {supplier} somam {} entre {} e {}, acima do limite de {}",
        records.len(),
        kind,
        reais(total),
        date(first_day),
        date(last_day),
        reais(limit.value)
    );
    let explanation = format!(
        "Entre {d1} e {d2}, a UG {ug} contratou {supplier} {n} vezes por {modality}, sem \
         licitação. Cada contrato fica dentro do limite de dispensa por valor para {kind} \
         ({limit}, {source}; {law_origin}) — o maior vale {largest} — mas juntos somam \
         {total}. No período mais carregado, {k} contratos assinados em até {window} dias \
         somam {best}, {ratio} vezes o limite.{batch_text}{similar_text} Dividir uma \
         contratação para ficar abaixo do limite e escapar da licitação é fracionamento, \
         vedado pela Lei 8.666/93 (art. 23, §5º, e art. 24, I e II) e pela Lei 14.133/21 \
         (art. 75, §1º, que manda somar as despesas do exercício com o mesmo ramo).",
        d1 = date(first_day),
        d2 = date(last_day),
        n = records.len(),
        modality = first.modality.as_deref().unwrap_or("dispensa"),
        limit = reais(limit.value),
        source = limit.source,
        largest = reais(largest),
        total = reais(total),
        k = window_count,
        window = s.split_window_days,
        best = reais(g.best_total),
        ratio = decimal(ratio, 1),
    );
    Finding {
        family: Family::Duplicate,
        rule: SPLIT_PURCHASE,
        severity,
        confidence,
        description,
        explanation,
        records,
        suggested_actions: vec![
            "Verificar nos processos se as contratações tinham o mesmo objeto e poderiam ter \
             sido planejadas e licitadas em conjunto."
                .to_string(),
            "Conferir o fundamento legal e a justificativa de cada dispensa e de sua divisão."
                .to_string(),
            "Somar as despesas da unidade com o mesmo fornecedor e a mesma natureza no \
             exercício, como a lei exige para o limite de dispensa."
                .to_string(),
        ],
        evidence: json!({
            "contracts": group.len(),
            "ug": first.ug.code,
            "supplier": first.supplier_code,
            "total": total,
            "largest": largest,
            "limit": limit.value,
            "law": limit.law.name(),
            "limit_source": limit.source,
            "law_from_legal_basis": group.iter().all(|m| m.law_named),
            "window_days": s.split_window_days,
            "busiest_window_contracts": window_count,
            "busiest_window_total": g.best_total,
            "ratio_to_limit": ratio,
            "span_days": span,
            "mean_object_similarity": similarity,
        }),
        financial_impact: total,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::sources::contracts::rules::of_rule;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
    }

    /// A contract of UG 153000 with the fields these rules read.
    fn contract(
        number: &str,
        supplier: &str,
        signed: NaiveDate,
        value: f64,
        object: &str,
        modality: &str,
    ) -> Contract {
        Contract {
            key: format!("{number}|{supplier}|{signed}"),
            number: number.to_string(),
            object: object.to_string(),
            modality: Some(modality.into()),
            ug: Unit {
                code: Some("153000".into()),
                name: Some("UNIVERSIDADE FEDERAL DE TESTE".into()),
            },
            agency: Unit {
                code: Some("26000".into()),
                name: Some("Ministério da Educação".into()),
            },
            signed: Some(signed),
            published: Some(signed),
            supplier_code: Some(supplier.into()),
            supplier_name: Some(format!("FORNECEDOR {supplier}").into()),
            initial_value: Some(value),
            final_value: Some(value),
            ..Contract::default()
        }
    }

    fn detect(contracts: Vec<Contract>) -> (Dataset, Vec<Finding>) {
        let data = Dataset {
            contracts,
            ..Default::default()
        };
        let findings = DuplicateDetector {
            settings: DuplicateSettings::default(),
        }
        .detect(&data);
        (data, findings)
    }

    const CHAIRS: &str = "Aquisição de cadeiras ergonômicas giratórias para o auditório central";

    /// Contracts no rule should flag: different objects, accreditation of several
    /// suppliers for one object, successive orders of different values from one
    /// price registration, bidding contracts, dispensas far apart.
    fn regular() -> Vec<Contract> {
        let pregao = "Pregão - Registro de Preço";
        vec![
            contract(
                "12022",
                "11111111000111",
                day(2022, 3, 1),
                8_000.0,
                CHAIRS,
                pregao,
            ),
            contract(
                "22022",
                "11111111000111",
                day(2022, 3, 9),
                12_500.0,
                CHAIRS,
                pregao,
            ),
            contract(
                "32022",
                "22222222000122",
                day(2022, 3, 1),
                50_000.0,
                "Credenciamento de clínicas para exames de imagem dos servidores",
                "Inexigibilidade de Licitação",
            ),
            contract(
                "42022",
                "33333333000133",
                day(2022, 3, 1),
                50_000.0,
                "Credenciamento de clínicas para exames de imagem dos servidores",
                "Inexigibilidade de Licitação",
            ),
            contract(
                "52022",
                "44444444000144",
                day(2022, 2, 1),
                15_000.0,
                "Manutenção corretiva de aparelhos de ar condicionado",
                "Dispensa de Licitação",
            ),
            contract(
                "62022",
                "44444444000144",
                day(2022, 8, 1),
                15_000.0,
                "Recarga de extintores de incêndio do campus",
                "Dispensa de Licitação",
            ),
            contract(
                "72022",
                "55555555000155",
                day(2022, 4, 1),
                9_000.0,
                CHAIRS,
                "Pregão",
            ),
            contract(
                "82022",
                "55555555000155",
                day(2022, 4, 2),
                9_000.0,
                CHAIRS,
                "Pregão",
            )
            .with_object("Serviços de vigilância armada diurna e noturna no campus norte"),
        ]
    }

    trait WithObject {
        fn with_object(self, object: &str) -> Self;
    }

    impl WithObject for Contract {
        fn with_object(mut self, object: &str) -> Self {
            self.object = object.to_string();
            self
        }
    }

    #[test]
    fn numbers_one_keystroke_apart_look_alike() {
        assert!(numbers_look_alike("331202", "3312022"));
        assert!(numbers_look_alike("1162022", "162022"));
        assert!(
            !numbers_look_alike("142021", "142022"),
            "consecutive numbers"
        );
        assert!(!numbers_look_alike("142021", "222021"));
        assert!(!numbers_look_alike("12021", "12021"));
    }

    #[test]
    fn a_contract_numbered_again_in_a_later_year_is_told_apart() {
        assert_eq!(
            renumbered("100092022", "92018", 2018),
            Some(("92018", "100092022"))
        );
        assert_eq!(
            renumbered("92018", "100092022", 2018),
            Some(("92018", "100092022"))
        );
        assert_eq!(
            renumbered("92018", "100092022", 2022),
            None,
            "signed in the later year: two contracts"
        );
        assert_eq!(renumbered("92018", "182018", 2018), None, "same year");
        assert_eq!(renumbered("92018", "72022", 2018), None, "another sequence");
        assert_eq!(renumbered("2018", "12022", 2018), None, "no sequence");
    }

    #[test]
    fn regular_contracts_produce_no_duplicate_findings() {
        let (_, findings) = detect(regular());
        assert!(findings.is_empty(), "{findings:#?}");
    }

    #[test]
    fn two_contracts_for_the_same_thing_and_amount_with_one_supplier_are_flagged() {
        let mut contracts = regular();
        contracts.push(contract(
            "1162022",
            "66666666000166",
            day(2022, 6, 21),
            133_751.26,
            "Manutenção corretiva e preventiva do cromatógrafo Agilent do laboratório",
            "Inexigibilidade de Licitação",
        ));
        contracts.push(contract(
            "162022",
            "66666666000166",
            day(2022, 6, 21),
            133_751.26,
            "MANUTENÇÃO CORRETIVA E PREVENTIVA DO CROMATÓGRAFO AGILENT DO LABORATÓRIO",
            "Inexigibilidade de Licitação",
        ));
        let (data, findings) = detect(contracts);
        let near = of_rule(&findings, NEAR_IDENTICAL_OBJECT);
        assert_eq!(near.len(), 1, "{findings:#?}");
        let f = near[0];
        let mut numbers: Vec<&str> = f
            .records
            .iter()
            .map(|&i| data.contracts[i].number.as_str())
            .collect();
        numbers.sort_unstable();
        assert_eq!(numbers, ["1162022", "162022"]);
        assert_eq!(
            f.severity,
            Severity::Medium,
            "same value, same day, same words, but numbers one digit apart: a register slip"
        );
        assert!(
            f.explanation.contains("diferem por um só dígito"),
            "{}",
            f.explanation
        );
        assert_eq!(f.financial_impact, 133_751.26);
        assert!(f.explanation.contains("R$ 133.751,26"), "{}", f.explanation);
        assert!(f.explanation.contains("100,0%"), "{}", f.explanation);
        assert!(f.description.contains("nº 1162022"), "{}", f.description);
        assert!(f.description.contains("FORNECEDOR 66666666000166"));
    }

    #[test]
    fn a_utility_contract_registered_twice_is_one_step_lower_and_says_why() {
        let pair = |supplier_name: &str| {
            let mut contracts = regular();
            for number in ["172022", "482022"] {
                let mut c = contract(
                    number,
                    "33050071000158",
                    day(2022, 5, 2),
                    410_000.0,
                    "Fornecimento de energia elétrica ao campus, em média tensão",
                    "Dispensa de Licitação",
                );
                c.supplier_name = Some(supplier_name.into());
                contracts.push(c);
            }
            let (_, findings) = detect(contracts);
            let near = of_rule(&findings, NEAR_IDENTICAL_OBJECT);
            assert_eq!(near.len(), 1, "{findings:#?}");
            near[0].clone()
        };
        let plain = pair("COMERCIAL DE MATERIAIS LTDA");
        let utility = pair("AMPLA ENERGIA E SERVICOS S.A.");
        assert_eq!(utility.severity, plain.severity.lower());
        assert_eq!(utility.evidence["recognised"], "routine_supplier");
        assert!(plain.evidence["recognised"].is_null());
        assert!(
            utility
                .explanation
                .contains("concessionária de serviço público"),
            "{}",
            utility.explanation
        );
    }

    #[test]
    fn an_identical_same_day_pair_outranks_a_looser_one_and_big_amounts_are_critical() {
        let supplier = "77777777000177";
        let contracts =
            vec![
            // Loose: 0.5% apart in value, 20 days apart.
            contract("12021", supplier, day(2021, 3, 1), 10_000.0, CHAIRS, "Pregão"),
            contract("22021", supplier, day(2021, 3, 21), 10_050.0, CHAIRS, "Pregão"),
            // Tight and large: the same R$ 29.796.665,72 twice on one day.
            contract(
                "2652021",
                "88888888000188",
                day(2021, 6, 11),
                29_796_665.72,
                "Implantação e manutenção de dispositivos de segurança viária na rodovia BR-101",
                "Pregão",
            ),
            contract(
                "2662021",
                "88888888000188",
                day(2021, 6, 11),
                29_796_665.72,
                "Implantação e manutenção de dispositivos de segurança viária na rodovia BR-101",
                "Pregão",
            ),
        ];
        let (_, findings) = detect(contracts);
        let near = of_rule(&findings, NEAR_IDENTICAL_OBJECT);
        assert_eq!(near.len(), 2, "{findings:#?}");
        assert_eq!(near[0].severity, Severity::Critical);
        assert!(near[0].explanation.contains("R$ 29.796.665,72"));
        assert_eq!(near[1].severity, Severity::Low);
        assert!(
            near[1].explanation.contains("20 dias"),
            "{}",
            near[1].explanation
        );
        assert!(near[0].confidence > near[1].confidence);
    }

    #[test]
    fn republications_of_one_contract_are_not_duplicates() {
        let first = contract(
            "2822020",
            "99999999000199",
            day(2020, 12, 29),
            247_099.99,
            "Serviço de assessoria em propriedade intelectual e buscas de patentes",
            "Pregão",
        );
        let mut again = first.clone();
        again.key.push_str("|republished");
        again.published = Some(day(2021, 5, 31));
        again.final_value = Some(273_153.03);
        again.object = first.object.to_uppercase();
        let (_, findings) = detect(vec![first.clone(), again.clone()]);
        assert!(findings.is_empty(), "{findings:#?}");

        // With a true second contract, the republication is still counted once.
        let mut twin = first.clone();
        twin.key = "twin".to_string();
        twin.number = "2832020".to_string();
        let (data, findings) = detect(vec![first, again, twin]);
        assert_eq!(findings.len(), 1, "{findings:#?}");
        let mut keys: Vec<&str> = findings[0]
            .records
            .iter()
            .map(|&i| data.contracts[i].key.as_str())
            .collect();
        keys.sort_unstable();
        assert_eq!(keys.len(), 2, "the latest publication and the twin");
        assert!(keys[0].ends_with("|republished"), "{keys:?}");
        assert_eq!(findings[0].financial_impact, 247_099.99);
    }

    #[test]
    fn dispensas_under_the_limit_that_together_exceed_it_are_a_split_purchase() {
        let supplier = "12345678000190";
        let dispensa = "Dispensa de Licitação";
        let mut contracts = regular();
        for (k, (d, v)) in [
            (day(2022, 7, 18), 6_342.60),
            (day(2022, 7, 18), 9_441.00),
            (day(2022, 7, 18), 4_616.40),
        ]
        .into_iter()
        .enumerate()
        {
            contracts.push(contract(
                &format!("{}2022", 19 + k),
                supplier,
                d,
                v,
                "Polimento de piso de mármore e granitina do pavilhão",
                dispensa,
            ));
        }
        let (data, findings) = detect(contracts);
        let split = of_rule(&findings, SPLIT_PURCHASE);
        assert_eq!(split.len(), 1, "{findings:#?}");
        let f = split[0];
        assert_eq!(f.records.len(), 3);
        assert!(f
            .records
            .iter()
            .all(|&i| data.contracts[i].supplier_code.as_deref() == Some(supplier)));
        assert_eq!(f.financial_impact, 20_400.0);
        assert_eq!(f.severity, Severity::High, "one batch of similar objects");
        assert!(f.explanation.contains("R$ 20.400,00"), "{}", f.explanation);
        assert!(f.explanation.contains("R$ 17.600,00"), "{}", f.explanation);
        assert!(
            f.explanation.contains("Decreto 9.412/2018"),
            "{}",
            f.explanation
        );
        assert!(f.description.contains("18/07/2022"), "{}", f.description);
    }

    #[test]
    fn engineering_uses_its_own_higher_limit() {
        let supplier = "23456789000101";
        let reform = "Reforma do telhado do bloco administrativo";
        let two = vec![
            contract(
                "12022",
                supplier,
                day(2022, 5, 2),
                15_000.0,
                reform,
                "Dispensa de Licitação",
            ),
            contract(
                "22022",
                supplier,
                day(2022, 5, 20),
                15_000.0,
                reform,
                "Dispensa de Licitação",
            ),
        ];
        let (_, findings) = detect(two.clone());
        assert!(
            of_rule(&findings, SPLIT_PURCHASE).is_empty(),
            "R$ 30.000 is under the engineering limit: {findings:#?}"
        );
        let mut three = two;
        three.push(contract(
            "32022",
            supplier,
            day(2022, 6, 1),
            15_000.0,
            reform,
            "Dispensa de Licitação",
        ));
        let (_, findings) = detect(three);
        let split = of_rule(&findings, SPLIT_PURCHASE);
        assert_eq!(split.len(), 1, "{findings:#?}");
        assert!(
            split[0].explanation.contains("R$ 33.000,00"),
            "{}",
            split[0].explanation
        );
    }

    #[test]
    fn a_legal_basis_naming_lei_14133_brings_its_limit() {
        let supplier = "34567890000112";
        let object = "Aquisição de material de laboratório para aulas práticas";
        let mut contracts = vec![
            contract(
                "12022",
                supplier,
                day(2022, 5, 2),
                30_000.0,
                object,
                "Dispensa de Licitação",
            ),
            contract(
                "22022",
                supplier,
                day(2022, 6, 2),
                30_000.0,
                object,
                "Dispensa de Licitação",
            ),
        ];
        // Without a named law, 2022 falls to Lei 8.666: each is above R$ 17.600 and
        // was not a dispensa by value at all.
        let (_, findings) = detect(contracts.clone());
        assert!(findings.is_empty(), "{findings:#?}");
        for c in &mut contracts {
            c.legal_basis = Some("Lei 14.133/2021, art. 75, II".into());
        }
        let (_, findings) = detect(contracts);
        let split = of_rule(&findings, SPLIT_PURCHASE);
        assert_eq!(split.len(), 1, "{findings:#?}");
        assert!(
            split[0].explanation.contains("R$ 50.000,00"),
            "{}",
            split[0].explanation
        );
        assert!(
            split[0].explanation.contains("R$ 60.000,00"),
            "{}",
            split[0].explanation
        );
        assert!(split[0]
            .explanation
            .contains("fundamento legal dos contratos"));
    }

    #[test]
    fn a_large_purchase_chopped_in_one_batch_outranks_a_slow_trickle() {
        let dispensa = "Dispensa de Licitação";
        let mut contracts = Vec::new();
        // Six contracts of R$ 17.000 the same week: 5,8 times the limit.
        for k in 0..6 {
            contracts.push(contract(
                &format!("{}2022", 10 + k),
                "45678901000123",
                day(2022, 9, 5 + k),
                17_000.0,
                "Aquisição de notebooks para os laboratórios de informática",
                dispensa,
            ));
        }
        // Two different purchases two months apart, just over the limit together.
        contracts.push(contract(
            "302022",
            "56789012000134",
            day(2022, 2, 1),
            9_000.0,
            "Aquisição de toner para impressoras",
            dispensa,
        ));
        contracts.push(contract(
            "402022",
            "56789012000134",
            day(2022, 4, 1),
            9_000.0,
            "Serviço de encadernação de livros raros",
            dispensa,
        ));
        let (_, findings) = detect(contracts);
        let split = of_rule(&findings, SPLIT_PURCHASE);
        assert_eq!(split.len(), 2, "{findings:#?}");
        assert_eq!(split[0].severity, Severity::Critical);
        assert_eq!(split[0].records.len(), 6);
        assert!(
            split[0].explanation.contains("R$ 102.000,00"),
            "{}",
            split[0].explanation
        );
        assert_eq!(split[1].severity, Severity::Medium);
        assert!(split[0].confidence > split[1].confidence);
    }

    #[test]
    fn dispensas_granted_for_other_reasons_are_not_split_purchases() {
        let object =
            "Aquisição de gêneros alimentícios da agricultura familiar para a alimentação escolar";
        let contracts = (0..4)
            .map(|k| {
                contract(
                    &format!("{k}2022"),
                    "67890123000145",
                    day(2022, 3, 1 + k),
                    15_000.0,
                    object,
                    "Dispensa de Licitação",
                )
            })
            .collect();
        let (_, findings) = detect(contracts);
        assert!(
            of_rule(&findings, SPLIT_PURCHASE).is_empty(),
            "{findings:#?}"
        );
    }

    #[test]
    fn settings_read_from_toml_with_defaults_for_missing_keys() {
        let s: DuplicateSettings = serde_json::from_value(json!({
            "split_window_days": 60,
            "split_coexistence_law": "lei_14133"
        }))
        .expect("valid settings");
        assert_eq!(s.split_window_days, 60);
        assert_eq!(s.split_coexistence_law, dispensa_limits::Law::Lei14133);
        assert_eq!(s.min_similarity, 0.85);
        assert!(serde_json::from_value::<DuplicateSettings>(json!({"nope": 1})).is_err());
    }

    #[test]
    fn the_real_file_gives_a_modest_number_of_findings() {
        let data = crate::sources::contracts::rules::real_data();
        let started = std::time::Instant::now();
        let findings = DuplicateDetector {
            settings: DuplicateSettings::default(),
        }
        .detect(&data);
        let elapsed = started.elapsed();
        let near = of_rule(&findings, NEAR_IDENTICAL_OBJECT).len();
        let split = of_rule(&findings, SPLIT_PURCHASE).len();
        eprintln!(
            "{} contracts: {near} near-identical, {split} split purchases in {elapsed:?}",
            data.contracts.len()
        );
        for rule in [NEAR_IDENTICAL_OBJECT, SPLIT_PURCHASE] {
            let mut by_severity = BTreeMap::new();
            for f in of_rule(&findings, rule) {
                *by_severity.entry(f.severity).or_insert(0) += 1;
            }
            eprintln!("{rule}: {by_severity:?}");
        }
        for rule in [NEAR_IDENTICAL_OBJECT, SPLIT_PURCHASE] {
            for f in of_rule(&findings, rule).iter().take(2) {
                eprintln!("{}\n  {}\n", f.description, f.explanation);
            }
        }
        assert!(data.contracts.len() > 49_000);
        assert!((10..=200).contains(&near), "{near}");
        assert!((5..=200).contains(&split), "{split}");
        let again = DuplicateDetector {
            settings: DuplicateSettings::default(),
        }
        .detect(&data);
        assert_eq!(findings, again, "deterministic");
    }

    use std::collections::BTreeMap;
}
