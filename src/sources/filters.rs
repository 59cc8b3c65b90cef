//! The investigation's `filters`, checked and typed (DESIGN §4).
//!
//! A citizen's frontend wrote them, so every problem is reported in Portuguese,
//! naming the key and the form expected; an unknown key is an error too, since a
//! misspelt filter silently ignored would analyse the wrong contracts.

use chrono::NaiveDate;
use serde_json::{Map, Value};

use crate::domain::text::fold;
use crate::input::echo_json;

/// Values with their types: retrieval sends its statements unnamed (one round
/// trip each, and possible behind a transaction-mode pooler), which needs the types.
pub type QueryParams = Vec<(
    Box<dyn tokio_postgres::types::ToSql + Sync + Send>,
    tokio_postgres::types::Type,
)>;

/// A WHERE clause built one fixed fragment at a time, each `?` numbered as the
/// parameter it binds: the statement's text depends only on which filters are
/// given, never on their values.
#[derive(Default)]
pub struct Where {
    clauses: Vec<String>,
    params: QueryParams,
}

impl Where {
    pub fn push(
        &mut self,
        clause: &str,
        value: Box<dyn tokio_postgres::types::ToSql + Sync + Send>,
        ty: tokio_postgres::types::Type,
    ) {
        self.params.push((value, ty));
        self.clauses
            .push(clause.replace('?', &format!("${}", self.params.len())));
    }

    /// The clause (`true` without fragments) and its parameters.
    pub fn finish(self) -> (String, QueryParams) {
        let clause = if self.clauses.is_empty() {
            "true".to_string()
        } else {
            self.clauses.join(" and ")
        };
        (clause, self.params)
    }
}

/// The keys a `contracts` investigation accepts, in the order the error lists them.
pub const KNOWN_KEYS: &[&str] = &[
    "codigo_orgao",
    "codigo_orgao_superior",
    "codigo_ug",
    "cnpj_fornecedor",
    "modalidade",
    "year",
    "data_inicial",
    "data_final",
    "min_value",
    "max_value",
    "texto",
];

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContractFilters {
    pub codigo_orgao: Option<String>,
    pub codigo_orgao_superior: Option<String>,
    pub codigo_ug: Option<String>,
    /// CNPJ or CPF, digits only; or the 8 digits of a CNPJ's root, which
    /// select the company's head office and all its branches.
    pub cnpj_fornecedor: Option<String>,
    /// Folded (lower case, no accents), each matching a part of the modality;
    /// a contract of any of them is selected ("sem licitação" is dispensa or
    /// inexigibilidade). Empty: any modality.
    pub modalidade: Vec<String>,
    /// Signature date range, inclusive; `year` narrows it to that year.
    pub signed_from: Option<NaiveDate>,
    pub signed_until: Option<NaiveDate>,
    /// Bounds on the contract's value in reais (final value, or initial when the
    /// final is unknown).
    pub min_value: Option<f64>,
    pub max_value: Option<f64>,
    /// Folded words that must all appear in the object.
    pub texto: Vec<String>,
}

/// A filter that cannot be used, with the citizen's message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct FilterError {
    pub key: String,
    pub message: String,
}

/// A period that ends before it starts selects nothing: refused, saying so.
pub(crate) fn check_period(
    from: Option<NaiveDate>,
    until: Option<NaiveDate>,
) -> Result<(), FilterError> {
    match (from, until) {
        (Some(a), Some(b)) if a > b => Err(error(
            "data_inicial",
            format!(
                "O período pedido está vazio: começa em {} e termina em {}.",
                crate::domain::format::date(a),
                crate::domain::format::date(b)
            ),
        )),
        _ => Ok(()),
    }
}

pub(crate) fn error(key: &str, message: String) -> FilterError {
    FilterError {
        key: key.to_string(),
        message,
    }
}

/// The filters' object; `null` is no filter at all.
pub(crate) fn object<'a>(
    filters: &'a Value,
    empty: &'a Map<String, Value>,
) -> Result<&'a Map<String, Value>, FilterError> {
    match filters {
        Value::Null => Ok(empty),
        Value::Object(map) => Ok(map),
        other => Err(error(
            "filters",
            format!(
                "Os filtros devem ser um objeto JSON, como {{\"year\": 2024}}; recebido: {}.",
                echo_json(other)
            ),
        )),
    }
}

