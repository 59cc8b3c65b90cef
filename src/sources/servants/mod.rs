//! Servants (`data_source = 'servants'`): federal civil servants as the Portal
//! da Transparência API serves them (`GET /servidores`), one record per
//! servant with its "fichas": effective positions, commissioned functions,
//! retirements and pensions, of which the rules read positions and
//! retirements (the record is stored whole). No bulk file exists; the API is the source, and a
//! saved capture of it (a JSON list of records) is what `fiscal import` loads.
//! See data/servants/SOURCES.md.
//!
//! The API's sentinels are unknown values: `-1`/"Sem informação", `-2`/"Não se
//! aplica", "Inválido", empty strings. CPFs and registration numbers come
//! masked (`***.784.618-**`, `233****`). There is no remuneration:
//! `/servidores/remuneracao` refuses an ordinary key (HTTP 403).

pub mod filters;
pub mod retrieval;
pub mod rules;

use chrono::NaiveDate;
use serde_json::{json, Value};

use super::portal::{Reason, RowError};
use crate::analysis::Records;
use crate::domain::text::fold;
use crate::sources::load::{b, Row};

/// An organ of SIAPE (the federal personnel system): `45205` IBGE.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Organ {
    pub codigo: String,
    pub nome: String,
    pub sigla: Option<String>,
}

impl Organ {
    pub fn label(&self) -> String {
        match &self.sigla {
            Some(sigla) => format!("{} ({sigla}, {})", self.nome, self.codigo),
            None => format!("{} ({})", self.nome, self.codigo),
        }
    }
}

/// One effective position ("ficha de cargo efetivo").
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Position {
    pub cargo: String,
    /// "ATIVO PERMANENTE", "CONTRATO TEMPORARIO", "APOSENTADO"…
    pub situacao: String,
    pub orgao: Option<String>,
    pub forma_ingresso: Option<String>,
    pub ingresso_servico_publico: Option<NaiveDate>,
    pub ingresso_cargo: Option<NaiveDate>,
    /// "40 HORAS SEMANAIS".
    pub jornada: Option<String>,
}

impl Position {
    pub fn is_active(&self) -> bool {
        fold(&self.situacao).starts_with("ativo")
    }
}

/// One retirement ("ficha de aposentadoria").
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Retirement {
    pub cargo: String,
    pub orgao: Option<String>,
    pub tipo: Option<String>,
    pub data: Option<NaiveDate>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Servant {
    /// `servidor.id`: the Portal's id of this record.
    pub id: i64,
    /// `servidor/ID`, what results cite.
    pub key: String,
    pub nome: String,
    /// Masked by the Portal.
    pub cpf: Option<String>,
    pub matricula: Option<String>,
    pub exercicio: Organ,
    pub lotacao: Organ,
    pub positions: Vec<Position>,
    pub retirements: Vec<Retirement>,
}

/// Text the API means as a value: sentinels and blanks are `None`.
fn known(value: Option<&Value>) -> Option<String> {
    let text = match value? {
        Value::String(s) => s.trim().to_string(),
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    let folded = fold(&text);
    let sentinel = text.is_empty()
        || text == "-1"
        || text == "-2"
        || folded.starts_with("sem informacao")
        || folded.starts_with("nao se aplica")
        || folded == "invalido";
    (!sentinel).then_some(text)
}

fn date(value: Option<&Value>) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(&known(value)?, "%d/%m/%Y").ok()
}

fn organ(value: Option<&Value>) -> Organ {
    let get = |k: &str| known(value.and_then(|v| v.get(k)));
    Organ {
        codigo: get("codigo").unwrap_or_default(),
        nome: get("nome").unwrap_or_default(),
        sigla: get("sigla"),
    }
}

fn fichas<'a>(record: &'a Value, key: &str) -> impl Iterator<Item = &'a Value> {
    record
        .get(key)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

