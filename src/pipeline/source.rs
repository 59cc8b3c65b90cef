//! One investigation for every data source. A [`Source`] brings what is its
//! own — filters, the reading of the question where it has one, retrieval,
//! rules, coverage and words — and [`Investigation`] runs the steps every
//! source shares, in one order: the row's own filters and anomaly types are
//! checked first (their mistakes are the ones to tell), the families that do
//! not apply are said so, retrieval runs under cancellation, the rules run in
//! the detection stage, and the shared analysis and summary conclude with one
//! metadata shape.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use serde_json::{json, Map, Value};
use tokio_util::sync::CancellationToken;

use super::invalid_filter;
use crate::analysis::investigation::{conclude, confidence_score, families, Detected, Stage};
use crate::analysis::{Detector, Family, Records, Vocabulary};
use crate::config::AnalysisSettings;
use crate::db::{Conn, Pool};
use crate::job::{Completion, Job, JobError, Phase, Pipeline, Progress};
use crate::sources::contracts::RetrievalError;
use crate::sources::filters::FilterError;

/// What the source made of the row before retrieval.
pub(crate) struct Understood<F> {
    pub filters: F,
    /// The families to run (the question may have named them).
    pub asked: Vec<Family>,
    /// A sentence the summary opens with ("Entendi pela pergunta: …").
    pub sentence: Option<String>,
    /// `investigation_metadata.question`.
    pub question: Value,
}

/// What retrieval read, and its keys of `investigation_metadata` as a JSON
/// object (rows read, what the Portal API fetched, the peers judged against…).
pub(crate) struct Retrieved<D> {
    pub data: D,
    pub metadata: Value,
    /// Sentences for the summary's start: what was read, what could not be.
    pub notes: Vec<String>,
}

impl<D> Retrieved<D> {
    pub fn new(data: D, metadata: Value) -> Self {
        Self {
            data,
            metadata,
            notes: Vec::new(),
        }
    }
}

/// What retrieval may use: the connection the investigation holds, the limit
/// on records, and progress and cancellation.
pub(crate) struct Retrieval<'a> {
    pub pool: &'a Pool,
    pub client: &'a Conn,
    pub max_records: usize,
    pub progress: &'a Progress,
    pub cancel: &'a CancellationToken,
}

impl Retrieval<'_> {
    /// Runs `retrieval` until it ends or the job is cancelled, its errors
    /// worded in `S`'s terms.
    pub async fn bounded<S: Source, T>(
        &self,
        retrieval: impl Future<Output = Result<T, RetrievalError>>,
    ) -> Result<T, JobError> {
        read_until_cancelled(
            self.pool,
            self.client,
            retrieval,
            self.cancel,
            too_many::<S>,
            unavailable::<S>,
        )
        .await
    }
}

/// The citizen's message when the filters select more than `limit` records.
pub(crate) fn too_many<S: Source>(limit: String) -> String {
    format!(
        "Os filtros selecionam mais de {limit} {}, mais do que uma investigação analisa de \
         uma vez. Restrinja {}.",
        S::WORDS.many,
        S::NARROW
    )
}

/// A database failure while reading `S`'s records: worth another attempt.
pub(crate) fn unavailable<S: Source>(e: anyhow::Error) -> JobError {
    JobError::retryable(
        format!(
            "Não foi possível ler os dados {} agora; a investigação será tentada de novo.",
            S::DATA
        ),
        e,
    )
}

/// Runs a source's retrieval until it ends or the job is cancelled, when the
/// statement still running is cancelled on the server too (a wide search may
/// not have sent its first row yet). Why it stopped is worded for the row:
/// `too_many` says the limit in the source's terms, `unavailable` a database
/// failure.
async fn read_until_cancelled<T>(
    pool: &crate::db::Pool,
    conn: &crate::db::Conn,
    retrieval: impl std::future::Future<Output = Result<T, crate::sources::contracts::RetrievalError>>,
    cancel: &CancellationToken,
    too_many: impl FnOnce(String) -> String,
    unavailable: fn(anyhow::Error) -> JobError,
) -> Result<T, JobError> {
    use crate::sources::contracts::RetrievalError;
    let retrieved = tokio::select! {
        retrieved = retrieval => retrieved,
        _ = cancel.cancelled() => {
            pool.cancel_statement(conn).await;
            return Err(JobError::Cancelled);
        }
    };
    retrieved.map_err(|e| match e {
        RetrievalError::Cancelled => JobError::Cancelled,
        RetrievalError::TooMany { limit } => {
            JobError::permanent(too_many(crate::domain::format::count(limit)))
        }
        RetrievalError::Database(e) => unavailable(e),
    })
}

