//! The investigation each data source runs ([`source`]: the steps they share,
//! in one order), which source serves which `data_source`, and the citizen's
//! messages for the errors sources meet alike (a wrong filter, a period too
//! long, the Portal's answers). The protocol with the worker is [`crate::job`].

pub mod agreements;
pub mod biddings;
pub mod contracts;
pub mod expenses;
pub mod servants;
pub mod source;

pub use crate::job::{Completion, Job, JobError, Phase, Pipeline, Progress, ProgressState};
pub use source::Investigation;

use std::collections::BTreeMap;
use std::sync::Arc;

/// A filter the citizen wrote wrong: its message for the row, its key for the log.
pub(crate) fn invalid_filter(e: crate::sources::filters::FilterError) -> JobError {
    JobError::Permanent {
        message: e.message.clone(),
        // An unknown key comes back echoed already; the others are ours.
        detail: Some(anyhow::anyhow!("invalid filter {}", e.key)),
    }
}

/// A period longer than an investigation may fetch from the Portal.
pub(crate) fn too_many_months(e: crate::sources::portal_cache::TooManyMonths) -> JobError {
    JobError::permanent(format!(
        "O período pedido cobre {} meses, e uma investigação consulta no máximo {} meses do \
         Portal da Transparência. Restrinja o período com \"year\" ou \
         \"data_inicial\"/\"data_final\".",
        e.months, e.limit
    ))
}

/// What the citizen (and the operator) reads when the Portal's API could not
/// be used for `what` ("contratos do órgão 26274"); `code_hint` says what the
/// organ code is ("é o código SIAFI do órgão, como 26000"), and `unavailable`
/// words a database failure as the source does.
pub(crate) fn portal_error(
    e: crate::sources::portal_cache::SyncError,
    what: &str,
    code_hint: &str,
    unavailable: fn(anyhow::Error) -> JobError,
) -> JobError {
    use crate::sources::portal_api::ApiError;
    use crate::sources::portal_cache::SyncError;
    let api = match e {
        SyncError::Database(e) => return unavailable(e),
        SyncError::Api(api) => api,
    };
    let message = match &api {
        ApiError::Cancelled => return JobError::Cancelled,
        ApiError::KeyRefused { status } => format!(
            "O Portal da Transparência recusou a chave de acesso à sua API (HTTP {status}). \
             Nada foi analisado. O operador do fiscal deve conferir a chave em \
             PORTAL_TRANSPARENCIA_API_KEY (portal.api_key): ela pode estar errada, vencida ou \
             ausente; uma chave nova é pedida em portaldatransparencia.gov.br/api-de-dados."
        ),
        ApiError::Rejected { status, .. } => format!(
            "O Portal da Transparência recusou a consulta de {what} (HTTP {status}). Confira o \
             filtro \"codigo_orgao\": {code_hint}."
        ),
        ApiError::Malformed { detail } => format!(
            "O Portal da Transparência respondeu à consulta de {what} em um formato \
             inesperado, e nada foi analisado ({detail})."
        ),
        ApiError::Unavailable { .. } => {
            return JobError::retryable(
                format!(
                    "O Portal da Transparência não respondeu à consulta de {what}; a \
                     investigação foi tentada de novo e não pôde ser concluída. Tente mais tarde."
                ),
                anyhow::Error::new(api),
            )
        }
    };
    JobError::Permanent {
        message,
        detail: Some(anyhow::Error::new(api)),
    }
}

/// Which pipeline serves which `data_source`.
#[derive(Clone, Default)]
pub struct Pipelines {
    by_source: BTreeMap<String, Arc<dyn Pipeline>>,
}

impl Pipelines {
    /// The pipelines this build ships, one per data source the table accepts, reading schema
    /// `transparency` through one pool of their own (one connection per job
    /// slot, on top of the queue's pool). Other data sources end `failed` with a
    /// message saying they cannot be investigated yet.
    pub fn builtin(settings: &crate::config::Settings) -> anyhow::Result<Self> {
        let mut database = settings.database.clone();
        database.max_connections = settings.worker.concurrency.max(1);
        let pool = crate::db::pool(&database)?;
        // One client, so one rate limiter, for every source and job.
        let portal = if settings.portal.enabled() {
            Some(crate::sources::portal_api::PortalClient::new(
                &settings.portal,
            )?)
        } else {
            None
        };
        let expenses = Investigation::new(
            pool.clone(),
            settings.analysis.clone(),
            expenses::Expenses::new(settings.detectors.pattern.clone(), portal.clone()),
        );
        let biddings = Investigation::new(
            pool.clone(),
            settings.analysis.clone(),
            biddings::Biddings::new(portal.clone()),
        );
        let agreements = Investigation::new(
            pool.clone(),
            settings.analysis.clone(),
            agreements::Agreements::new(portal.clone()),
        );
        let servants = Investigation::new(
            pool.clone(),
            settings.analysis.clone(),
            servants::Servants::new(portal.clone()),
        );
        let contracts = Investigation::new(
            pool,
            settings.analysis.clone(),
            contracts::Contracts::new(&settings.analysis, settings.detectors.clone())
                .with_portal(portal),
        );
        Ok(Self::default()
            .with("contracts", Arc::new(contracts))
            .with("expenses", Arc::new(expenses))
            .with("servants", Arc::new(servants))
            .with("biddings", Arc::new(biddings))
            .with("agreements", Arc::new(agreements)))
    }

    pub fn with(mut self, data_source: &str, pipeline: Arc<dyn Pipeline>) -> Self {
        self.by_source.insert(data_source.to_string(), pipeline);
        self
    }

    pub fn get(&self, data_source: &str) -> Option<Arc<dyn Pipeline>> {
        self.by_source.get(data_source).cloned()
    }

    pub fn sources(&self) -> Vec<&str> {
        self.by_source.keys().map(String::as_str).collect()
    }

    /// The citizen's message for a data source nobody serves.
    pub fn unsupported_message(&self, data_source: &str) -> String {
        let available = self.sources();
        if available.is_empty() {
            format!(
                "A fonte de dados \"{data_source}\" ainda não pode ser investigada: esta versão do \
                 fiscal não tem nenhuma análise instalada. Nada foi analisado; tente novamente \
                 quando a análise estiver disponível."
            )
        } else {
            format!(
                "A fonte de dados \"{data_source}\" ainda não pode ser investigada. Fontes \
                 disponíveis: {}.",
                available.join(", ")
            )
        }
    }
}