/// A key no filter of this source has, named with the ones it accepts.
pub(crate) fn unknown(key: &str, known: &[&str]) -> FilterError {
    let key = crate::input::echo(key);
    error(
        &key,
        format!(
            "O filtro \"{key}\" não existe. Filtros aceitos: {}.",
            known.join(", ")
        ),
    )
}

/// The largest value in reais a filter may name: above the whole federal budget,
/// and still printed as an ordinary amount in the summary.
pub const MAX_MONEY: f64 = 1e13;

/// Characters of `texto` at most, before its words are counted.
const MAX_TEXT_CHARS: usize = 300;
/// Distinct words of `texto` at most: each is one more substring test per
/// contract read.
pub const MAX_TEXT_WORDS: usize = 10;

impl ContractFilters {
    pub fn parse(filters: &Value) -> Result<Self, FilterError> {
        let empty = Map::new();
        let map = object(filters, &empty)?;
        let mut f = ContractFilters::default();
        let mut year: Option<i32> = None;
        let mut from: Option<NaiveDate> = None;
        let mut until: Option<NaiveDate> = None;
        for (key, value) in map {
            if value.is_null() {
                continue;
            }
            match key.as_str() {
                "codigo_orgao" => f.codigo_orgao = Some(code(key, value)?),
                "codigo_orgao_superior" => f.codigo_orgao_superior = Some(code(key, value)?),
                "codigo_ug" => f.codigo_ug = Some(code(key, value)?),
                "cnpj_fornecedor" => f.cnpj_fornecedor = Some(supplier(key, value)?),
                "modalidade" => f.modalidade = modalities(key, value)?,
                "texto" => f.texto = search_words(key, value)?,
                "year" => year = Some(year_of(key, value)?),
                "data_inicial" => from = Some(date(key, value)?),
                "data_final" => until = Some(date(key, value)?),
                "min_value" => f.min_value = Some(money(key, value)?),
                "max_value" => f.max_value = Some(money(key, value)?),
                _ => return Err(unknown(key, KNOWN_KEYS)),
            }
        }
        if let Some(y) = year {
            let (first, last) = (
                NaiveDate::from_ymd_opt(y, 1, 1),
                NaiveDate::from_ymd_opt(y, 12, 31),
            );
            from = from.max(first);
            until = match (until, last) {
                (Some(u), Some(l)) => Some(u.min(l)),
                (u, l) => u.or(l),
            };
        }
        check_period(from, until)?;
        if let (Some(a), Some(b)) = (f.min_value, f.max_value) {
            if a > b {
                return Err(error(
                    "min_value",
                    format!(
                        "O filtro \"min_value\" ({}) é maior que \"max_value\" ({}).",
                        crate::domain::format::reais(a),
                        crate::domain::format::reais(b)
                    ),
                ));
            }
        }
        f.signed_from = from;
        f.signed_until = until;
        Ok(f)
    }
}

impl ContractFilters {
    /// What was asked, in words, for the summary: "assinados em 2024, valor a partir
    /// de R$ 1.000.000,00".
    pub fn describe(&self) -> String {
        self.describe_as("assinados", "fornecedor", "todos os contratos importados")
    }

