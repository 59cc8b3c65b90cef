//! Vendor: who the public money goes to, and how freely suppliers were chosen.
//!
//! A supplier is its `supplier_code` (CNPJ or CPF); contracts without one are
//! skipped, as are, for the value-based rules, contracts without a positive value
//! (final value when known, else initial), never counted as zero.
//!
//! - `vendor.dominant_supplier`: one supplier holds more than `dominant_share` of
//!   the value an agency (or, separately, a management unit, UG) contracted, where
//!   the unit has at least `dominant_min_contracts` contracts and the supplier at
//!   least `dominant_min_supplier_contracts` of them. Capture of a buyer by one
//!   firm is a classic sign of directed procurement. A unit that bought from a
//!   single supplier only is the extreme of dominance and is reported too
//!   (`dominant_min_suppliers` = 1), since no competitor got anything; a single
//!   large contract among small ones is not dominance, hence the supplier's
//!   minimum. A UG finding for a supplier that already dominates the UG's whole
//!   agency is left out: it would repeat the agency's finding and count its money
//!   twice. One finding per (unit, supplier); `financial_impact` = the
//!   supplier's total at that unit.
//!   Severity: critical when share ≥ 90% and total ≥ 10 × `large_value`; high when
//!   either holds; medium when total ≥ `large_value`; low otherwise.
//! - `vendor.market_concentration`: the Herfindahl–Hirschman index (HHI, sum of
//!   squared value shares, 0–1) of an agency's suppliers above `hhi_threshold`
//!   (0.25, the "highly concentrated" line that competition authorities draw at
//!   2,500 on their 0–10,000 scale), where the agency has at least
//!   `hhi_min_contracts` contracts and `hhi_min_suppliers` suppliers. It catches
//!   money shared among a few firms where no single one dominates, so agencies
//!   already reported by `dominant_supplier` are not reported again. One finding
//!   per agency; records are the contracts of its top suppliers (those with at
//!   least 10% of the value, at most 5), largest first, at most `max_records`;
//!   `financial_impact` = those suppliers' total at the agency. Severity: critical
//!   when HHI ≥ 0.5 and that total ≥ 10 × `large_value`; high when HHI ≥ 0.5 (as
//!   concentrated as two equal suppliers); medium from the midpoint between the
//!   threshold and 0.5; low otherwise.
//! - `vendor.repeated_direct_contracting`: at least `direct_min_contracts`
//!   contracts without competitive bidding (dispensa or inexigibilidade de
//!   licitação) between the same UG and the same supplier. Direct contracting is
//!   the exception to bidding; repeated with one supplier it suggests a permanent
//!   need that should have been tendered, or a purchase split to stay under the
//!   dispensa ceiling ("fracionamento"). Direct means the modality (or the bidding
//!   modality) says "Dispensa" or "Inexigibilidade", compared folded; only where
//!   no modality is published, the legal basis: those words, or the article of
//!   the law (Lei 8.666/93 art. 24/25, Lei 13.303/16 art. 29/30, Lei 14.133/21
//!   art. 75/74). `financial_impact` = the contracts' total (known values only).
//!   A routine relation (support foundation, utility) lists only its three
//!   largest contracts, the count being in the evidence.
//!   Severity: critical when total ≥ 10 × `large_value` and count ≥ twice the
//!   minimum; high when total ≥ `large_value`; medium when count ≥ twice the
//!   minimum or total ≥ `large_value` / 10; low otherwise. Purchases split under
//!   the dispensa ceilings are `duplicate.split_purchase`'s business, with the
//!   legal limit of each date; this rule looks at the relationship.
//!
//! - `vendor.repeated_emergency_dispensa` (`emergency.rs`),
//!   `vendor.newcomer_direct_award` (`newcomer.rs`),
//!   `vendor.exceptional_direct_award` (`exceptional.rs`) and
//!   `vendor.dispensas_across_units` (`spread.rs`) read the whole database's
//!   record of the pair, the supplier or the agency.
//! - `vendor.sanctioned_supplier`: a supplier punished in a sanctions list before
//!   the signature (see `sanctioned.rs`).
//!
//! Confidence starts at 0.5 at each rule's threshold and grows with the margin
//! (share, HHI, count) up to about 0.9; it is lowered where the pattern rests on
//! one contract, on few contracts, or on inexigibilidades only (often a sole
//! provider by nature, such as a utility).
//!
//! Each rule keeps at most `max_findings` findings, the strongest (severity, then
//! money, then record key), and the family returns them rule by rule in the order
//! above. The data source already reads each contract at its latest publication,
//! so a republished contract is not counted twice.

pub use crate::config::detectors::VendorSettings;
use std::collections::HashSet;

use chrono::NaiveDate;
use serde_json::json;

use crate::analysis::rank::{keep_strongest, Rank};
use crate::domain::format::{self, count, round, thousands};
use crate::domain::text;
use crate::sources::contracts::model::{Contract, Dataset, Detector, Family, Finding, Severity};

/// One supplier holds most of the value a unit contracted.
pub const DOMINANT_SUPPLIER: &str = "vendor.dominant_supplier";
/// An agency's suppliers are highly concentrated (HHI).
pub const MARKET_CONCENTRATION: &str = "vendor.market_concentration";
/// The same UG contracts the same supplier directly, again and again.
pub const REPEATED_DIRECT_CONTRACTING: &str = "vendor.repeated_direct_contracting";

pub struct VendorDetector {
    pub settings: VendorSettings,
}

impl Detector<Dataset> for VendorDetector {
    fn family(&self) -> Family {
        Family::Vendor
    }

    fn detect(&self, data: &Dataset) -> Vec<Finding> {
        let s = &self.settings;
        let index = Index::build(data);
        let mut by_agency = index.valued.clone();
        by_agency.sort_unstable_by_key(|v| (v.agency, v.supplier, v.idx));
        let (mut findings, dominated) = dominant_supplier(s, data, &index, &by_agency);
        findings.extend(market_concentration(s, data, &by_agency, &dominated));
        findings.extend(repeated_direct_contracting(s, data, &index));
        findings.extend(super::emergency::repeated_emergency_dispensa(s, data));
        let direct = || {
            index
                .direct
                .iter()
                .map(|d| (d.idx, d.kind == DirectKind::Dispensa))
        };
        findings.extend(super::newcomer::newcomer_direct_award(s, data, direct()));
        findings.extend(super::exceptional::exceptional_direct_award(
            s,
            data,
            direct(),
        ));
        findings.extend(super::spread::dispensas_across_units(
            s,
            data,
            direct().filter(|d| d.1).map(|d| d.0),
        ));
        findings.extend(super::sanctioned::sanctioned_supplier(data));
        findings
    }
}

/// FNV-1a: codes and modalities are short strings looked up millions of times,
/// where SipHash's resistance to chosen keys buys nothing and costs time.
type FnvMap<K, V> = fnv::FnvHashMap<K, V>;

/// Interns codes as dense ids in order of first appearance, so grouping sorts
/// integers, not strings.
struct Ids<'a> {
    ids: FnvMap<&'a str, u32>,
    names: Vec<&'a str>,
}

impl<'a> Ids<'a> {
    fn new() -> Self {
        Self {
            ids: FnvMap::default(),
            names: Vec::new(),
        }
    }
    fn id(&mut self, code: &'a str) -> u32 {
        if let Some(id) = self.ids.get(code) {
            return *id;
        }
        let id = self.names.len() as u32;
        self.ids.insert(code, id);
        self.names.push(code);
        id
    }
}

/// A contract with a supplier and a positive value.
#[derive(Clone, Copy)]
struct Valued {
    idx: usize,
    agency: u32,
    ug: Option<u32>,
    supplier: u32,
    value: f64,
}

/// A direct contract with a UG and a supplier.
#[derive(Clone, Copy)]
struct Direct {
    idx: usize,
    ug: u32,
    supplier: u32,
    kind: DirectKind,
}

/// How a contract was awarded without competitive bidding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DirectKind {
    Dispensa,
    Inexigibilidade,
}

