//! Biddings from the Portal's API, `GET /licitacoes?codigoOrgao=…&dataInicial=…
//! &dataFinal=…&pagina=N`, into `transparency.biddings`. The API refuses a
//! period longer than 30 days, so a period is asked for in windows of 30 days.
//!
//! No real body could be captured. The record's keys are those open-source
//! clients read from live answers, and one trimmed real sample agrees
//! (tests/data/portal_api/SOURCES.md): `id`, `licitacao{numero, objeto,
//! numeroProcesso}`, `modalidadeLicitacao` and `situacaoCompra` as text,
//! `dataAbertura`, `dataResultadoCompra`, `valor`, `unidadeGestora{codigo, nome,
//! orgaoVinculado{codigoSIAFI, nome}, orgaoMaximo{codigo, nome}}`,
//! `municipio{nomeIBGE, uf}`. Clients disagree on the dates (`AAAA-MM-DD` or
//! `dd/mm/aaaa`): both are read.
//!
//! The API names the modality; the files code it. The name is coded as the
//! Portal's own Compras files code it (`Código Modalidade Compra Licitação`:
//! Pregão 5, Dispensa 6…, read from the real 2021–2022 file), so a bidding
//! fetched and the same bidding imported are one row, and its participants,
//! which only the ParticipantesLicitação files carry, join it.

use chrono::{Duration, NaiveDate};
use serde_json::Value;
use tokio_postgres::Client;
use tokio_util::sync::CancellationToken;

use super::Bidding;
use crate::domain::text::fold;
use crate::sources::load::Kind;
use crate::sources::portal_api::{
    record_date, record_money, record_text, FetchStats, PortalClient,
};
use crate::sources::portal_cache::{self, SyncError};

/// The longest period `/licitacoes` answers, in days, both ends included.
pub const WINDOW_DAYS: i64 = 30;

/// Modality names as the API writes them, and the code the Compras files
/// give each.
const MODALITY_CODES: &[(&str, &str)] = &[
    ("Convite", "1"),
    ("Tomada de Preços", "2"),
    ("Concorrência", "3"),
    ("Concorrência Internacional", "4"),
    ("Pregão", "5"),
    ("Dispensa de Licitação", "6"),
    ("Inexigibilidade de Licitação", "7"),
    ("Concurso", "20"),
    ("Concorrência - Registro de Preço", "-97"),
    ("Pregão - Registro de Preço", "-99"),
];

/// The Compras files' code of a modality the API names; an unknown name is
/// kept as its own code, marked as such, rather than guessed.
pub fn modality_code(name: &str) -> String {
    let folded = fold(name);
    MODALITY_CODES
        .iter()
        .find(|(n, _)| fold(n) == folded)
        .map_or_else(|| format!("api:{folded}"), |(_, code)| code.to_string())
}

/// One `/licitacoes` record as a bidding; `None` without what identifies it
/// (number, UG, modality). `orgao` is the organ asked for, for a record that
/// does not name its own.
pub fn to_bidding(v: &Value, orgao: &str) -> Option<Bidding> {
    let numero = record_text(v, &["licitacao", "numero"])?;
    let codigo_ug = record_text(v, &["unidadeGestora", "codigo"])?;
    let modalidade = record_text(v, &["modalidadeLicitacao"])?;
    let uf = [["municipio", "uf", "sigla"], ["municipio", "uf", "nome"]]
        .iter()
        .filter_map(|p| record_text(v, p))
        .find(|s| s.len() == 2);
    Some(Bidding {
        numero,
        codigo_ug,
        nome_ug: record_text(v, &["unidadeGestora", "nome"]).unwrap_or_default(),
        codigo_modalidade: modality_code(&modalidade),
        modalidade: Some(modalidade),
        numero_processo: record_text(v, &["licitacao", "numeroProcesso"]),
        objeto: record_text(v, &["licitacao", "objeto"]).unwrap_or_default(),
        situacao: record_text(v, &["situacaoCompra"]),
        codigo_orgao_superior: record_text(v, &["unidadeGestora", "orgaoMaximo", "codigo"]),
        nome_orgao_superior: record_text(v, &["unidadeGestora", "orgaoMaximo", "nome"])
            .unwrap_or_default(),
        codigo_orgao: record_text(v, &["unidadeGestora", "orgaoVinculado", "codigoSIAFI"])
            .or_else(|| Some(orgao.to_string())),
        nome_orgao: record_text(v, &["unidadeGestora", "orgaoVinculado", "nome"])
            .unwrap_or_default(),
        uf,
        municipio: record_text(v, &["municipio", "nomeIBGE"]),
        data_resultado: record_date(v, "dataResultadoCompra"),
        data_abertura: record_date(v, "dataAbertura"),
        // The API writes 0 where no value was estimated (registro de preço).
        valor: record_money(v, "valor").filter(|x| *x > 0.0),
    })
}

