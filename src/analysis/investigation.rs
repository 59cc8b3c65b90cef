//! The stages every source's investigation shares: which families were asked
//! for, running the source's rules over its dataset with progress and
//! cancellation, and turning their findings into the row's outcome.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use serde_json::{json, Map, Value};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::results::{self, within_budget};
use super::{summary, Detector, Family, Finding, Records, Vocabulary};
use crate::config::AnalysisSettings;
use crate::job::{Completion, JobError, Phase, Progress};

/// `anomaly_types`: a JSON array of family names; empty means all.
pub fn families(anomaly_types: &Value) -> Result<Vec<Family>, JobError> {
    let known: Vec<&str> = Family::ALL.iter().map(|f| f.as_str()).collect();
    let invalid = |shown: String| {
        JobError::permanent(format!(
            "O campo anomaly_types deve ser uma lista com alguns destes tipos: {}; \
             recebido: {shown}.",
            known.join(", ")
        ))
    };
    let items = match anomaly_types {
        Value::Null => return Ok(Family::ALL.to_vec()),
        Value::Array(items) => items,
        other => return Err(invalid(crate::input::echo_json(other))),
    };
    if items.is_empty() {
        return Ok(Family::ALL.to_vec());
    }
    let mut out = Vec::new();
    for item in items {
        let family = item
            .as_str()
            .and_then(|s| Family::parse(&s.trim().to_lowercase()))
            .ok_or_else(|| invalid(crate::input::echo_json(item)))?;
        if !out.contains(&family) {
            out.push(family);
        }
    }
    out.sort();
    Ok(out)
}

/// How much of the selected data the rules could examine: the mean, over the
/// families run, of the share of records carrying the fields that family needs,
/// times a size factor 1 − e^(−n/200) — group statistics over a handful of
/// records say little. About the investigation as a whole; each anomaly has its
/// own `confidence`.
pub fn confidence_score(
    families: &[Family],
    records: usize,
    coverage: impl Fn(Family) -> f64,
) -> f64 {
    if families.is_empty() || records == 0 {
        return 0.0;
    }
    let mean = families.iter().map(|f| coverage(*f)).sum::<f64>() / families.len() as f64;
    let size = 1.0 - (-(records as f64) / 200.0).exp();
    ((mean * size) * 1000.0).round() / 1000.0
}

/// The detection phase's state: findings and timings per family, and progress
/// reported as each detector ends.
pub struct Stage<'a> {
    progress: &'a Progress,
    cancel: &'a CancellationToken,
    done: usize,
    total: usize,
    pub per_family: BTreeMap<Family, (Vec<Finding>, u64)>,
}

impl<'a> Stage<'a> {
    /// For `total` detectors, which move progress from 0.40 to 0.85.
    pub fn new(progress: &'a Progress, cancel: &'a CancellationToken, total: usize) -> Self {
        Self {
            progress,
            cancel,
            done: 0,
            total: total.max(1),
            per_family: BTreeMap::new(),
        }
    }

    pub fn record(&mut self, family: Family, found: Vec<Finding>, ms: u64) {
        let entry = self.per_family.entry(family).or_default();
        entry.0.extend(found);
        entry.1 += ms;
    }

    /// Runs `detectors` over `data`, as many at once as there are cores (more
    /// would not be faster, and each holds its working set in memory), and hands
    /// the dataset back once all of them have ended.
    pub async fn run<D: Clone + Send + Sync + 'static>(
        &mut self,
        detectors: Vec<Arc<dyn Detector<D>>>,
        data: D,
    ) -> Result<D, JobError> {
        let data = Arc::new(data);
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let slots = Arc::new(tokio::sync::Semaphore::new(cores));
        let mut tasks = tokio::task::JoinSet::new();
        for detector in detectors {
            let (data, slots) = (data.clone(), slots.clone());
            let runtime = tokio::runtime::Handle::current();
            tasks.spawn_blocking(move || {
                let _slot = runtime.block_on(slots.acquire_owned());
                let t = Instant::now();
                let found = detector.detect(&data);
                (detector.family(), found, t.elapsed().as_millis() as u64)
            });
        }
        loop {
            let next = tokio::select! {
                _ = self.cancel.cancelled() => {
                    tasks.abort_all();
                    return Err(JobError::Cancelled);
                }
                next = tasks.join_next() => next,
            };
            let Some(joined) = next else { break };
            let (family, found, ms) = match joined {
                Ok(result) => result,
                // A detector's panic is the pipeline's: let the worker record it.
                Err(e) => std::panic::resume_unwind(e.into_panic()),
            };
            self.record(family, found, ms);
            self.done += 1;
            self.progress.set(
                Phase::AnomalyDetection,
                0.40 + 0.45 * self.done as f64 / self.total as f64,
            );
        }
        // Every task has ended and dropped its reference: this never copies.
        Ok(Arc::try_unwrap(data).unwrap_or_else(|shared| (*shared).clone()))
    }
}