/// What every rule reads, built in one pass.
struct Index {
    valued: Vec<Valued>,
    direct: Vec<Direct>,
}

fn present(s: Option<&str>) -> Option<&str> {
    s.map(str::trim).filter(|s| !s.is_empty())
}

fn agency_code(c: &Contract) -> Option<&str> {
    present(c.agency.code.as_deref()).or(present(c.superior_agency.code.as_deref()))
}

fn agency_name(c: &Contract) -> &str {
    present(c.agency.name.as_deref())
        .or(present(c.superior_agency.name.as_deref()))
        .or(agency_code(c))
        .unwrap_or("órgão não informado")
}

fn ug_name(c: &Contract) -> &str {
    present(c.ug.name.as_deref())
        .or(present(c.ug.code.as_deref()))
        .unwrap_or("unidade não informada")
}

fn supplier_code(c: &Contract) -> Option<&str> {
    present(c.supplier_code.as_deref())
}

/// The first published supplier name among `records`, else the code.
fn supplier_name<'a>(data: &'a Dataset, records: &[usize]) -> &'a str {
    records
        .iter()
        .find_map(|i| present(data.contracts[*i].supplier_name.as_deref()))
        .or_else(|| {
            records
                .first()
                .and_then(|i| supplier_code(&data.contracts[*i]))
        })
        .unwrap_or("fornecedor não informado")
}

/// Whether a published modality says dispensa or inexigibilidade, as these
/// rules read it; for retrieval, which asks the database about the suppliers
/// of such awards.
pub(crate) fn modality_is_direct(modality: &str) -> bool {
    kind_in_words(&text::fold(modality)).is_some()
}

/// Whether a published modality says dispensa.
pub(crate) fn modality_is_dispensa(modality: &str) -> bool {
    kind_in_words(&text::fold(modality)) == Some(DirectKind::Dispensa)
}

/// Dispensa or inexigibilidade in folded text.
fn kind_in_words(folded: &str) -> Option<DirectKind> {
    if folded.contains("dispensa") {
        Some(DirectKind::Dispensa)
    } else if folded.contains("inexigibilidade") || folded.contains("inexigivel") {
        Some(DirectKind::Inexigibilidade)
    } else {
        None
    }
}

/// The article of the procurement laws a folded legal basis cites
/// ("lei 8 666 93 artigo 24 inciso 02" is a dispensa).
fn kind_by_article(folded: &str) -> Option<DirectKind> {
    let laws: [(&[&str], &str, &str); 3] = [
        (&["8666", "8 666"], "24", "25"),
        (&["13303", "13 303"], "29", "30"),
        (&["14133", "14 133"], "75", "74"),
    ];
    let words: Vec<&str> = folded.split(' ').collect();
    let articles: Vec<&str> = words
        .windows(2)
        .filter(|w| w[0] == "art" || w[0] == "artigo")
        .map(|w| w[1].trim_end_matches('º'))
        .collect();
    for (names, dispensa, inexigibilidade) in laws {
        if !names.iter().any(|n| folded.contains(n)) {
            continue;
        }
        if articles.contains(&dispensa) {
            return Some(DirectKind::Dispensa);
        }
        if articles.contains(&inexigibilidade) {
            return Some(DirectKind::Inexigibilidade);
        }
    }
    None
}

/// Whether a contract was awarded directly. A published modality decides; the
/// legal basis is read only where the modality is unknown, because it often
/// cites the whole law ("Lei 8.666/93") for contracts that were tendered.
fn direct_kind<'a>(
    c: &'a Contract,
    modalities: &mut FnvMap<&'a str, Option<DirectKind>>,
    bases: &mut FnvMap<&'a str, Option<DirectKind>>,
) -> Option<DirectKind> {
    fn memo<'a>(
        cache: &mut FnvMap<&'a str, Option<DirectKind>>,
        raw: &'a str,
        f: impl Fn(&str) -> Option<DirectKind>,
    ) -> Option<DirectKind> {
        *cache.entry(raw).or_insert_with(|| f(&text::fold(raw)))
    }
    if let Some(m) = present(c.modality.as_deref()).or(present(c.bidding_modality.as_deref())) {
        return memo(modalities, m, kind_in_words);
    }
    let basis = present(c.legal_basis.as_deref())?;
    memo(bases, basis, |f| {
        kind_in_words(f).or_else(|| kind_by_article(f))
    })
}

/// One chunk of contracts indexed with its own ids, so chunks can be indexed
/// in parallel; [`Index::build`] then renumbers the ids globally.
struct Chunk<'a> {
    agencies: Ids<'a>,
    ugs: Ids<'a>,
    suppliers: Ids<'a>,
    valued: Vec<Valued>,
    direct: Vec<Direct>,
}

fn index_chunk(contracts: &[Contract], offset: usize) -> Chunk<'_> {
    let mut chunk = Chunk {
        agencies: Ids::new(),
        ugs: Ids::new(),
        suppliers: Ids::new(),
        valued: Vec::new(),
        direct: Vec::new(),
    };
    let mut modalities = FnvMap::default();
    let mut bases = FnvMap::default();
    for (i, c) in contracts.iter().enumerate() {
        let idx = offset + i;
        let Some(supplier) = supplier_code(c) else {
            continue;
        };
        let supplier = chunk.suppliers.id(supplier);
        let ug = present(c.ug.code.as_deref()).map(|u| chunk.ugs.id(u));
        if let (Some(value), Some(agency)) = (c.value_now(), agency_code(c)) {
            chunk.valued.push(Valued {
                idx,
                agency: chunk.agencies.id(agency),
                ug,
                supplier,
                value,
            });
        }
        if let (Some(ug), Some(kind)) = (ug, direct_kind(c, &mut modalities, &mut bases)) {
            chunk.direct.push(Direct {
                idx,
                ug,
                supplier,
                kind,
            });
        }
    }
    chunk
}

/// Global ids for a chunk's local ids.
fn renumber<'a>(local: &Ids<'a>, global: &mut Ids<'a>) -> Vec<u32> {
    local.names.iter().map(|name| global.id(name)).collect()
}

/// Below this many contracts, one thread indexes them all.
const PARALLEL_FROM: usize = 50_000;

impl Index {
    /// Reading a million contracts' scattered strings is most of this family's
    /// time, so chunks are read on all cores. Ids come out in order of first
    /// appearance in the dataset whatever the chunking, since chunks are merged
    /// in order.
    fn build(data: &Dataset) -> Index {
        let contracts = &data.contracts;
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let chunks: Vec<Chunk<'_>> = if threads < 2 || contracts.len() < PARALLEL_FROM {
            vec![index_chunk(contracts, 0)]
        } else {
            let size = contracts.len().div_ceil(threads);
            std::thread::scope(|scope| {
                let parts: Vec<_> = contracts
                    .chunks(size)
                    .enumerate()
                    .map(|(k, part)| scope.spawn(move || index_chunk(part, k * size)))
                    .collect();
                parts
                    .into_iter()
                    .map(|part| match part.join() {
                        Ok(chunk) => chunk,
                        Err(panic) => std::panic::resume_unwind(panic),
                    })
                    .collect()
            })
        };
        let (mut agencies, mut ugs, mut suppliers) = (Ids::new(), Ids::new(), Ids::new());
        let mut index = Index {
            valued: Vec::with_capacity(chunks.iter().map(|c| c.valued.len()).sum()),
            direct: Vec::with_capacity(chunks.iter().map(|c| c.direct.len()).sum()),
        };
        for chunk in chunks {
            let agency = renumber(&chunk.agencies, &mut agencies);
            let ug = renumber(&chunk.ugs, &mut ugs);
            let supplier = renumber(&chunk.suppliers, &mut suppliers);
            index.valued.extend(chunk.valued.iter().map(|v| Valued {
                agency: agency[v.agency as usize],
                ug: v.ug.map(|u| ug[u as usize]),
                supplier: supplier[v.supplier as usize],
                ..*v
            }));
            index.direct.extend(chunk.direct.iter().map(|d| Direct {
                ug: ug[d.ug as usize],
                supplier: supplier[d.supplier as usize],
                ..*d
            }));
        }
        index
    }
}

