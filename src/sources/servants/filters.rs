//! The `filters` of a servants investigation, checked and typed, with the
//! conventions of the other sources (src/sources/filters.rs).

use serde_json::{Map, Value};

use crate::sources::filters::{code, object, search_words, unknown, FilterError};

/// The keys a `servants` investigation accepts, in the order the error lists them.
pub const KNOWN_KEYS: &[&str] = &["codigo_orgao", "texto"];

#[derive(Debug, Clone, Default, PartialEq)]
pub struct StaffFilters {
    /// The SIAPE code of the organ the servants work in (`45205` IBGE): what the
    /// API is asked for.
    pub codigo_orgao: Option<String>,
    /// Folded words that must all appear in one of the servant's positions.
    pub texto: Vec<String>,
}

impl StaffFilters {
    pub fn parse(filters: &Value) -> Result<Self, FilterError> {
        let empty = Map::new();
        let mut f = StaffFilters::default();
        for (key, value) in object(filters, &empty)? {
            if value.is_null() {
                continue;
            }
            match key.as_str() {
                "codigo_orgao" => f.codigo_orgao = Some(code(key, value)?),
                "texto" => f.texto = search_words(key, value)?,
                _ => return Err(unknown(key, KNOWN_KEYS)),
            }
        }
        Ok(f)
    }

    /// "servidores em exercício no órgão 45205".
    pub fn describe(&self) -> String {
        let mut text = match &self.codigo_orgao {
            Some(orgao) => format!("servidores em exercício no órgão {orgao}"),
            None => "todos os servidores consultados".to_string(),
        };
        if !self.texto.is_empty() {
            text.push_str(&format!(", cargo com \"{}\"", self.texto.join(" ")));
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_organ_code_is_read_and_a_budget_filter_is_refused() {
        let f = StaffFilters::parse(&json!({"codigo_orgao": 45205})).expect("valid");
        assert_eq!(f.codigo_orgao.as_deref(), Some("45205"));
        assert_eq!(f.describe(), "servidores em exercício no órgão 45205");
        let e = StaffFilters::parse(&json!({"year": 2024})).expect_err("no year here");
        assert_eq!(e.key, "year");
        assert!(e.message.contains("codigo_orgao, texto"), "{}", e.message);
    }
}
