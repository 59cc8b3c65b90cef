//! Agreements from the Portal's API, `GET /convenios?codigoOrgao=…&pagina=N`
//! (15 records a page, `[]` past the end), into `transparency.agreements`.
//!
//! The record's keys are those open-source clients read from live answers
//! (`dimConvenio{numero, objeto}`, `convenente`, `orgao`, `unidadeGestora`,
//! `valor`, `valorLiberado`, dates as `AAAA-MM-DD`…); no real body could be
//! captured, so the mapping is checked against that documented shape only
//! (tests/data/portal_api/SOURCES.md). `tipoInstrumento.descricao` arrives
//! garbled in real answers and `uf.sigla`/`uf.nome` swapped: the instrument is
//! kept as given and the state is taken from whichever of the two is two
//! letters.

use chrono::NaiveDate;
use serde_json::Value;
use tokio_postgres::Client;
use tokio_util::sync::CancellationToken;

use super::Agreement;
use crate::sources::load::Kind;
use crate::sources::portal_api::{FetchStats, PortalClient};
use crate::sources::portal_cache::{self, SyncError};

fn text(v: &Value, path: &[&str]) -> Option<String> {
    let mut at = v;
    for key in path {
        at = at.get(key)?;
    }
    let s = match at {
        Value::String(s) => s.trim().to_string(),
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    let folded = crate::domain::text::fold(&s);
    (!s.is_empty() && !folded.starts_with("sem informacao") && s != "-1").then_some(s)
}

fn money(v: &Value, key: &str) -> Option<f64> {
    match v.get(key)? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().replace(',', ".").parse().ok(),
        _ => None,
    }
    .filter(|x: &f64| x.is_finite())
}

fn date(v: &Value, key: &str) -> Option<NaiveDate> {
    let s = text(v, &[key])?;
    NaiveDate::parse_from_str(s.get(..10)?, "%Y-%m-%d")
        .ok()
        .filter(|d| d.format("%Y").to_string() != "1900")
}

/// One `/convenios` record as an agreement; `None` without a number.
pub fn to_agreement(v: &Value) -> Option<Agreement> {
    let numero = text(v, &["dimConvenio", "numero"])?;
    let uf = [
        ["municipioConvenente", "uf", "sigla"],
        ["municipioConvenente", "uf", "nome"],
    ]
    .iter()
    .filter_map(|p| text(v, p))
    .find(|s| s.len() == 2);
    let document = text(v, &["convenente", "cnpjFormatado"])
        .or_else(|| text(v, &["convenente", "cpfFormatado"]))
        .map(|d| {
            d.chars()
                .filter(char::is_ascii_alphanumeric)
                .collect::<String>()
        });
    Some(Agreement {
        numero,
        uf,
        codigo_municipio: text(v, &["municipioConvenente", "codigoIBGE"]),
        municipio: text(v, &["municipioConvenente", "nomeIBGE"]),
        situacao: text(v, &["situacao"]).or_else(|| text(v, &["situacao", "descricao"])),
        numero_original: None,
        numero_processo: text(v, &["numeroProcesso"]),
        objeto: text(v, &["dimConvenio", "objeto"]).unwrap_or_default(),
        codigo_orgao_superior: text(v, &["orgao", "orgaoMaximo", "codigo"]),
        nome_orgao_superior: text(v, &["orgao", "orgaoMaximo", "nome"]),
        codigo_orgao: text(v, &["orgao", "codigoSIAFI"]),
        nome_orgao: text(v, &["orgao", "nome"]),
        codigo_ug: text(v, &["unidadeGestora", "codigo"]),
        nome_ug: text(v, &["unidadeGestora", "nome"]),
        codigo_convenente: document,
        tipo_convenente: text(v, &["convenente", "tipo"]),
        nome_convenente: text(v, &["convenente", "nome"]),
        tipo_ente_convenente: None,
        tipo_instrumento: text(v, &["tipoInstrumento", "descricao"]),
        valor: money(v, "valor"),
        valor_liberado: money(v, "valorLiberado"),
        data_publicacao: date(v, "dataPublicacao"),
        data_inicio_vigencia: date(v, "dataInicioVigencia"),
        data_fim_vigencia: date(v, "dataFinalVigencia"),
        valor_contrapartida: money(v, "valorContrapartida"),
        data_ultima_liberacao: date(v, "dataUltimaLiberacao"),
        valor_ultima_liberacao: money(v, "valorDaUltimaLiberacao"),
    })
}

/// Every agreement granted by `orgao` (SIAFI code), from the API into
/// `transparency.agreements`. `on_page` hears the records read so far.
pub async fn fetch(
    db: &Client,
    api: &PortalClient,
    orgao: &str,
    cancel: &CancellationToken,
    on_page: impl FnMut(usize),
) -> Result<FetchStats, SyncError> {
    let row = |record: &Value, source: &str, line: i32| {
        to_agreement(record).map(|a| super::agreement_values(&a, source, line))
    };
    portal_cache::fetch_into(
        db,
        api,
        "convenios",
        &[("codigoOrgao", orgao.to_string())],
        (Kind::Agreements, &row),
        cancel,
        on_page,
    )
    .await
}
