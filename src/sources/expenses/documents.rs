//! Expense documents: the commitments (empenhos) and payments (ordens
//! bancárias) the Portal publishes one by one, with their payee (favorecido).
//! Budget lines say how much a unit was allowed and committed in a year;
//! documents say when, and to whom.
//!
//! Two ways in, one table (`transparency.expense_documents`, migration 0017):
//!
//! - `fiscal import` of the daily "Despesas" download (`AAAAMMDD_Despesas.zip`):
//!   its `_Empenho.csv` and `_Pagamento.csv` members, found by their headers.
//!   The liquidations and the item, bank, invoice and precatório lists are not
//!   read: their amounts live in the linked empenhos and payments. Checked
//!   against the real file of 01/01/2025 (data/expenses/SOURCES.md).
//! - With a Portal key, `GET /despesas/documentos?unidadeGestora=…&dataEmissao=
//!   dd/mm/aaaa&fase=1|3&pagina=N`: the API answers one day, one phase and one UG
//!   at a time ("Filtros mínimos: Página; Respectiva data; Fase, e ao menos um
//!   dos demais filtros"), so a period is asked for day by day. No real body
//!   could be captured: the keys are those open-source clients read
//!   (tests/data/portal_api/SOURCES.md).

use chrono::{Datelike, Duration, NaiveDate};
use serde_json::{json, Value};
use tokio_postgres::Client;
use tokio_util::sync::CancellationToken;

use crate::domain::text::fold;
use crate::sources::load::{b, Kind, Row};
use crate::sources::portal::{self, PortalRecord, Reason, RowError};
use crate::sources::portal_api::{
    record_date, record_money, record_text, FetchStats, PortalClient,
};
use crate::sources::portal_cache::{self, SyncError};

/// The phase of the expense a document records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Fase {
    Empenho,
    Pagamento,
}

impl Fase {
    pub fn as_str(self) -> &'static str {
        match self {
            Fase::Empenho => "empenho",
            Fase::Pagamento => "pagamento",
        }
    }

    pub fn parse(s: &str) -> Option<Fase> {
        match s {
            "empenho" => Some(Fase::Empenho),
            "pagamento" => Some(Fase::Pagamento),
            _ => None,
        }
    }

    /// The API's `fase` parameter.
    fn api_code(self) -> &'static str {
        match self {
            Fase::Empenho => "1",
            Fase::Pagamento => "3",
        }
    }
}

/// One commitment or payment.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// The full code: UG, gestão, year, NE or OB and number
    /// (`152005000012025NE000010`); unique across the federal government.
    pub codigo: String,
    pub fase: Fase,
    pub data: NaiveDate,
    pub codigo_orgao_superior: Option<String>,
    pub nome_orgao_superior: String,
    pub codigo_orgao: Option<String>,
    pub nome_orgao: String,
    pub codigo_ug: String,
    pub nome_ug: String,
    /// CNPJ (14 digits), CPF, a UG's code (a federal unit paid) or a foreign
    /// payee's code.
    pub codigo_favorecido: Option<String>,
    pub nome_favorecido: Option<String>,
    pub codigo_grupo: Option<String>,
    pub codigo_elemento: Option<String>,
    pub nome_elemento: Option<String>,
    /// Commitments only: how the purchase was made.
    pub modalidade_licitacao: Option<String>,
    /// Commitments only: original, reforço or anulação ("Não se aplica" in the
    /// daily file reads as none).
    pub especie: Option<String>,
    pub observacao: Option<String>,
    /// Reais, converted as the Portal converts foreign-currency documents;
    /// negative for an anulação, which takes money back from a commitment.
    pub valor: Option<f64>,
}

/// An anulação (or cancelamento) of a commitment subtracts its value,
/// whatever sign the source writes it with.
fn signed(especie: Option<&str>, valor: Option<f64>) -> Option<f64> {
    let annuls = especie.is_some_and(|e| {
        let e = fold(e);
        e.contains("anulacao") || e.contains("cancelamento")
    });
    valor.map(|v| if annuls { -v.abs() } else { v })
}

impl Document {
    /// A company (CNPJ), rather than a person, a federal unit or a foreigner.
    pub fn paid_to_company(&self) -> bool {
        self.codigo_favorecido
            .as_deref()
            .is_some_and(|c| c.len() == 14 && c.bytes().all(|b| b.is_ascii_digit()))
    }
}

