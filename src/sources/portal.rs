//! Portal da Transparência "Compras" bulk files (`AAAAMM_Compras.csv`,
//! `AAAAMM_TermoAditivo.csv`, `AAAAMM_ItemCompra.csv`) parsed into typed records.
//!
//! Invariants a caller can rely on:
//! - One bad row never stops a file. Each row yields its own `Result`; a
//!   [`RowError`] names the file, the 1-based line (the header is line 1) and why.
//!   Only a header problem (missing column, empty file) or an I/O error ends a read.
//! - Columns are found by header name, not position; extra columns are ignored.
//! - "Unknown" is `None`, never zero or an empty string: the sentinels the Portal
//!   writes (`-3`, `-2`, `-11`, `Sem Informação`, `Inválido`, `Sigiloso`, empty) in an
//!   optional field become `None`. Real zeros (`0,0000`) stay `Some(0.0)`.
//! - Every value is trimmed (1,832 `Nome Órgão` values carry trailing blanks).
//!
//! Encoding. The Portal writes ISO-8859-1. We decode it byte for byte (byte `b`
//! is `U+00bb`), deliberately not with `encoding_rs`: its "ISO-8859-1" is
//! windows-1252, which would turn the bytes 0x80–0x9F into `€`, `‚`, ... The real
//! amendments file holds 101 such bytes, and they are not windows-1252 text: 0x80
//! stands where a space belongs (`R$\x80 28.207,72`) and 0x82 where `É` was
//! (`AT\x82 O DIA`, a CP850 leftover). ISO-8859-1 maps them to invisible C1
//! controls; we turn those into spaces so word search still works.
//! A file is read as UTF-8 instead when it starts with a UTF-8 BOM, or when its
//! header row is valid UTF-8 and holds a non-ASCII byte (an accented header such as
//! `Número` in Latin-1 is `N\xFAmero`, never valid UTF-8). In a UTF-8 file, a row
//! that is not valid UTF-8 is a row error.
//!
//! Money is `Option<f64>` reais: the nearest `f64` to the written decimal (Rust's
//! parser rounds correctly), not rounded to centavos. Printed back with 4 decimals
//! it gives the written value for any amount below 2^39 ≈ 5.5×10^11 reais (the
//! largest real one is 3.3×10^11). Round sums to centavos at the end, not per value.

use std::fmt;
use std::io::{self, Read};
use std::marker::PhantomData;

use chrono::{Datelike, NaiveDate};
use csv::ByteRecord;

/// How a supplier (`Código Contratado`) is identified.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SupplierId {
    /// 14 digits: a company.
    Cnpj(String),
    /// 11 digits: a person.
    Cpf(String),
    /// Anything else the Portal writes: foreign suppliers (`ESTRANG0000000`,
    /// `EX1133921`), 6-digit UG codes of public bodies, 9-digit fragments.
    Other(String),
}