/// A finding ranked before it is written: a dataset can hold many thousands of
/// candidates, and only the strongest `max_findings` are worth their text.
struct Pending<'a> {
    severity: Severity,
    confidence: f64,
    financial_impact: f64,
    /// Tie-breaker: one of its records.
    first: usize,
    build: Box<dyn FnOnce() -> Finding + 'a>,
}

/// The strongest `max` findings, in the one rank order, written.
fn strongest(data: &Dataset, pending: Vec<Pending<'_>>, max: usize) -> Vec<Finding> {
    let ranked = pending
        .into_iter()
        .map(|p| {
            let rank = Rank {
                severity: p.severity,
                confidence: p.confidence,
                impact: p.financial_impact,
                first: p.first,
            };
            (rank, p.build)
        })
        .collect();
    keep_strongest(ranked, data, max)
        .into_iter()
        .map(|(_, build)| build())
        .collect()
}

/// `records` by value, largest first (key breaks ties), at most `max`.
fn largest(data: &Dataset, mut records: Vec<(usize, f64)>, max: usize) -> Vec<usize> {
    records.sort_by(|a, b| {
        b.1.total_cmp(&a.1)
            .then_with(|| data.contracts[a.0].key.cmp(&data.contracts[b.0].key))
    });
    records.truncate(max);
    records.into_iter().map(|(i, _)| i).collect()
}

/// One supplier's part of a unit: its contracts there, in index order.
struct Share<'a> {
    total: f64,
    members: &'a [Valued],
}

impl Share<'_> {
    fn records(&self) -> Vec<(usize, f64)> {
        self.members.iter().map(|v| (v.idx, v.value)).collect()
    }
    fn indices(&self) -> Vec<usize> {
        self.members.iter().map(|v| v.idx).collect()
    }
    fn first(&self) -> usize {
        self.members[0].idx
    }
}

/// A unit's contracts, per supplier, largest supplier first.
struct UnitView<'a> {
    contracts: usize,
    total: f64,
    shares: Vec<Share<'a>>,
}

/// `members` must be sorted by supplier.
fn unit_view<'a>(data: &Dataset, members: &'a [Valued]) -> UnitView<'a> {
    let mut shares: Vec<Share<'a>> = members
        .chunk_by(|a, b| a.supplier == b.supplier)
        .map(|run| Share {
            total: run.iter().map(|v| v.value).sum(),
            members: run,
        })
        .collect();
    shares.sort_by(|a, b| {
        b.total.total_cmp(&a.total).then_with(|| {
            let code = |s: &Share| supplier_code(&data.contracts[s.first()]);
            code(a).cmp(&code(b))
        })
    });
    UnitView {
        contracts: members.len(),
        total: members.iter().map(|v| v.value).sum(),
        shares,
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Level {
    Agency,
    Ug,
}

/// The dominant-supplier findings, and the agencies (by id) that got one.
/// `by_agency` is `index.valued` sorted by (agency, supplier, idx).
fn dominant_supplier(
    s: &VendorSettings,
    data: &Dataset,
    index: &Index,
    by_agency: &[Valued],
) -> (Vec<Finding>, HashSet<u32>) {
    let mut by_ug: Vec<Valued> = index
        .valued
        .iter()
        .filter(|v| v.ug.is_some())
        .copied()
        .collect();
    by_ug.sort_unstable_by_key(|v| (v.ug, v.supplier, v.idx));
    let mut pending = Vec::new();
    let mut dominated = HashSet::new();
    // (agency, supplier) already reported at the agency level.
    let mut reported: HashSet<(u32, u32)> = HashSet::new();
    for run in by_agency.chunk_by(|a, b| a.agency == b.agency) {
        let agency = run[0].agency;
        for supplier in dominant_in_unit(s, data, Level::Agency, run, |_| false, &mut pending) {
            dominated.insert(agency);
            reported.insert((agency, supplier));
        }
    }
    for run in by_ug.chunk_by(|a, b| a.ug == b.ug) {
        // The agency's finding already names a supplier that dominates the whole
        // agency; its UGs would repeat it (and count its money twice).
        let agency = run[0].agency;
        let same_agency = run.iter().all(|v| v.agency == agency);
        let repeats = |supplier: u32| same_agency && reported.contains(&(agency, supplier));
        dominant_in_unit(s, data, Level::Ug, run, repeats, &mut pending);
    }
    (strongest(data, pending, s.max_findings), dominated)
}

/// The numbers of a unit a dominance finding reports.
#[derive(Clone, Copy)]
struct UnitTotals {
    contracts: usize,
    total: f64,
    suppliers: usize,
}

/// Queues the unit's dominant suppliers, except those `skip` names; returns
/// the suppliers queued.
fn dominant_in_unit<'a>(
    s: &'a VendorSettings,
    data: &'a Dataset,
    level: Level,
    members: &'a [Valued],
    skip: impl Fn(u32) -> bool,
    out: &mut Vec<Pending<'a>>,
) -> Vec<u32> {
    let mut queued = Vec::new();
    if members.len() < s.dominant_min_contracts {
        return queued;
    }
    let view = unit_view(data, members);
    if view.shares.len() < s.dominant_min_suppliers.max(1) || view.total <= 0.0 {
        return queued;
    }
    let unit = UnitTotals {
        contracts: view.contracts,
        total: view.total,
        suppliers: view.shares.len(),
    };
    for share in view.shares {
        let fraction = share.total / unit.total;
        let supplier = share.members[0].supplier;
        if fraction <= s.dominant_share
            || share.members.len() < s.dominant_min_supplier_contracts
            || skip(supplier)
        {
            continue;
        }
        queued.push(supplier);
        let very = fraction >= 0.9;
        let big = share.total >= 10.0 * s.large_value;
        let first = &data.contracts[share.first()];
        let buyer = match level {
            Level::Agency => agency_name(first),
            Level::Ug => ug_name(first),
        };
        let routine = routine(buyer, supplier_name(data, &share.indices()));
        let severity = if routine.is_some() {
            // Foreseen by law (a support foundation, a utility): worth a look
            // for its volume, not the front page.
            if very && big {
                Severity::Medium
            } else {
                Severity::Low
            }
        } else if very && big {
            Severity::Critical
        } else if very || big {
            Severity::High
        } else if share.total >= s.large_value {
            Severity::Medium
        } else {
            Severity::Low
        };
        let confidence = dominant_confidence(s, &unit, &share, fraction, routine.is_some());
        out.push(Pending {
            severity,
            confidence,
            financial_impact: round(share.total, 2),
            first: share.first(),
            build: Box::new(move || {
                dominant_finding(
                    s,
                    data,
                    level,
                    unit,
                    &share,
                    fraction,
                    (severity, confidence, routine),
                )
            }),
        });
    }
    queued
}

/// How sure a dominant-supplier finding is: by how far the share passes the
/// threshold, less when one contract makes it, when the unit has few contracts,
/// or when the supplier is routine (a support foundation, a utility).
fn dominant_confidence(
    s: &VendorSettings,
    view: &UnitTotals,
    share: &Share,
    fraction: f64,
    routine: bool,
) -> f64 {
    let biggest = share.members.iter().map(|v| v.value).fold(0.0, f64::max);
    let margin = ((fraction - s.dominant_share) / (1.0 - s.dominant_share).max(f64::EPSILON))
        .clamp(0.0, 1.0);
    let mut confidence = 0.5 + 0.4 * margin;
    if biggest / share.total > 0.9 {
        confidence *= 0.8;
    }
    if view.contracts < 2 * s.dominant_min_contracts {
        confidence *= 0.9;
    }
    if routine {
        confidence *= 0.5;
    }
    confidence
}

