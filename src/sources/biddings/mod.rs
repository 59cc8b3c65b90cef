//! Biddings (`data_source = 'biddings'`): federal licitações as the Portal da
//! Transparência's monthly "Licitações" download publishes them. The zip holds
//! `AAAAMM_Licitação.csv` (one row per bidding), `AAAAMM_ParticipantesLicitação.csv`
//! (one row per participant and item, with `Flag Vencedor`),
//! `AAAAMM_ItemLicitação.csv` and `AAAAMM_EmpenhosRelacionados.csv`; fiscal
//! reads the first two. Latin-1, `;`, quoted, dd/mm/yyyy, decimal comma, like
//! the Compras files. Member names are stored in CP850 without the UTF-8 flag,
//! so they are matched by their ASCII part.
//!
//! No real file could be obtained: the layout is the one the Portal documents
//! and open-source readers agree on (data/biddings/SOURCES.md), and the tests
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

/// One row of `AAAAMM_Licitação.csv`.
#[derive(Debug, Clone, PartialEq)]
pub struct Bidding {
    pub numero: String,
    pub codigo_ug: String,
    pub nome_ug: String,
    pub codigo_modalidade: String,
    pub modalidade: Option<String>,
    pub numero_processo: Option<String>,
    pub objeto: String,
    pub situacao: Option<String>,
    pub codigo_orgao_superior: Option<String>,
    pub nome_orgao_superior: String,
    pub codigo_orgao: Option<String>,
    pub nome_orgao: String,
    pub uf: Option<String>,
    pub municipio: Option<String>,
    pub data_resultado: Option<NaiveDate>,
    pub data_abertura: Option<NaiveDate>,
    /// Reais: the bidding's estimated or awarded value, as published.
    pub valor: Option<f64>,
}

/// The identity of a bidding: UG, number and modality code.
pub fn bidding_id(codigo_ug: &str, numero: &str, codigo_modalidade: &str) -> String {
    format!("{codigo_ug}/{numero}/{codigo_modalidade}")
}

/// A modality code as the Compras files write it ("5", "-99"): readers of the
/// Licitações files show it zero-padded ("05"), and the API only names the
/// modality, so a bidding is keyed alike from each.
fn modality(code: String) -> String {
    let trimmed = code.trim_start_matches('0');
    if !trimmed.is_empty() && code.bytes().all(|b| b.is_ascii_digit()) {
        trimmed.to_string()
    } else {
        code
    }
}

impl PortalRecord for Bidding {
    const COLUMNS: &'static [&'static str] = &[
        "Número Licitação",
        "Código UG",
        "Nome UG",
        "Código Modalidade Compra",
        "Modalidade Compra",
        "Número Processo",
        "Objeto",
        "Situação Licitação",
        "Código Órgão Superior",
        "Nome Órgão Superior",
        "Código Órgão",
        "Nome Órgão",
        "UF",
        "Município",
        "Data Resultado Compra",
        "Data Abertura",
        "Valor Licitação",
    ];

    fn from_row(row: &portal::Row<'_>) -> Result<Self, Reason> {
        Ok(Bidding {
            numero: row.required("Número Licitação")?,
            codigo_ug: row.required("Código UG")?,
            nome_ug: row.text("Nome UG")?,
            codigo_modalidade: modality(row.required("Código Modalidade Compra")?),
            modalidade: row.optional("Modalidade Compra")?,
            numero_processo: row.optional("Número Processo")?,
            objeto: row.text("Objeto")?,
            situacao: row.optional("Situação Licitação")?,
            codigo_orgao_superior: row.optional("Código Órgão Superior")?,
            nome_orgao_superior: row.text("Nome Órgão Superior")?,
            codigo_orgao: row.optional("Código Órgão")?,
            nome_orgao: row.text("Nome Órgão")?,
            uf: row.optional("UF")?,
            municipio: row.optional("Município")?,
            data_resultado: row.optional_date("Data Resultado Compra")?,
            data_abertura: row.optional_date("Data Abertura")?,
            valor: row.decimal("Valor Licitação")?,
        })
    }
}

/// One row of `AAAAMM_ParticipantesLicitação.csv`.
#[derive(Debug, Clone, PartialEq)]
pub struct Participant {
    pub numero: String,
    pub codigo_ug: String,
    pub codigo_modalidade: String,
    pub codigo_item: Option<String>,
    pub descricao_item: Option<String>,
    /// CNPJ, CPF or the Portal's code of the participant.
    pub codigo_participante: String,
    pub nome_participante: Option<String>,
    pub vencedor: bool,
}