impl SupplierId {
    /// Classifies a code by its shape. A masked CNPJ/CPF (`12.345.678/0001-90`)
    /// is unmasked first; check digits are not verified (all real ones are valid).
    pub fn classify(code: &str) -> SupplierId {
        let masked = code
            .bytes()
            .all(|b| b.is_ascii_digit() || b"./-".contains(&b));
        let digits: String = code.chars().filter(char::is_ascii_digit).collect();
        match (masked, digits.len()) {
            (true, 14) => SupplierId::Cnpj(digits),
            (true, 11) => SupplierId::Cpf(digits),
            _ => SupplierId::Other(code.to_string()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            SupplierId::Cnpj(s) | SupplierId::Cpf(s) | SupplierId::Other(s) => s,
        }
    }
}

impl fmt::Display for SupplierId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One row of `AAAAMM_Compras.csv`: a contract as published that month. The same
/// contract can appear in several rows (republications, and one row per subsystem
/// on the same day), so see [`Contract::key`] before using any field as a key.
#[derive(Debug, Clone, PartialEq)]
pub struct Contract {
    pub numero: String,
    /// `Objeto` without its leading `Objeto: ` (any case). Classified contracts
    /// carry the Portal's "Informação protegida por sigilo ..." text here.
    pub objeto: String,
    pub fundamento_legal: Option<String>,
    /// `Sem Informação` is `None`.
    pub modalidade_compra: Option<String>,
    /// Mostly `Não se aplica`, kept as written: it is a state, not an unknown.
    pub situacao: Option<String>,
    pub codigo_orgao_superior: String,
    pub nome_orgao_superior: String,
    pub codigo_orgao: String,
    pub nome_orgao: String,
    pub codigo_ug: String,
    pub nome_ug: String,
    pub data_assinatura: NaiveDate,
    pub data_publicacao_dou: Option<NaiveDate>,
    pub data_inicio_vigencia: Option<NaiveDate>,
    pub data_fim_vigencia: Option<NaiveDate>,
    /// `None` for a classified supplier (code `-11`, name `Sigiloso`).
    pub fornecedor: Option<SupplierId>,
    pub nome_fornecedor: Option<String>,
    pub valor_inicial: Option<f64>,
    pub valor_final: Option<f64>,
    /// `-3` and `-2` (no bidding recorded) are `None`.
    pub numero_licitacao: Option<String>,
    pub codigo_ug_licitacao: Option<String>,
    pub nome_ug_licitacao: Option<String>,
    /// Kept as written, including `-99` and `-97`: in the real data these are the
    /// codes of "Pregão - Registro de Preço" and "Concorrência - Registro de Preço"
    /// (always with that name), not unknowns. Only an empty cell is `None`.
    pub codigo_modalidade_licitacao: Option<String>,
    pub modalidade_licitacao: Option<String>,
}

impl Contract {
    /// A stable key, unique per distinct record: the natural key (number, UG,
    /// superior body, signature date, supplier code, initial value) followed by a
    /// 64-bit FNV-1a digest of every field. The digest is needed because the natural
    /// key repeats for different rows in the real file (142 rows over 2021–2022: the
    /// same contract published the same day as `Publicado` and as `Não se aplica`
    /// with different text, or republished with a new end date or final value).
    /// Two rows share a key only if they parse to equal records. The format and the
    /// hash are fixed: keys may be stored, so a test pins a literal key.
    pub fn key(&self) -> String {
        let mut h = Fnv::new();
        h.text(&self.numero);
        h.text(&self.objeto);
        h.opt_text(self.fundamento_legal.as_deref());
        h.opt_text(self.modalidade_compra.as_deref());
        h.opt_text(self.situacao.as_deref());
        h.text(&self.codigo_orgao_superior);
        h.text(&self.nome_orgao_superior);
        h.text(&self.codigo_orgao);
        h.text(&self.nome_orgao);
        h.text(&self.codigo_ug);
        h.text(&self.nome_ug);
        h.date(Some(self.data_assinatura));
        h.date(self.data_publicacao_dou);
        h.date(self.data_inicio_vigencia);
        h.date(self.data_fim_vigencia);
        // The variant matters: "Other" could in principle hold 14 digits' worth.
        h.opt_text(self.fornecedor.as_ref().map(|s| match s {
            SupplierId::Cnpj(_) => "J",
            SupplierId::Cpf(_) => "F",
            SupplierId::Other(_) => "O",
        }));
        h.opt_text(self.fornecedor.as_ref().map(SupplierId::as_str));
        h.opt_text(self.nome_fornecedor.as_deref());
        h.money(self.valor_inicial);
        h.money(self.valor_final);
        h.opt_text(self.numero_licitacao.as_deref());
        h.opt_text(self.codigo_ug_licitacao.as_deref());
        h.opt_text(self.nome_ug_licitacao.as_deref());
        h.opt_text(self.codigo_modalidade_licitacao.as_deref());
        h.opt_text(self.modalidade_licitacao.as_deref());
        format!(
            "{}|{}|{}|{}|{}|{}|{:016x}",
            self.numero,
            self.codigo_ug,
            self.codigo_orgao_superior,
            self.data_assinatura.format("%Y-%m-%d"),
            self.fornecedor.as_ref().map_or("", SupplierId::as_str),
            self.valor_inicial
                .map(|v| format!("{v:.4}"))
                .unwrap_or_default(),
            h.finish()
        )
    }
}

/// One row of `AAAAMM_TermoAditivo.csv`. Links to its contract by
/// (`numero_contrato`, `codigo_ug`).
#[derive(Debug, Clone, PartialEq)]
pub struct Amendment {
    pub numero_contrato: String,
    pub codigo_orgao_superior: String,
    pub nome_orgao_superior: String,
    pub codigo_orgao: String,
    pub nome_orgao: String,
    pub codigo_ug: String,
    pub nome_ug: String,
    pub numero_termo_aditivo: String,
    /// Not always inside the month of the file it came from.
    pub data_publicacao: Option<NaiveDate>,
    /// `Objeto` without its leading `Objetivo: ` (the Portal's word here).
    pub objeto: String,
}

/// One row of `AAAAMM_ItemCompra.csv`.
#[derive(Debug, Clone, PartialEq)]
pub struct ContractItem {
    pub codigo_orgao: String,
    pub nome_orgao: String,
    pub codigo_ug: String,
    pub nome_ug: String,
    /// As written; the Portal writes `0` for some rows whose contract it lost.
    pub numero_contrato: String,
    /// `0` (paired with `Inválido` descriptions) is `None`.
    pub codigo_item: Option<String>,
    pub descricao: Option<String>,
    pub descricao_complementar: Option<String>,
    pub quantidade: Option<f64>,
    /// Reais, as written in `Valor Item`.
    pub valor: Option<f64>,
}

/// A row (or the header, line 1) that could not be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{file}:{line}: {reason}")]
pub struct RowError {
    pub file: String,
    /// 1-based; the header is line 1. For an I/O error, the line reached.
    pub line: u64,
    pub reason: Reason,
}

/// Why a row could not be read. Column names are the header's, as documented.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Reason {
    #[error("the file is empty: no header row")]
    NoHeader,
    #[error("the header has no column \"{column}\"")]
    MissingColumn { column: &'static str },
    #[error("expected {expected} fields as in the header, found {found}")]
    WrongFieldCount { expected: usize, found: usize },
    #[error("column \"{column}\" is not valid UTF-8 (the file was read as UTF-8)")]
    InvalidUtf8 { column: &'static str },
    #[error("column \"{column}\" is empty but required")]
    Missing { column: &'static str },
    #[error("column \"{column}\": unparseable date {value:?} (expected dd/mm/yyyy)")]
    BadDate { column: &'static str, value: String },
    #[error("column \"{column}\": unparseable number {value:?} (expected e.g. 1234,56)")]
    BadNumber { column: &'static str, value: String },
    #[error("read failed: {0}")]
    Io(String),
}

/// How the bytes of a file were decoded; see the module docs for the rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextEncoding {
    Latin1,
    Utf8,
}

/// A record type read from one of the Portal's files.
pub trait PortalRecord: Sized {
    /// The header columns the record needs, as the Portal spells them.
    const COLUMNS: &'static [&'static str];
    /// Builds a record from one row whose field count matches the header.
    fn from_row(row: &Row<'_>) -> Result<Self, Reason>;
}

/// Reads `AAAAMM_Compras.csv`. `file` names the source in errors.
pub fn read_contracts<R: Read>(reader: R, file: &str) -> Result<Records<R, Contract>, RowError> {
    Records::new(reader, file)
}

/// Reads `AAAAMM_TermoAditivo.csv`. `file` names the source in errors.
pub fn read_amendments<R: Read>(reader: R, file: &str) -> Result<Records<R, Amendment>, RowError> {
    Records::new(reader, file)
}

/// Reads `AAAAMM_ItemCompra.csv`. `file` names the source in errors.
pub fn read_items<R: Read>(reader: R, file: &str) -> Result<Records<R, ContractItem>, RowError> {
    Records::new(reader, file)
}

type Source<R> = io::Chain<io::Cursor<Vec<u8>>, R>;

/// An iterator of one `Result` per data row. Ends after an I/O error.
pub struct Records<R, T> {
    csv: csv::Reader<Source<R>>,
    file: String,
    encoding: TextEncoding,
    header_len: usize,
    /// For each of `T::COLUMNS`, its position in the file's header.
    positions: Vec<usize>,
    record: ByteRecord,
    done: bool,
    _record_type: PhantomData<T>,
}

impl<R: Read, T: PortalRecord> Records<R, T> {
    /// Reads and checks the header.
    pub fn new(mut reader: R, file: &str) -> Result<Self, RowError> {
        let error = |line: u64, reason: Reason| RowError {
            file: file.to_string(),
            line,
            reason,
        };
        // The BOM is removed before the CSV parser sees it: otherwise the first
        // field would not start with its quote and would keep the quotes.
        let (head, had_bom) =
            read_bom(&mut reader).map_err(|e| error(1, Reason::Io(e.to_string())))?;
        let mut csv = csv::ReaderBuilder::new()
            .delimiter(b';')
            .has_headers(false)
            .flexible(true) // a wrong field count is a row error, not the end
            // Records end at LF only, so the CR of a CRLF file stays at the end of
            // the last field, where trimming removes it. With csv's default CRLF
            // handling a record stops at the CR and the LF is counted with the
            // next record, which puts every line number of a CRLF file one short.
            .terminator(csv::Terminator::Any(b'\n'))
            .from_reader(io::Cursor::new(head).chain(reader));
        let mut header = ByteRecord::new();
        match csv.read_byte_record(&mut header) {
            Ok(true) => {}
            Ok(false) => return Err(error(1, Reason::NoHeader)),
            Err(e) => return Err(error(1, Reason::Io(e.to_string()))),
        }
        let encoding = if had_bom || is_utf8_text(header.as_slice()) {
            TextEncoding::Utf8
        } else {
            TextEncoding::Latin1
        };
        let names: Vec<String> = header
            .iter()
            .map(|h| fold(&decode(h, encoding).unwrap_or_default()))
            .collect();
        let positions = T::COLUMNS
            .iter()
            .map(|&column| {
                let wanted = fold(column);
                names
                    .iter()
                    .position(|n| *n == wanted)
                    .ok_or_else(|| error(1, Reason::MissingColumn { column }))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Records {
            csv,
            file: file.to_string(),
            encoding,
            header_len: header.len(),
            positions,
            record: ByteRecord::new(),
            done: false,
            _record_type: PhantomData,
        })
    }

    pub fn encoding(&self) -> TextEncoding {
        self.encoding
    }

    /// The 1-based line of the row last returned (the header is line 1).
    pub fn line(&self) -> u64 {
        self.record
            .position()
            .unwrap_or_else(|| self.csv.position())
            .line()
    }
}

impl<R: Read, T: PortalRecord> Iterator for Records<R, T> {
    type Item = Result<T, RowError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let result = loop {
            match self.csv.read_byte_record(&mut self.record) {
                Ok(false) => {
                    self.done = true;
                    return None;
                }
                // A blank CRLF line reaches us as one field holding "\r".
                Ok(true) if self.record.len() == 1 && self.record[0].trim_ascii().is_empty() => {}
                Ok(true) => break self.parse_record(),
                Err(e) => {
                    // The parser cannot resynchronise after a failed read.
                    self.done = true;
                    break Err(Reason::Io(e.to_string()));
                }
            }
        };
        let line = self
            .record
            .position()
            .unwrap_or_else(|| self.csv.position())
            .line();
        Some(result.map_err(|reason| RowError {
            file: self.file.clone(),
            line,
            reason,
        }))
    }
}

impl<R: Read, T: PortalRecord> Records<R, T> {
    fn parse_record(&self) -> Result<T, Reason> {
        if self.record.len() != self.header_len {
            return Err(Reason::WrongFieldCount {
                expected: self.header_len,
                found: self.record.len(),
            });
        }
        T::from_row(&Row {
            record: &self.record,
            positions: &self.positions,
            columns: T::COLUMNS,
            encoding: self.encoding,
        })
    }
}

/// One data row, seen through the header of its file.
pub struct Row<'a> {
    record: &'a ByteRecord,
    positions: &'a [usize],
    columns: &'static [&'static str],
    encoding: TextEncoding,
}

impl Row<'_> {
    /// The decoded, trimmed value; may be empty.
    pub(crate) fn text(&self, column: &'static str) -> Result<String, Reason> {
        let position = self
            .columns
            .iter()
            .position(|c| *c == column)
            .and_then(|k| self.positions.get(k))
            .ok_or(Reason::MissingColumn { column })?;
        let bytes = self.record.get(*position).unwrap_or_default();
        let value = decode(bytes, self.encoding).ok_or(Reason::InvalidUtf8 { column })?;
        let trimmed = value.trim();
        Ok(if trimmed.len() == value.len() {
            value
        } else {
            trimmed.to_string()
        })
    }

    pub(crate) fn required(&self, column: &'static str) -> Result<String, Reason> {
        let value = self.text(column)?;
        if value.is_empty() {
            return Err(Reason::Missing { column });
        }
        Ok(value)
    }

    /// Text where the Portal's "no information" words mean unknown.
    pub(crate) fn optional(&self, column: &'static str) -> Result<Option<String>, Reason> {
        let value = self.text(column)?;
        Ok((!is_unknown_text(&value)).then_some(value))
    }

    /// A code or number, where also a negative integer means unknown: codes are
    /// digit strings, so `-3`, `-2`, `-11` can only be sentinels.
    fn optional_code(&self, column: &'static str) -> Result<Option<String>, Reason> {
        Ok(self
            .optional(column)?
            .filter(|v| !v.strip_prefix('-').is_some_and(is_digits)))
    }

    fn date(&self, column: &'static str) -> Result<NaiveDate, Reason> {
        self.optional_date(column)?
            .ok_or(Reason::Missing { column })
    }

    pub(crate) fn optional_date(&self, column: &'static str) -> Result<Option<NaiveDate>, Reason> {
        match self.optional(column)? {
            None => Ok(None),
            Some(value) => parse_date(&value)
                .map(Some)
                .ok_or(Reason::BadDate { column, value }),
        }
    }

    pub(crate) fn decimal(&self, column: &'static str) -> Result<Option<f64>, Reason> {
        match self.optional(column)? {
            None => Ok(None),
            Some(value) => parse_decimal(&value)
                .map(Some)
                .ok_or(Reason::BadNumber { column, value }),
        }
    }
}

impl PortalRecord for Contract {
    const COLUMNS: &'static [&'static str] = &[
        "Número do Contrato",
        "Objeto",
        "Fundamento Legal",
        "Modalidade Compra",
        "Situação Contrato",
        "Código Órgão Superior",
        "Nome Órgão Superior",
        "Código Órgão",
        "Nome Órgão",
        "Código UG",
        "Nome UG",
        "Data Assinatura Contrato",
        "Data Publicação DOU",
        "Data Início Vigência",
        "Data Fim Vigência",
        "Código Contratado",
        "Nome Contratado",
        "Valor Inicial Compra",
        "Valor Final Compra",
        "Número Licitação",
        "Código UG Licitação",
        "Nome UG Licitação",
        "Código Modalidade Compra Licitação",
        "Modalidade Compra Licitação",
    ];

