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

use serde_json::Value;
use tokio_postgres::Client;
use tokio_util::sync::CancellationToken;

use super::Agreement;
use crate::sources::load::Kind;
use crate::sources::portal_api::{
    record_date, record_money, record_text, FetchStats, PortalClient,
};
use crate::sources::portal_cache::{self, SyncError};

/// One `/convenios` record as an agreement; `None` without a number.
pub fn to_agreement(v: &Value) -> Option<Agreement> {
    let numero = record_text(v, &["dimConvenio", "numero"])?;
    let uf = [
        ["municipioConvenente", "uf", "sigla"],
        ["municipioConvenente", "uf", "nome"],
    ]
    .iter()
    .filter_map(|p| record_text(v, p))
    .find(|s| s.len() == 2);
    let document = record_text(v, &["convenente", "cnpjFormatado"])
        .or_else(|| record_text(v, &["convenente", "cpfFormatado"]))
        .map(|d| {
            d.chars()
                .filter(char::is_ascii_alphanumeric)
                .collect::<String>()
        });
    Some(Agreement {
        numero,
        uf,
        codigo_municipio: record_text(v, &["municipioConvenente", "codigoIBGE"]),
        municipio: record_text(v, &["municipioConvenente", "nomeIBGE"]),
        situacao: record_text(v, &["situacao"])
            .or_else(|| record_text(v, &["situacao", "descricao"])),
        numero_original: None,
        numero_processo: record_text(v, &["numeroProcesso"]),
        objeto: record_text(v, &["dimConvenio", "objeto"]).unwrap_or_default(),
        codigo_orgao_superior: record_text(v, &["orgao", "orgaoMaximo", "codigo"]),
        nome_orgao_superior: record_text(v, &["orgao", "orgaoMaximo", "nome"]),
        codigo_orgao: record_text(v, &["orgao", "codigoSIAFI"]),
        nome_orgao: record_text(v, &["orgao", "nome"]),
        codigo_ug: record_text(v, &["unidadeGestora", "codigo"]),
        nome_ug: record_text(v, &["unidadeGestora", "nome"]),
        codigo_convenente: document,
        tipo_convenente: record_text(v, &["convenente", "tipo"]),
        nome_convenente: record_text(v, &["convenente", "nome"]),
        tipo_ente_convenente: None,
        tipo_instrumento: record_text(v, &["tipoInstrumento", "descricao"]),
        valor: record_money(v, "valor"),
        valor_liberado: record_money(v, "valorLiberado"),
        data_publicacao: record_date(v, "dataPublicacao"),
        data_inicio_vigencia: record_date(v, "dataInicioVigencia"),
        data_fim_vigencia: record_date(v, "dataFinalVigencia"),
        valor_contrapartida: record_money(v, "valorContrapartida"),
        data_ultima_liberacao: record_date(v, "dataUltimaLiberacao"),
        valor_ultima_liberacao: record_money(v, "valorDaUltimaLiberacao"),
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
