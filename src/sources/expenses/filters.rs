//! The `filters` of an expenses investigation, checked and typed. The same
//! conventions as the contracts' (src/sources/filters.rs): codes as digit
//! strings or numbers, `year` an integer, values in reais, unknown keys refused
//! with the list of accepted ones.

use chrono::{Datelike, NaiveDate};
use serde_json::{Map, Value};

use crate::domain::format::reais;
use crate::input::echo_json;
use crate::sources::filters::{
    check_period, code, date, error, money, object, search_words, unknown, year_of, FilterError,
};

/// The keys an `expenses` investigation accepts, in the order the error lists them.
pub const KNOWN_KEYS: &[&str] = &[
    "year",
    "codigo_orgao_superior",
    "codigo_orgao",
    "codigo_uo",
    "funcao",
    "programa",
    "acao",
    "grupo_despesa",
    "min_value",
    "max_value",
    "texto",
    "codigo_ug",
    "data_inicial",
    "data_final",
];

#[derive(Debug, Clone, Default, PartialEq)]
pub struct BudgetFilters {
    /// The budget year (exercício).
    pub year: Option<i32>,
    pub codigo_orgao_superior: Option<String>,
    /// The órgão subordinado, as in the contracts' `codigo_orgao`.
    pub codigo_orgao: Option<String>,
    pub codigo_uo: Option<String>,
    pub funcao: Option<String>,
    pub programa: Option<String>,
    /// Upper case: action codes are alphanumeric ("20TP", "00JG").
    pub acao: Option<String>,
    /// GND, one digit: 1 pessoal, 3 outras despesas correntes, 4 investimentos…
    pub grupo_despesa: Option<String>,
    /// Bounds on an allocation's value: its updated budget or what was committed
    /// under it, the larger (a line committed without budget is still selected).
    pub min_value: Option<f64>,
    pub max_value: Option<f64>,
    /// Folded words that must all appear in the action's name, or in a
    /// document's observation.
    pub texto: Vec<String>,
    /// A unidade gestora: documents only (a UG is not a budget classification).
    pub codigo_ug: Option<String>,
    /// Issue dates of documents, inclusive, within one budget year.
    pub data_inicial: Option<NaiveDate>,
    pub data_final: Option<NaiveDate>,
}

/// A budget action code: 4 letters or digits.
fn action(key: &str, value: &Value) -> Result<String, FilterError> {
    let text = match value {
        Value::String(s) => s.trim().to_ascii_uppercase(),
        Value::Number(n) if n.is_u64() => format!("{:0>4}", n),
        _ => String::new(),
    };
    if text.len() != 4 || !text.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(error(
            key,
            format!(
                "O filtro \"{key}\" deve ser o código de uma ação orçamentária, 4 letras ou \
                 números, como \"20TP\"; recebido: {}.",
                echo_json(value)
            ),
        ));
    }
    Ok(text)
}

/// A code of exactly `digits` digits (`funcao` "04", `programa` "0032");
/// a number is padded with zeros, as the budget writes it.
fn fixed_code(
    key: &str,
    value: &Value,
    digits: usize,
    example: &str,
) -> Result<String, FilterError> {
    let wrong = || {
        error(
            key,
            format!(
                "O filtro \"{key}\" deve ser um código de {digits} dígito(s), como \"{example}\"; \
                 recebido: {}.",
                echo_json(value)
            ),
        )
    };
    let text = code(key, value).map_err(|_| wrong())?;
    let padded = format!("{text:0>digits$}");
    if padded.len() != digits {
        return Err(wrong());
    }
    Ok(padded)
}

