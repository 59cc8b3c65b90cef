//! What a citizen wrote on the row, read without trusting it.
//!
//! Invariant: nothing a citizen can store makes the worker panic or stalls it.
//! The database refuses oversized or malformed input at insert
//! (sql/migrations/0008); rows stored before that, or by a back office that went
//! around it, are read here again with the same limits: the claim fetches the
//! JSON columns as text (never decoding them into a type on the way, where a
//! refusal would panic) and only up to the limits, and whatever cannot be read
//! becomes an [`Unreadable`] that the worker writes as `failed` through the
//! fenced path, while the rest of the batch runs.
//!
//! Whatever is echoed back (in an error message, the metadata or a log line)
//! goes through [`echo`]: short, and with control characters escaped, so a
//! newline in a filter key cannot forge a log line.

use serde_json::Value;

/// Characters of `query` at most (check_investigation_input).
pub const MAX_QUERY_CHARS: usize = 2000;
/// Bytes of `filters` as PostgreSQL prints jsonb (check_citizen_json).
pub const MAX_FILTERS_BYTES: usize = 4096;
/// Bytes of `anomaly_types` as PostgreSQL prints jsonb.
pub const MAX_ANOMALY_TYPES_BYTES: usize = 1024;
/// Characters of citizen text repeated in a message or a log line.
pub const MAX_ECHO_CHARS: usize = 60;

/// For a claimed row whose columns do not decode at all (a schema changed by
/// hand): nothing the citizen can fix, so it says whom to tell.
pub const UNREADABLE_ROW: &str = "Esta investigação não pôde ser lida pelo fiscal e nada foi \
    analisado. Crie a investigação de novo; se o problema continuar, avise a equipe do fiscal.";

/// A row the worker cannot run as written: failed at once, never retried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreadable {
    /// For the citizen, pt-BR.
    pub message: String,
    /// For the operator (metadata and logs); never holds citizen text unechoed.
    pub detail: String,
}

/// Citizen text as it may be repeated: at most [`MAX_ECHO_CHARS`] characters,
/// control characters (newlines included) escaped, an ellipsis when cut.
pub fn echo(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars();
    for c in chars.by_ref().take(MAX_ECHO_CHARS) {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    if chars.next().is_some() {
        out.push('…');
    }
    out
}

/// A JSON value as it may be repeated: its compact text, through [`echo`].
pub fn echo_json(value: &Value) -> String {
    echo(&value.to_string())
}

/// The text of the question, refused when longer than the limit. `query` was
/// fetched cut one character past the limit, so a long one costs nothing more.
pub fn query(query: String) -> Result<String, Unreadable> {
    if query.chars().count() > MAX_QUERY_CHARS {
        return Err(Unreadable {
            message: format!(
                "A pergunta é longa demais; o máximo é {MAX_QUERY_CHARS} caracteres. Nada foi \
                 analisado: crie a investigação de novo com uma pergunta mais curta."
            ),
            detail: format!("query longer than {MAX_QUERY_CHARS} characters"),
        });
    }
    Ok(query)
}

/// A JSON column as the claim fetched it: its text, or None when its `bytes`
/// were over `max_bytes`.
pub fn json(
    column: &str,
    text: Option<&str>,
    bytes: i64,
    max_bytes: usize,
) -> Result<Value, Unreadable> {
    let Some(text) = text else {
        return Err(Unreadable {
            message: format!(
                "O campo {column} é grande demais ({bytes} bytes); o máximo é {max_bytes} bytes. \
                 Nada foi analisado: crie a investigação de novo só com os filtros da pergunta."
            ),
            detail: format!("{column} of {bytes} bytes exceeds {max_bytes}"),
        });
    };
    // serde_json refuses what PostgreSQL accepts: numbers beyond f64 (1e400) and
    // nesting past 128 levels. Both are errors here, not panics.
    serde_json::from_str(text).map_err(|e| Unreadable {
        message: format!(
            "O campo {column} não pôde ser lido: {}. Nada foi analisado; use números comuns \
             (como 1000000) e objetos simples, como {{\"year\": 2024}}.",
            why(&e)
        ),
        detail: format!("{column} does not decode: {e}"),
    })
}

fn why(e: &serde_json::Error) -> &'static str {
    let text = e.to_string();
    if text.contains("recursion limit") {
        "tem níveis demais de objetos ou listas uns dentro dos outros"
    } else if text.contains("number out of range") {
        "tem um número grande demais"
    } else {
        "não é um JSON válido"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echo_cuts_long_text_and_escapes_newlines() {
        assert_eq!(echo("ano"), "ano");
        assert_eq!(echo("a\nb\u{1b}[31m"), "a\\nb\\u{1b}[31m");
        let long = "x".repeat(1_000_000);
        let shown = echo(&long);
        assert_eq!(shown.chars().count(), MAX_ECHO_CHARS + 1);
        assert!(shown.ends_with('…'));
    }

    #[test]
    fn numbers_beyond_f64_and_deep_nesting_are_refused_not_panics() {
        let err = json("filters", Some(r#"{"min_value": 1e400}"#), 20, 4096).expect_err("1e400");
        assert!(
            err.message.contains("número grande demais"),
            "{}",
            err.message
        );
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        let err = json("filters", Some(&deep), deep.len() as i64, 4096).expect_err("deep");
        assert!(err.message.contains("níveis demais"), "{}", err.message);
    }

    #[test]
    fn an_oversized_column_is_refused_without_reading_it() {
        let err = json("anomaly_types", None, 10_000_000, 1024).expect_err("too big");
        assert!(err.message.contains("10000000 bytes"), "{}", err.message);
        assert!(query("a".repeat(MAX_QUERY_CHARS + 1)).is_err());
        assert!(query("a".repeat(MAX_QUERY_CHARS)).is_ok());
    }
}
