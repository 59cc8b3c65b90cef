//! Ranking and capping inside a detector: most serious first (severity, then
//! reais at stake, then confidence), ties broken by the first record's key, so
//! the findings kept under a cap are the same on every run.

use std::cmp::Ordering;

use crate::pipeline::model::{Contract, Finding, Severity};

#[derive(Debug, Clone, Copy)]
pub(crate) struct Rank {
    pub severity: Severity,
    pub impact: f64,
    pub confidence: f64,
    /// Index of the first record, whose key breaks ties.
    pub first: usize,
}

/// Most serious first (severity, then reais at stake, then confidence), ties by
/// the first record's key.
pub(crate) fn rank_order(a: &Rank, b: &Rank, contracts: &[Contract]) -> Ordering {
    let key = |r: &Rank| contracts.get(r.first).map(|c| c.key.as_str());
    b.severity
        .cmp(&a.severity)
        .then(b.impact.total_cmp(&a.impact))
        .then(b.confidence.total_cmp(&a.confidence))
        .then_with(|| key(a).cmp(&key(b)))
        .then(a.first.cmp(&b.first))
}

/// The `cap` strongest, in rank order, in O(n + cap log cap).
pub(crate) fn keep_strongest<T>(
    mut items: Vec<(Rank, T)>,
    contracts: &[Contract],
    cap: usize,
) -> Vec<(Rank, T)> {
    let order = |a: &(Rank, T), b: &(Rank, T)| rank_order(&a.0, &b.0, contracts);
    if cap == 0 {
        return Vec::new();
    }
    if items.len() > cap {
        items.select_nth_unstable_by(cap - 1, order);
        items.truncate(cap);
    }
    items.sort_by(order);
    items
}

/// Findings already written, ranked and capped the same way.
pub(crate) fn strongest(
    findings: Vec<Finding>,
    contracts: &[Contract],
    cap: usize,
) -> Vec<Finding> {
    let ranked = findings
        .into_iter()
        .map(|f| {
            let rank = Rank {
                severity: f.severity,
                impact: f.financial_impact,
                confidence: f.confidence,
                first: f.records.first().copied().unwrap_or(usize::MAX),
            };
            (rank, f)
        })
        .collect();
    keep_strongest(ranked, contracts, cap)
        .into_iter()
        .map(|(_, f)| f)
        .collect()
}