    /// [`Self::describe`] in another source's words: the verb of its date
    /// ("abertas"), what `cnpj_fornecedor` names ("participante"), and what no
    /// filter means.
    pub fn describe_as(&self, dated: &str, supplier: &str, everything: &str) -> String {
        use crate::domain::format::{date, reais};
        let mut parts = Vec::new();
        match (self.signed_from, self.signed_until) {
            (Some(a), Some(b))
                if a.format("%m-%d").to_string() == "01-01"
                    && b.format("%m-%d").to_string() == "12-31"
                    && a.format("%Y").to_string() == b.format("%Y").to_string() =>
            {
                parts.push(format!("{dated} em {}", a.format("%Y")))
            }
            (Some(a), Some(b)) => parts.push(format!("{dated} de {} a {}", date(a), date(b))),
            (Some(a), None) => parts.push(format!("{dated} a partir de {}", date(a))),
            (None, Some(b)) => parts.push(format!("{dated} até {}", date(b))),
            (None, None) => {}
        }
        match (self.min_value, self.max_value) {
            (Some(a), Some(b)) => parts.push(format!("valor entre {} e {}", reais(a), reais(b))),
            (Some(a), None) => parts.push(format!("valor a partir de {}", reais(a))),
            (None, Some(b)) => parts.push(format!("valor até {}", reais(b))),
            (None, None) => {}
        }
        for (label, value) in [
            ("órgão", &self.codigo_orgao),
            ("órgão superior", &self.codigo_orgao_superior),
            ("UG", &self.codigo_ug),
            (supplier, &self.cnpj_fornecedor),
        ] {
            if let Some(v) = value {
                parts.push(format!("{label} {v}"));
            }
        }
        if !self.modalidade.is_empty() {
            parts.push(format!("modalidade {}", self.modalidade.join(" ou ")));
        }
        if !self.texto.is_empty() {
            parts.push(format!("objeto com \"{}\"", self.texto.join(" ")));
        }
        if parts.is_empty() {
            everything.to_string()
        } else {
            parts.join(", ")
        }
    }
}

/// Where another source keeps what the contracts' filters name, for
/// [`ContractFilters::where_on`]: each a column or expression of its table.
pub struct Columns {
    pub orgao: &'static str,
    pub orgao_superior: &'static str,
    pub ug: &'static str,
    /// A condition on `cnpj_fornecedor`, with `?` for a LIKE pattern: the
    /// document itself, or a CNPJ root followed by `%`.
    pub supplier: &'static str,
    /// Folded text that `modalidade` matches.
    pub modality: &'static str,
    /// Folded text that `texto` matches.
    pub object: &'static str,
    /// The date `year`, `data_inicial` and `data_final` bound.
    pub date: &'static str,
    /// Numeric reais that `min_value` and `max_value` bound.
    pub value: &'static str,
}

impl ContractFilters {
    /// The WHERE clause of these filters over another source's table, and its
    /// parameters, one fixed fragment per filter given.
    pub fn where_on(&self, c: &Columns) -> (String, QueryParams) {
        use tokio_postgres::types::Type;
        let mut w = Where::default();
        for (column, value) in [
            (c.orgao, &self.codigo_orgao),
            (c.orgao_superior, &self.codigo_orgao_superior),
            (c.ug, &self.codigo_ug),
        ] {
            if let Some(v) = value {
                w.push(&format!("{column} = ?"), Box::new(v.clone()), Type::TEXT);
            }
        }
        if let Some(code) = &self.cnpj_fornecedor {
            // Digits only, so no wildcard but the root's.
            let pattern = if code.len() == 8 {
                format!("{code}%")
            } else {
                code.clone()
            };
            w.push(c.supplier, Box::new(pattern), Type::TEXT);
        }
        // `fold` leaves only letters, digits and spaces: no word holds a wildcard.
        for (expression, words, any) in [
            (c.modality, &self.modalidade, true),
            (c.object, &self.texto, false),
        ] {
            if !words.is_empty() {
                let patterns: Vec<String> = words.iter().map(|w| format!("%{w}%")).collect();
                let op = if any { "any" } else { "all" };
                w.push(
                    &format!("{expression} like {op}(?)"),
                    Box::new(patterns),
                    Type::TEXT_ARRAY,
                );
            }
        }
        if let Some(v) = self.signed_from {
            w.push(&format!("{} >= ?", c.date), Box::new(v), Type::DATE);
        }
        if let Some(v) = self.signed_until {
            w.push(&format!("{} <= ?", c.date), Box::new(v), Type::DATE);
        }
        if let Some(v) = self.min_value {
            w.push(
                &format!("{} >= ?::float8::numeric", c.value),
                Box::new(v),
                Type::FLOAT8,
            );
        }
        if let Some(v) = self.max_value {
            w.push(
                &format!("{} <= ?::float8::numeric", c.value),
                Box::new(v),
                Type::FLOAT8,
            );
        }
        w.finish()
    }
}