/// The columns an empenho and a payment share, as the Portal names them.
fn shared(row: &portal::Row<'_>, codigo: &'static str, fase: Fase) -> Result<Document, Reason> {
    let data = "Data Emissão";
    Ok(Document {
        codigo: row.required(codigo)?,
        fase,
        data: row
            .optional_date(data)?
            .ok_or(Reason::Missing { column: data })?,
        codigo_orgao_superior: row.optional("Código Órgão Superior")?,
        nome_orgao_superior: row.text("Órgão Superior")?,
        codigo_orgao: row.optional("Código Órgão")?,
        nome_orgao: row.text("Órgão")?,
        codigo_ug: row.required("Código Unidade Gestora")?,
        nome_ug: row.text("Unidade Gestora")?,
        codigo_favorecido: row.optional("Código Favorecido")?,
        nome_favorecido: row.optional("Favorecido")?,
        codigo_grupo: row.optional("Código Grupo de Despesa")?,
        codigo_elemento: row.optional("Código Elemento de Despesa")?,
        nome_elemento: row.optional("Elemento de Despesa")?,
        modalidade_licitacao: None,
        especie: None,
        observacao: row.optional("Observação")?,
        valor: None,
    })
}

const SHARED_COLUMNS: [&str; 14] = [
    "Data Emissão",
    "Código Órgão Superior",
    "Órgão Superior",
    "Código Órgão",
    "Órgão",
    "Código Unidade Gestora",
    "Unidade Gestora",
    "Código Favorecido",
    "Favorecido",
    "Código Grupo de Despesa",
    "Código Elemento de Despesa",
    "Elemento de Despesa",
    "Observação",
    // Listed so a file without it is not taken for this kind.
    "Código Tipo Documento",
];

/// A row of `AAAAMMDD_Despesas_Empenho.csv`.
pub struct Commitment(pub Document);

impl PortalRecord for Commitment {
    const COLUMNS: &'static [&'static str] = &{
        let mut all = [""; 19];
        let mut i = 0;
        while i < SHARED_COLUMNS.len() {
            all[i] = SHARED_COLUMNS[i];
            i += 1;
        }
        all[14] = "Código Empenho";
        all[15] = "Modalidade de Licitação";
        all[16] = "Valor do Empenho Convertido pra R$";
        all[17] = "Código Empenho Resumido";
        all[18] = "Espécie Empenho";
        all
    };

    fn from_row(row: &portal::Row<'_>) -> Result<Self, Reason> {
        let mut d = shared(row, "Código Empenho", Fase::Empenho)?;
        d.modalidade_licitacao = row.optional("Modalidade de Licitação")?;
        d.especie = row
            .optional("Espécie Empenho")?
            .filter(|e| !fold(e).starts_with("nao se aplica"));
        d.valor = signed(
            d.especie.as_deref(),
            row.decimal("Valor do Empenho Convertido pra R$")?,
        );
        Ok(Commitment(d))
    }
}

/// A row of `AAAAMMDD_Despesas_Pagamento.csv`.
pub struct Payment(pub Document);

impl PortalRecord for Payment {
    const COLUMNS: &'static [&'static str] = &{
        let mut all = [""; 17];
        let mut i = 0;
        while i < SHARED_COLUMNS.len() {
            all[i] = SHARED_COLUMNS[i];
            i += 1;
        }
        all[14] = "Código Pagamento";
        all[15] = "Valor do Pagamento Convertido pra R$";
        all[16] = "Código Pagamento Resumido";
        all
    };

    fn from_row(row: &portal::Row<'_>) -> Result<Self, Reason> {
        let mut d = shared(row, "Código Pagamento", Fase::Pagamento)?;
        d.valor = row.decimal("Valor do Pagamento Convertido pra R$")?;
        Ok(Payment(d))
    }
}

pub fn read_commitments<R: std::io::Read>(
    reader: R,
    file: &str,
) -> Result<portal::Records<R, Commitment>, RowError> {
    portal::Records::new(reader, file)
}

pub fn read_payments<R: std::io::Read>(
    reader: R,
    file: &str,
) -> Result<portal::Records<R, Payment>, RowError> {
    portal::Records::new(reader, file)
}