/// The families asked for that a source can run, and those it cannot. When
/// none can run, `none` is the citizen's message, given the names asked.
fn applicable(
    asked: &[crate::analysis::Family],
    can: &[crate::analysis::Family],
    none: impl FnOnce(&str) -> String,
) -> Result<(Vec<crate::analysis::Family>, Vec<crate::analysis::Family>), JobError> {
    use crate::analysis::Family;
    let (run, skipped): (Vec<Family>, Vec<Family>) = asked.iter().partition(|f| can.contains(f));
    if run.is_empty() {
        let names: Vec<&str> = asked.iter().map(|f| f.as_str()).collect();
        return Err(JobError::permanent(none(&names.join(", "))));
    }
    Ok((run, skipped))
}

/// `investigation_metadata.not_applicable`: each family not run, and why.
fn not_run(
    skipped: &[crate::analysis::Family],
    why: fn(crate::analysis::Family) -> &'static str,
) -> Value {
    Value::Object(
        skipped
            .iter()
            .map(|f| (f.as_str().to_string(), Value::from(why(*f))))
            .collect(),
    )
}

/// One data source's part of an investigation.
#[async_trait]
pub(crate) trait Source: Send + Sync + 'static {
    type Filters: Send + Sync;
    type Data: Records + Clone + Send + Sync + 'static;

    /// `investigation_metadata.pipeline`.
    const NAME: &'static str;
    /// How the summary speaks of the records.
    const WORDS: Vocabulary;
    /// The families with rules here; the others are said not to apply.
    const APPLICABLE: &'static [Family];
    /// What a database failure names: "de contratos", "do orçamento".
    const DATA: &'static str;
    /// How to narrow a search that selects too much: "por ano, órgão ou valor".
    const NARROW: &'static str;

    fn parse(filters: &Value) -> Result<Self::Filters, FilterError>;

    /// The row's filters completed by the question, where the source reads
    /// it; by default the row's filters as they are.
    async fn understand(
        &self,
        _client: &Conn,
        _job: &Job,
        filters: Self::Filters,
        asked: Vec<Family>,
        _analysis: &AnalysisSettings,
    ) -> Result<Understood<Self::Filters>, JobError> {
        Ok(Understood {
            filters,
            asked,
            sentence: None,
            question: json!({
                "interpreted": false,
                "reason": "the question's text is read into filters for contracts and \
                           expenses only; the row's filters were analysed",
            }),
        })
    }

    /// Why `family` does not apply here, for the metadata.
    fn not_applicable(family: Family) -> &'static str;

    /// The citizen's message when none of the families asked (`names`) applies.
    fn none_applicable(names: &str) -> String;

    async fn retrieve(
        &self,
        reading: &Retrieval<'_>,
        filters: &Self::Filters,
    ) -> Result<Retrieved<Self::Data>, JobError>;

    fn detectors(&self, run: &[Family]) -> Vec<Arc<dyn Detector<Self::Data>>>;

    /// Runs the rules; a source whose rules must see the data in a given
    /// order (contracts: payment before cleaning) says so here.
    async fn detect(
        &self,
        stage: &mut Stage<'_>,
        run: &[Family],
        data: Self::Data,
    ) -> Result<Self::Data, JobError> {
        stage.run(self.detectors(run), data).await
    }

    /// The share of records `family` can examine.
    fn coverage(family: Family, data: &Self::Data) -> f64;

    /// What was asked, in words ("contratos assinados em 2024…").
    fn scope(filters: &Self::Filters) -> String;

    /// Sentences for the summary's start beside the question's, given the
    /// families not run (what could not be checked).
    fn preface(_skipped: &[Family]) -> Option<String> {
        None
    }

    /// Sentences for the summary's end: which checks this data allowed and
    /// which it cannot support.
    fn limits(_data: &Self::Data) -> Option<String> {
        None
    }

    /// Metadata read from the data once the rules have run.
    fn described(_data: &Self::Data) -> Map<String, Value> {
        Map::new()
    }
}

