//! The anomaly pipeline over biddings (`data_source = 'biddings'`): the
//! biddings `fiscal import` loaded from the Portal's Licitações files, with
//! their participants → `anomaly_detection` → the shared `analysis` and
//! `summary_generation`.
//!
//! The filters are the contracts' keys, read for a bidding (opening date,
//! the bidding's value, a participant's CNPJ). Only the vendor family has
//! rules on biddings; the others are said not to apply. The Portal API's
//! `/licitacoes` (one organ, 30-day windows) is not fetched yet: biddings are
//! investigated from imported files.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{json, Value};

use super::source::{share, Retrieval, Retrieved, Source};
use super::JobError;
use crate::analysis::{Detector, Family, Vocabulary};
use crate::sources::biddings::retrieval::retrieve;
use crate::sources::biddings::rules::VendorRules;
use crate::sources::biddings::Tenders;
use crate::sources::filters::{ContractFilters, FilterError};

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

fn not_applicable(f: Family) -> &'static str {
    match f {
        Family::Vendor => "",
        Family::Price => "the items' unit prices (ItemLicitação) are not imported yet",
        Family::Temporal => {
            "the files carry the opening and result dates only, not the notice's publication"
        }
        Family::Payment => "biddings carry no payments; their contracts do (data_source contracts)",
        Family::Duplicate | Family::Pattern => "no rule of this family for biddings is built yet",
    }
}

/// Biddings and their participants, as `fiscal import` loaded them.
pub struct Biddings;

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

    fn not_applicable(family: Family) -> &'static str {
        not_applicable(family)
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
        let (data, participants) = reading
            .bounded::<Self, _>(retrieve(reading.client, filters, reading.max_records))
            .await?;
        let metadata = json!({
            "checked_against": "documented layouts only: no real Licitações file could be obtained",
            "rows_read": {"biddings": data.tenders.len(), "participants": participants},
        });
        Ok(Retrieved { data, metadata })
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
