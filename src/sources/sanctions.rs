//! Sanctions lists (CNEP, CEIS) as the Portal da Transparência's search serves
//! them: a DataTables payload `{"data": [...], "recordsTotal": N}` whose records
//! carry `skSancao`, `cadastro`, `cpfCnpj`, `categoriaSancao`, `orgao`,
//! `dataPublicacao` (`dd/mm/aaaa` or "Sem informação") and `valorMulta`
//! (`661.543,09` or "Não se aplica"); see data/sanctions/SOURCES.md.
//!
//! `fiscal import` recognises such a file by its shape, whatever its name.

use chrono::NaiveDate;
use serde::Deserialize;

use super::portal::{Reason, RowError};
use crate::sources::load::{b, Row};

#[derive(Debug, Clone, PartialEq)]
pub struct Sanction {
    /// `skSancao`: the Portal's id of the penalty, unique within its registry.
    pub id: i64,
    /// "CNEP" or "CEIS".
    pub registry: String,
    /// Digits of `cpfCnpj`: a CNPJ, a CPF, or a short code the list also holds.
    pub document: String,
    pub name: String,
    pub uf: Option<String>,
    pub category: String,
    /// The sanctioning body.
    pub body: String,
    /// Unknown ("Sem informação") is `None`.
    pub published: Option<NaiveDate>,
    /// Reais; `None` for penalties that are not fines.
    pub fine: Option<f64>,
    pub link: Option<String>,
}

#[derive(Deserialize)]
struct Payload {
    data: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Raw {
    sk_sancao: i64,
    cadastro: String,
    cpf_cnpj: String,
    nome_sancionado: String,
    uf_sancionado: Option<String>,
    categoria_sancao: String,
    orgao: String,
    data_publicacao: Option<String>,
    valor_multa: Option<String>,
    link_detalhamento: Option<String>,
}

/// Whether these bytes are a sanctions payload: a JSON object whose `data`
/// records name their `cadastro`. Cheap enough to try before the CSV readers.
pub fn looks_like(bytes: &[u8]) -> bool {
    let start = bytes.iter().position(|b| !b.is_ascii_whitespace());
    if start.map_or(true, |i| bytes[i] != b'{') {
        return false;
    }
    let head = &bytes[..bytes.len().min(4096)];
    let head = String::from_utf8_lossy(head);
    head.contains("\"data\"") && head.contains("\"cadastro\"") && head.contains("\"skSancao\"")
}

fn text(value: Option<String>) -> Option<String> {
    value
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty() && !crate::domain::text::fold(v).starts_with("sem informa"))
}

/// "661.543,09" → 661543.09; "Não se aplica" → None.
fn money(value: Option<String>, line: u64, file: &str) -> Result<Option<f64>, RowError> {
    let Some(v) = text(value) else {
        return Ok(None);
    };
    if crate::domain::text::fold(&v).contains("nao se aplica") {
        return Ok(None);
    }
    v.replace('.', "")
        .replace(',', ".")
        .parse::<f64>()
        .ok()
        .filter(|x| x.is_finite() && *x >= 0.0)
        .map(Some)
        .ok_or_else(|| RowError {
            file: file.to_string(),
            line,
            reason: Reason::BadNumber {
                column: "valorMulta",
                value: v,
            },
        })
}

fn date(value: Option<String>, line: u64, file: &str) -> Result<Option<NaiveDate>, RowError> {
    let Some(v) = text(value) else {
        return Ok(None);
    };
    NaiveDate::parse_from_str(&v, "%d/%m/%Y")
        .map(Some)
        .map_err(|_| RowError {
            file: file.to_string(),
            line,
            reason: Reason::BadDate {
                column: "dataPublicacao",
                value: v,
            },
        })
}

