//! The analysis phase: detectors' findings → the `results` array of DESIGN §3.
//!
//! Findings that several rules raise about exactly the same records stay separate
//! (each rule explains a different problem), but the same rule raising the same
//! records twice is merged. Results are ranked by severity, then confidence, then
//! money at stake, then id, so equal input gives equal output byte for byte; the
//! list is capped so a row stays far below Realtime's 1 MB limit.

use serde_json::{json, Value};
use uuid::Uuid;

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
    ranked
}

fn round(x: f64, places: i32) -> f64 {
    let f = 10f64.powi(places);
    (x * f).round() / f
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