fn dominant_finding(
    s: &VendorSettings,
    data: &Dataset,
    level: Level,
    view: UnitTotals,
    share: &Share,
    fraction: f64,
    (severity, confidence, routine): (Severity, f64, Option<Routine>),
) -> Finding {
    let first = &data.contracts[share.first()];
    let supplier = supplier_name(data, &share.indices());
    let supplier_id = supplier_code(first).unwrap_or_default();
    // "do órgão" / "O órgão", "da unidade gestora" / "A unidade gestora".
    let (of_unit, the_unit, unit_name, unit_code) = match level {
        Level::Agency => (
            "do órgão",
            "O órgão",
            agency_name(first),
            agency_code(first).unwrap_or_default(),
        ),
        Level::Ug => (
            "da unidade gestora",
            "A unidade gestora",
            ug_name(first),
            present(first.ug.code.as_deref()).unwrap_or_default(),
        ),
    };
    let biggest = share.members.iter().map(|v| v.value).fold(0.0, f64::max);
    let one_contract = biggest / share.total;

    let competitors = match view.suppliers {
        1 => format!("{the_unit} não contratou nenhum outro fornecedor no período."),
        n => format!(
            "{the_unit} contratou {} fornecedores diferentes no período.",
            count(n)
        ),
    };
    let single = if one_contract > 0.9 {
        format!(
            " O maior contrato do fornecedor responde sozinho por {} desse valor.",
            format::percent(one_contract)
        )
    } else {
        String::new()
    };
    Finding {
        family: Family::Vendor,
        rule: DOMINANT_SUPPLIER,
        severity,
        confidence: round(confidence, 3),
        description: format!(
            "{supplier} concentra {} do valor contratado por {unit_name}",
            format::percent(fraction)
        ),
        explanation: format!(
            "Entre os {} contratos com valor informado {of_unit} {unit_name} ({unit_code}), \
             que somam {}, {} foram com {supplier} ({supplier_id}), somando {}: {} do valor, \
             acima do limite de {} que usamos para indicar dependência de um só fornecedor. \
             {competitors}{single}{}",
            count(view.contracts),
            format::reais(view.total),
            count(share.members.len()),
            format::reais(share.total),
            format::percent(fraction),
            format::percent(s.dominant_share),
            routine_note(routine),
        ),
        records: largest(data, share.records(), s.max_records),
        suggested_actions: vec![
            "Verificar se as contratações com esse fornecedor tiveram competição efetiva \
             (número de propostas, desclassificações)."
                .to_string(),
            "Examinar se objetos e especificações favorecem esse fornecedor.".to_string(),
            "Consultar sócios e histórico do fornecedor em relação a servidores da unidade."
                .to_string(),
        ],
        evidence: json!({
            "level": match level { Level::Agency => "agency", Level::Ug => "ug" },
            "unit_code": unit_code,
            "unit_name": unit_name,
            "supplier_code": supplier_id,
            "supplier_contracts": share.members.len(),
            "supplier_total": round(share.total, 2),
            "unit_contracts": view.contracts,
            "unit_total": round(view.total, 2),
            "unit_suppliers": view.suppliers,
            "share": round(fraction, 4),
            "share_threshold": s.dominant_share,
            "largest_contract_share": round(one_contract, 4),
            "routine": routine_label(routine),
        }),
        financial_impact: round(share.total, 2),
    }
}

/// `by_agency` is the valued contracts sorted by (agency, supplier, idx).
fn market_concentration(
    s: &VendorSettings,
    data: &Dataset,
    by_agency: &[Valued],
    dominated: &HashSet<u32>,
) -> Vec<Finding> {
    let mut pending = Vec::new();
    for run in by_agency.chunk_by(|a, b| a.agency == b.agency) {
        if run.len() < s.hhi_min_contracts || dominated.contains(&run[0].agency) {
            continue;
        }
        let view = unit_view(data, run);
        if view.shares.len() < s.hhi_min_suppliers || view.total <= 0.0 {
            continue;
        }
        let hhi: f64 = view
            .shares
            .iter()
            .map(|sh| (sh.total / view.total).powi(2))
            .sum();
        if hhi <= s.hhi_threshold {
            continue;
        }
        let top = top_suppliers(&view);
        let top_total: f64 = top.iter().map(|sh| sh.total).sum();
        let routine = concentration_routine(data, &view);
        // Half the value or more in one or two contracts of one supplier: one
        // large purchase, which dominant_supplier leaves out on purpose, not a
        // market shared by a few.
        let lead = &view.shares[0];
        let one_purchase = lead.members.len() < s.dominant_min_supplier_contracts.max(2)
            && lead.total / view.total >= 0.5;
        let severity = if routine.is_some() || one_purchase {
            // Mostly a support foundation or a utility: shown lower, as in
            // dominant_supplier.
            if hhi >= 0.5 && top_total >= 10.0 * s.large_value {
                Severity::Medium
            } else {
                Severity::Low
            }
        } else if hhi >= 0.5 && top_total >= 10.0 * s.large_value {
            Severity::Critical
        } else if hhi >= 0.5 {
            Severity::High
        } else if hhi >= (s.hhi_threshold + 0.5) / 2.0 {
            Severity::Medium
        } else {
            Severity::Low
        };
        let confidence = concentration_confidence(s, &view, hhi, routine.is_some(), one_purchase);
        pending.push(Pending {
            severity,
            financial_impact: round(top_total, 2),
            confidence,
            first: view.shares[0].first(),
            build: Box::new(move || {
                concentration_finding(
                    s,
                    data,
                    &view,
                    hhi,
                    (severity, confidence, routine, one_purchase),
                )
            }),
        });
    }
    strongest(data, pending, s.max_findings)
}

/// The kind of routine supplier that holds most of the top suppliers' value,
/// when one does.
fn concentration_routine(data: &Dataset, view: &UnitView) -> Option<Routine> {
    let top = top_suppliers(view);
    let top_total: f64 = top.iter().map(|sh| sh.total).sum();
    let first = &data.contracts[view.shares[0].first()];
    let mut by_kind: Vec<(Routine, f64)> = Vec::new();
    for sh in &top {
        if let Some(kind) = routine(agency_name(first), supplier_name(data, &sh.indices())) {
            match by_kind.iter_mut().find(|(k, _)| *k == kind) {
                Some((_, total)) => *total += sh.total,
                None => by_kind.push((kind, sh.total)),
            }
        }
    }
    by_kind
        .into_iter()
        .find(|(_, total)| *total * 2.0 > top_total)
        .map(|(kind, _)| kind)
}

/// The suppliers that make the index (a 10% share adds 0.01 to it), at most 5.
fn top_suppliers<'v, 'a>(view: &'v UnitView<'a>) -> Vec<&'v Share<'a>> {
    let top: Vec<&Share> = view
        .shares
        .iter()
        .filter(|sh| sh.total / view.total >= 0.10)
        .take(5)
        .collect();
    if top.is_empty() {
        view.shares.iter().take(1).collect()
    } else {
        top
    }
}

/// How sure a market-concentration finding is: by how far the HHI passes the
/// threshold, less over few contracts, for routine suppliers, or when one
/// purchase makes the concentration.
fn concentration_confidence(
    s: &VendorSettings,
    view: &UnitView,
    hhi: f64,
    routine: bool,
    one_purchase: bool,
) -> f64 {
    let margin =
        ((hhi - s.hhi_threshold) / (1.0 - s.hhi_threshold).max(f64::EPSILON)).clamp(0.0, 1.0);
    let mut confidence = 0.5 + 0.4 * margin;
    if view.contracts < 2 * s.hhi_min_contracts {
        confidence *= 0.85;
    }
    if routine {
        confidence *= 0.5;
    }
    if one_purchase {
        confidence *= 0.7;
    }
    confidence
}