/// `from..=until` in windows of at most [`WINDOW_DAYS`] days.
pub fn windows(from: NaiveDate, until: NaiveDate) -> Vec<(NaiveDate, NaiveDate)> {
    let mut out = Vec::new();
    let mut start = from;
    while start <= until {
        let end = (start + Duration::days(WINDOW_DAYS - 1)).min(until);
        out.push((start, end));
        start = end + Duration::days(1);
    }
    out
}

/// What a fetch of an organ's biddings brought, over every window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct WindowedStats {
    pub windows: usize,
    #[serde(flatten)]
    pub fetched: FetchStats,
}

/// Every bidding of `orgao` (SIAFI code) in `from..=until`, window after
/// window, from the API into `transparency.biddings`. `on_window` hears the
/// windows done and their number.
pub async fn fetch(
    db: &Client,
    api: &PortalClient,
    orgao: &str,
    (from, until): (NaiveDate, NaiveDate),
    cancel: &CancellationToken,
    on_window: impl FnMut(usize, usize),
) -> Result<WindowedStats, SyncError> {
    let queries: Vec<Vec<(&str, String)>> = windows(from, until)
        .iter()
        .map(|(start, end)| {
            vec![
                ("codigoOrgao", orgao.to_string()),
                ("dataInicial", start.format("%d/%m/%Y").to_string()),
                ("dataFinal", end.format("%d/%m/%Y").to_string()),
            ]
        })
        .collect();
    let row = |record: &Value, source: &str, line: i32| {
        to_bidding(record, orgao).map(|b| super::bidding_values(&b, source, line))
    };
    let fetched = portal_cache::fetch_each(
        db,
        api,
        "licitacoes",
        &queries,
        (Kind::Biddings, &row),
        cancel,
        on_window,
    )
    .await?;
    Ok(WindowedStats {
        windows: queries.len(),
        fetched,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("date")
    }

    #[test]
    fn a_year_is_asked_for_in_thirteen_windows_of_at_most_thirty_days_that_touch() {
        let w = windows(d(2022, 1, 1), d(2022, 12, 31));
        assert_eq!(w.len(), 13);
        assert_eq!(w[0], (d(2022, 1, 1), d(2022, 1, 30)));
        assert_eq!(w[12].1, d(2022, 12, 31));
        for pair in w.windows(2) {
            assert_eq!(pair[0].1 + Duration::days(1), pair[1].0);
        }
        assert!(w
            .iter()
            .all(|(a, b)| (*b - *a).num_days() < WINDOW_DAYS && a <= b));
        assert_eq!(windows(d(2022, 3, 5), d(2022, 3, 5)).len(), 1);
        assert!(windows(d(2022, 3, 6), d(2022, 3, 5)).is_empty());
    }

    #[test]
    fn a_modality_the_api_names_is_coded_as_the_compras_files_code_it() {
        assert_eq!(modality_code("Pregão"), "5");
        assert_eq!(modality_code("Pregão - Registro de Preço"), "-99");
        assert_eq!(modality_code("CONVITE"), "1");
        assert_eq!(modality_code("Dispensa de Licitação"), "6");
        assert_eq!(modality_code("Leilão"), "api:leilao");
    }

    #[test]
    fn a_record_reads_either_date_style_the_swapped_state_and_no_value_for_zero() {
        let record = json!({
            "id": 1,
            "licitacao": {"numero": "000012022", "objeto": "Aquisição", "numeroProcesso": "1"},
            "dataAbertura": "01/03/2022",
            "dataResultadoCompra": "2022-03-15",
            "situacaoCompra": {"codigo": "1", "descricao": "Publicado"},
            "modalidadeLicitacao": "Pregão",
            "valor": 0,
            "municipio": {"nomeIBGE": "SÃO PAULO", "uf": {"sigla": "SÃO PAULO", "nome": "SP"}},
            "unidadeGestora": {"codigo": "158137", "nome": "IFSP"}
        });
        let b = to_bidding(&record, "26439").expect("a bidding");
        assert_eq!(b.data_abertura, Some(d(2022, 3, 1)));
        assert_eq!(b.data_resultado, Some(d(2022, 3, 15)));
        assert_eq!(b.uf.as_deref(), Some("SP"));
        assert_eq!(b.situacao.as_deref(), Some("Publicado"));
        assert_eq!(b.codigo_modalidade, "5");
        assert_eq!(b.codigo_orgao.as_deref(), Some("26439"));
        assert_eq!(b.valor, None);
        let mut unnumbered = record.clone();
        unnumbered["licitacao"]["numero"] = json!("");
        assert!(to_bidding(&unnumbered, "26439").is_none());
    }
}