impl BudgetFilters {
    pub fn parse(filters: &Value) -> Result<Self, FilterError> {
        let empty = Map::new();
        let map = object(filters, &empty)?;
        let mut f = BudgetFilters::default();
        for (key, value) in map {
            if value.is_null() {
                continue;
            }
            match key.as_str() {
                "year" => f.year = Some(year_of(key, value)?),
                "codigo_orgao_superior" => f.codigo_orgao_superior = Some(code(key, value)?),
                "codigo_orgao" => f.codigo_orgao = Some(code(key, value)?),
                "codigo_uo" => f.codigo_uo = Some(code(key, value)?),
                "funcao" => f.funcao = Some(fixed_code(key, value, 2, "10")?),
                "programa" => f.programa = Some(fixed_code(key, value, 4, "5017")?),
                "acao" => f.acao = Some(action(key, value)?),
                "grupo_despesa" => f.grupo_despesa = Some(fixed_code(key, value, 1, "4")?),
                "min_value" => f.min_value = Some(money(key, value)?),
                "max_value" => f.max_value = Some(money(key, value)?),
                "texto" => f.texto = search_words(key, value)?,
                "codigo_ug" => f.codigo_ug = Some(code(key, value)?),
                "data_inicial" => f.data_inicial = Some(date(key, value)?),
                "data_final" => f.data_final = Some(date(key, value)?),
                _ => return Err(unknown(key, KNOWN_KEYS)),
            }
        }
        f.check_period()?;
        if f.codigo_ug.is_some() && f.classifies_below_the_organ() {
            return Err(error(
                "codigo_ug",
                "O filtro \"codigo_ug\" seleciona documentos de despesa (empenhos e \
                 pagamentos), que não trazem unidade orçamentária, função, programa nem ação; \
                 e esses filtros selecionam alocações do orçamento, que não trazem UG. Use \
                 \"codigo_ug\" ou \"codigo_uo\"/\"funcao\"/\"programa\"/\"acao\", não os dois."
                    .into(),
            ));
        }
        if let (Some(a), Some(b)) = (f.min_value, f.max_value) {
            if a > b {
                return Err(error(
                    "min_value",
                    format!(
                        "O filtro \"min_value\" ({}) é maior que \"max_value\" ({}).",
                        reais(a),
                        reais(b)
                    ),
                ));
            }
        }
        Ok(f)
    }

    /// The budget is yearly: a period is one year's, and names it.
    fn check_period(&mut self) -> Result<(), FilterError> {
        let years: Vec<i32> = [self.data_inicial, self.data_final]
            .iter()
            .flatten()
            .map(|d| d.year())
            .collect();
        let outside = |key: &str, year: i32| {
            error(
                key,
                format!(
                    "O orçamento é anual: \"data_inicial\" e \"data_final\" devem cair no \
                     mesmo ano{}; recebido o ano {year}.",
                    self.year
                        .map_or(String::new(), |y| format!(" de \"year\" ({y})"))
                ),
            )
        };
        if let Some(first) = years.first() {
            let expected = self.year.unwrap_or(*first);
            for (key, d) in [
                ("data_inicial", self.data_inicial),
                ("data_final", self.data_final),
            ] {
                if let Some(d) = d.filter(|d| d.year() != expected) {
                    return Err(outside(key, d.year()));
                }
            }
            self.year = Some(expected);
        }
        check_period(self.data_inicial, self.data_final)
    }

    /// The issue dates documents are read in: the period asked, within the
    /// budget year.
    pub fn document_period(&self) -> Option<(NaiveDate, NaiveDate)> {
        let year = self.year?;
        let first = NaiveDate::from_ymd_opt(year, 1, 1)?;
        let last = NaiveDate::from_ymd_opt(year, 12, 31)?;
        Some((
            self.data_inicial.unwrap_or(first),
            self.data_final.unwrap_or(last),
        ))
    }

    /// Keys of the budget's classification below the organ, which documents
    /// of a payment do not carry: with one of them, documents are not read.
    pub fn classifies_below_the_organ(&self) -> bool {
        self.codigo_uo.is_some()
            || self.funcao.is_some()
            || self.programa.is_some()
            || self.acao.is_some()
    }