fn concentration_finding(
    s: &VendorSettings,
    data: &Dataset,
    view: &UnitView,
    hhi: f64,
    (severity, confidence, routine, one_purchase): (Severity, f64, Option<Routine>, bool),
) -> Finding {
    let top = top_suppliers(view);
    let top_total: f64 = top.iter().map(|sh| sh.total).sum();
    let first = &data.contracts[view.shares[0].first()];
    let agency = agency_name(first);
    let code = agency_code(first).unwrap_or_default();
    let names: Vec<String> = top
        .iter()
        .map(|sh| {
            format!(
                "{} ({}, {} contrato(s))",
                supplier_name(data, &sh.indices()),
                format::percent(sh.total / view.total),
                sh.members.len()
            )
        })
        .collect();
    let lead = &view.shares[0];
    let one_purchase_text = if one_purchase {
        format!(
            " {} contrato(s) de {} respondem por {} do valor: a concentração vem de uma compra \
             grande, que merece conferência por si, mais do que de um mercado dividido entre \
             poucos fornecedores.",
            lead.members.len(),
            supplier_name(data, &lead.indices()),
            format::percent(lead.total / view.total)
        )
    } else {
        String::new()
    };
    let records = largest(
        data,
        top.iter().flat_map(|sh| sh.records()).collect(),
        s.max_records,
    );
    Finding {
        family: Family::Vendor,
        rule: MARKET_CONCENTRATION,
        severity,
        confidence: round(confidence, 3),
        description: format!(
            "Contratos de {agency} concentrados em poucos fornecedores (HHI {})",
            format::decimal(hhi, 2)
        ),
        explanation: format!(
            "O índice Herfindahl-Hirschman (HHI) mede a concentração do valor contratado: é a \
             soma dos quadrados das participações de cada fornecedor, de quase 0 (muitos \
             fornecedores pequenos) a 1 (um só fornecedor). Acima de {} o mercado é considerado \
             altamente concentrado ({} na escala de 0 a 10.000 das autoridades de concorrência). \
             Os {} contratos com valor informado de {agency} ({code}), com {} fornecedores e \
             somando {}, têm HHI de {}: como se o órgão comprasse de apenas {} fornecedores de \
             mesmo tamanho. Maiores fornecedores: {}.{one_purchase_text}{}",
            format::decimal(s.hhi_threshold, 2),
            thousands(s.hhi_threshold * 10_000.0),
            count(view.contracts),
            count(view.shares.len()),
            format::reais(view.total),
            format::decimal(hhi, 2),
            format::decimal(1.0 / hhi, 1),
            names.join("; "),
            routine_note(routine),
        ),
        records,
        suggested_actions: vec![
            "Verificar se os editais do órgão restringem a competição (exigências, prazos, \
             lotes amplos)."
                .to_string(),
            "Comparar com órgãos semelhantes quantos fornecedores disputam objetos parecidos."
                .to_string(),
        ],
        evidence: json!({
            "agency_code": code,
            "hhi": round(hhi, 4),
            "hhi_10000": round(hhi * 10_000.0, 0),
            "hhi_threshold": s.hhi_threshold,
            "equivalent_suppliers": round(1.0 / hhi, 2),
            "routine": routine_label(routine),
            "one_purchase": one_purchase,
            "contracts": view.contracts,
            "suppliers": view.shares.len(),
            "total": round(view.total, 2),
            "top_suppliers": top.iter().map(|sh| json!({
                "supplier_code": supplier_code(&data.contracts[sh.first()]),
                "share": round(sh.total / view.total, 4),
                "total": round(sh.total, 2),
                "contracts": sh.members.len(),
            })).collect::<Vec<_>>(),
        }),
        financial_impact: round(top_total, 2),
    }
}

fn repeated_direct_contracting(s: &VendorSettings, data: &Dataset, index: &Index) -> Vec<Finding> {
    let mut direct = index.direct.clone();
    direct.sort_unstable_by_key(|d| (d.ug, d.supplier, d.idx));
    let mut pending = Vec::new();
    for run in direct.chunk_by(|a, b| (a.ug, a.supplier) == (b.ug, b.supplier)) {
        if run.len() < s.direct_min_contracts.max(1) {
            continue;
        }
        let total: f64 = run
            .iter()
            .filter_map(|d| data.contracts[d.idx].value_now())
            .sum();
        let many = run.len() >= 2 * s.direct_min_contracts;
        let first = &data.contracts[run[0].idx];
        let all: Vec<usize> = run.iter().map(|d| d.idx).collect();
        let routine = routine(ug_name(first), supplier_name(data, &all));
        let severity = if routine.is_some() {
            // Foreseen by law: the volume is worth a look, not the front page.
            if total >= 10.0 * s.large_value && many {
                Severity::Medium
            } else {
                Severity::Low
            }
        } else if total >= 10.0 * s.large_value && many {
            Severity::Critical
        } else if total >= s.large_value {
            Severity::High
        } else if many || total >= s.large_value / 10.0 {
            Severity::Medium
        } else {
            Severity::Low
        };
        let confidence = repeated_confidence(s, run, routine.is_some());
        pending.push(Pending {
            severity,
            financial_impact: round(total, 2),
            confidence,
            first: run[0].idx,
            build: Box::new(move || {
                repeated_finding(s, data, run, total, (severity, confidence, routine))
            }),
        });
    }
    strongest(data, pending, s.max_findings)
}

/// Direct contracting the law foresees as routine, where repetition alone says
/// little: a university, institute or research body and its support foundation
/// (Lei 8.958/1994; Lei 8.666/93 art. 24, XIII), and the single provider of a
/// public utility (energy, water and sewage, post: inexigibilidade). On the real
/// 2021–2022 data these made most of the repeated direct contracting at the top of
/// the ranking, drowning the cases a journalist would want to see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Routine {
    SupportFoundation,
    Utility,
}

/// A support foundation hired by its university or research body (Lei
/// 8.958/1994), by the buyer's and the supplier's names.
pub(crate) fn is_support_foundation(buyer: &str, supplier: &str) -> bool {
    routine(buyer, supplier) == Some(Routine::SupportFoundation)
}

/// A public utility (energy, water and sewage, post), by the supplier's name.
pub(crate) fn is_utility(supplier: &str) -> bool {
    !crate::domain::text::fold(supplier).contains("fundacao")
        && routine("", supplier) == Some(Routine::Utility)
}

fn routine(buyer: &str, supplier: &str) -> Option<Routine> {
    let supplier = crate::domain::text::fold(supplier);
    let buyer = crate::domain::text::fold(buyer);
    let has = |text: &str, words: &[&str]| words.iter().any(|w| text.contains(w));
    const FOUNDATION_PURPOSE: &[&str] = &[
        "apoio",
        "desenvolvimento",
        "pesquisa",
        "amparo",
        "ensino",
        "cientific",
        "tecnolog",
        "extensao",
        "estudos",
        "educativa",
        "fiotec",
        "fapeu",
        "finatec",
        "fundep",
        "fadesp",
    ];
    const ACADEMIC: &[&str] = &[
        "universidade",
        "univ ",
        "instituto federal",
        "inst fed",
        "faculdade",
        "escola",
        "campus",
        "fundacao oswaldo cruz",
        "fiocruz",
        "utfpr",
        "unifesp",
        "cefet",
        "hospital universitario",
        "centro federal",
        "fund de apoio",
        "fundacao de apoio",
    ];
    const UTILITIES: &[&str] = &[
        "energia",
        "eletric",
        "forca e luz",
        "saneamento",
        "aguas",
        "agua e esgoto",
        "esgoto",
        "correios",
        "cemig",
        "copel",
        "celesc",
        "sabesp",
        "embasa",
        "compesa",
        "caesb",
        "copasa",
        "casan",
        "eletropaulo",
        "enel ",
        "light ",
    ];
    if supplier.contains("fundacao")
        && (has(&supplier, FOUNDATION_PURPOSE) || has(&buyer, ACADEMIC))
    {
        Some(Routine::SupportFoundation)
    } else if has(&supplier, UTILITIES) {
        Some(Routine::Utility)
    } else {
        None
    }
}

/// How the evidence names a routine case.
fn routine_label(routine: Option<Routine>) -> Option<&'static str> {
    routine.map(|r| match r {
        Routine::SupportFoundation => "support_foundation",
        Routine::Utility => "utility",
    })
}

