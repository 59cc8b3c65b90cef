//! The Portal's own yearly totals per organ, `GET /despesas/por-orgao?ano=…&
//! orgaoSuperior=…&pagina=N` ("Filtros mínimos: Página; Ano do registro; Ao
//! menos um dos demais filtros"), set beside what the imported budget says for
//! the same organs. The yearly budget file is regenerated every night and an
//! import is a snapshot: when the Portal commits more today than the snapshot
//! holds, the investigation judged an outdated budget, and says so.
//!
//! No real body could be captured: the keys are those open-source clients read
//! (`ano`, `codigoOrgao`, `orgao`, `codigoOrgaoSuperior`, `orgaoSuperior`,
//! `empenhado`, `liquidado`, `pago`, amounts as pt-BR text or numbers;
//! tests/data/portal_api/SOURCES.md).

use anyhow::{Context, Result};
use tokio_postgres::types::Type;
use tokio_postgres::Client;
use tokio_util::sync::CancellationToken;

use crate::domain::format::{percent, reais};
use crate::sources::portal_api::{self, record_money, record_text, ApiError, PortalClient};

/// A difference in committed money below this share is rounding and the
/// day's new commitments, not an outdated import.
pub const TOLERANCE: f64 = 0.01;

/// One organ's year, as the Portal totals it and as the import holds it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct OrganYear {
    pub codigo_orgao: String,
    pub orgao: String,
    /// Committed in the year, per the API.
    pub empenhado_portal: f64,
    pub pago_portal: Option<f64>,
    /// Committed in the year, per the imported budget lines.
    pub empenhado_importado: f64,
}

impl OrganYear {
    /// The imported commitments' shortfall, as a share of the Portal's.
    pub fn gap(&self) -> f64 {
        if self.empenhado_portal <= 0.0 {
            return 0.0;
        }
        (self.empenhado_portal - self.empenhado_importado) / self.empenhado_portal
    }
}

/// The organs of `orgao_superior` in `year`, per the API: code, name,
/// committed and paid.
pub async fn portal_totals(
    api: &PortalClient,
    year: i32,
    orgao_superior: &str,
    cancel: &CancellationToken,
) -> Result<(Vec<(String, String, f64, Option<f64>)>, u32), ApiError> {
    let query = [
        ("ano", year.to_string()),
        ("orgaoSuperior", orgao_superior.to_string()),
    ];
    let (records, requests) = api
        .pages(
            "despesas/por-orgao",
            &query,
            portal_api::json_records,
            cancel,
            |_| {},
        )
        .await?;
    let totals = records
        .iter()
        .filter_map(|r| {
            Some((
                record_text(r, &["codigoOrgao"])?,
                record_text(r, &["orgao"]).unwrap_or_default(),
                record_money(r, "empenhado")?,
                record_money(r, "pago"),
            ))
        })
        .collect();
    Ok((totals, requests))
}

/// What the imported budget committed in `year` per organ of `orgao_superior`.
pub async fn imported_totals(
    client: &Client,
    year: i32,
    orgao_superior: &str,
) -> Result<Vec<(String, f64)>> {
    let rows = client
        .query_typed(
            "select codigo_orgao, sum(empenhado)::float8
             from transparency.budget_lines
             where exercicio = $1 and codigo_orgao_superior = $2
             group by codigo_orgao",
            &[(&year, Type::INT4), (&orgao_superior, Type::TEXT)],
        )
        .await
        .context("summing transparency.budget_lines per organ")?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// The Portal's organs beside the import's.
pub fn compare(
    portal: Vec<(String, String, f64, Option<f64>)>,
    imported: &[(String, f64)],
) -> Vec<OrganYear> {
    let mut out: Vec<OrganYear> = portal
        .into_iter()
        .map(|(codigo_orgao, orgao, empenhado_portal, pago_portal)| {
            let empenhado_importado = imported
                .iter()
                .find(|(c, _)| *c == codigo_orgao)
                .map_or(0.0, |(_, v)| *v);
            OrganYear {
                codigo_orgao,
                orgao,
                empenhado_portal,
                pago_portal,
                empenhado_importado,
            }
        })
        .collect();
    out.sort_by(|a, b| a.codigo_orgao.cmp(&b.codigo_orgao));
    out
}

/// The citizen's sentence when the import holds markedly less than the Portal
/// commits today, naming the organs.
pub fn outdated(organs: &[OrganYear], year: i32) -> Option<String> {
    if !organs.is_empty() && organs.iter().all(|o| o.empenhado_importado == 0.0) {
        return Some(format!(
            "O orçamento de {year} desse órgão não foi importado, embora o Portal informe \
             empenhos dele: importe o arquivo do ano (Orçamento da Despesa) para analisá-lo."
        ));
    }
    let behind: Vec<String> = organs
        .iter()
        .filter(|o| o.gap() > TOLERANCE)
        .map(|o| {
            format!(
                "{} ({}): {} empenhados no Portal, {} no orçamento importado, {} a menos",
                o.orgao,
                o.codigo_orgao,
                reais(o.empenhado_portal),
                reais(o.empenhado_importado),
                percent(o.gap())
            )
        })
        .collect();
    (!behind.is_empty()).then(|| {
        format!(
            "O orçamento de {year} importado está desatualizado em relação ao que o Portal \
             informa hoje para {}; importe de novo o arquivo do ano para uma análise atual.",
            behind.join("; ")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_import_behind_the_portal_is_told_and_one_within_a_percent_is_not() {
        let portal = vec![
            (
                "36901".to_string(),
                "Fundo Nacional de Saúde".to_string(),
                100e9,
                Some(90e9),
            ),
            (
                "36211".to_string(),
                "Fundação Oswaldo Cruz".to_string(),
                5e9,
                None,
            ),
        ];
        let imported = vec![("36901".to_string(), 99.5e9), ("36211".to_string(), 4e9)];
        let organs = compare(portal, &imported);
        assert_eq!(organs[0].codigo_orgao, "36211");
        assert!((organs[0].gap() - 0.2).abs() < 1e-9);
        let said = outdated(&organs, 2022).expect("Fiocruz is behind");
        assert!(said.contains("Fundação Oswaldo Cruz (36211)"), "{said}");
        assert!(!said.contains("36901"), "within tolerance: {said}");
        let level = compare(
            vec![("36901".to_string(), "FNS".to_string(), 100.0, None)],
            &[("36901".to_string(), 100.0)],
        );
        assert_eq!(outdated(&level, 2022), None);
        let missing = compare(
            vec![("36901".to_string(), "FNS".to_string(), 100.0, None)],
            &[],
        );
        let said = outdated(&missing, 2023).expect("not imported");
        assert!(said.contains("não foi importado"), "{said}");
    }

    #[test]
    fn amounts_read_as_pt_br_text_or_numbers() {
        let v = serde_json::json!({"empenhado": "1.234.567,89", "pago": 12.5});
        assert_eq!(record_money(&v, "empenhado"), Some(1_234_567.89));
        assert_eq!(record_money(&v, "pago"), Some(12.5));
        assert_eq!(record_money(&v, "liquidado"), None);
    }
}