impl Servant {
    /// Reads one `/servidores` record. A record without an id, a name or an
    /// exercise organ cannot be cited or selected: `Err` names what is missing.
    pub fn from_record(record: &Value) -> Result<Servant, &'static str> {
        let servidor = record.get("servidor").ok_or("servidor")?;
        let id = servidor
            .get("id")
            .and_then(Value::as_i64)
            .ok_or("servidor.id")?;
        let pessoa = servidor.get("pessoa");
        let nome = known(pessoa.and_then(|p| p.get("nome"))).ok_or("servidor.pessoa.nome")?;
        let exercicio = organ(servidor.get("orgaoServidorExercicio"));
        if exercicio.codigo.is_empty() {
            return Err("servidor.orgaoServidorExercicio.codigo");
        }
        let text = |f: &Value, k: &str| known(f.get(k));
        Ok(Servant {
            id,
            key: format!("servidor/{id}"),
            nome,
            cpf: known(pessoa.and_then(|p| p.get("cpfFormatado"))),
            matricula: known(servidor.get("codigoMatriculaFormatado")),
            exercicio,
            lotacao: organ(servidor.get("orgaoServidorLotacao")),
            positions: fichas(record, "fichasCargoEfetivo")
                .map(|f| Position {
                    cargo: text(f, "cargo").unwrap_or_default(),
                    situacao: text(f, "situacaoServidor").unwrap_or_default(),
                    orgao: text(f, "orgaoLotacao"),
                    forma_ingresso: text(f, "formaIngresso"),
                    ingresso_servico_publico: date(f.get("dataIngressoServicoPublico")),
                    ingresso_cargo: date(f.get("dataIngressoCargo")),
                    jornada: text(f, "jornadaTrabalho"),
                })
                .collect(),
            retirements: fichas(record, "fichasAposentadoria")
                .map(|f| Retirement {
                    cargo: text(f, "cargo").unwrap_or_default(),
                    orgao: text(f, "orgaoLotacao"),
                    tipo: text(f, "tipoAposentadoria"),
                    data: date(f.get("dataAposentadoria")),
                })
                .collect(),
        })
    }
}

/// Whether these bytes are a saved `/servidores` capture: a JSON list whose
/// records hold `servidor` and `fichasCargoEfetivo`.
pub fn looks_like(bytes: &[u8]) -> bool {
    let start = bytes.iter().position(|b| !b.is_ascii_whitespace());
    if start.map_or(true, |i| bytes[i] != b'[') {
        return false;
    }
    let head = String::from_utf8_lossy(&bytes[..bytes.len().min(8192)]);
    head.contains("\"servidor\"") && head.contains("\"fichasCargoEfetivo\"")
}

/// A servant as read, with the record it was read from (what the table keeps).
pub type Captured = (Servant, Value);

/// The records of a capture, each read or refused with its position.
pub fn read(bytes: &[u8], file: &str) -> Result<Vec<Result<Captured, RowError>>, RowError> {
    let records: Vec<Value> = serde_json::from_slice(bytes).map_err(|e| RowError {
        file: file.to_string(),
        line: 1,
        reason: Reason::Io(format!("not a JSON list of /servidores records: {e}")),
    })?;
    Ok(records
        .into_iter()
        .enumerate()
        .map(|(i, record)| {
            Servant::from_record(&record)
                .map(|s| (s, record))
                .map_err(|column| RowError {
                    file: file.to_string(),
                    line: i as u64 + 1,
                    reason: Reason::Missing { column },
                })
        })
        .collect())
}

/// What a servants investigation read.
#[derive(Debug, Clone, Default)]
pub struct Staff {
    pub servants: Vec<Servant>,
}

impl Records for Staff {
    fn count(&self) -> usize {
        self.servants.len()
    }

    fn key(&self, index: usize) -> Option<&str> {
        self.servants.get(index).map(|s| s.key.as_str())
    }

    fn listed(&self, index: usize) -> Option<Value> {
        let s = self.servants.get(index)?;
        Some(json!({
            "id": s.key,
            "nome": s.nome,
            "cpf": s.cpf,
            "matricula": s.matricula,
            "orgao_exercicio": s.exercicio.label(),
            "orgao_lotacao": s.lotacao.label(),
            "cargos": s.positions.iter().map(|p| json!({
                "cargo": p.cargo, "situacao": p.situacao,
            })).collect::<Vec<_>>(),
            "aposentadorias": s.retirements.len(),
        }))
    }
}

pub(crate) fn servant_values(r: &Captured, file: &str) -> Row {
    let (s, record) = r;
    vec![
        b(s.id),
        b(s.exercicio.codigo.clone()),
        b(s.lotacao.codigo.clone()),
        b(s.nome.clone()),
        b(record.clone()),
        b(file.to_string()),
    ]
}