/// A document as a row of `transparency.expense_documents`, in the column
/// order of its staging table.
pub(crate) fn document_values(d: &Document, file: &str, line: i32) -> Row {
    vec![
        b(d.codigo.clone()),
        b(d.fase.as_str()),
        b(file.to_string()),
        b(line),
        b(d.data),
        b(d.codigo_orgao_superior.clone()),
        b(d.nome_orgao_superior.clone()),
        b(d.codigo_orgao.clone()),
        b(d.nome_orgao.clone()),
        b(d.codigo_ug.clone()),
        b(d.nome_ug.clone()),
        b(d.codigo_favorecido.clone()),
        b(d.nome_favorecido.clone()),
        b(d.codigo_grupo.clone()),
        b(d.codigo_elemento.clone()),
        b(d.nome_elemento.clone()),
        b(d.modalidade_licitacao.clone()),
        b(d.especie.clone()),
        b(d.observacao.clone()),
        b(d.observacao.as_deref().map(fold)),
        b(d.valor),
    ]
}

/// `"12345678000190 - NOME"` or `"NOME"`, as clients see `favorecido`.
fn split_payee(s: &str) -> (Option<String>, String) {
    match s.split_once(" - ") {
        Some((code, name)) if code.bytes().all(|b| b.is_ascii_digit()) => {
            (Some(code.to_string()), name.trim().to_string())
        }
        _ => (None, s.to_string()),
    }
}

/// One `/despesas/documentos` record of `fase` as a document; `None` without
/// its code, UG or date. `ug` is the unit asked for, for a record that does
/// not name its own.
pub fn to_document(v: &Value, fase: Fase, ug: &str) -> Option<Document> {
    let codigo = record_text(v, &["documento"])?;
    let data = record_date(v, "data")?;
    let (code_in_name, name) = record_text(v, &["favorecido"]).map_or((None, None), |f| {
        let (c, n) = split_payee(&f);
        (c, Some(n))
    });
    let especie = (fase == Fase::Empenho)
        .then(|| record_text(v, &["especie"]))
        .flatten()
        .filter(|e| !fold(e).starts_with("nao se aplica"));
    let codigo_favorecido = record_text(v, &["codigoFavorecido"])
        .map(|c| c.chars().filter(char::is_ascii_alphanumeric).collect())
        .or(code_in_name);
    Some(Document {
        codigo,
        fase,
        data,
        codigo_orgao_superior: record_text(v, &["codigoOrgaoSuperior"]),
        nome_orgao_superior: record_text(v, &["orgaoSuperior"]).unwrap_or_default(),
        codigo_orgao: record_text(v, &["codigoOrgao"]),
        nome_orgao: record_text(v, &["orgao"]).unwrap_or_default(),
        codigo_ug: record_text(v, &["codigoUg"]).unwrap_or_else(|| ug.to_string()),
        nome_ug: record_text(v, &["ug"]).unwrap_or_default(),
        codigo_favorecido,
        nome_favorecido: record_text(v, &["nomeFavorecido"]).or(name),
        codigo_grupo: record_text(v, &["codigoGrupo"]),
        codigo_elemento: record_text(v, &["codigoElemento"]),
        nome_elemento: record_text(v, &["elemento"]),
        modalidade_licitacao: (fase == Fase::Empenho)
            .then(|| record_text(v, &["modalidade"]))
            .flatten(),
        especie: especie.clone(),
        observacao: record_text(v, &["observacao"]),
        valor: signed(especie.as_deref(), record_money(v, "valor")),
    })
}

/// Longest period fetched day by day: a month of two phases is 62 requests,
/// some 40 seconds at the Portal's daytime limit.
pub const MAX_DAYS: i64 = 31;

/// The days of `from..=until`.
pub fn days(from: NaiveDate, until: NaiveDate) -> Vec<NaiveDate> {
    let mut out = Vec::new();
    let mut d = from;
    while d <= until {
        out.push(d);
        d += Duration::days(1);
    }
    out
}

/// What a fetch of a UG's documents brought.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct DailyStats {
    pub days: usize,
    #[serde(flatten)]
    pub fetched: FetchStats,
}

