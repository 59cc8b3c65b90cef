//! The anomaly pipeline over federal servants (`data_source = 'servants'`):
//! `data_retrieval` (when a Portal key is configured and the filters name an
//! organ, its servants are fetched from `/servidores` into
//! `transparency.servants` first; then the table is read) → `anomaly_detection`
//! → the shared `analysis` and `summary_generation`.
//!
//! What cannot be checked is said, never skipped silently: the API serves no
//! remuneration to an ordinary key, so the ceiling on pay (teto, CF art. 37, XI)
//! and pay-related families (price, payment) cannot run; servants have no
//! supplier (vendor). The pattern family has no servant rule yet.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{json, Value};

use super::source::{share, unavailable, Retrieval, Retrieved, Source};
use super::{JobError, Phase};
use crate::analysis::{Detector, Family, Vocabulary};
use crate::sources::filters::FilterError;
use crate::sources::portal_api::PortalClient;
use crate::sources::servants::filters::StaffFilters;
use crate::sources::servants::retrieval::{fetch, retrieve};
use crate::sources::servants::rules::{DuplicateRules, TemporalRules};
use crate::sources::servants::Staff;

const WORDS: Vocabulary = Vocabulary {
    one: "servidor",
    many: "servidores",
    none_found: "Nenhum servidor encontrado",
    same_one: "um mesmo servidor",
    family: family_pt,
    when_empty: "o código do órgão (SIAPE, como 45205) ou se os servidores desse órgão já \
                 foram consultados no Portal",
    verify_in: "na ficha do servidor no Portal da Transparência e no SIAPE",
};

fn family_pt(f: Family) -> &'static str {
    match f {
        Family::Duplicate => "acumulação de vínculos",
        Family::Temporal => "datas de ingresso",
        Family::Price => "remuneração",
        Family::Payment => "pagamentos",
        Family::Vendor => "fornecedor",
        Family::Pattern => "padrões estatísticos",
    }
}

const APPLICABLE: [Family; 2] = [Family::Temporal, Family::Duplicate];

/// Federal servants, read from `transparency.servants` after fetching the
/// organ's `/servidores` pages when a Portal key is configured.
pub struct Servants {
    portal: Option<PortalClient>,
}

impl Servants {
    pub fn new(portal: Option<PortalClient>) -> Self {
        Self { portal }
    }
}

#[async_trait]
impl Source for Servants {
    type Filters = StaffFilters;
    type Data = Staff;
    const NAME: &'static str = "servants";
    const WORDS: Vocabulary = WORDS;
    const APPLICABLE: &'static [Family] = &APPLICABLE;
    const DATA: &'static str = "de servidores";
    const NARROW: &'static str = "por órgão";

    fn parse(filters: &Value) -> Result<StaffFilters, FilterError> {
        StaffFilters::parse(filters)
    }

    fn not_applicable(f: Family) -> &'static str {
        match f {
            Family::Price | Family::Payment => {
                "the Portal serves no remuneration to an ordinary API key \
                 (/servidores/remuneracao answers 403): pay, and the constitutional ceiling \
                 (teto, CF art. 37, XI), cannot be checked"
            }
            Family::Vendor => "servants have no supplier",
            Family::Pattern => "no statistical rule for servants is built yet",
            Family::Temporal | Family::Duplicate => "",
        }
    }

    fn none_applicable(names: &str) -> String {
        format!(
            "Os tipos de anomalia pedidos ({names}) não podem ser verificados em servidores: o \
             Portal não fornece a remuneração com uma chave comum, e servidores não têm \
             fornecedor. Para servidores, peça \"duplicate\" (acumulação de vínculos) ou \
             \"temporal\" (datas de ingresso), ou deixe anomaly_types vazio."
        )
    }

    async fn retrieve(
        &self,
        reading: &Retrieval<'_>,
        filters: &StaffFilters,
    ) -> Result<Retrieved<Staff>, JobError> {
        let Retrieval {
            client, progress, ..
        } = reading;
        let fetched = match (&self.portal, &filters.codigo_orgao) {
            (Some(api), Some(orgao)) => {
                let stats = fetch(client, api, orgao, reading.cancel, |read| {
                    // The total is not known in advance: progress approaches 0.35.
                    progress.set(
                        Phase::DataRetrieval,
                        0.05 + 0.30 * (1.0 - (-(read as f64) / 2000.0).exp()),
                    )
                })
                .await
                .map_err(|e| {
                    super::portal_error(
                        e,
                        &format!("servidores do órgão {orgao}"),
                        "é o código SIAPE do órgão, como 45205 (IBGE)",
                        unavailable::<Self>,
                    )
                })?;
                tracing::info!(
                    orgao = %orgao,
                    records = stats.records,
                    skipped = stats.skipped,
                    changed = stats.changed,
                    requests = stats.requests,
                    "servants fetched from the Portal API"
                );
                Some(stats)
            }
            _ => None,
        };
        let (data, unreadable) = retrieve(client, filters)
            .await
            .map_err(unavailable::<Self>)?;
        let metadata = json!({
            "not_checked": [
                "remuneration above the constitutional ceiling (teto, CF art. 37, XI): the \
                 Portal serves no remuneration to an ordinary API key",
            ],
            "rows_read": {"servants": data.servants.len(), "unreadable": unreadable},
            "portal_api": fetched,
        });
        Ok(Retrieved::new(data, metadata))
    }

    fn detectors(&self, run: &[Family]) -> Vec<Arc<dyn Detector<Staff>>> {
        run.iter()
            .map(|f| -> Arc<dyn Detector<Staff>> {
                if *f == Family::Duplicate {
                    Arc::new(DuplicateRules)
                } else {
                    Arc::new(TemporalRules)
                }
            })
            .collect()
    }

    fn coverage(family: Family, data: &Staff) -> f64 {
        share(&data.servants, |s| match family {
            Family::Duplicate => !s.positions.is_empty(),
            Family::Temporal => s
                .positions
                .iter()
                .any(|p| p.ingresso_servico_publico.is_some() && p.forma_ingresso.is_some()),
            _ => false,
        })
    }

    fn scope(filters: &StaffFilters) -> String {
        filters.describe()
    }

    fn preface(_skipped: &[Family]) -> Option<String> {
        Some(
            "A remuneração dos servidores não é fornecida pelo Portal com uma chave comum: o \
             teto constitucional (CF art. 37, XI) e os pagamentos não puderam ser verificados."
                .to_string(),
        )
    }
}