/// What a source hands to the shared conclusion once its rules have run.
pub struct Detected<'a, D: ?Sized> {
    pub job: Uuid,
    pub data: &'a D,
    pub per_family: BTreeMap<Family, (Vec<Finding>, u64)>,
    pub words: &'a Vocabulary,
    /// What was asked, in words ("contratos assinados em 2024…").
    pub scope: String,
    /// Sentences before the summary (what the question was read as).
    pub preface: Option<String>,
    /// Sentences after it (what the data could and could not show).
    pub afterword: Option<String>,
    pub confidence_score: f64,
    /// The source's keys of `investigation_metadata`, a JSON object (pipeline,
    /// rows read, question, `phases_ms` of its own phases…).
    pub metadata: Value,
}

/// The analysis and summary phases, the same for every source: merge, rank,
/// cap within the byte budget, write the summary and the metadata.
pub fn conclude<D: Records + ?Sized>(
    detected: Detected<'_, D>,
    settings: &AnalysisSettings,
    progress: &Progress,
) -> Completion {
    let Detected {
        job,
        data,
        per_family,
        words,
        scope,
        preface,
        afterword,
        confidence_score,
        metadata,
    } = detected;
    let mut metadata = match metadata {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    progress.set(Phase::Analysis, 0.86);
    let started = Instant::now();
    let mut detector_stats = Map::new();
    let mut findings = Vec::new();
    for (family, (found, ms)) in per_family {
        detector_stats.insert(
            family.as_str().into(),
            json!({"findings": found.len(), "ms": ms}),
        );
        findings.extend(found);
    }
    let ranked = results::rank(job, findings, data);
    let mut by_rule: BTreeMap<&str, usize> = BTreeMap::new();
    for r in &ranked {
        *by_rule.entry(r.finding.rule).or_default() += 1;
    }
    let (results, results_bytes) = within_budget(
        ranked
            .iter()
            .take(settings.results_cap)
            .map(|r| results::to_json(r, data)),
        settings.results_max_bytes,
    );
    let shown = results.len();
    let analysis_ms = started.elapsed().as_millis() as u64;

    progress.set(Phase::SummaryGeneration, 0.95);
    let mut text = summary::write(words, data.count(), &scope, &ranked, shown);
    if let Some(preface) = preface {
        text = format!("{preface} {text}");
    }
    if let Some(afterword) = afterword {
        text = format!("{text} {afterword}");
    }
    let phases = metadata
        .entry("phases_ms")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Value::Object(phases) = phases {
        phases.insert("analysis".into(), json!(analysis_ms));
    }
    metadata.insert("pipeline_version".into(), json!(env!("CARGO_PKG_VERSION")));
    metadata.insert("detectors".into(), Value::Object(detector_stats));
    metadata.insert("anomalies_by_rule".into(), json!(by_rule));
    metadata.insert("results_cap".into(), json!(settings.results_cap));
    metadata.insert("results_bytes".into(), json!(results_bytes));
    metadata.insert("results_shown".into(), json!(shown));
    Completion {
        anomalies_found: i32::try_from(ranked.len()).unwrap_or(i32::MAX),
        total_records_analyzed: i32::try_from(data.count()).unwrap_or(i32::MAX),
        confidence_score: Some(confidence_score),
        results: Value::Array(results),
        summary: text,
        metadata: Value::Object(metadata),
    }
}
