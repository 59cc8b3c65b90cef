//! The anomaly pipeline over agreements (`data_source = 'agreements'`): the
//! convênios `fiscal import` loaded from the Portal's Convênios snapshot →
//! `anomaly_detection` → the shared `analysis` and `summary_generation`.
//!
//! The filters are the contracts' keys, read for an agreement (start of
//! validity, agreed value, the recipient's CNPJ, the instrument). The payment
//! and temporal families have rules; the others are said not to apply. With a
//! Portal key, an investigation naming `codigo_orgao` fetches that organ's
//! agreements from `/convenios` first (src/sources/agreements/api.rs).

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{json, Value};

use super::source::{share, unavailable, Retrieval, Retrieved, Source};
use super::{JobError, Phase};
use crate::analysis::{Detector, Family, Vocabulary};
use crate::sources::agreements::api;
use crate::sources::agreements::retrieval::retrieve;
use crate::sources::agreements::rules::{PaymentRules, TemporalRules};
use crate::sources::agreements::Agreements as Convenios;
use crate::sources::filters::{ContractFilters, FilterError};
use crate::sources::portal_api::PortalClient;

const WORDS: Vocabulary = Vocabulary {
    one: "convênio",
    many: "convênios",
    none_found: "Nenhum convênio encontrado",
    same_one: "um mesmo convênio",
    family: family_pt,
    when_empty: "os filtros ou se os convênios já foram importados",
    verify_in: "no Transferegov (plano de trabalho, termos aditivos e prestação de contas)",
};

fn family_pt(f: Family) -> &'static str {
    match f {
        Family::Vendor => "convenente",
        Family::Price => "preço",
        Family::Temporal => "vigência",
        Family::Payment => "liberações",
        Family::Duplicate => "duplicidade",
        Family::Pattern => "padrões estatísticos",
    }
}

/// Agreements (convênios), read from `transparency.agreements` after fetching
/// the granting organ's `/convenios` pages when a Portal key is configured.
pub struct Agreements {
    portal: Option<PortalClient>,
}

impl Agreements {
    pub fn new(portal: Option<PortalClient>) -> Self {
        Self { portal }
    }
}

#[async_trait]
impl Source for Agreements {
    type Filters = ContractFilters;
    type Data = Convenios;
    const NAME: &'static str = "agreements";
    const WORDS: Vocabulary = WORDS;
    const APPLICABLE: &'static [Family] = &[Family::Payment, Family::Temporal];
    const DATA: &'static str = "de convênios";
    const NARROW: &'static str = "por ano, órgão ou valor";

    fn parse(filters: &Value) -> Result<ContractFilters, FilterError> {
        ContractFilters::parse(filters)
    }

    fn not_applicable(f: Family) -> &'static str {
        match f {
            Family::Payment | Family::Temporal => "",
            Family::Vendor => {
                "an agreement's recipient (convenente) is not chosen among bidders; no rule on \
                 recipients is built yet"
            }
            Family::Price => "agreements carry no items or unit prices",
            Family::Duplicate | Family::Pattern => {
                "no rule of this family for agreements is built yet"
            }
        }
    }

    fn none_applicable(names: &str) -> String {
        format!(
            "Os tipos de anomalia pedidos ({names}) ainda não têm regras para convênios: \
             peça \"payment\" (liberado acima do acordado) ou \"temporal\" (liberação \
             fora da vigência), ou deixe anomaly_types vazio."
        )
    }

    async fn retrieve(
        &self,
        reading: &Retrieval<'_>,
        filters: &ContractFilters,
    ) -> Result<Retrieved<Convenios>, JobError> {
        let fetched = match (&self.portal, &filters.codigo_orgao) {
            (Some(api), Some(orgao)) => Some(
                api::fetch(reading.client, api, orgao, reading.cancel, |n| {
                    reading.progress.set(
                        Phase::DataRetrieval,
                        0.05 + 0.25 * (1.0 - (-(n as f64) / 50.0).exp()),
                    )
                })
                .await
                .map_err(|e| {
                    super::portal_error(
                        e,
                        &format!("convênios do órgão {orgao}"),
                        "é o código SIAFI do órgão concedente, como 36000",
                        unavailable::<Self>,
                    )
                })?,
            ),
            _ => None,
        };
        let data = reading
            .bounded::<Self, _>(retrieve(reading.client, filters, reading.max_records))
            .await?;
        let metadata = json!({
            "checked_against": "documented layouts only: no real Convênios file or /convenios answer could be obtained",
            "rows_read": {"agreements": data.agreements.len()},
            "portal_api": fetched,
        });
        Ok(Retrieved::new(data, metadata))
    }

    fn detectors(&self, run: &[Family]) -> Vec<Arc<dyn Detector<Convenios>>> {
        run.iter()
            .map(|f| -> Arc<dyn Detector<Convenios>> {
                if *f == Family::Payment {
                    Arc::new(PaymentRules)
                } else {
                    Arc::new(TemporalRules)
                }
            })
            .collect()
    }

    fn coverage(family: Family, data: &Convenios) -> f64 {
        share(&data.agreements, |a| match family {
            Family::Payment => a.valor.is_some() && a.valor_liberado.is_some(),
            _ => a.data_fim_vigencia.is_some() && a.data_ultima_liberacao.is_some(),
        })
    }

    fn scope(filters: &ContractFilters) -> String {
        filters.describe_as(
            "com vigência iniciada",
            "convenente",
            "todos os convênios importados",
        )
    }
}