impl PortalRecord for Participant {
    const COLUMNS: &'static [&'static str] = &[
        "Número Licitação",
        "Código UG",
        "Código Modalidade Compra",
        "Código Item Compra",
        "Descrição Item Compra",
        "Código Participante",
        "Nome Participante",
        "Flag Vencedor",
    ];

    fn from_row(row: &portal::Row<'_>) -> Result<Self, Reason> {
        let flag = row.required("Flag Vencedor")?;
        let vencedor = match fold(&flag).as_str() {
            "sim" => true,
            "nao" => false,
            _ => {
                return Err(Reason::BadNumber {
                    column: "Flag Vencedor",
                    value: flag,
                })
            }
        };
        Ok(Participant {
            numero: row.required("Número Licitação")?,
            codigo_ug: row.required("Código UG")?,
            codigo_modalidade: modality(row.required("Código Modalidade Compra")?),
            codigo_item: row.optional("Código Item Compra")?,
            descricao_item: row.optional("Descrição Item Compra")?,
            codigo_participante: row.required("Código Participante")?,
            nome_participante: row.optional("Nome Participante")?,
            vencedor,
        })
    }
}

pub fn read_biddings<R: Read>(
    reader: R,
    file: &str,
) -> Result<portal::Records<R, Bidding>, RowError> {
    portal::Records::new(reader, file)
}

pub fn read_participants<R: Read>(
    reader: R,
    file: &str,
) -> Result<portal::Records<R, Participant>, RowError> {
    portal::Records::new(reader, file)
}

/// A participant of one bidding, as investigations read it.
#[derive(Debug, Clone, PartialEq)]
pub struct Bidder {
    pub code: String,
    pub name: Option<String>,
    /// Won at least one item.
    pub won: bool,
}

/// A bidding with its participants, as an investigation reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct Tender {
    pub id: String,
    pub numero: String,
    pub ug: (String, String),
    pub orgao: (Option<String>, String),
    pub modalidade: Option<String>,
    pub objeto: String,
    pub situacao: Option<String>,
    pub abertura: Option<NaiveDate>,
    pub valor: Option<f64>,
    /// Distinct participants, by code.
    pub bidders: Vec<Bidder>,
}

impl Tender {
    pub fn winners(&self) -> impl Iterator<Item = &Bidder> {
        self.bidders.iter().filter(|b| b.won)
    }
}

#[derive(Debug, Clone, Default)]
pub struct Tenders {
    pub tenders: Vec<Tender>,
}

impl Records for Tenders {
    fn count(&self) -> usize {
        self.tenders.len()
    }

    fn key(&self, index: usize) -> Option<&str> {
        self.tenders.get(index).map(|t| t.id.as_str())
    }

    fn listed(&self, index: usize) -> Option<Value> {
        let t = self.tenders.get(index)?;
        Some(json!({
            "id": t.id,
            "numero": t.numero,
            "unidade_gestora": format!("{} ({})", t.ug.1, t.ug.0),
            "orgao": t.orgao.1,
            "modalidade": t.modalidade,
            "objeto": t.objeto,
            "situacao": t.situacao,
            "data_abertura": t.abertura,
            "valor": t.valor,
            "participantes": t.bidders.len(),
            "vencedores": t.winners().map(|b| b.name.clone().unwrap_or_else(|| b.code.clone()))
                .collect::<Vec<_>>(),
        }))
    }
}

pub(crate) fn bidding_values(l: &Bidding, file: &str, line: i32) -> Row {
    vec![
        b(bidding_id(&l.codigo_ug, &l.numero, &l.codigo_modalidade)),
        b(file.to_string()),
        b(line),
        b(l.numero.clone()),
        b(l.codigo_ug.clone()),
        b(l.nome_ug.clone()),
        b(l.codigo_modalidade.clone()),
        b(l.modalidade.clone()),
        b(l.numero_processo.clone()),
        b(l.objeto.clone()),
        b(fold(&l.objeto)),
        b(l.situacao.clone()),
        b(l.codigo_orgao_superior.clone()),
        b(l.nome_orgao_superior.clone()),
        b(l.codigo_orgao.clone()),
        b(l.nome_orgao.clone()),
        b(l.uf.clone()),
        b(l.municipio.clone()),
        b(l.data_resultado),
        b(l.data_abertura),
        b(l.valor),
    ]
}

pub(crate) fn participant_values(p: &Participant, file: &str, line: i32) -> Row {
    let bidding = bidding_id(&p.codigo_ug, &p.numero, &p.codigo_modalidade);
    vec![
        b(format!(
            "{bidding}/{}/{}",
            p.codigo_item.as_deref().unwrap_or("-"),
            p.codigo_participante
        )),
        b(bidding),
        b(file.to_string()),
        b(line),
        b(p.codigo_item.clone()),
        b(p.descricao_item.clone()),
        b(p.codigo_participante.clone()),
        b(p.nome_participante.clone()),
        b(p.vencedor),
    ]
}
