//! The anomaly pipeline over biddings (`data_source = 'biddings'`): the
//! biddings `fiscal import` loaded from the Portal's Licitações files, with
//! their participants → `anomaly_detection` → the shared `analysis` and
//! `summary_generation`.
//!
//! The filters are the contracts' keys, read for a bidding (opening date,
//! the bidding's value, a participant's CNPJ). Only the vendor family has
//! rules on biddings; the others are said not to apply. With a Portal key, an
//! investigation naming `codigo_orgao` fetches that organ's biddings of the
//! period from `/licitacoes` first, in 30-day windows
//! (src/sources/biddings/api.rs). The API carries no participants: a bidding
//! only the API brought is counted, and judged once a ParticipantesLicitação
//! file names its bidders.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{json, Value};

use super::source::{share, unavailable, Retrieval, Retrieved, Source};
use super::{JobError, Phase};
use crate::analysis::{Detector, Family, Vocabulary};
use crate::sources::biddings::api::{self, WindowedStats};
use crate::sources::biddings::retrieval::retrieve;
use crate::sources::biddings::rules::VendorRules;
use crate::sources::biddings::Tenders;
use crate::sources::filters::{ContractFilters, FilterError};
use crate::sources::portal_api::PortalClient;
use crate::sources::portal_cache;

const WORDS: Vocabulary = Vocabulary {
    one: "licitação",
    many: "licitações",
    none_found: "Nenhuma licitação encontrada",
    same_one: "uma mesma licitação",
    family: family_pt,
    when_empty: "os filtros ou se as licitações desse período já foram importadas",
    verify_in: "no edital, nas atas e nas propostas da licitação",
};

fn family_pt(f: Family) -> &'static str {
    match f {
        Family::Vendor => "concorrência",
        Family::Price => "preço",
        Family::Temporal => "datas",
        Family::Payment => "pagamentos",
        Family::Duplicate => "duplicidade",
        Family::Pattern => "padrões estatísticos",
    }
}

/// Biddings and their participants, as `fiscal import` loaded them and the
/// `/licitacoes` pages bring them.
pub struct Biddings {
    portal: Option<PortalClient>,
}

impl Biddings {
    pub fn new(portal: Option<PortalClient>) -> Self {
        Self { portal }
    }

    /// The `/licitacoes` part of retrieval: the organ's biddings opened in the
    /// period (without one, the last 12 months), when a key is configured.
    async fn fetch(
        &self,
        reading: &Retrieval<'_>,
        filters: &ContractFilters,
    ) -> Result<Option<WindowedStats>, JobError> {
        let (Some(api), Some(orgao)) = (&self.portal, &filters.codigo_orgao) else {
            return Ok(None);
        };
        let today = crate::sources::portal_api::brasilia_now().date();
        let months = portal_cache::months(filters, today, api.settings().max_months)
            .map_err(super::too_many_months)?;
        let Some(&first) = months.first() else {
            return Ok(None);
        };
        let from = filters.signed_from.unwrap_or(first).max(first);
        let until = filters.signed_until.map_or(today, |u| u.min(today));
        let stats = api::fetch(
            reading.client,
            api,
            orgao,
            (from, until),
            reading.cancel,
            |done, total| {
                reading.progress.set(
                    Phase::DataRetrieval,
                    0.05 + 0.25 * done as f64 / total.max(1) as f64,
                )
            },
        )
        .await
        .map_err(|e| {
            super::portal_error(
                e,
                &format!("licitações do órgão {orgao}"),
                "é o código SIAFI do órgão, como 26000",
                unavailable::<Self>,
            )
        })?;
        tracing::info!(
            codigo_orgao = %orgao,
            windows = stats.windows,
            records = stats.fetched.records,
            changed = stats.fetched.changed,
            requests = stats.fetched.requests,
            "biddings fetched from the Portal API"
        );
        Ok(Some(stats))
    }
}

#[async_trait]
impl Source for Biddings {
    type Filters = ContractFilters;
    type Data = Tenders;
    const NAME: &'static str = "biddings";
    const WORDS: Vocabulary = WORDS;
    const APPLICABLE: &'static [Family] = &[Family::Vendor];
    const DATA: &'static str = "de licitações";
    const NARROW: &'static str = "por ano, órgão ou valor";

    fn parse(filters: &Value) -> Result<ContractFilters, FilterError> {
        ContractFilters::parse(filters)
    }

    fn not_applicable(f: Family) -> &'static str {
        match f {
            Family::Vendor => "",
            Family::Price => "the items' unit prices (ItemLicitação) are not imported yet",
            Family::Temporal => {
                "the files carry the opening and result dates only, not the notice's publication"
            }
            Family::Payment => {
                "biddings carry no payments; their contracts do (data_source contracts)"
            }
            Family::Duplicate | Family::Pattern => {
                "no rule of this family for biddings is built yet"
            }
        }
    }

    fn none_applicable(_names: &str) -> String {
        "Para licitações, só há regras de concorrência por enquanto: peça \"vendor\" \
         (participante único, rodízio de vencedores) ou deixe anomaly_types vazio."
            .to_string()
    }

    async fn retrieve(
        &self,
        reading: &Retrieval<'_>,
        filters: &ContractFilters,
    ) -> Result<Retrieved<Tenders>, JobError> {
        let fetched = self.fetch(reading, filters).await?;
        let (data, participants) = reading
            .bounded::<Self, _>(retrieve(reading.client, filters, reading.max_records))
            .await?;
        let without = data.tenders.iter().filter(|t| t.bidders.is_empty()).count();
        let metadata = json!({
            "checked_against": "documented layouts only: no real Licitações file or \
                                /licitacoes answer could be obtained",
            "rows_read": {
                "biddings": data.tenders.len(),
                "participants": participants,
                "biddings_without_participants": without,
            },
            "portal_api": fetched,
        });
        Ok(Retrieved::new(data, metadata))
    }

    fn detectors(&self, _run: &[Family]) -> Vec<Arc<dyn Detector<Tenders>>> {
        vec![Arc::new(VendorRules)]
    }

    fn coverage(_family: Family, data: &Tenders) -> f64 {
        share(&data.tenders, |t| !t.bidders.is_empty())
    }

    fn scope(filters: &ContractFilters) -> String {
        filters.describe_as("abertas", "participante", "todas as licitações importadas")
    }
}
