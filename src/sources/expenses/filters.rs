//! The `filters` of an expenses investigation, checked and typed. The same
//! conventions as the contracts' (src/sources/filters.rs): codes as digit
//! strings or numbers, `year` an integer, values in reais, unknown keys refused
//! with the list of accepted ones.

use serde_json::{Map, Value};

use crate::domain::format::reais;
use crate::input::echo_json;
use crate::sources::filters::{
    code, error, money, object, search_words, unknown, year_of, FilterError,
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
    /// Folded words that must all appear in the action's name.
    pub texto: Vec<String>,
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
                _ => return Err(unknown(key, KNOWN_KEYS)),
            }
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