/// Every commitment and payment of `ug` issued in `from..=until`, day by day
/// and phase by phase, from the API into `transparency.expense_documents`.
/// `on_day` hears the days done and their number.
pub async fn fetch(
    db: &Client,
    api: &PortalClient,
    ug: &str,
    (from, until): (NaiveDate, NaiveDate),
    cancel: &CancellationToken,
    mut on_day: impl FnMut(usize, usize),
) -> Result<DailyStats, SyncError> {
    let days = days(from, until);
    let mut fetched = FetchStats::default();
    for fase in [Fase::Empenho, Fase::Pagamento] {
        let queries: Vec<Vec<(&str, String)>> = days
            .iter()
            .map(|day| {
                vec![
                    ("unidadeGestora", ug.to_string()),
                    ("dataEmissao", day.format("%d/%m/%Y").to_string()),
                    ("fase", fase.api_code().to_string()),
                ]
            })
            .collect();
        let row = |record: &Value, source: &str, line: i32| {
            to_document(record, fase, ug).map(|d| document_values(&d, source, line))
        };
        // Both phases stage into one table, whichever kind names it.
        let offset = if fase == Fase::Empenho { 0 } else { days.len() };
        fetched += portal_cache::fetch_each(
            db,
            api,
            "despesas/documentos",
            &queries,
            (Kind::ExpensePayments, &row),
            cancel,
            |done, _| on_day((offset + done).div_ceil(2), days.len()),
        )
        .await?;
    }
    Ok(DailyStats {
        days: days.len(),
        fetched,
    })
}

/// A document as `affected_records` lists it.
pub fn listed(d: &Document) -> Value {
    json!({
        "id": d.codigo,
        "fase": d.fase.as_str(),
        "data": d.data,
        "exercicio": d.data.year(),
        "unidade_gestora": format!("{} ({})", d.nome_ug, d.codigo_ug),
        "orgao": d.nome_orgao,
        "favorecido": d.nome_favorecido,
        "codigo_favorecido": d.codigo_favorecido,
        "elemento": d.nome_elemento,
        "modalidade_licitacao": d.modalidade_licitacao,
        "observacao": d.observacao,
        "valor": d.valor.map(|v| crate::domain::format::round(v, 2)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_api_record_reads_the_payee_from_its_code_or_its_name_and_a_pt_br_value() {
        let record = json!({
            "data": "15/12/2022",
            "documento": "158137264392022NE000123",
            "documentoResumido": "2022NE000123",
            "codigoUg": "158137",
            "ug": "INST.FED.DE EDUC.,CIENC.E TEC.DE SAO PAULO",
            "codigoOrgao": "26439",
            "orgao": "Instituto Federal de São Paulo",
            "favorecido": "33333333000153 - INFOTEC COMPUTADORES SA",
            "valor": "1.234.567,89",
            "modalidade": "Pregão"
        });
        let d = to_document(&record, Fase::Empenho, "158137").expect("a document");
        assert_eq!(d.codigo_favorecido.as_deref(), Some("33333333000153"));
        assert_eq!(
            d.nome_favorecido.as_deref(),
            Some("INFOTEC COMPUTADORES SA")
        );
        assert_eq!(d.valor, Some(1_234_567.89));
        assert_eq!(d.data, NaiveDate::from_ymd_opt(2022, 12, 15).expect("date"));
        assert_eq!(d.modalidade_licitacao.as_deref(), Some("Pregão"));
        assert!(d.paid_to_company());
        let payment = to_document(&record, Fase::Pagamento, "158137").expect("a document");
        assert_eq!(payment.modalidade_licitacao, None);
        let mut annulled = record.clone();
        annulled["especie"] = json!("Anulação");
        let d = to_document(&annulled, Fase::Empenho, "158137").expect("a document");
        assert_eq!(d.valor, Some(-1_234_567.89), "an anulação takes money back");
        let mut undated = record.clone();
        undated["data"] = json!("");
        assert!(to_document(&undated, Fase::Empenho, "158137").is_none());
    }

    #[test]
    fn a_month_is_fetched_day_by_day() {
        let d = |m, day| NaiveDate::from_ymd_opt(2022, m, day).expect("date");
        assert_eq!(days(d(12, 1), d(12, 31)).len(), 31);
        assert_eq!(days(d(12, 31), d(12, 31)), vec![d(12, 31)]);
        assert!(days(d(12, 2), d(12, 1)).is_empty());
    }
}