    fn from_row(row: &Row<'_>) -> Result<Self, Reason> {
        Ok(Contract {
            numero: row.required("Número do Contrato")?,
            objeto: strip_label(row.text("Objeto")?, "Objeto:"),
            fundamento_legal: row.optional("Fundamento Legal")?,
            modalidade_compra: row.optional("Modalidade Compra")?,
            situacao: row.optional("Situação Contrato")?,
            codigo_orgao_superior: row.required("Código Órgão Superior")?,
            nome_orgao_superior: row.text("Nome Órgão Superior")?,
            codigo_orgao: row.required("Código Órgão")?,
            nome_orgao: row.text("Nome Órgão")?,
            codigo_ug: row.required("Código UG")?,
            nome_ug: row.text("Nome UG")?,
            data_assinatura: row.date("Data Assinatura Contrato")?,
            data_publicacao_dou: row.optional_date("Data Publicação DOU")?,
            data_inicio_vigencia: row.optional_date("Data Início Vigência")?,
            data_fim_vigencia: row.optional_date("Data Fim Vigência")?,
            fornecedor: row
                .optional_code("Código Contratado")?
                .map(|c| SupplierId::classify(&c)),
            nome_fornecedor: row.optional("Nome Contratado")?,
            valor_inicial: row.decimal("Valor Inicial Compra")?,
            valor_final: row.decimal("Valor Final Compra")?,
            numero_licitacao: row.optional_code("Número Licitação")?,
            codigo_ug_licitacao: row.optional_code("Código UG Licitação")?,
            nome_ug_licitacao: row.optional("Nome UG Licitação")?,
            // Not optional_code: -99/-97 are real codes here (see the field doc).
            codigo_modalidade_licitacao: row.optional("Código Modalidade Compra Licitação")?,
            modalidade_licitacao: row.optional("Modalidade Compra Licitação")?,
        })
    }
}

impl PortalRecord for Amendment {
    const COLUMNS: &'static [&'static str] = &[
        "Número Contrato",
        "Código Órgão Superior",
        "Nome Órgão Superior",
        "Código Órgão",
        "Nome Órgão",
        "Código UG",
        "Nome UG",
        "Número Termo Aditivo",
        "Data Publicação",
        "Objeto",
    ];

    fn from_row(row: &Row<'_>) -> Result<Self, Reason> {
        Ok(Amendment {
            numero_contrato: row.required("Número Contrato")?,
            codigo_orgao_superior: row.required("Código Órgão Superior")?,
            nome_orgao_superior: row.text("Nome Órgão Superior")?,
            codigo_orgao: row.required("Código Órgão")?,
            nome_orgao: row.text("Nome Órgão")?,
            codigo_ug: row.required("Código UG")?,
            nome_ug: row.text("Nome UG")?,
            numero_termo_aditivo: row.required("Número Termo Aditivo")?,
            data_publicacao: row.optional_date("Data Publicação")?,
            objeto: strip_label(strip_label(row.text("Objeto")?, "Objetivo:"), "Objeto:"),
        })
    }
}

