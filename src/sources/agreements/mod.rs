//! Agreements (`data_source = 'agreements'`): convênios, contratos de repasse
//! and other voluntary transfers as the Portal da Transparência's "Convênios"
//! download publishes them: `AAAAMMDD_Convenios.csv`, a cumulative snapshot of
//! every agreement with its agreed, released and counterpart values and its
//! validity. Latin-1, `;`, quoted, dd/mm/yyyy, decimal comma, upper-case
//! headers. The zip's `_OrdensBancarias.csv` (payment orders) is not read.
//!
//! No real file could be obtained: the layout is the one the Portal documents
//! and open-source readers agree on (tests/data/agreements/SOURCES.md), and the tests
//! use hand-written files in it.

pub mod api;
pub mod retrieval;
pub mod rules;

use std::io::Read;

use chrono::NaiveDate;
use serde_json::{json, Value};

use super::portal::{self, PortalRecord, Reason, RowError};
use crate::analysis::Records;
use crate::domain::text::fold;
use crate::sources::load::{b, Row};

/// One row of `AAAAMMDD_Convenios.csv`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Agreement {
    /// `NÚMERO CONVÊNIO`: the SIAFI number, unique.
    pub numero: String,
    pub uf: Option<String>,
    pub codigo_municipio: Option<String>,
    pub municipio: Option<String>,
    pub situacao: Option<String>,
    pub numero_original: Option<String>,
    pub numero_processo: Option<String>,
    pub objeto: String,
    pub codigo_orgao_superior: Option<String>,
    pub nome_orgao_superior: Option<String>,
    /// The granting organ (concedente).
    pub codigo_orgao: Option<String>,
    pub nome_orgao: Option<String>,
    pub codigo_ug: Option<String>,
    pub nome_ug: Option<String>,
    /// The recipient (convenente): CNPJ, or a code.
    pub codigo_convenente: Option<String>,
    pub tipo_convenente: Option<String>,
    pub nome_convenente: Option<String>,
    pub tipo_ente_convenente: Option<String>,
    pub tipo_instrumento: Option<String>,
    pub valor: Option<f64>,
    pub valor_liberado: Option<f64>,
    pub data_publicacao: Option<NaiveDate>,
    pub data_inicio_vigencia: Option<NaiveDate>,
    pub data_fim_vigencia: Option<NaiveDate>,
    pub valor_contrapartida: Option<f64>,
    pub data_ultima_liberacao: Option<NaiveDate>,
    pub valor_ultima_liberacao: Option<f64>,
}

impl PortalRecord for Agreement {
    const COLUMNS: &'static [&'static str] = &[
        "NÚMERO CONVÊNIO",
        "UF",
        "CÓDIGO SIAFI MUNICÍPIO",
        "NOME MUNICÍPIO",
        "SITUAÇÃO CONVÊNIO",
        "NÚMERO ORIGINAL",
        "NÚMERO PROCESSO DO CONVÊNIO",
        "OBJETO DO CONVÊNIO",
        "CÓDIGO ÓRGÃO SUPERIOR",
        "NOME ÓRGÃO SUPERIOR",
        "CÓDIGO ÓRGÃO CONCEDENTE",
        "NOME ÓRGÃO CONCEDENTE",
        "CÓDIGO UG CONCEDENTE",
        "NOME UG CONCEDENTE",
        "CÓDIGO CONVENENTE",
        "TIPO CONVENENTE",
        "NOME CONVENENTE",
        "TIPO ENTE CONVENENTE",
        "TIPO INSTRUMENTO",
        "VALOR CONVÊNIO",
        "VALOR LIBERADO",
        "DATA PUBLICAÇÃO",
        "DATA INÍCIO VIGÊNCIA",
        "DATA FINAL VIGÊNCIA",
        "VALOR CONTRAPARTIDA",
        "DATA ÚLTIMA LIBERAÇÃO",
        "VALOR ÚLTIMA LIBERAÇÃO",
    ];

    fn from_row(row: &portal::Row<'_>) -> Result<Self, Reason> {
        Ok(Agreement {
            numero: row.required("NÚMERO CONVÊNIO")?,
            uf: row.optional("UF")?,
            codigo_municipio: row.optional("CÓDIGO SIAFI MUNICÍPIO")?,
            municipio: row.optional("NOME MUNICÍPIO")?,
            situacao: row.optional("SITUAÇÃO CONVÊNIO")?,
            numero_original: row.optional("NÚMERO ORIGINAL")?,
            numero_processo: row.optional("NÚMERO PROCESSO DO CONVÊNIO")?,
            objeto: row.text("OBJETO DO CONVÊNIO")?,
            codigo_orgao_superior: row.optional("CÓDIGO ÓRGÃO SUPERIOR")?,
            nome_orgao_superior: row.optional("NOME ÓRGÃO SUPERIOR")?,
            codigo_orgao: row.optional("CÓDIGO ÓRGÃO CONCEDENTE")?,
            nome_orgao: row.optional("NOME ÓRGÃO CONCEDENTE")?,
            codigo_ug: row.optional("CÓDIGO UG CONCEDENTE")?,
            nome_ug: row.optional("NOME UG CONCEDENTE")?,
            codigo_convenente: row.optional("CÓDIGO CONVENENTE")?,
            tipo_convenente: row.optional("TIPO CONVENENTE")?,
            nome_convenente: row.optional("NOME CONVENENTE")?,
            tipo_ente_convenente: row.optional("TIPO ENTE CONVENENTE")?,
            tipo_instrumento: row.optional("TIPO INSTRUMENTO")?,
            valor: row.decimal("VALOR CONVÊNIO")?,
            valor_liberado: row.decimal("VALOR LIBERADO")?,
            data_publicacao: row.optional_date("DATA PUBLICAÇÃO")?,
            data_inicio_vigencia: row.optional_date("DATA INÍCIO VIGÊNCIA")?,
            data_fim_vigencia: row.optional_date("DATA FINAL VIGÊNCIA")?,
            valor_contrapartida: row.decimal("VALOR CONTRAPARTIDA")?,
            data_ultima_liberacao: row.optional_date("DATA ÚLTIMA LIBERAÇÃO")?,
            valor_ultima_liberacao: row.decimal("VALOR ÚLTIMA LIBERAÇÃO")?,
        })
    }
}