/// Why a routine case is shown lower, for the explanation.
fn routine_note(routine: Option<Routine>) -> &'static str {
    match routine {
        Some(Routine::SupportFoundation) => {
            " Contratar a própria fundação de apoio sem licitação é previsto em lei (Lei \
             8.958/1994) e comum em universidades e institutos de pesquisa; o que merece \
             conferência é o volume, nos relatórios de prestação de contas dos projetos."
        }
        Some(Routine::Utility) => {
            " Energia, água e esgoto e serviços postais costumam ter fornecedor único e são \
             contratados sem licitação por natureza (inexigibilidade); o que merece conferência \
             é o valor, não a forma de contratação."
        }
        None => "",
    }
}

/// How sure a repeated-direct-contracting finding is: by how many contracts
/// pass the minimum, less when none is a dispensa or the supplier is routine.
fn repeated_confidence(s: &VendorSettings, run: &[Direct], routine: bool) -> f64 {
    let min = s.direct_min_contracts.max(1) as f64;
    let mut confidence = 0.5 + 0.4 * ((run.len() as f64 - min) / (2.0 * min)).clamp(0.0, 1.0);
    if !run.iter().any(|d| d.kind == DirectKind::Dispensa) {
        confidence *= 0.85;
    }
    if routine {
        confidence *= 0.5;
    }
    confidence
}

fn repeated_finding(
    s: &VendorSettings,
    data: &Dataset,
    run: &[Direct],
    total: f64,
    (severity, confidence, routine): (Severity, f64, Option<Routine>),
) -> Finding {
    let n = run.len();
    let unknown = run
        .iter()
        .filter(|d| data.contracts[d.idx].value_now().is_none())
        .count();
    let dispensas = run
        .iter()
        .filter(|d| d.kind == DirectKind::Dispensa)
        .count();
    let inexigibilidades = n - dispensas;
    let dates: Vec<NaiveDate> = run
        .iter()
        .filter_map(|d| data.contracts[d.idx].signed)
        .collect();
    let first = &data.contracts[run[0].idx];
    let all: Vec<usize> = run.iter().map(|d| d.idx).collect();
    let supplier = supplier_name(data, &all);
    let supplier_id = supplier_code(first).unwrap_or_default();
    let ug = ug_name(first);
    let ug_code = present(first.ug.code.as_deref()).unwrap_or_default();

    let routine_text = routine_note(routine);

    let kinds = match (dispensas, inexigibilidades) {
        (d, 0) => format!("{d} por dispensa de licitação"),
        (0, i) => format!("{i} por inexigibilidade de licitação"),
        (d, i) => format!("{d} por dispensa e {i} por inexigibilidade de licitação"),
    };
    let period = match (dates.iter().min(), dates.iter().max()) {
        (Some(a), Some(b)) => format!(
            ", assinados entre {} e {}",
            format::date(*a),
            format::date(*b)
        ),
        _ => String::new(),
    };
    let unknown_text = if unknown > 0 {
        format!(" ({unknown} sem valor informado, fora da soma)")
    } else {
        String::new()
    };
    // Chronological, as the story reads; the largest are kept when capped. A
    // routine relation lists a few: the law foresees its contracts, what is
    // worth checking is the volume, which the evidence carries.
    let cap = super::recognised::listed_at_most(routine.is_some(), s.max_records);
    let mut records = largest(
        data,
        run.iter()
            .map(|d| (d.idx, values_of(data, d.idx)))
            .collect(),
        cap,
    );
    records.sort_by(|a, b| {
        let (ca, cb) = (&data.contracts[*a], &data.contracts[*b]);
        ca.signed.cmp(&cb.signed).then_with(|| ca.key.cmp(&cb.key))
    });
    Finding {
        family: Family::Vendor,
        rule: REPEATED_DIRECT_CONTRACTING,
        severity,
        confidence: round(confidence, 3),
        description: format!(
            "{ug} contratou {supplier} {} vezes sem licitação, somando {}",
            count(n),
            format::reais(total)
        ),
        explanation: format!(
            "A unidade gestora {ug} ({ug_code}) firmou {} contratos com {supplier} \
             ({supplier_id}) sem licitação: {kinds}{period}, somando {}{unknown_text}. \
             Contratar sem licitação é exceção; repetir a exceção com o mesmo fornecedor pode \
             indicar uma necessidade permanente que deveria ser licitada, ou uma compra maior \
             dividida em partes. Sinalizamos a partir de {} contratos diretos com o mesmo \
             fornecedor.{routine_text}",
            count(n),
            format::reais(total),
            s.direct_min_contracts,
        ),
        records,
        suggested_actions: vec![
            "Solicitar os processos de dispensa/inexigibilidade e suas justificativas.".to_string(),
            "Verificar se os objetos somados deveriam ter sido licitados em conjunto.".to_string(),
            "Verificar se o fornecedor é de fato o único capaz de atender (inexigibilidade)."
                .to_string(),
        ],
        evidence: json!({
            "ug_code": ug_code,
            "supplier_code": supplier_id,
            "contracts": n,
            "dispensas": dispensas,
            "inexigibilidades": inexigibilidades,
            "total": round(total, 2),
            "without_value": unknown,
            "min_contracts": s.direct_min_contracts,
            "routine": routine_label(routine),
        }),
        financial_impact: round(total, 2),
    }
}

