//! Findings → the `results` array of DESIGN §3, for any source.
//!
//! Findings that several rules raise about exactly the same records stay separate
//! (each rule explains a different problem), but the same rule raising the same
//! records twice is merged. Results follow the one rank order (see
//! [`super::rank`]), and within a severity the rules take turns; equal input
//! gives equal output byte for byte. The list is capped so a row stays far below
//! Realtime's 1 MB limit.

use std::collections::{BTreeMap, HashSet, VecDeque};

use serde_json::{json, Value};
use uuid::Uuid;

use super::rank::{self, Rank};
use super::{Finding, Records};
use crate::domain::format::round;

/// Records listed per anomaly; the evidence keeps the full count.
pub const MAX_LISTED_RECORDS: usize = 20;

/// A finding with its stable id, ready to rank.
pub struct Ranked {
    pub id: Uuid,
    pub finding: Finding,
}

/// Stable across runs of the same investigation: derived from the investigation,
/// the rule and the records' keys.
pub fn anomaly_id<R: Records + ?Sized>(investigation: Uuid, finding: &Finding, data: &R) -> Uuid {
    let mut keys: Vec<&str> = finding
        .records
        .iter()
        .filter_map(|&i| data.key(i))
        .collect();
    keys.sort_unstable();
    let name = format!("{}|{}", finding.rule, keys.join(","));
    Uuid::new_v5(&investigation, name.as_bytes())
}

/// Merges, ranks and ids the findings. Returns all of them; the caller caps.
pub fn rank<R: Records + ?Sized>(
    investigation: Uuid,
    findings: Vec<Finding>,
    data: &R,
) -> Vec<Ranked> {
    let mut ranked: Vec<Ranked> = findings
        .into_iter()
        .map(|finding| Ranked {
            id: anomaly_id(investigation, &finding, data),
            finding,
        })
        .collect();
    ranked.sort_by(|a, b| {
        rank::order(&Rank::of(&a.finding), &Rank::of(&b.finding), data).then(a.id.cmp(&b.id))
    });
    // The strongest of the same rule over the same records stays.
    let mut seen = HashSet::with_capacity(ranked.len());
    ranked.retain(|r| seen.insert(r.id));
    interleave_rules(ranked)
}

/// Within each severity, takes the rules in turn (each rule's findings keep their
/// order): on the real 2021–2022 data one rule otherwise filled two thirds of the
/// first page, and a reader saw one kind of problem fifty times before any other.
fn interleave_rules(ranked: Vec<Ranked>) -> Vec<Ranked> {
    let mut out = Vec::with_capacity(ranked.len());
    let mut rest = ranked.into_iter().peekable();
    while let Some(first) = rest.next() {
        let severity = first.finding.severity;
        // Rules in the order their best finding ranks.
        let mut order: Vec<&'static str> = vec![first.finding.rule];
        let mut queues: BTreeMap<&'static str, VecDeque<Ranked>> = BTreeMap::new();
        queues
            .entry(first.finding.rule)
            .or_default()
            .push_back(first);
        while let Some(next) = rest.next_if(|r| r.finding.severity == severity) {
            if !queues.contains_key(next.finding.rule) {
                order.push(next.finding.rule);
            }
            queues.entry(next.finding.rule).or_default().push_back(next);
        }
        let mut remaining: usize = queues.values().map(VecDeque::len).sum();
        while remaining > 0 {
            for rule in &order {
                if let Some(r) = queues.get_mut(rule).and_then(VecDeque::pop_front) {
                    out.push(r);
                    remaining -= 1;
                }
            }
        }
    }
    out
}

