//! The analysis phase: detectors' findings → the `results` array of DESIGN §3.
//!
//! Findings that several rules raise about exactly the same records stay separate
//! (each rule explains a different problem), but the same rule raising the same
//! records twice is merged. Results are ranked by severity, then confidence, then
//! money at stake, then id, and within a severity the rules take turns; equal
//! input gives equal output byte for byte. The list is capped so a row stays far
//! below Realtime's 1 MB limit.

use serde_json::{json, Value};
use uuid::Uuid;

use super::format::round;
use super::model::{Dataset, Finding};

/// Records listed per anomaly; the evidence keeps the full count.
pub const MAX_LISTED_RECORDS: usize = 20;

/// A finding with its stable id, ready to rank.
pub struct Ranked {
    pub id: Uuid,
    pub finding: Finding,
}

/// Stable across runs of the same investigation: derived from the investigation,
/// the rule and the records' keys.
pub fn anomaly_id(investigation: Uuid, finding: &Finding, data: &Dataset) -> Uuid {
    let mut keys: Vec<&str> = finding
        .records
        .iter()
        .filter_map(|&i| data.contracts.get(i).map(|c| c.key.as_str()))
        .collect();
    keys.sort_unstable();
    let name = format!("{}|{}", finding.rule, keys.join(","));
    Uuid::new_v5(&investigation, name.as_bytes())
}

/// Merges, ranks and ids the findings. Returns all of them; the caller caps.
pub fn rank(investigation: Uuid, findings: Vec<Finding>, data: &Dataset) -> Vec<Ranked> {
    let mut ranked: Vec<Ranked> = findings
        .into_iter()
        .map(|finding| Ranked {
            id: anomaly_id(investigation, &finding, data),
            finding,
        })
        .collect();
    ranked.sort_by(|a, b| {
        b.finding
            .severity
            .cmp(&a.finding.severity)
            .then(b.finding.confidence.total_cmp(&a.finding.confidence))
            .then(
                b.finding
                    .financial_impact
                    .total_cmp(&a.finding.financial_impact),
            )
            .then(a.id.cmp(&b.id))
    });
    ranked.dedup_by(|a, b| a.id == b.id);
    interleave_rules(ranked)
}

/// Within each severity, takes the rules in turn (each rule's findings keep their
/// order): on the real 2021–2022 data one rule otherwise filled two thirds of the
/// first page, and a reader saw one kind of problem fifty times before any other.
fn interleave_rules(ranked: Vec<Ranked>) -> Vec<Ranked> {
    use std::collections::{BTreeMap, VecDeque};
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
pub fn to_json(r: &Ranked, data: &Dataset) -> Value {
    let f = &r.finding;
    let records: Vec<Value> = f
        .records
        .iter()
        .take(MAX_LISTED_RECORDS)
        .filter_map(|&i| data.contracts.get(i))
        .map(|c| {
            json!({
                "id": c.key,
                "numero": c.number,
                "objeto": c.object,
                "fornecedor": c.supplier_name,
                "orgao": c.agency.name.as_ref().or(c.superior_agency.name.as_ref()),
                "valor": c.final_value.or(c.initial_value).map(|v| round(v, 2)),
            })
        })
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::model::{Family, Severity};

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
            evidence: serde_json::Value::Null,
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
        let data = Dataset {
            contracts: (0..6)
                .map(|i| crate::pipeline::model::Contract {
                    key: format!("k{i}"),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
        let ranked = rank(Uuid::nil(), findings, &data);
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
}