impl PortalRecord for ContractItem {
    const COLUMNS: &'static [&'static str] = &[
        "Código Órgão",
        "Nome Órgão",
        "Código UG",
        "Nome UG",
        "Número Contrato",
        "Código Item Compra",
        "Descrição Item Compra",
        "Descrição Complementar Item Compra",
        "Quantidade Item",
        "Valor Item",
    ];

    fn from_row(row: &Row<'_>) -> Result<Self, Reason> {
        Ok(ContractItem {
            codigo_orgao: row.required("Código Órgão")?,
            nome_orgao: row.text("Nome Órgão")?,
            codigo_ug: row.required("Código UG")?,
            nome_ug: row.text("Nome UG")?,
            numero_contrato: row.required("Número Contrato")?,
            // Item codes are 21-22 digit ids; a bare 0 comes with "Inválido" text.
            codigo_item: row
                .optional_code("Código Item Compra")?
                .filter(|c| c.bytes().any(|b| b != b'0')),
            descricao: row.optional("Descrição Item Compra")?,
            descricao_complementar: row.optional("Descrição Complementar Item Compra")?,
            quantidade: row.decimal("Quantidade Item")?,
            valor: row.decimal("Valor Item")?,
        })
    }
}

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// Reads up to three bytes; returns them unless they are a UTF-8 BOM.
fn read_bom<R: Read>(reader: &mut R) -> io::Result<(Vec<u8>, bool)> {
    let mut head = Vec::with_capacity(3);
    reader.take(3).read_to_end(&mut head)?;
    if head == UTF8_BOM {
        Ok((Vec::new(), true))
    } else {
        Ok((head, false))
    }
}

fn is_utf8_text(bytes: &[u8]) -> bool {
    !bytes.is_ascii() && std::str::from_utf8(bytes).is_ok()
}

/// Decodes one field; `None` only for invalid UTF-8 in a UTF-8 file. C1 control
/// characters become spaces (see the module docs).
fn decode(bytes: &[u8], encoding: TextEncoding) -> Option<String> {
    // Most values are plain ASCII, the same in both encodings: copy them whole.
    if bytes.is_ascii() {
        return std::str::from_utf8(bytes).ok().map(str::to_owned);
    }
    let c1_to_space = |c: char| {
        if ('\u{80}'..='\u{9f}').contains(&c) {
            ' '
        } else {
            c
        }
    };
    match encoding {
        TextEncoding::Latin1 => Some(bytes.iter().map(|&b| c1_to_space(char::from(b))).collect()),
        TextEncoding::Utf8 => std::str::from_utf8(bytes)
            .ok()
            .map(|s| s.chars().map(c1_to_space).collect()),
    }
}

/// Lower case without accents, for comparing header names and sentinel words.
fn fold(s: &str) -> String {
    s.trim_start_matches('\u{feff}')
        .trim()
        .chars()
        .flat_map(char::to_lowercase)
        .map(|c| match c {
            'á' | 'à' | 'â' | 'ã' | 'ä' => 'a',
            'é' | 'è' | 'ê' | 'ë' => 'e',
            'í' | 'ì' | 'î' | 'ï' => 'i',
            'ó' | 'ò' | 'ô' | 'õ' | 'ö' => 'o',
            'ú' | 'ù' | 'û' | 'ü' => 'u',
            'ç' => 'c',
            'ñ' => 'n',
            c => c,
        })
        .collect()
}

/// The words the Portal writes for "no information", compared folded so that
/// `Sem Informação`, `SEM INFORMACAO` and `sem informacao` all match.
fn is_unknown_text(value: &str) -> bool {
    // The words are short: skip folding long text, which is most of the values.
    value.is_empty()
        || value.len() <= 20
            && matches!(
                fold(value).as_str(),
                "sem informacao" | "sem informacoes" | "nao informado" | "invalido" | "sigiloso"
            )
}

/// Removes a leading label such as `Objeto:` in any case, and the blank after it.
fn strip_label(value: String, label: &str) -> String {
    match value.get(..label.len()) {
        Some(head) if head.eq_ignore_ascii_case(label) => {
            value[label.len()..].trim_start().to_string()
        }
        _ => value,
    }
}

fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// `dd/mm/yyyy` (the Portal) or `yyyy-mm-dd` (ISO); impossible dates fail.
pub(crate) fn parse_date(s: &str) -> Option<NaiveDate> {
    let number = |from: usize, to: usize| s.get(from..to).filter(|t| is_digits(t))?.parse().ok();
    let (year, month, day) = match (s.len(), s.as_bytes().get(2), s.as_bytes().get(4)) {
        (10, Some(b'/'), _) if s.as_bytes()[5] == b'/' => {
            (number(6, 10)?, number(3, 5)?, number(0, 2)?)
        }
        (10, _, Some(b'-')) if s.as_bytes()[7] == b'-' => {
            (number(0, 4)?, number(5, 7)?, number(8, 10)?)
        }
        _ => return None,
    };
    let year = i32::try_from(year)
        .ok()
        .filter(|y| PLAUSIBLE_YEARS.contains(y))?;
    NaiveDate::from_ymd_opt(year, month, day)
}

/// Years a date in a Portal file can mean. Real files stay within 1990–2100 (the
/// far end is the "no end" of open-ended validity); a year 0 or 9999 is a broken
/// row, and would only reach the analysis as a calendar it cannot reason about.
const PLAUSIBLE_YEARS: std::ops::RangeInclusive<i32> = 1900..=2199;

/// Amounts a Portal file can mean, in reais: the largest real one is 3.3·10¹¹.
/// Beyond, or not a finite number, the row is refused rather than imported as
/// an amount no summary can print.
const MAX_AMOUNT: f64 = 1e15;

/// A decimal-comma number: `153170,0400`, `-13992,96`, `12`, or with thousands
/// dots `1.234,56`. Dots must group digits by three, so `1234.56` (a decimal
/// point) is refused rather than read as 123456.
pub(crate) fn parse_decimal(s: &str) -> Option<f64> {
    let (sign, body) = match s.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", s),
    };
    let (integer, fraction) = match body.split_once(',') {
        Some((i, f)) => (i, Some(f)),
        None => (body, None),
    };
    let mut groups = integer.split('.');
    let first = groups.next().filter(|g| is_digits(g))?;
    let mut plain = format!("{sign}{first}");
    if integer.contains('.') && first.len() > 3 {
        return None;
    }
    for group in groups {
        if group.len() != 3 || !is_digits(group) {
            return None;
        }
        plain.push_str(group);
    }
    if let Some(fraction) = fraction {
        if !is_digits(fraction) {
            return None;
        }
        plain.push('.');
        plain.push_str(fraction);
    }
    plain
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && v.abs() < MAX_AMOUNT)
}

/// 64-bit FNV-1a: tiny, and unlike `std`'s hasher its output is fixed forever,
/// which a stored key needs. Each value ends with 0xFF (never in UTF-8) and
/// `None` is a distinct byte, so adjacent fields cannot run into each other.
struct Fnv(fnv::FnvHasher);

impl Fnv {
    fn new() -> Self {
        Fnv(fnv::FnvHasher::default())
    }

    fn bytes(&mut self, bytes: &[u8]) {
        std::hash::Hasher::write(&mut self.0, bytes);
    }

    fn finish(&self) -> u64 {
        std::hash::Hasher::finish(&self.0)
    }

    fn text(&mut self, s: &str) {
        self.bytes(b"s");
        self.bytes(s.as_bytes());
        self.bytes(b"\xFF");
    }

    fn opt_text(&mut self, s: Option<&str>) {
        match s {
            Some(s) => self.text(s),
            None => self.bytes(b"-\xFF"),
        }
    }

    fn date(&mut self, d: Option<NaiveDate>) {
        match d {
            Some(d) => self.text(&d.num_days_from_ce().to_string()),
            None => self.opt_text(None),
        }
    }