pub fn read_agreements<R: Read>(
    reader: R,
    file: &str,
) -> Result<portal::Records<R, Agreement>, RowError> {
    portal::Records::new(reader, file)
}

/// What an agreements investigation read.
#[derive(Debug, Clone, Default)]
pub struct Agreements {
    pub agreements: Vec<Agreement>,
}

impl Records for Agreements {
    fn count(&self) -> usize {
        self.agreements.len()
    }

    fn key(&self, index: usize) -> Option<&str> {
        self.agreements.get(index).map(|a| a.numero.as_str())
    }

    fn listed(&self, index: usize) -> Option<Value> {
        let a = self.agreements.get(index)?;
        Some(json!({
            "id": a.numero,
            "numero": a.numero,
            "objeto": a.objeto,
            "situacao": a.situacao,
            "tipo_instrumento": a.tipo_instrumento,
            "orgao_concedente": a.nome_orgao,
            "convenente": a.nome_convenente,
            "codigo_convenente": a.codigo_convenente,
            "municipio": a.municipio,
            "uf": a.uf,
            "valor": a.valor,
            "valor_liberado": a.valor_liberado,
            "data_inicio_vigencia": a.data_inicio_vigencia,
            "data_fim_vigencia": a.data_fim_vigencia,
            "data_ultima_liberacao": a.data_ultima_liberacao,
        }))
    }
}

pub(crate) fn agreement_values(a: &Agreement, file: &str, line: i32) -> Row {
    vec![
        b(a.numero.clone()),
        b(file.to_string()),
        b(line),
        b(a.uf.clone()),
        b(a.codigo_municipio.clone()),
        b(a.municipio.clone()),
        b(a.situacao.clone()),
        b(a.numero_original.clone()),
        b(a.numero_processo.clone()),
        b(a.objeto.clone()),
        b(fold(&a.objeto)),
        b(a.codigo_orgao_superior.clone()),
        b(a.nome_orgao_superior.clone()),
        b(a.codigo_orgao.clone()),
        b(a.nome_orgao.clone()),
        b(a.codigo_ug.clone()),
        b(a.nome_ug.clone()),
        b(a.codigo_convenente.clone()),
        b(a.tipo_convenente.clone()),
        b(a.nome_convenente.clone()),
        b(a.tipo_ente_convenente.clone()),
        b(a.tipo_instrumento.clone()),
        b(a.valor),
        b(a.valor_liberado),
        b(a.data_publicacao),
        b(a.data_inicio_vigencia),
        b(a.data_fim_vigencia),
        b(a.valor_contrapartida),
        b(a.data_ultima_liberacao),
        b(a.valor_ultima_liberacao),
    ]
}