/// Codes are digit strings; numbers are accepted (`26000` for `"26000"`). Leading
/// zeros matter (`"00001"`), so a string is kept as written.
pub(crate) fn code(key: &str, value: &Value) -> Result<String, FilterError> {
    let text = match value {
        Value::String(s) => s.trim().to_string(),
        Value::Number(n) if n.is_u64() => n.to_string(),
        _ => String::new(),
    };
    if text.is_empty() || !text.chars().all(|c| c.is_ascii_digit()) {
        return Err(error(
            key,
            format!(
                "O filtro \"{key}\" deve ser um código numérico, como \"26000\"; recebido: {}.",
                echo_json(value)
            ),
        ));
    }
    Ok(text)
}

/// A CNPJ (14 digits) or CPF (11), with or without punctuation.
fn supplier(key: &str, value: &Value) -> Result<String, FilterError> {
    let digits: String = match value {
        Value::String(s) => s.chars().filter(|c| !".-/ ".contains(*c)).collect(),
        Value::Number(n) if n.is_u64() => n.to_string(),
        _ => String::new(),
    };
    let ok = digits.chars().all(|c| c.is_ascii_digit()) && matches!(digits.len(), 8 | 11 | 14);
    if !ok {
        return Err(error(
            key,
            format!(
                "O filtro \"{key}\" deve ser um CNPJ (14 dígitos, como \"12.345.678/0001-90\"), \
                 a raiz de um CNPJ (8 dígitos, a empresa com todas as filiais) ou um CPF (11 \
                 dígitos); recebido: {}.",
                echo_json(value)
            ),
        ));
    }
    Ok(digits)
}

fn words(key: &str, value: &Value) -> Result<Vec<String>, FilterError> {
    let folded = match value {
        Value::String(s) => fold(s),
        _ => String::new(),
    };
    if folded.is_empty() {
        return Err(error(
            key,
            format!(
                "O filtro \"{key}\" deve ser um texto com letras ou números, como \"pregão\"; \
                 recebido: {}.",
                echo_json(value)
            ),
        ));
    }
    Ok(folded.split(' ').map(str::to_string).collect())
}

/// Modalities at most in one filter: each is one more pattern per contract.
const MAX_MODALITIES: usize = 8;

/// `"pregão"` or `["dispensa", "inexigibilidade"]`.
fn modalities(key: &str, value: &Value) -> Result<Vec<String>, FilterError> {
    let items: Vec<&Value> = match value {
        Value::Array(items) if !items.is_empty() && items.len() <= MAX_MODALITIES => {
            items.iter().collect()
        }
        Value::Array(_) => {
            return Err(error(
                key,
                format!(
                    "O filtro \"{key}\" deve ser um texto ou uma lista de 1 a {MAX_MODALITIES} \
                     textos, como [\"dispensa\", \"inexigibilidade\"]; recebido: {}.",
                    echo_json(value)
                ),
            ))
        }
        one => vec![one],
    };
    let mut out: Vec<String> = Vec::new();
    for item in items {
        let folded = words(key, item)?.join(" ");
        if !out.contains(&folded) {
            out.push(folded);
        }
    }
    Ok(out)
}

/// The words of `texto`, each a substring every object must contain: at most
/// [`MAX_TEXT_WORDS`] distinct ones.
pub(crate) fn search_words(key: &str, value: &Value) -> Result<Vec<String>, FilterError> {
    let chars = value.as_str().map_or(0, |s| s.chars().count());
    if chars > MAX_TEXT_CHARS {
        return Err(error(
            key,
            format!(
                "O filtro \"{key}\" tem {chars} caracteres; use no máximo {MAX_TEXT_CHARS}, \
                 algumas palavras que descrevam o objeto, como \"ambulância UTI\"."
            ),
        ));
    }
    let mut found = words(key, value)?;
    let mut seen = std::collections::HashSet::new();
    found.retain(|w| seen.insert(w.clone()));
    let max = MAX_TEXT_WORDS;
    if found.len() > max {
        return Err(error(
            key,
            format!(
                "O filtro \"{key}\" tem {} palavras; use no máximo {max}, as que melhor \
                 descrevem o objeto, como \"ambulância UTI\".",
                found.len()
            ),
        ));
    }
    Ok(found)
}