fn convert(value: serde_json::Value, line: u64, file: &str) -> Result<Sanction, RowError> {
    let bad = |column: &'static str| RowError {
        file: file.to_string(),
        line,
        reason: Reason::Missing { column },
    };
    let raw: Raw = serde_json::from_value(value).map_err(|_| bad("skSancao"))?;
    let document: String = raw.cpf_cnpj.chars().filter(char::is_ascii_digit).collect();
    if document.is_empty() {
        return Err(bad("cpfCnpj"));
    }
    let registry = raw.cadastro.trim().to_uppercase();
    if registry.is_empty() {
        return Err(bad("cadastro"));
    }
    Ok(Sanction {
        id: raw.sk_sancao,
        registry,
        document,
        name: raw.nome_sancionado.trim().to_string(),
        uf: text(raw.uf_sancionado),
        category: raw.categoria_sancao.trim().to_string(),
        body: raw.orgao.trim().to_string(),
        published: date(raw.data_publicacao, line, file)?,
        fine: money(raw.valor_multa, line, file)?,
        link: text(raw.link_detalhamento),
    })
}

/// The records of a payload, each read or refused on its own; the line of a
/// record is its position in `data`, from 1.
pub fn read(bytes: &[u8], file: &str) -> Result<Vec<Result<Sanction, RowError>>, RowError> {
    let payload: Payload = serde_json::from_slice(bytes).map_err(|e| RowError {
        file: file.to_string(),
        line: e.line() as u64,
        reason: Reason::Io(format!("not a sanctions list: {e}")),
    })?;
    Ok(payload
        .data
        .into_iter()
        .enumerate()
        .map(|(i, v)| convert(v, i as u64 + 1, file))
        .collect())
}

pub(crate) fn sanction_values(s: &Sanction, file: &str, line: i32) -> Row {
    vec![
        b(s.registry.clone()),
        b(s.id),
        b(file.to_string()),
        b(line),
        b(s.document.clone()),
        b(s.name.clone()),
        b(s.uf.clone()),
        b(s.category.clone()),
        b(s.body.clone()),
        b(s.published),
        b(s.fine),
        b(s.link.clone()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "cnep_portal_sancoes_consulta_2023-10.json";

    fn real() -> Vec<u8> {
        let path = crate::sources::shipped::data_path("sanctions").join(FILE);
        std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    #[test]
    fn the_real_cnep_list_reads_whole_with_its_sentinels_as_unknowns() {
        let bytes = real();
        assert!(looks_like(&bytes));
        let records = read(&bytes, FILE).expect("a payload");
        assert_eq!(records.len(), 850);
        let ok: Vec<&Sanction> = records.iter().filter_map(|r| r.as_ref().ok()).collect();
        assert_eq!(ok.len(), 850, "no record refused");
        assert!(ok.iter().all(|s| s.registry == "CNEP"));
        assert_eq!(ok.iter().filter(|s| s.published.is_none()).count(), 43);
        assert_eq!(ok.iter().filter(|s| s.fine.is_none()).count(), 361);
        let first = ok.iter().find(|s| s.id == 281415).expect("record 281415");
        assert_eq!(first.document, "31751386000105");
        assert_eq!(first.fine, Some(661_543.09));
        assert_eq!(first.published, NaiveDate::from_ymd_opt(2023, 3, 23));
        assert_eq!(first.body, "Petróleo Brasileiro S.A.");
    }

    #[test]
    fn contracts_and_other_json_are_not_taken_for_sanctions() {
        assert!(!looks_like(b"\"N\xfamero do Contrato\";\"Objeto\""));
        assert!(!looks_like(br#"{"data": [{"id": 1}]}"#));
        assert!(!looks_like(b""));
    }

    #[test]
    fn a_bad_record_is_refused_alone() {
        let bytes = r#"{"data": [
            {"skSancao": 1, "cadastro": "CNEP", "cpfCnpj": "27.602.332/0001-00",
             "nomeSancionado": "A", "categoriaSancao": "Multa", "orgao": "X",
             "dataPublicacao": "31/02/2020", "valorMulta": "1,00"},
            {"skSancao": 2, "cadastro": "CNEP", "cpfCnpj": "27.602.332/0001-00",
             "nomeSancionado": "A", "categoriaSancao": "Multa", "orgao": "X",
             "dataPublicacao": "Sem informação", "valorMulta": "Não se aplica"}
        ]}"#;
        let records = read(bytes.as_bytes(), "x.json").expect("a payload");
        assert!(matches!(
            &records[0],
            Err(RowError {
                line: 1,
                reason: Reason::BadDate { .. },
                ..
            })
        ));
        let second = records[1].as_ref().expect("read");
        assert_eq!((second.published, second.fine), (None, None));
    }
}
