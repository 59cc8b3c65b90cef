//! A contract, amendment or item of the Portal's Compras files as a row of
//! schema `transparency`, in the column order of its staging table; the API
//! cache writes through the same mapping, so a file and the API key a contract
//! alike.

use chrono::{Datelike, NaiveDate};
use tokio_postgres::types::Type;

use crate::domain::text::fold;
use crate::sources::load::{b, statements, Kind, Row};
use crate::sources::portal::{Amendment, Contract, ContractItem, SupplierId};

/// The contract's identity, the same in every month that republishes it.
pub fn contract_id(c: &Contract) -> String {
    format!(
        "{}/{}/{}/{}",
        c.codigo_ug,
        c.numero,
        c.data_assinatura.format("%Y%m%d"),
        c.fornecedor.as_ref().map_or("-", SupplierId::as_str)
    )
}

/// The values of one contract row, in the order of [`contract_columns`]; the API
/// cache writes its rows through it too, so both sources key a contract alike.
pub(crate) fn contract_values(
    c: &Contract,
    file: &str,
    name_month: Option<NaiveDate>,
    line: i32,
) -> Row {
    let month = c
        .data_publicacao_dou
        .map(first_of_month)
        .or(name_month)
        .unwrap_or_else(|| first_of_month(c.data_assinatura));
    let tipo = c.fornecedor.as_ref().map(|s| match s {
        SupplierId::Cnpj(_) => "cnpj",
        SupplierId::Cpf(_) => "cpf",
        SupplierId::Other(_) => "outro",
    });
    vec![
        b(contract_id(c)),
        b(month),
        b(file.to_string()),
        b(line),
        b(c.numero.clone()),
        b(c.objeto.clone()),
        b(fold(&c.objeto)),
        b(c.fundamento_legal.clone()),
        b(c.modalidade_compra.clone()),
        b(c.modalidade_compra.as_deref().map(fold)),
        b(c.situacao.clone()),
        b(c.codigo_orgao_superior.clone()),
        b(c.nome_orgao_superior.clone()),
        b(c.codigo_orgao.clone()),
        b(c.nome_orgao.clone()),
        b(c.codigo_ug.clone()),
        b(c.nome_ug.clone()),
        b(c.data_assinatura),
        b(c.data_publicacao_dou),
        b(c.data_inicio_vigencia),
        b(c.data_fim_vigencia),
        b(c.fornecedor.as_ref().map(|s| s.as_str().to_string())),
        b(tipo),
        b(c.nome_fornecedor.clone()),
        b(c.valor_inicial),
        b(c.valor_final),
        b(c.numero_licitacao.clone()),
        b(c.codigo_ug_licitacao.clone()),
        b(c.nome_ug_licitacao.clone()),
        b(c.codigo_modalidade_licitacao.clone()),
        b(c.modalidade_licitacao.clone()),
    ]
}

pub(crate) fn amendment_values(
    a: &Amendment,
    file: &str,
    name_month: Option<NaiveDate>,
    line: i32,
) -> Row {
    let month = a
        .data_publicacao
        .map(first_of_month)
        .or(name_month)
        .unwrap_or_default();
    let id = format!(
        "{}/{}/{}",
        a.codigo_ug, a.numero_contrato, a.numero_termo_aditivo
    );
    vec![
        b(id),
        b(month),
        b(file.to_string()),
        b(line),
        b(a.numero_contrato.clone()),
        b(a.codigo_orgao_superior.clone()),
        b(a.nome_orgao_superior.clone()),
        b(a.codigo_orgao.clone()),
        b(a.nome_orgao.clone()),
        b(a.codigo_ug.clone()),
        b(a.nome_ug.clone()),
        b(a.numero_termo_aditivo.clone()),
        b(a.data_publicacao),
        b(a.objeto.clone()),
    ]
}

pub(crate) fn item_values(
    i: &ContractItem,
    file: &str,
    name_month: Option<NaiveDate>,
    line: i32,
) -> Row {
    let id = format!(
        "{}/{}/{}",
        i.codigo_ug,
        i.numero_contrato,
        i.codigo_item.as_deref().unwrap_or("-")
    );
    vec![
        b(id),
        b(name_month.unwrap_or_default()),
        b(file.to_string()),
        b(line),
        b(i.codigo_orgao.clone()),
        b(i.nome_orgao.clone()),
        b(i.codigo_ug.clone()),
        b(i.nome_ug.clone()),
        b(i.numero_contrato.clone()),
        b(i.codigo_item.clone()),
        b(i.descricao.clone()),
        b(i.descricao_complementar.clone()),
        b(i.quantidade),
        b(i.valor),
    ]
}

/// The column list and types of [`contract_values`].
pub(crate) fn contract_columns() -> (&'static str, &'static [Type]) {
    let (_, columns, types, _) = statements(Kind::Contracts);
    (columns, types)
}

pub(crate) fn first_of_month(d: NaiveDate) -> NaiveDate {
    d.with_day(1).unwrap_or(d)
}