/// The share of `records` that `usable` accepts; 0 without records.
pub(crate) fn share<T>(records: &[T], usable: impl Fn(&T) -> bool) -> f64 {
    if records.is_empty() {
        return 0.0;
    }
    records.iter().filter(|r| usable(r)).count() as f64 / records.len() as f64
}

/// A [`Source`] run as the worker's [`Pipeline`], reading schema
/// `transparency` through `pool`.
pub struct Investigation<S> {
    source: S,
    pool: Pool,
    analysis: AnalysisSettings,
}

impl<S> Investigation<S> {
    pub fn new(pool: Pool, analysis: AnalysisSettings, source: S) -> Self {
        Self {
            source,
            pool,
            analysis,
        }
    }
}

#[async_trait]
impl<S: Source> Pipeline for Investigation<S> {
    async fn run(
        &self,
        job: &Job,
        progress: &Progress,
        cancel: &CancellationToken,
    ) -> Result<Completion, JobError> {
        let started = Instant::now();
        let filters = S::parse(&job.filters).map_err(invalid_filter)?;
        let asked = families(&job.anomaly_types)?;
        applicable(&asked, S::APPLICABLE, S::none_applicable)?;

        progress.set(Phase::DataRetrieval, 0.05);
        let client = self
            .pool
            .get()
            .await
            .map_err(|e| unavailable::<S>(e.into()))?;
        let understood = self
            .source
            .understand(&client, job, filters, asked, &self.analysis)
            .await?;
        let (run, skipped) = applicable(&understood.asked, S::APPLICABLE, S::none_applicable)?;
        let reading = Retrieval {
            pool: &self.pool,
            client: &client,
            max_records: self.analysis.max_records,
            progress,
            cancel,
        };
        let Retrieved {
            data,
            metadata,
            notes,
        } = self.source.retrieve(&reading, &understood.filters).await?;
        drop(client);
        if data.count() > self.analysis.max_records {
            return Err(JobError::permanent(too_many::<S>(
                crate::domain::format::count(self.analysis.max_records),
            )));
        }
        progress.records_analyzed(data.count());
        let retrieval_ms = started.elapsed().as_millis() as u64;

        progress.set(Phase::AnomalyDetection, 0.40);
        let detection_started = Instant::now();
        let mut stage = Stage::new(progress, cancel, run.len());
        let data = self.source.detect(&mut stage, &run, data).await?;
        let detection_ms = detection_started.elapsed().as_millis() as u64;

        let mut metadata = match metadata {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        metadata.extend(S::described(&data));
        metadata.insert("pipeline".into(), json!(S::NAME));
        metadata.insert(
            "anomaly_types".into(),
            json!(run.iter().map(|f| f.as_str()).collect::<Vec<_>>()),
        );
        metadata.insert(
            "not_applicable".into(),
            not_run(&skipped, S::not_applicable),
        );
        metadata.insert("question".into(), understood.question);
        metadata.insert(
            "phases_ms".into(),
            json!({"data_retrieval": retrieval_ms, "anomaly_detection": detection_ms}),
        );
        let sentences: Vec<String> = understood
            .sentence
            .into_iter()
            .chain(notes)
            .chain(S::preface(&skipped))
            .collect();
        let preface = (!sentences.is_empty()).then(|| sentences.join(" "));
        let confidence_score = confidence_score(&run, data.count(), |f| S::coverage(f, &data));
        Ok(conclude(
            Detected {
                job: job.id,
                data: &data,
                per_family: stage.per_family,
                words: &S::WORDS,
                scope: S::scope(&understood.filters),
                preface,
                afterword: S::limits(&data),
                confidence_score,
                metadata: Value::Object(metadata),
            },
            &self.analysis,
            progress,
        ))
    }
}
