//! The one rank order of findings, used by every rule's cap and by the final
//! list: most serious first (severity), then the surest (confidence), then the
//! most money at stake, ties broken by the first record's key so the findings
//! kept under a cap, and their order, are the same on every run.

use std::cmp::Ordering;

use super::{Finding, Records, Severity};

#[derive(Debug, Clone, Copy)]
pub struct Rank {
    pub severity: Severity,
    pub confidence: f64,
    pub impact: f64,
    /// Index of the first record, whose key breaks ties.
    pub first: usize,
}

impl Rank {
    pub fn of(f: &Finding) -> Self {
        Rank {
            severity: f.severity,
            confidence: f.confidence,
            impact: f.financial_impact,
            first: f.records.first().copied().unwrap_or(usize::MAX),
        }
    }
}

/// Severity, then confidence, then reais at stake, then the first record's key.
pub fn order<R: Records + ?Sized>(a: &Rank, b: &Rank, records: &R) -> Ordering {
    b.severity
        .cmp(&a.severity)
        .then(b.confidence.total_cmp(&a.confidence))
        .then(b.impact.total_cmp(&a.impact))
        .then_with(|| records.key(a.first).cmp(&records.key(b.first)))
        .then(a.first.cmp(&b.first))
}

/// The `cap` strongest candidates, in rank order, in O(n + cap log cap): rules
/// rank before they write their text, which only the kept ones need.
pub fn keep_strongest<T, R: Records + ?Sized>(
    mut items: Vec<(Rank, T)>,
    records: &R,
    cap: usize,
) -> Vec<(Rank, T)> {
    let by = |a: &(Rank, T), b: &(Rank, T)| order(&a.0, &b.0, records);
    if cap == 0 {
        return Vec::new();
    }
    if items.len() > cap {
        items.select_nth_unstable_by(cap - 1, by);
        items.truncate(cap);
    }
    items.sort_by(by);
    items
}

/// Findings already written, ranked and capped the same way.
pub fn strongest<R: Records + ?Sized>(
    findings: Vec<Finding>,
    records: &R,
    cap: usize,
) -> Vec<Finding> {
    let ranked = findings.into_iter().map(|f| (Rank::of(&f), f)).collect();
    keep_strongest(ranked, records, cap)
        .into_iter()
        .map(|(_, f)| f)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::Keys;

    fn rank(severity: Severity, confidence: f64, impact: f64, first: usize) -> Rank {
        Rank {
            severity,
            confidence,
            impact,
            first,
        }
    }

    #[test]
    fn severity_then_confidence_then_money_then_key_decide_the_order() {
        let keys = Keys(["b", "a", "c", "d", "e"].map(String::from).to_vec());
        let items = vec![
            (rank(Severity::High, 0.9, 1e9, 0), "high, sure, rich"),
            (
                rank(Severity::Critical, 0.5, 10.0, 2),
                "critical, unsure, poor",
            ),
            (
                rank(Severity::High, 0.9, 1e9, 1),
                "same as the first, smaller key",
            ),
            (rank(Severity::High, 0.95, 1.0, 3), "high, surer, poor"),
            (rank(Severity::Low, 1.0, 1e12, 4), "low"),
        ];
        let got: Vec<&str> = keep_strongest(items.clone(), &keys, 10)
            .into_iter()
            .map(|(_, t)| t)
            .collect();
        assert_eq!(
            got,
            vec![
                "critical, unsure, poor",
                "high, surer, poor",
                "same as the first, smaller key",
                "high, sure, rich",
                "low"
            ]
        );
        let capped: Vec<&str> = keep_strongest(items, &keys, 2)
            .into_iter()
            .map(|(_, t)| t)
            .collect();
        assert_eq!(capped, vec!["critical, unsure, poor", "high, surer, poor"]);
    }
}