/// One entry of `results`.
pub fn to_json<R: Records + ?Sized>(r: &Ranked, data: &R) -> Value {
    let f = &r.finding;
    let records: Vec<Value> = f
        .records
        .iter()
        .take(MAX_LISTED_RECORDS)
        .filter_map(|&i| data.listed(i))
        .collect();
    json!({
        "anomaly_id": r.id,
        "type": f.family,
        "severity": f.severity,
        "confidence": round(f.confidence.clamp(0.0, 1.0), 3),
        "description": f.description,
        "explanation": f.explanation,
        "affected_records": records,
        "suggested_actions": f.suggested_actions,
        "metadata": {
            "rule": f.rule,
            "evidence": f.evidence,
            "financial_impact": round(f.financial_impact.max(0.0), 2),
            "records_total": f.records.len(),
        },
    })
}

/// The findings, in order, while their JSON array stays within `max_bytes`;
/// returns them with the array's size.
pub fn within_budget(
    findings: impl Iterator<Item = Value>,
    max_bytes: usize,
) -> (Vec<Value>, usize) {
    let mut kept = Vec::new();
    // "[" and "]", and a comma between two findings.
    let mut bytes = 2;
    for finding in findings {
        let size = finding.to_string().len() + usize::from(!kept.is_empty());
        if bytes + size > max_bytes {
            break;
        }
        bytes += size;
        kept.push(finding);
    }
    (kept, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::{Family, Keys, Severity};

    fn finding(rule: &'static str, severity: Severity, confidence: f64, record: usize) -> Finding {
        Finding {
            family: Family::Price,
            rule,
            severity,
            confidence,
            description: String::new(),
            explanation: String::new(),
            records: vec![record],
            suggested_actions: vec![],
            evidence: Value::Null,
            financial_impact: 0.0,
        }
    }

    #[test]
    fn rules_take_turns_within_a_severity_and_severity_still_comes_first() {
        let findings = vec![
            finding("a", Severity::Critical, 0.9, 0),
            finding("a", Severity::Critical, 0.8, 1),
            finding("a", Severity::Critical, 0.7, 2),
            finding("b", Severity::Critical, 0.6, 3),
            finding("c", Severity::High, 0.99, 4),
            finding("b", Severity::Critical, 0.5, 5),
        ];
        let ranked = rank(Uuid::nil(), findings, &Keys::new(6));
        let got: Vec<(&str, f64)> = ranked
            .iter()
            .map(|r| (r.finding.rule, r.finding.confidence))
            .collect();
        assert_eq!(
            got,
            vec![
                ("a", 0.9),
                ("b", 0.6),
                ("a", 0.8),
                ("b", 0.5),
                ("a", 0.7),
                ("c", 0.99)
            ]
        );
    }

    #[test]
    fn the_same_rule_over_the_same_records_is_one_result_the_strongest() {
        let findings = vec![
            finding("a", Severity::Medium, 0.5, 1),
            finding("b", Severity::Low, 0.5, 1),
            finding("a", Severity::High, 0.5, 1),
        ];
        let ranked = rank(Uuid::nil(), findings, &Keys::new(6));
        let got: Vec<(&str, Severity)> = ranked
            .iter()
            .map(|r| (r.finding.rule, r.finding.severity))
            .collect();
        assert_eq!(got, vec![("a", Severity::High), ("b", Severity::Low)]);
    }

    #[test]
    fn results_stop_before_the_byte_budget_and_the_size_is_exact() {
        let findings: Vec<Value> = (0..10)
            .map(|i| json!({"anomaly_id": i, "description": "x".repeat(100)}))
            .collect();
        let one = findings[0].to_string().len();
        let (kept, bytes) = within_budget(findings.clone().into_iter(), 2 + 3 * one + 2);
        assert_eq!(kept.len(), 3);
        assert_eq!(bytes, Value::Array(kept.clone()).to_string().len());
        assert_eq!(
            kept[..],
            findings[..3],
            "the most serious are kept, in order"
        );

        let (all, bytes) = within_budget(findings.clone().into_iter(), usize::MAX);
        assert_eq!(all.len(), 10);
        assert_eq!(bytes, Value::Array(all).to_string().len());
        assert!(within_budget(findings.into_iter(), 10).0.is_empty());
    }
}
