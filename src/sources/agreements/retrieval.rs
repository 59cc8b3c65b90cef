//! `filters` → the agreements of `transparency.agreements`. The filters are the
//! contracts' (DESIGN §4), read for an agreement: the granting organ and UG,
//! `cnpj_fornecedor` the recipient (convenente), `modalidade` the instrument
//! ("convênio", "contrato de repasse"), dates the start of validity, values the
//! agreed value, `texto` the object.

use tokio_postgres::Client;

use super::{Agreement, Agreements};
use crate::sources::contracts::{rows_within, RetrievalError};
use crate::sources::filters::{Columns, ContractFilters};

const COLUMNS: Columns = Columns {
    orgao: "a.codigo_orgao",
    orgao_superior: "a.codigo_orgao_superior",
    ug: "a.codigo_ug",
    supplier: "a.codigo_convenente like ?",
    modality: "transparency.fold(coalesce(a.tipo_instrumento, ''))",
    object: "a.objeto_busca",
    date: "a.data_inicio_vigencia",
    value: "a.valor",
};

/// Reads the agreements the filters select, at most `limit`.
pub async fn retrieve(
    client: &Client,
    f: &ContractFilters,
    limit: usize,
) -> Result<Agreements, RetrievalError> {
    let (clause, params) = f.where_on(&COLUMNS);
    let sql = format!(
        "select a.numero, a.uf, a.codigo_municipio, a.municipio, a.situacao,
             a.numero_original, a.numero_processo, a.objeto, a.codigo_orgao_superior,
             a.nome_orgao_superior, a.codigo_orgao, a.nome_orgao, a.codigo_ug, a.nome_ug,
             a.codigo_convenente, a.tipo_convenente, a.nome_convenente, a.tipo_ente_convenente,
             a.tipo_instrumento, a.valor::float8, a.valor_liberado::float8, a.data_publicacao,
             a.data_inicio_vigencia, a.data_fim_vigencia, a.valor_contrapartida::float8,
             a.data_ultima_liberacao, a.valor_ultima_liberacao::float8
         from transparency.agreements a
         where {clause}
         order by a.numero"
    );
    let rows = rows_within(client, &sql, &params, limit, "transparency.agreements").await?;
    let agreements = rows
        .iter()
        .map(|r| Agreement {
            numero: r.get(0),
            uf: r.get(1),
            codigo_municipio: r.get(2),
            municipio: r.get(3),
            situacao: r.get(4),
            numero_original: r.get(5),
            numero_processo: r.get(6),
            objeto: r.get(7),
            codigo_orgao_superior: r.get(8),
            nome_orgao_superior: r.get(9),
            codigo_orgao: r.get(10),
            nome_orgao: r.get(11),
            codigo_ug: r.get(12),
            nome_ug: r.get(13),
            codigo_convenente: r.get(14),
            tipo_convenente: r.get(15),
            nome_convenente: r.get(16),
            tipo_ente_convenente: r.get(17),
            tipo_instrumento: r.get(18),
            valor: r.get(19),
            valor_liberado: r.get(20),
            data_publicacao: r.get(21),
            data_inicio_vigencia: r.get(22),
            data_fim_vigencia: r.get(23),
            valor_contrapartida: r.get(24),
            data_ultima_liberacao: r.get(25),
            valor_ultima_liberacao: r.get(26),
        })
        .collect();
    Ok(Agreements { agreements })
}