pub(crate) fn year_of(key: &str, value: &Value) -> Result<i32, FilterError> {
    match value.as_i64() {
        Some(y) if (1990..=2100).contains(&y) => Ok(y as i32),
        _ => Err(error(
            key,
            format!(
                "O filtro \"{key}\" deve ser um ano, número inteiro entre 1990 e 2100, como 2024; \
                 recebido: {}.",
                echo_json(value)
            ),
        )),
    }
}

pub(crate) fn date(key: &str, value: &Value) -> Result<NaiveDate, FilterError> {
    value
        .as_str()
        .and_then(|s| NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok())
        .ok_or_else(|| {
            error(
                key,
                format!(
                    "O filtro \"{key}\" deve ser uma data no formato AAAA-MM-DD, como \
                     \"2024-03-31\"; recebido: {}.",
                    echo_json(value)
                ),
            )
        })
}

pub(crate) fn money(key: &str, value: &Value) -> Result<f64, FilterError> {
    match value.as_f64() {
        Some(v) if v.is_finite() && (0.0..=MAX_MONEY).contains(&v) => Ok(v),
        _ => Err(error(
            key,
            format!(
                "O filtro \"{key}\" deve ser um valor em reais, número não negativo sem aspas, \
                 como 1000000, de no máximo {}; recebido: {}.",
                crate::domain::format::reais(MAX_MONEY),
                echo_json(value)
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    /// Any JSON value, with the keys the parser knows among random ones.
    fn any_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            any::<f64>().prop_map(|f| json!(f)),
            ".{0,40}".prop_map(Value::String),
            Just(json!("2024-02-31")),
            Just(json!("31/12/2021")),
            Just(json!("12.345.678/0001-90")),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            let key = prop_oneof![
                Just("year".to_string()),
                Just("min_value".to_string()),
                Just("max_value".to_string()),
                Just("texto".to_string()),
                Just("codigo_orgao".to_string()),
                Just("cnpj_fornecedor".to_string()),
                Just("modalidade".to_string()),
                Just("data_inicial".to_string()),
                Just("data_final".to_string()),
                ".{0,12}",
            ];
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::btree_map(key, inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Whatever a citizen sends, the parser answers: filters within the
        /// bounds the SQL relies on, or one short message in Portuguese.
        #[test]
        fn any_json_parses_to_bounded_filters_or_a_short_portuguese_message(filters in any_json()) {
            match ContractFilters::parse(&filters) {
                Ok(f) => {
                    for v in [f.min_value, f.max_value].into_iter().flatten() {
                        prop_assert!(v.is_finite() && v.abs() <= MAX_MONEY, "{}", v);
                    }
                    prop_assert!(f.texto.len() <= MAX_TEXT_WORDS);
                }
                Err(e) => {
                    prop_assert!(e.message.chars().count() < 400, "{}", e.message);
                    prop_assert!(!e.message.contains('\n'), "{}", e.message);
                    prop_assert!(e.message.contains("deve") || e.message.contains("não"), "{}", e.message);
                }
            }
        }
    }

    #[test]
    fn the_original_frontends_filters_work_as_written() {
        let f =
            ContractFilters::parse(&json!({"min_value": 1000000, "year": 2024})).expect("valid");
        assert_eq!(f.min_value, Some(1_000_000.0));
        assert_eq!(f.signed_from, NaiveDate::from_ymd_opt(2024, 1, 1));
        assert_eq!(f.signed_until, NaiveDate::from_ymd_opt(2024, 12, 31));
    }

    #[test]
    fn codes_accept_numbers_and_keep_leading_zeros() {
        let f = ContractFilters::parse(&json!({"codigo_orgao": 26000, "codigo_ug": "00123"}))
            .expect("valid");
        assert_eq!(f.codigo_orgao.as_deref(), Some("26000"));
        assert_eq!(f.codigo_ug.as_deref(), Some("00123"));
    }

    #[test]
    fn text_filters_ignore_case_and_accents() {
        let f =
            ContractFilters::parse(&json!({"modalidade": "PREGÃO", "texto": "Saúde  Indígena"}))
                .expect("valid");
        assert_eq!(f.modalidade, ["pregao"]);
        assert_eq!(f.texto, vec!["saude", "indigena"]);
    }

    #[test]
    fn modality_takes_one_text_or_a_list_of_alternatives() {
        let f = ContractFilters::parse(&json!({"modalidade": ["Dispensa", "inexigibilidade"]}))
            .expect("valid");
        assert_eq!(f.modalidade, ["dispensa", "inexigibilidade"]);
        for bad in [json!([]), json!([1]), json!(vec!["a"; 9])] {
            let err = ContractFilters::parse(&json!({ "modalidade": bad })).expect_err("invalid");
            assert_eq!(err.key, "modalidade");
        }
    }

    #[test]
    fn an_unknown_key_is_named_with_the_accepted_ones() {
        let err = ContractFilters::parse(&json!({"ano": 2024})).expect_err("unknown key");
        assert_eq!(err.key, "ano");
        assert!(
            err.message.contains("\"ano\" não existe") && err.message.contains("year"),
            "{}",
            err.message
        );
    }

    #[test]
    fn a_wrong_type_names_the_key_and_the_expected_form() {
        for (filters, key, expected) in [
            (json!({"year": "2024"}), "year", "número inteiro"),
            (
                json!({"min_value": "1 milhão"}),
                "min_value",
                "valor em reais",
            ),
            (
                json!({"data_inicial": "31/12/2024"}),
                "data_inicial",
                "AAAA-MM-DD",
            ),
            (
                json!({"codigo_orgao": "MS"}),
                "codigo_orgao",
                "código numérico",
            ),
            (
                json!({"cnpj_fornecedor": "123"}),
                "cnpj_fornecedor",
                "14 dígitos",
            ),
            (json!(["year", 2024]), "filters", "objeto JSON"),
        ] {
            let err = ContractFilters::parse(&filters).expect_err("invalid");
            assert_eq!(err.key, key);
            assert!(err.message.contains(expected), "{}", err.message);
        }
    }

    #[test]
    fn filters_read_as_words_in_the_summary() {
        let f = ContractFilters::parse(
            &json!({"min_value": 1000000, "year": 2024, "codigo_orgao": "36000"}),
        )
        .expect("valid");
        assert_eq!(
            f.describe(),
            "assinados em 2024, valor a partir de R$ 1.000.000,00, órgão 36000"
        );
    }

    #[test]
    fn a_hostile_key_is_echoed_short_and_on_one_line() {
        let key = format!("x\nlevel=ERROR forged{}", "k".repeat(1_000_000));
        let err = ContractFilters::parse(&json!({ key: 1 })).expect_err("unknown key");
        assert!(err.message.len() < 400, "{} bytes", err.message.len());
        assert!(!err.message.contains('\n') && !err.key.contains('\n'));
    }

    #[test]
    fn texto_takes_at_most_ten_distinct_words() {
        let f = ContractFilters::parse(&json!({"texto": "ambulancia ambulancia UTI"}))
            .expect("repeated words count once");
        assert_eq!(f.texto, vec!["ambulancia", "uti"]);
        let err = ContractFilters::parse(&json!({ "texto": "a b c d e f g h i j k" }))
            .expect_err("eleven words");
        assert!(err.message.contains("11 palavras"), "{}", err.message);
        let err = ContractFilters::parse(&json!({ "texto": "a ".repeat(30_000) }))
            .expect_err("60,000 characters");
        assert!(err.message.contains("60000 caracteres"), "{}", err.message);
    }

    #[test]
    fn absurd_amounts_are_refused_with_an_ordinary_number() {
        let err = ContractFilters::parse(&json!({"min_value": 1e308})).expect_err("1e308");
        assert!(
            err.message.contains("R$ 10.000.000.000.000,00"),
            "{}",
            err.message
        );
    }

    #[test]
    fn an_empty_period_is_refused() {
        let err = ContractFilters::parse(&json!({"year": 2023, "data_inicial": "2024-01-01"}))
            .expect_err("empty period");
        assert!(
            err.message.contains("período pedido está vazio"),
            "{}",
            err.message
        );
    }
}