/// A record's value for ranking, unknown last.
fn values_of(data: &Dataset, idx: usize) -> f64 {
    data.contracts[idx].value_now().unwrap_or(f64::NEG_INFINITY)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::contracts::model::Unit;
    use crate::sources::contracts::rules::of_rule as rule;

    const PREGAO: &str = "Pregão";
    const DISPENSA: &str = "Dispensa de Licitação";
    const INEXIGIBILIDADE: &str = "Inexigibilidade de Licitação";

    fn contract(
        i: usize,
        ug: &str,
        supplier: &str,
        modality: &str,
        value: f64,
        day: u32,
    ) -> Contract {
        Contract {
            key: format!("k{i:04}"),
            number: format!("{i}/2022"),
            object: "Aquisição de material".to_string(),
            modality: Some(modality.into()),
            agency: Unit {
                code: Some("26000".into()),
                name: Some("Ministério Exemplo".into()),
            },
            ug: Unit {
                code: Some(ug.into()),
                name: Some(format!("UG {ug}").into()),
            },
            signed: NaiveDate::from_ymd_opt(2022, 1 + (day / 28) % 12, 1 + day % 28),
            supplier_code: Some(supplier.into()),
            supplier_name: Some(format!("Empresa {supplier}").into()),
            final_value: Some(value),
            ..Default::default()
        }
    }

    fn detect(contracts: Vec<Contract>) -> Vec<Finding> {
        VendorDetector {
            settings: VendorSettings::default(),
        }
        .detect(&Dataset {
            contracts,
            ..Default::default()
        })
    }

    /// `n` pregões at `ug`, each with its own supplier.
    fn competitive(start: usize, n: usize, ug: &str, value: f64) -> Vec<Contract> {
        (0..n)
            .map(|i| {
                contract(
                    start + i,
                    ug,
                    &format!("9{:013}", start + i),
                    PREGAO,
                    value,
                    i as u32,
                )
            })
            .collect()
    }

    #[test]
    fn a_supplier_with_most_of_an_agencys_value_is_flagged() {
        let mut contracts = competitive(0, 7, "150001", 50_000.0);
        for i in 0..3 {
            contracts.push(contract(
                10 + i,
                "150001",
                "11111111000111",
                PREGAO,
                1_000_000.0,
                i as u32,
            ));
        }
        let findings = detect(contracts);
        assert_eq!(findings.len(), 1, "{findings:#?}");
        let f = &findings[0];
        assert_eq!(f.rule, DOMINANT_SUPPLIER);
        assert_eq!(f.family, Family::Vendor);
        assert_eq!(f.records.len(), 3);
        assert!(f.records.iter().all(|r| *r >= 7));
        assert_eq!(f.financial_impact, 3_000_000.0);
        assert_eq!(f.evidence["level"], "agency");
        assert!(
            f.description.contains("Empresa 11111111000111"),
            "{}",
            f.description
        );
        assert!(f.description.contains("89,6%"), "{}", f.description);
        assert!(
            f.explanation.contains("R$ 3.000.000,00"),
            "{}",
            f.explanation
        );
        assert!(
            f.explanation.contains("os 10 contratos"),
            "{}",
            f.explanation
        );
        assert!(f.explanation.contains("70,0%"), "{}", f.explanation);
        assert_eq!(f.severity, Severity::Medium);
    }

    #[test]
    fn a_ug_is_judged_apart_from_its_agency() {
        let mut contracts = competitive(0, 5, "150001", 10_000.0);
        for i in 0..3 {
            contracts.push(contract(
                10 + i,
                "150001",
                "22222222000122",
                DISPENSA,
                200_000.0,
                i as u32,
            ));
        }
        // The agency's other UG buys far more, from many suppliers.
        contracts.extend(competitive(20, 20, "150002", 500_000.0));
        let findings = detect(contracts);
        let dominant = rule(&findings, DOMINANT_SUPPLIER);
        assert_eq!(dominant.len(), 1, "{findings:#?}");
        assert_eq!(dominant[0].evidence["level"], "ug");
        assert!(dominant[0].description.contains("UG 150001"));
        assert!(rule(&findings, MARKET_CONCENTRATION).is_empty());
    }

    #[test]
    fn a_unit_with_a_single_supplier_is_flagged_and_one_big_contract_is_not_dominance() {
        let single: Vec<Contract> = (0..6)
            .map(|i| contract(i, "150001", "33333333000133", PREGAO, 10_000.0, i as u32))
            .collect();
        let findings = detect(single);
        let dominant = rule(&findings, DOMINANT_SUPPLIER);
        assert_eq!(dominant.len(), 1);
        assert!(
            dominant[0]
                .explanation
                .contains("não contratou nenhum outro fornecedor"),
            "{}",
            dominant[0].explanation
        );
        assert!(dominant[0].description.contains("100,0%"));

        let mut one_big = competitive(0, 9, "150001", 10_000.0);
        one_big.push(contract(
            50,
            "150001",
            "44444444000144",
            PREGAO,
            5_000_000.0,
            1,
        ));
        assert!(rule(&detect(one_big), DOMINANT_SUPPLIER).is_empty());
    }

    #[test]
    fn a_few_suppliers_sharing_an_agency_raise_the_hhi() {
        let mut contracts = competitive(0, 8, "150001", 37_500.0);
        for i in 0..2 {
            contracts.push(contract(
                20 + i,
                "150002",
                "55555555000155",
                PREGAO,
                450_000.0,
                i as u32,
            ));
            contracts.push(contract(
                30 + i,
                "150002",
                "66666666000166",
                PREGAO,
                400_000.0,
                i as u32,
            ));
        }
        let findings = detect(contracts);
        assert!(
            rule(&findings, DOMINANT_SUPPLIER).is_empty(),
            "{findings:#?}"
        );
        let hhi = rule(&findings, MARKET_CONCENTRATION);
        assert_eq!(hhi.len(), 1, "{findings:#?}");
        let f = hhi[0];
        // Shares 45%, 40% and 8 × 1,875%: 0.2025 + 0.16 + 8 × 0.000351.
        assert!((f.evidence["hhi"].as_f64().unwrap() - 0.3653).abs() < 1e-3);
        assert_eq!(f.records.len(), 4);
        assert!(f.records.iter().all(|r| *r >= 8));
        assert_eq!(f.financial_impact, 1_700_000.0);
        assert_eq!(f.severity, Severity::Low);
        assert!(f.description.contains("HHI 0,37"), "{}", f.description);
        assert!(
            f.explanation.contains("2.500 na escala"),
            "{}",
            f.explanation
        );
        assert!(
            f.explanation.contains("Empresa 55555555000155 (45,0%"),
            "{}",
            f.explanation
        );
        assert!(
            f.explanation.contains("R$ 2.000.000,00"),
            "{}",
            f.explanation
        );
    }

    #[test]
    fn competitive_buying_produces_nothing() {
        let mut contracts = competitive(0, 30, "150001", 80_000.0);
        // Two direct contracts with one supplier are not a repetition.
        contracts.push(contract(
            40,
            "150001",
            "77777777000177",
            DISPENSA,
            5_000.0,
            1,
        ));
        contracts.push(contract(
            41,
            "150001",
            "77777777000177",
            DISPENSA,
            5_000.0,
            2,
        ));
        assert!(detect(contracts).is_empty());
    }

    #[test]
    fn concentration_made_by_one_large_contract_is_told_apart_and_shown_lower() {
        let run = |large_contracts: usize| {
            let mut contracts = competitive(0, 12, "153001", 100_000.0);
            for i in 0..large_contracts {
                contracts.push(contract(
                    20 + i,
                    "153001",
                    "77777777000177",
                    PREGAO,
                    6_000_000.0 / large_contracts as f64,
                    1,
                ));
            }
            for i in 30..32 {
                contracts.push(contract(
                    i,
                    "153001",
                    "88888888000188",
                    PREGAO,
                    1_500_000.0,
                    2,
                ));
            }
            detect(contracts)
                .into_iter()
                .find(|f| f.rule == MARKET_CONCENTRATION)
                .expect("a concentration finding")
        };
        let one = run(1);
        let many = run(3);
        assert_eq!(one.evidence["one_purchase"], true);
        assert_eq!(many.evidence["one_purchase"], false);
        assert!(
            one.severity < many.severity,
            "{:?} {:?}",
            one.severity,
            many.severity
        );
        assert!(
            one.explanation.contains("compra grande"),
            "{}",
            one.explanation
        );
    }

    #[test]
    fn a_university_concentrated_in_its_support_foundation_is_explained_and_shown_lower() {
        let run = |supplier_name: &str| {
            // 60% to one supplier, 30% to another, the rest spread: concentrated,
            // with no one supplier dominant.
            let mut contracts = competitive(0, 10, "153001", 100_000.0);
            for i in 20..26 {
                let mut c = contract(i, "153001", "77777777000177", PREGAO, 1_000_000.0, 1);
                c.supplier_name = Some(supplier_name.into());
                contracts.push(c);
            }
            for i in 30..33 {
                contracts.push(contract(
                    i,
                    "153001",
                    "88888888000188",
                    PREGAO,
                    1_000_000.0,
                    2,
                ));
            }
            for c in &mut contracts {
                c.agency.name = Some("Universidade Federal de Minas Gerais".into());
            }
            detect(contracts)
                .into_iter()
                .find(|f| f.rule == MARKET_CONCENTRATION)
                .expect("a concentration finding")
        };
        let headline = run("CONSTRUTORA EXEMPLO LTDA");
        let routine = run("FUNDACAO DE DESENVOLVIMENTO DA PESQUISA");
        assert!(
            routine.severity < headline.severity,
            "{:?}",
            routine.severity
        );
        assert!(routine.severity <= Severity::Medium);
        assert!(routine.confidence < headline.confidence);
        assert!(
            routine.explanation.contains("Lei 8.958/1994"),
            "{}",
            routine.explanation
        );
        assert_eq!(routine.evidence["routine"], "support_foundation");
    }

    #[test]
    fn a_support_foundation_dominating_its_university_is_explained_and_shown_lower() {
        let run = |supplier_name: &str| {
            let mut contracts = competitive(0, 4, "153001", 10_000.0);
            for i in 10..16 {
                let mut c = contract(i, "153001", "77777777000177", PREGAO, 5_000_000.0, 1);
                c.supplier_name = Some(supplier_name.into());
                contracts.push(c);
            }
            for c in &mut contracts {
                c.agency.name = Some("Universidade Federal de Minas Gerais".into());
                c.ug.name = Some("UNIVERSIDADE FEDERAL DE MINAS GERAIS".into());
            }
            let findings = detect(contracts);
            findings
                .into_iter()
                .find(|f| f.rule == DOMINANT_SUPPLIER)
                .expect("a dominant supplier")
        };
        let headline = run("CONSTRUTORA EXEMPLO LTDA");
        let routine = run("FUNDACAO DE DESENVOLVIMENTO DA PESQUISA");
        assert_eq!(headline.severity, Severity::Critical);
        assert!(
            routine.severity <= Severity::Medium,
            "{:?}",
            routine.severity
        );
        assert!(routine.confidence < headline.confidence);
        assert!(
            routine.explanation.contains("Lei 8.958/1994"),
            "{}",
            routine.explanation
        );
        assert_eq!(routine.evidence["routine"], "support_foundation");
    }

    #[test]
    fn a_university_and_its_support_foundation_are_routine_not_a_headline() {
        let run = |supplier_name: &str, ug_name: &str| {
            let contracts: Vec<Contract> = (0..12)
                .map(|i| {
                    let mut c = contract(
                        i,
                        "153001",
                        "77777777000177",
                        DISPENSA,
                        2_000_000.0,
                        i as u32,
                    );
                    c.supplier_name = Some(supplier_name.into());
                    c.ug.name = Some(ug_name.into());
                    c
                })
                .collect();
            let findings = detect(contracts);
            let f = rule(&findings, REPEATED_DIRECT_CONTRACTING)[0].clone();
            f
        };
        let routine = run(
            "FUNDACAO DE APOIO A PESQUISA E EXTENSAO",
            "UNIVERSIDADE FEDERAL EXEMPLO",
        );
        let headline = run("CONSTRUTORA EXEMPLO LTDA", "UNIVERSIDADE FEDERAL EXEMPLO");
        assert_eq!(headline.severity, Severity::Critical);
        assert_eq!(routine.severity, Severity::Medium);
        assert!(routine.confidence < headline.confidence);
        assert!(
            routine.explanation.contains("Lei 8.958/1994"),
            "{}",
            routine.explanation
        );
        let utility = run(
            "COMPANHIA ENERGETICA EXEMPLO - DISTRIBUIDORA DE ENERGIA",
            "UG EXEMPLO",
        );
        assert!(utility.severity < Severity::High);
        assert!(utility.explanation.contains("fornecedor único"));
    }

    #[test]
    fn repeated_dispensas_to_one_supplier_are_flagged() {
        let mut contracts = competitive(0, 12, "150001", 100_000.0);
        for i in 0..6 {
            // Signed in reverse order of index: records must come out by date.
            contracts.push(contract(
                20 + i,
                "150001",
                "88888888000188",
                DISPENSA,
                20_000.0,
                60 - 10 * i as u32,
            ));
        }
        for i in 0..4 {
            contracts.push(contract(
                40 + i,
                "150001",
                "99999999000199",
                INEXIGIBILIDADE,
                9_000.0,
                i as u32,
            ));
        }
        let data = Dataset {
            contracts,
            ..Default::default()
        };
        let findings = VendorDetector {
            settings: VendorSettings::default(),
        }
        .detect(&data);
        assert_eq!(findings.len(), 1, "{findings:#?}");
        let f = &findings[0];
        assert_eq!(f.rule, REPEATED_DIRECT_CONTRACTING);
        assert_eq!(f.records.len(), 6);
        let dates: Vec<_> = f
            .records
            .iter()
            .map(|r| data.contracts[*r].signed)
            .collect();
        assert!(dates.windows(2).all(|w| w[0] <= w[1]), "{dates:?}");
        assert_eq!(f.severity, Severity::Medium);
        assert_eq!(f.financial_impact, 120_000.0);
        assert!(f.description.contains("6 vezes"), "{}", f.description);
        assert!(f.explanation.contains("R$ 120.000,00"), "{}", f.explanation);
        assert!(
            f.explanation.contains("6 por dispensa"),
            "{}",
            f.explanation
        );
        assert!(
            f.explanation.contains("a partir de 5 contratos"),
            "{}",
            f.explanation
        );
    }

    #[test]
    fn large_repeated_direct_contracting_ranks_first_and_unknown_values_are_not_zero() {
        let mut contracts = Vec::new();
        for i in 0..10 {
            contracts.push(contract(
                i,
                "150001",
                "12121212000112",
                INEXIGIBILIDADE,
                2_500_000.0,
                i as u32,
            ));
        }
        for i in 0..5 {
            let mut c = contract(
                20 + i,
                "150002",
                "34343434000134",
                DISPENSA,
                1_000.0,
                i as u32,
            );
            if i == 0 {
                c.final_value = None;
            }
            contracts.push(c);
        }
        let settings = VendorSettings {
            dominant_share: 1.0, // only the repetition is under test
            hhi_threshold: 1.0,
            ..VendorSettings::default()
        };
        let findings = VendorDetector { settings }.detect(&Dataset {
            contracts,
            ..Default::default()
        });
        assert_eq!(findings.len(), 2, "{findings:#?}");
        assert_eq!(findings[0].severity, Severity::Critical);
        assert_eq!(findings[0].financial_impact, 25_000_000.0);
        assert!(findings[1].severity < findings[0].severity);
        assert_eq!(findings[1].financial_impact, 4_000.0);
        assert!(
            findings[1].explanation.contains("1 sem valor informado"),
            "{}",
            findings[1].explanation
        );
        assert_eq!(findings[1].records.len(), 5);
    }

    #[test]
    fn the_legal_basis_decides_only_where_no_modality_is_published() {
        let kind = |c: &Contract| direct_kind(c, &mut FnvMap::default(), &mut FnvMap::default());
        let mut c = contract(0, "1", "1", PREGAO, 1.0, 0);
        c.legal_basis = Some("Lei 8.666/93, Artigo 24 , Inciso 02".into());
        assert_eq!(kind(&c), None);
        c.modality = None;
        assert_eq!(kind(&c), Some(DirectKind::Dispensa));
        c.legal_basis = Some("Fundamento Legal: Art. 25º caput da Lei nº 8.666/1993".into());
        assert_eq!(kind(&c), Some(DirectKind::Inexigibilidade));
        c.legal_basis = Some("Fundamento Legal: LEI 8.666/93".into());
        assert_eq!(kind(&c), None);
        c.modality = Some("INEXIGIBILIDADE DE LICITACAO".into());
        assert_eq!(kind(&c), Some(DirectKind::Inexigibilidade));
        c.modality = Some("Dispensa de Licitação".into());
        assert_eq!(kind(&c), Some(DirectKind::Dispensa));
    }

    #[test]
    fn contracts_without_supplier_are_skipped_and_output_is_deterministic() {
        let mut contracts = competitive(0, 4, "150001", 10_000.0);
        for i in 0..8 {
            let mut c = contract(10 + i, "150001", "", DISPENSA, 900_000.0, i as u32);
            c.supplier_code = None;
            contracts.push(c);
        }
        let data = Dataset {
            contracts,
            ..Default::default()
        };
        let detector = VendorDetector {
            settings: VendorSettings::default(),
        };
        assert!(detector.detect(&data).is_empty());

        let mut contracts = competitive(0, 12, "150001", 100_000.0);
        for i in 0..7 {
            contracts.push(contract(
                20 + i,
                "150002",
                "56565656000156",
                DISPENSA,
                300_000.0,
                i as u32,
            ));
        }
        let data = Dataset {
            contracts,
            ..Default::default()
        };
        assert_eq!(detector.detect(&data), detector.detect(&data));
    }

    #[test]
    fn the_real_file_yields_a_modest_number_of_findings() {
        let data = crate::sources::contracts::rules::real_data();
        let settings = VendorSettings {
            max_findings: usize::MAX,
            ..VendorSettings::default()
        };
        let findings = VendorDetector { settings }.detect(&data);
        for name in [
            DOMINANT_SUPPLIER,
            MARKET_CONCENTRATION,
            REPEATED_DIRECT_CONTRACTING,
        ] {
            let of = rule(&findings, name);
            eprintln!(
                "{name} on {} contracts: {}, critical/high/medium/low {:?}",
                data.contracts.len(),
                of.len(),
                crate::sources::contracts::rules::severity_counts(&of)
            );
            assert!((5..=300).contains(&of.len()), "{name}: {}", of.len());
        }
    }
}