    fn money(&mut self, v: Option<f64>) {
        match v {
            Some(v) => self.text(&format!("{v:.4}")),
            None => self.opt_text(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    use std::time::Instant;

    const CONTRACT_HEADER: &str = "\"Número do Contrato\";\"Objeto\";\"Fundamento Legal\";\"Modalidade Compra\";\"Situação Contrato\";\"Código Órgão Superior\";\"Nome Órgão Superior\";\"Código Órgão\";\"Nome Órgão\";\"Código UG\";\"Nome UG\";\"Data Assinatura Contrato\";\"Data Publicação DOU\";\"Data Início Vigência\";\"Data Fim Vigência\";\"Código Contratado\";\"Nome Contratado\";\"Valor Inicial Compra\";\"Valor Final Compra\";\"Número Licitação\";\"Código UG Licitação\";\"Nome UG Licitação\";\"Código Modalidade Compra Licitação\";\"Modalidade Compra Licitação\"";

    /// Real rows, verbatim: lines 3, 5, 6988 and 46974 of the 2021-2022 file.
    const ROW_PREGAO: &str = r#""82020";"Objeto: CONTRATAÇÃO DE SERVIÇOS DE AQUISIÇÃO DE DIREITO DE USO DE LICENÇAS DE SOFTWARES AUTODESK, DENOMINADO ARCHITECTURE ENGINEERING & CONSTRUCTION IC NEW SINGLE - USER ELD 3 - YEAR SUBSCRIPTION E AUTOCAD LT 2021 NEW SINGLE - USER 3 - YEAR SUBSCRIPTION, PARA USO DA SUPERINTENDÊNCIA DE INFRAESTRUTURA (SINFRA), DA UNIVERSIDADE FEDERAL DA PARAÍBA (UFPB).";"";"Pregão";"Não se aplica";"26000";"Ministério da Educação";"26240";"Universidade Federal da Paraíba";"153066";"SUPERINTENDENCIA DE ORCAMENTO E FINANCAS/UFPB";"21/12/2020";"25/01/2021";"21/12/2020";"21/12/2023";"21748841000151";"TECNETWORKING SERVICOS E SOLUCOES EM TI LTDA";"552999,9000";"552999,9000";"000012020";"153066";"SUPERINTENDENCIA DE ORCAMENTO E FINANCAS/UFPB";"5";"Pregão""#;
    const ROW_CLASSIFIED: &str = r#""462020";"Informação protegida por sigilo nos termos da legislação vigente";"Fundamento Legal: Lei 8.666/93";"Pregão";"Publicado";"30000";"Ministério da Justiça e Segurança Pública";"30108";"Departamento de Polícia Federal";"200334";"COORDENACAO GERAL DE ADMINISTRACAO CGAD/DLOG/";"30/12/2020";"04/01/2021";"30/12/2020";"30/12/2021";"-11";"Sigiloso";"122920,0000";"122920,0000";"000252020";"200334";"COORDENACAO GERAL DE ADMINISTRACAO CGAD/DLOG/";"5";"Pregão""#;
    const ROW_NO_BIDDING: &str = r#""12021";"Objeto: FDSZFDS";"";"Sem Informação";"Não se aplica";"24000";"Ministério da Ciência, Tecnologia, Inovações ";"24000";"Ministério da Ciência, Tecnologia, Inovações ";"240129";"CENTRO DE TECN. DA INF. RENATO ARCHER - CTI";"15/03/2021";"16/03/2021";"02/04/2021";"03/04/2021";"34028316710151";"EMPRESA BRASILEIRA DE CORREIOS E TELEGRAFOS";"0,0000";"0,0000";"-3";"";"";"";"""#;
    const ROW_REGISTRO_PRECO: &str = r#""132022";"Objeto: COMODATO DE EQUIPAMENTOS EM RAZÃO DA AQUISIÇÃO DE PRODUTOS PARA ATENDER AO SERVIÇO DE ALMOXARIFADO (TUBO PARA COLETA DE AMOSTRA BIOLÓGICA, MATERIAL VIDRO, USO PARA PROVA DE COAGULAÇÃO ATIVADA, CARACTERÍSTICA ADICIONAL PARA AUTOMAÇÃO (FORNECER AS MÁQUINAS PARA O TUBO EM REGIME DE COMODATO)";"";"Pregão - Registro de Preço";"Não se aplica";"26000";"Ministério da Educação";"26245";"Universidade Federal do Rio de Janeiro";"153152";"HOSPITAL UNIVERSITARIO DA UFRJ";"04/07/2022";"07/11/2022";"04/07/2022";"";"04086552000115";"BIOPLASMA PRODUTOS PARA LABORATORIOS E CORRELATOS LTDA";"0,0000";"0,0000";"000422022";"153152";"HOSPITAL UNIVERSITARIO DA UFRJ";"-99";"Pregão - Registro de Preço""#;

    fn latin1(s: &str) -> Vec<u8> {
        s.chars()
            .map(|c| u8::try_from(u32::from(c)).expect("test text is Latin-1"))
            .collect()
    }

    fn contracts(bytes: &[u8]) -> Vec<Result<Contract, RowError>> {
        read_contracts(bytes, "test.csv").expect("header").collect()
    }

    fn file_of(rows: &[&str]) -> Vec<u8> {
        let mut text = String::from(CONTRACT_HEADER);
        for row in rows {
            text.push('\n');
            text.push_str(row);
        }
        text.push('\n');
        latin1(&text)
    }

    fn shipped(name: &str) -> io::Cursor<Vec<u8>> {
        io::Cursor::new(
            crate::sources::shipped::procurement_csv(name)
                .unwrap_or_else(|e| panic!("real data file {name}: {e:#}")),
        )
    }

    fn date(d: u32, m: u32, y: i32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("valid test date")
    }

    #[test]
    fn sentinels_become_unknown_not_zero() {
        let rows = contracts(&file_of(&[
            ROW_NO_BIDDING,
            ROW_CLASSIFIED,
            ROW_REGISTRO_PRECO,
        ]));
        let no_bidding = rows[0].as_ref().expect("row parses");
        assert_eq!(no_bidding.modalidade_compra, None, "Sem Informação");
        assert_eq!(no_bidding.numero_licitacao, None, "-3");
        assert_eq!(no_bidding.codigo_ug_licitacao, None);
        assert_eq!(no_bidding.codigo_modalidade_licitacao, None);
        assert_eq!(no_bidding.fundamento_legal, None);
        assert_eq!(
            no_bidding.situacao.as_deref(),
            Some("Não se aplica"),
            "a state, kept"
        );
        assert_eq!(
            no_bidding.valor_inicial,
            Some(0.0),
            "a written zero stays zero"
        );
        assert_eq!(
            no_bidding.nome_orgao, "Ministério da Ciência, Tecnologia, Inovações",
            "trimmed"
        );

        let classified = rows[1].as_ref().expect("row parses");
        assert_eq!(classified.fornecedor, None, "-11");
        assert_eq!(classified.nome_fornecedor, None, "Sigiloso");
        assert_eq!(
            classified.objeto,
            "Informação protegida por sigilo nos termos da legislação vigente"
        );

        let registro = rows[2].as_ref().expect("row parses");
        assert_eq!(registro.data_fim_vigencia, None);
        assert_eq!(
            registro.codigo_modalidade_licitacao.as_deref(),
            Some("-99"),
            "a real code"
        );
        assert_eq!(
            registro.modalidade_licitacao.as_deref(),
            Some("Pregão - Registro de Preço")
        );

        for unknown in [
            "SEM INFORMACAO",
            "sem informação",
            "Sem Informacao",
            "Inválido",
            "",
        ] {
            assert!(is_unknown_text(unknown), "{unknown:?}");
        }
        assert!(!is_unknown_text("0"));
    }

    #[test]
    fn broken_row_is_reported_with_line_and_reason_and_the_rest_is_read() {
        let bad_date = ROW_PREGAO.replace("\"25/01/2021\"", "\"31/02/2021\"");
        let bad_money = ROW_PREGAO.replace(
            "\"552999,9000\";\"552999,9000\"",
            "\"552999,9000\";\"55.29,90\"",
        );
        let no_number = ROW_PREGAO.replacen("\"82020\"", "\"\"", 1);
        let rows = contracts(&file_of(&[
            ROW_PREGAO,
            "\"só\";\"dois\"",
            &bad_date,
            &bad_money,
            &no_number,
            ROW_PREGAO,
        ]));
        assert_eq!(rows.len(), 6);
        let errors: Vec<_> = rows
            .iter()
            .filter_map(|r| r.as_ref().err())
            .cloned()
            .collect();
        let at = |line: u64, reason: Reason| RowError {
            file: "test.csv".into(),
            line,
            reason,
        };
        assert_eq!(
            errors,
            vec![
                at(
                    3,
                    Reason::WrongFieldCount {
                        expected: 24,
                        found: 2
                    }
                ),
                at(
                    4,
                    Reason::BadDate {
                        column: "Data Publicação DOU",
                        value: "31/02/2021".into()
                    }
                ),
                at(
                    5,
                    Reason::BadNumber {
                        column: "Valor Final Compra",
                        value: "55.29,90".into()
                    }
                ),
                at(
                    6,
                    Reason::Missing {
                        column: "Número do Contrato"
                    }
                ),
            ]
        );
        assert!(
            rows[0].is_ok() && rows[5].is_ok(),
            "rows around the broken ones are read"
        );
        assert_eq!(
            errors[1].to_string(),
            "test.csv:4: column \"Data Publicação DOU\": unparseable date \"31/02/2021\" (expected dd/mm/yyyy)"
        );
    }

    #[test]
    fn crlf_and_lf_read_the_same() {
        let lf = file_of(&[ROW_PREGAO, ROW_NO_BIDDING, "\"x\"", "", ROW_CLASSIFIED]);
        let crlf: Vec<u8> = lf
            .iter()
            .flat_map(|&b| {
                if b == b'\n' {
                    vec![b'\r', b'\n']
                } else {
                    vec![b]
                }
            })
            .collect();
        let no_final_newline = &lf[..lf.len() - 1];
        let a = contracts(&lf);
        assert_eq!(a, contracts(&crlf));
        assert_eq!(a, contracts(no_final_newline));
        assert_eq!(a.len(), 4, "the blank line is skipped");
        assert_eq!(
            a[2].as_ref().err().map(|e| e.line),
            Some(4),
            "line numbers agree too"
        );
        assert!(a[3].is_ok());

        let crlf_header =
            read_contracts(&crlf[..], "crlf.csv").expect("the header's CR is trimmed");
        assert_eq!(crlf_header.count(), 4);
    }

    #[test]
    fn first_row_fields_are_what_the_file_says() {
        let rows = contracts(&file_of(&[ROW_PREGAO]));
        let c = rows[0].clone().expect("row parses");
        assert_eq!(
            c,
            Contract {
                numero: "82020".into(),
                objeto: "CONTRATAÇÃO DE SERVIÇOS DE AQUISIÇÃO DE DIREITO DE USO DE LICENÇAS DE SOFTWARES AUTODESK, DENOMINADO ARCHITECTURE ENGINEERING & CONSTRUCTION IC NEW SINGLE - USER ELD 3 - YEAR SUBSCRIPTION E AUTOCAD LT 2021 NEW SINGLE - USER 3 - YEAR SUBSCRIPTION, PARA USO DA SUPERINTENDÊNCIA DE INFRAESTRUTURA (SINFRA), DA UNIVERSIDADE FEDERAL DA PARAÍBA (UFPB).".into(),
                fundamento_legal: None,
                modalidade_compra: Some("Pregão".into()),
                situacao: Some("Não se aplica".into()),
                codigo_orgao_superior: "26000".into(),
                nome_orgao_superior: "Ministério da Educação".into(),
                codigo_orgao: "26240".into(),
                nome_orgao: "Universidade Federal da Paraíba".into(),
                codigo_ug: "153066".into(),
                nome_ug: "SUPERINTENDENCIA DE ORCAMENTO E FINANCAS/UFPB".into(),
                data_assinatura: date(21, 12, 2020),
                data_publicacao_dou: Some(date(25, 1, 2021)),
                data_inicio_vigencia: Some(date(21, 12, 2020)),
                data_fim_vigencia: Some(date(21, 12, 2023)),
                fornecedor: Some(SupplierId::Cnpj("21748841000151".into())),
                nome_fornecedor: Some("TECNETWORKING SERVICOS E SOLUCOES EM TI LTDA".into()),
                valor_inicial: Some(552_999.9),
                valor_final: Some(552_999.9),
                numero_licitacao: Some("000012020".into()),
                codigo_ug_licitacao: Some("153066".into()),
                nome_ug_licitacao: Some("SUPERINTENDENCIA DE ORCAMENTO E FINANCAS/UFPB".into()),
                codigo_modalidade_licitacao: Some("5".into()),
                modalidade_licitacao: Some("Pregão".into()),
            }
        );
    }

    #[test]
    fn utf8_file_with_bom_or_accented_header_is_read_as_utf8() {
        let text = format!("{CONTRACT_HEADER}\n{ROW_PREGAO}\n");
        let latin = contracts(&latin1(&text));
        let with_bom = [UTF8_BOM, text.as_bytes()].concat();
        for bytes in [text.as_bytes(), &with_bom[..]] {
            let reader = read_contracts(bytes, "utf8.csv").expect("header");
            assert_eq!(reader.encoding(), TextEncoding::Utf8);
            assert_eq!(reader.collect::<Vec<_>>(), latin);
        }
        let latin_bytes = latin1(&text);
        let reader = read_contracts(&latin_bytes[..], "latin.csv").expect("header");
        assert_eq!(reader.encoding(), TextEncoding::Latin1);

        // A Latin-1 byte inside a UTF-8 file is that row's error, not the file's.
        let mut broken = format!("{CONTRACT_HEADER}\n").into_bytes();
        broken.extend(latin1(ROW_PREGAO));
        let rows = contracts(&broken);
        assert_eq!(
            rows[0].as_ref().err().map(|e| &e.reason),
            Some(&Reason::InvalidUtf8 { column: "Objeto" })
        );
    }

    #[test]
    fn c1_control_bytes_become_spaces_not_windows_1252_signs() {
        let amendments = b"\"N\xfamero Contrato\";\"C\xf3digo \xd3rg\xe3o Superior\";\"Nome \xd3rg\xe3o Superior\";\"C\xf3digo \xd3rg\xe3o\";\"Nome \xd3rg\xe3o\";\"C\xf3digo UG\";\"Nome UG\";\"N\xfamero Termo Aditivo\";\"Data Publica\xe7\xe3o\";\"Objeto\"\r\n\"12021\";\"20000\";\"Presid\xeancia da Rep\xfablica\";\"20101\";\"Presid\xeancia da Rep\xfablica\";\"110001\";\"SECRETARIA ESPECIAL/PR\";\"000012021\";\"24/12/2021\";\"Objetivo: ACRESCENTAR\x80O VALOR\x80DE R$\x8028.207,72\"\r\n";
        let rows: Vec<_> = read_amendments(&amendments[..], "TermoAditivo.csv")
            .expect("header")
            .collect();
        let a = rows[0].clone().expect("row parses");
        assert_eq!(a.objeto, "ACRESCENTAR O VALOR DE R$ 28.207,72");
        assert_eq!(a.nome_orgao_superior, "Presidência da República");
        assert_eq!(a.data_publicacao, Some(date(24, 12, 2021)));
        assert_eq!(a.numero_termo_aditivo, "000012021");
    }

    #[test]
    fn missing_required_column_is_named_in_the_error() {
        let header = CONTRACT_HEADER.replace(";\"Data Publicação DOU\"", "");
        let error = read_contracts(&latin1(&header)[..], "x.csv")
            .err()
            .expect("header is refused");
        assert_eq!(error.line, 1);
        assert_eq!(
            error.reason,
            Reason::MissingColumn {
                column: "Data Publicação DOU"
            }
        );
        let empty = read_contracts(&b""[..], "x.csv")
            .err()
            .expect("empty file is refused");
        assert_eq!(empty.reason, Reason::NoHeader);
    }

    #[test]
    fn columns_are_matched_by_name_in_any_order_case_or_accents() {
        let items = "\"Extra\";\"valor item\";\"Codigo Orgao\";\"Nome Órgão\";\"Código UG\";\"Nome UG\";\"Número Contrato\";\"Código Item Compra\";\"Descrição Item Compra\";\"Descrição Complementar Item Compra\";\"QUANTIDADE ITEM\"\n\
             \"?\";\"157620,00\";\"26258\";\"Universidade Tecnológica Federal do Paraná\";\"153991\";\"UTFPR - CAMPUS DOIS VIZINHOS\";\"0\";\"0\";\"Inválido\";\"Inválido\";\"1\"\n\
             \"?\";\"3,20\";\"26431\";\"Instituto Federal do Piauí\";\"158359\";\"CAMPUS\";\"12021\";\"1601130700001202000001\";\"SERVICO ENGENHARIA\";\"Informação protegida por sigilo\";\"12\"\n";
        let rows: Vec<_> = read_items(&latin1(items)[..], "ItemCompra.csv")
            .expect("header")
            .collect();
        let placeholder = rows[0].clone().expect("row parses");
        assert_eq!(placeholder.codigo_item, None, "0 is no item code");
        assert_eq!(
            (placeholder.descricao, placeholder.descricao_complementar),
            (None, None),
            "Inválido"
        );
        assert_eq!(
            (placeholder.quantidade, placeholder.valor),
            (Some(1.0), Some(157_620.0))
        );
        assert_eq!(placeholder.numero_contrato, "0");
        let item = rows[1].clone().expect("row parses");
        assert_eq!(item.codigo_item.as_deref(), Some("1601130700001202000001"));
        assert_eq!(item.descricao.as_deref(), Some("SERVICO ENGENHARIA"));
        assert_eq!((item.quantidade, item.valor), (Some(12.0), Some(3.2)));
    }

    #[test]
    fn quoted_fields_may_hold_the_separator_and_quotes() {
        let row = ROW_PREGAO.replace(
            "\"Objeto: CONTRATAÇÃO",
            "\"Objeto: LOTE \"\"A\"\"; LOTE B: CONTRATAÇÃO",
        );
        let rows = contracts(&file_of(&[&row]));
        let objeto = rows[0]
            .as_ref()
            .map(|c| c.objeto.as_str())
            .unwrap_or_default();
        assert!(
            objeto.starts_with("LOTE \"A\"; LOTE B: CONTRATAÇÃO DE SERVIÇOS"),
            "{objeto}"
        );
    }

    #[test]
    fn objeto_label_is_stripped_in_any_case_and_only_at_the_start() {
        assert_eq!(strip_label("Objeto: X".into(), "Objeto:"), "X");
        assert_eq!(strip_label("OBJETO: X".into(), "Objeto:"), "X");
        assert_eq!(strip_label("Objetos: X".into(), "Objeto:"), "Objetos: X");
        assert_eq!(strip_label("Ob".into(), "Objeto:"), "Ob");
        assert_eq!(
            strip_label("Informação".into(), "Objeto:"),
            "Informação",
            "no panic inside a char"
        );
    }

    #[test]
    fn money_reads_decimal_comma_with_or_without_thousands_dots() {
        assert_eq!(parse_decimal("153170,0400"), Some(153_170.04));
        assert_eq!(parse_decimal("1.234,56"), Some(1234.56));
        assert_eq!(parse_decimal("1.234.567,5"), Some(1_234_567.5));
        assert_eq!(parse_decimal("-13992,9600"), Some(-13_992.96));
        assert_eq!(parse_decimal("332843300000,0000"), Some(332_843_300_000.0));
        assert_eq!(parse_decimal("12"), Some(12.0));
        for bad in [
            "", ",5", "1,", "1234.56", "12.34,5", "1,2,3", "R$ 1,00", "1e5", "--1", "+1",
        ] {
            assert_eq!(parse_decimal(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn amounts_no_summary_could_print_are_refused() {
        let huge = "9".repeat(400);
        for bad in [huge.as_str(), "1000000000000000", "-1000000000000000,0"] {
            assert_eq!(parse_decimal(bad), None, "{bad:?}");
        }
        assert_eq!(
            parse_decimal("999.999.999.999.999,00"),
            Some(999_999_999_999_999.0)
        );
    }

    #[test]
    fn dates_outside_the_years_a_portal_file_can_mean_are_refused() {
        for bad in [
            "01/01/0000",
            "01/01/0001",
            "31/12/1899",
            "01/01/2200",
            "9999-12-31",
        ] {
            assert_eq!(parse_date(bad), None, "{bad:?}");
        }
        assert_eq!(parse_date("01/01/1900"), Some(date(1, 1, 1900)));
        assert_eq!(parse_date("31/12/2199"), Some(date(31, 12, 2199)));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        /// A real file with bytes overwritten and its end cut off anywhere
        /// reads as a header error, or as one record or one rejection per row,
        /// each rejection naming its line; what comes out as a record holds
        /// only dates and amounts a Portal file can mean.
        #[test]
        fn a_mangled_real_file_never_panics_and_accounts_for_every_row(
            edits in proptest::collection::vec((0usize..4096, proptest::prelude::any::<u8>()), 0..24),
            cut in 0usize..4096,
        ) {
            let mut bytes = file_of(&[ROW_PREGAO, ROW_CLASSIFIED, ROW_NO_BIDDING, ROW_REGISTRO_PRECO]);
            for (at, byte) in edits {
                let len = bytes.len();
                bytes[at % len] = byte;
            }
            bytes.truncate(cut.max(1).min(bytes.len()));
            let Ok(records) = read_contracts(bytes.as_slice(), "mangled.csv") else {
                return Ok(());
            };
            for record in records {
                match record {
                    Ok(c) => {
                        for d in [Some(c.data_assinatura), c.data_publicacao_dou, c.data_inicio_vigencia, c.data_fim_vigencia].into_iter().flatten() {
                            proptest::prop_assert!(PLAUSIBLE_YEARS.contains(&d.year()), "{}", d);
                        }
                        for v in [c.valor_inicial, c.valor_final].into_iter().flatten() {
                            proptest::prop_assert!(v.is_finite() && v.abs() < MAX_AMOUNT, "{}", v);
                        }
                    }
                    Err(e) => proptest::prop_assert!(e.line >= 2 || matches!(e.reason, Reason::Io(_)), "{}", e),
                }
            }
        }

        #[test]
        fn any_text_parses_as_a_date_or_an_amount_or_neither_without_panicking(s in ".{0,40}") {
            let _ = parse_date(&s);
            if let Some(v) = parse_decimal(&s) {
                proptest::prop_assert!(v.is_finite());
            }
        }
    }

    #[test]
    fn dates_read_dd_mm_yyyy_or_iso_and_refuse_impossible_ones() {
        assert_eq!(parse_date("28/08/1996"), Some(date(28, 8, 1996)));
        assert_eq!(parse_date("2022-12-30"), Some(date(30, 12, 2022)));
        assert_eq!(parse_date("31/12/2099"), Some(date(31, 12, 2099)));
        for bad in [
            "31/02/2021",
            "00/00/0000",
            "1/2/2021",
            "2021/01/02",
            "30-12-2022",
            "3ü/12/2022",
            "",
        ] {
            assert_eq!(parse_date(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn supplier_codes_are_classified_by_shape() {
        assert_eq!(
            SupplierId::classify("21748841000151"),
            SupplierId::Cnpj("21748841000151".into())
        );
        assert_eq!(
            SupplierId::classify("21.748.841/0001-51"),
            SupplierId::Cnpj("21748841000151".into())
        );
        assert_eq!(
            SupplierId::classify("12345678909"),
            SupplierId::Cpf("12345678909".into())
        );
        for other in [
            "ESTRANG0000000",
            "EX1133921",
            "806030",
            "024214210",
            "ESTRANGEIRO_BLOOMBERG_FINANCE_LP",
        ] {
            assert_eq!(SupplierId::classify(other), SupplierId::Other(other.into()));
        }
    }

    #[test]
    fn key_is_fixed_and_differs_when_any_field_differs() {
        let rows = contracts(&file_of(&[ROW_PREGAO]));
        let c = rows[0].clone().expect("row parses");
        // Pinned: stored keys must not change between releases.
        assert_eq!(
            c.key(),
            "82020|153066|26000|2020-12-21|21748841000151|552999.9000|b05dbccd892f8489"
        );
        let mut other = c.clone();
        other.situacao = Some("Publicado".into());
        assert_ne!(c.key(), other.key());
        let mut other = c.clone();
        other.fornecedor = Some(SupplierId::Other("21748841000151".into()));
        assert_ne!(c.key(), other.key());
    }

    #[test]
    fn real_contracts_file_parses_every_row() {
        let file = shipped("portal_transparencia_compras_202101-202212.csv");
        let started = Instant::now();
        let reader = read_contracts(file, "compras.csv").expect("header");
        assert_eq!(reader.encoding(), TextEncoding::Latin1);
        let (contracts, errors): (Vec<_>, Vec<_>) = reader.partition(Result::is_ok);
        let contracts: Vec<Contract> = contracts.into_iter().flatten().collect();
        assert!(
            errors.is_empty(),
            "row errors: {:?}",
            &errors[..errors.len().min(5)]
        );
        assert_eq!(contracts.len(), 49_414);

        let count = |f: &dyn Fn(&Contract) -> bool| contracts.iter().filter(|c| f(c)).count();
        let cnpj = count(&|c| matches!(c.fornecedor, Some(SupplierId::Cnpj(_))));
        let cpf = count(&|c| matches!(c.fornecedor, Some(SupplierId::Cpf(_))));
        // SOURCES.md's 45,718 counts 14-character codes; 12 of them are
        // foreign placeholders such as ESTRANG0000000, not CNPJs.
        let foreign14 =
            count(&|c| matches!(&c.fornecedor, Some(SupplierId::Other(s)) if s.len() == 14));
        assert_eq!((cnpj, foreign14, cpf), (45_706, 12, 2_329));
        assert_eq!(
            count(&|c| c.fornecedor.is_none()),
            1_000,
            "classified (-11)"
        );
        assert_eq!(
            count(&|c| c.modalidade_compra.is_none()),
            6_550,
            "Sem Informação"
        );
        assert_eq!(count(&|c| c.numero_licitacao.is_none()), 6_550, "-3 and -2");
        assert_eq!(count(&|c| c.data_fim_vigencia.is_none()), 213);
        assert_eq!(
            count(&|c| c.valor_inicial.is_none() || c.valor_final.is_none()),
            0
        );
        // The label goes once; 16 rows repeat it ("Objeto: OBJETO: ...") and keep one.
        assert_eq!(
            count(&|c| c.objeto.to_lowercase().starts_with("objeto:")),
            16
        );

        let first = &contracts[0];
        assert_eq!(first.numero, "6092020");
        assert!(first
            .objeto
            .starts_with("AQUISIÇÃO DE SISTEMA FOTOVOLTAICO, INCLUINDO TODA A MÃO OBRA"));
        assert_eq!(
            (
                first.modalidade_compra.as_deref(),
                first.numero_licitacao.as_deref()
            ),
            (None, None)
        );
        assert_eq!(
            (first.codigo_orgao.as_str(), first.nome_orgao.as_str()),
            ("26235", "Universidade Federal de Goiás")
        );
        assert_eq!(first.data_publicacao_dou, Some(date(26, 1, 2021)));
        assert_eq!(first.data_fim_vigencia, Some(date(23, 4, 2022)));
        assert_eq!(
            first.fornecedor,
            Some(SupplierId::Cnpj("22934158000171".into()))
        );
        assert_eq!(
            (first.valor_inicial, first.valor_final),
            (Some(983_300.0), Some(983_300.0))
        );

        let parsed = started.elapsed();
        // Keys: equal only for rows that are equal (83 rows of the file repeat
        // an earlier row byte for byte), so 49,414 - 83 distinct keys.
        let mut by_key: HashMap<String, &Contract> = HashMap::new();
        for c in &contracts {
            if let Some(seen) = by_key.insert(c.key(), c) {
                assert_eq!(seen, c, "two different rows share the key {}", c.key());
            }
        }
        assert_eq!(by_key.len(), 49_331);
        eprintln!(
            "49,414 contracts parsed in {parsed:?}, keyed by {:?}",
            started.elapsed()
        );
    }

    #[test]
    fn real_amendments_file_parses_every_row() {
        let file = shipped("portal_transparencia_termos_aditivos_202101-202212.csv");
        let rows: Vec<_> = read_amendments(file, "termos.csv")
            .expect("header")
            .collect();
        let errors: Vec<_> = rows.iter().filter_map(|r| r.as_ref().err()).collect();
        assert!(
            errors.is_empty(),
            "row errors: {:?}",
            &errors[..errors.len().min(5)]
        );
        assert_eq!(rows.len(), 18_045);
        let first = rows[0].clone().expect("row parses");
        assert_eq!(
            first,
            Amendment {
                numero_contrato: "12021".into(),
                codigo_orgao_superior: "20000".into(),
                nome_orgao_superior: "Presidência da República".into(),
                codigo_orgao: "20101".into(),
                nome_orgao: "Presidência da República".into(),
                codigo_ug: "110001".into(),
                nome_ug: "SECRETARIA ESPECIAL DE ADMINISTRACAO/PR".into(),
                numero_termo_aditivo: "000012021".into(),
                data_publicacao: Some(date(24, 12, 2021)),
                objeto: "PRORROGAÇÃO DO PRAZO DE VIGÊNCIA.".into(),
            }
        );
        let with_c1 = rows
            .iter()
            .flatten()
            .filter(|a| a.objeto.chars().any(|c| ('\u{80}'..='\u{9f}').contains(&c)));
        assert_eq!(with_c1.count(), 0);
    }
}