    /// What was asked, in words, for the summary: "orçamento de 2022, órgão
    /// superior 36000".
    pub fn describe(&self) -> String {
        let mut parts = vec![match self.year {
            Some(y) => format!("orçamento de {y}"),
            None => "orçamento de todos os anos importados".to_string(),
        }];
        for (label, value) in [
            ("órgão superior", &self.codigo_orgao_superior),
            ("órgão", &self.codigo_orgao),
            ("unidade orçamentária", &self.codigo_uo),
            ("função", &self.funcao),
            ("programa", &self.programa),
            ("ação", &self.acao),
            ("grupo de despesa", &self.grupo_despesa),
            ("UG", &self.codigo_ug),
        ] {
            if let Some(v) = value {
                parts.push(format!("{label} {v}"));
            }
        }
        match (self.min_value, self.max_value) {
            (Some(a), Some(b)) => parts.push(format!("valor entre {} e {}", reais(a), reais(b))),
            (Some(a), None) => parts.push(format!("valor a partir de {}", reais(a))),
            (None, Some(b)) => parts.push(format!("valor até {}", reais(b))),
            (None, None) => {}
        }
        if !self.texto.is_empty() {
            parts.push(format!("ação com \"{}\"", self.texto.join(" ")));
        }
        match (self.data_inicial, self.data_final) {
            (Some(a), Some(b)) => parts.push(format!(
                "documentos de {} a {}",
                crate::domain::format::date(a),
                crate::domain::format::date(b)
            )),
            (Some(a), None) => parts.push(format!(
                "documentos desde {}",
                crate::domain::format::date(a)
            )),
            (None, Some(b)) => {
                parts.push(format!("documentos até {}", crate::domain::format::date(b)))
            }
            (None, None) => {}
        }
        parts.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn codes_are_padded_as_the_budget_writes_them() {
        let f = BudgetFilters::parse(&json!({
            "year": 2022, "codigo_orgao_superior": 36000, "funcao": 4, "programa": 32,
            "acao": "20tp", "grupo_despesa": "3", "min_value": 1000000
        }))
        .expect("valid");
        assert_eq!(f.year, Some(2022));
        assert_eq!(f.codigo_orgao_superior.as_deref(), Some("36000"));
        assert_eq!(f.funcao.as_deref(), Some("04"));
        assert_eq!(f.programa.as_deref(), Some("0032"));
        assert_eq!(f.acao.as_deref(), Some("20TP"));
        assert_eq!(f.grupo_despesa.as_deref(), Some("3"));
        assert_eq!(
            f.describe(),
            "orçamento de 2022, órgão superior 36000, função 04, programa 0032, ação 20TP, \
             grupo de despesa 3, valor a partir de R$ 1.000.000,00"
        );
    }

    #[test]
    fn a_contracts_filter_is_refused_with_the_keys_expenses_accept() {
        let e = BudgetFilters::parse(&json!({"cnpj_fornecedor": "12345678000190"}))
            .expect_err("no supplier in the budget");
        assert_eq!(e.key, "cnpj_fornecedor");
        assert!(e.message.contains("não existe"), "{}", e.message);
        assert!(e.message.contains("codigo_uo, funcao"), "{}", e.message);
    }

    #[test]
    fn malformed_codes_name_the_key_and_the_form() {
        for (filters, key) in [
            (json!({"funcao": "123"}), "funcao"),
            (json!({"acao": "20 TP"}), "acao"),
            (json!({"grupo_despesa": 12}), "grupo_despesa"),
            (json!({"year": "2022"}), "year"),
            (json!({"min_value": 10, "max_value": 1}), "min_value"),
        ] {
            let e = BudgetFilters::parse(&filters).expect_err("refused");
            assert_eq!(e.key, key, "{filters}");
            assert!(e.message.contains(key), "{}", e.message);
        }
        assert!(BudgetFilters::parse(&json!([1])).is_err());
    }
}
