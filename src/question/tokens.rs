//! The question split into words, numbers and a few symbols, each folded and
//! with its place in the text, so a reading can quote the citizen's own words.

use std::ops::Range;

use crate::domain::text::fold;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Word,
    /// Digits, with the separators between digits kept: "1.000.000,00",
    /// "31/12/2024", "12.345.678/0001-90", "2021-2023"; an ordinal keeps its
    /// letter ("1o" for "1º").
    Number,
    /// `$`, `>`, `<`, `=`, `%`; "R$" is one symbol token, "r$".
    Symbol,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub text: String,
    pub kind: Kind,
    /// Bytes of the original text.
    pub span: Range<usize>,
    /// Written in capitals in the original ("PRF"), for acronyms.
    pub upper: bool,
    /// Punctuation that ends a clause stands between this token and the one
    /// before (",", "?", ": ", ". "): a name or an object ends there.
    pub after_break: bool,
}

/// Questions are at most 2,000 characters (src/input.rs); this bounds the work
/// of every reader whatever reaches it.
pub const MAX_TOKENS: usize = 600;

fn ordinal_letter(c: char) -> Option<char> {
    match c {
        'º' | '°' => Some('o'),
        'ª' => Some('a'),
        _ => None,
    }
}

/// Punctuation that ends a clause; a dot only before a space or the end, so
/// "S.A" and "1.000" stay whole ("Min. da" is mended by the reader, which knows
/// the abbreviation).
fn breaks(c: char, next: Option<char>) -> bool {
    matches!(
        c,
        ',' | ';' | ':' | '?' | '!' | '(' | ')' | '"' | '\n' | '\r'
    ) || c == '.' && next.map_or(true, char::is_whitespace)
}

pub fn tokenize(text: &str) -> Vec<Token> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let end_of = |i: usize| chars.get(i).map_or(text.len(), |(b, _)| *b);
    let mut out: Vec<Token> = Vec::new();
    let mut pending_break = false;
    let mut i = 0;
    while i < chars.len() && out.len() < MAX_TOKENS {
        let (start, c) = chars[i];
        let after_break = std::mem::take(&mut pending_break);
        if c.is_ascii_digit() {
            let mut j = i + 1;
            while j < chars.len() {
                let d = chars[j].1;
                let separator_between_digits = matches!(d, '.' | ',' | '/' | '-')
                    && chars.get(j + 1).is_some_and(|(_, n)| n.is_ascii_digit());
                if d.is_ascii_digit() || separator_between_digits {
                    j += 1;
                } else {
                    break;
                }
            }
            let mut number: String = chars[i..j].iter().map(|(_, c)| *c).collect();
            // "1º", "2o": an ordinal is one token.
            if let Some((_, l)) = chars.get(j) {
                let letter = ordinal_letter(*l).or_else(|| {
                    let next_is_letter = chars.get(j + 1).is_some_and(|(_, n)| n.is_alphabetic());
                    (matches!(l, 'o' | 'a') && !next_is_letter).then_some(*l)
                });
                if let Some(letter) = letter {
                    number.push(letter);
                    j += 1;
                }
            }
            out.push(Token {
                text: number,
                kind: Kind::Number,
                span: start..end_of(j),
                upper: false,
                after_break,
            });
            i = j;
        } else if c.is_alphabetic() {
            let mut j = i + 1;
            while j < chars.len()
                && chars[j].1.is_alphabetic()
                && ordinal_letter(chars[j].1).is_none()
            {
                j += 1;
            }
            let raw = &text[start..end_of(j)];
            let folded = fold(raw);
            let upper = raw.chars().count() > 1 && raw.chars().all(|c| !c.is_lowercase());
            if chars.get(j).is_some_and(|(_, d)| *d == '$') && folded == "r" {
                out.push(Token {
                    text: "r$".into(),
                    kind: Kind::Symbol,
                    span: start..end_of(j + 1),
                    upper: true,
                    after_break,
                });
                i = j + 1;
                continue;
            }
            if !folded.is_empty() {
                // A letter that folds into two words ("ǆ" is one) stays one token.
                out.push(Token {
                    text: folded.replace(' ', ""),
                    kind: Kind::Word,
                    span: start..end_of(j),
                    upper,
                    after_break,
                });
            }
            i = j;
        } else {
            if matches!(c, '$' | '>' | '<' | '=' | '%') {
                out.push(Token {
                    text: c.to_string(),
                    kind: Kind::Symbol,
                    span: start..end_of(i + 1),
                    upper: false,
                    after_break,
                });
            } else {
                pending_break = after_break || breaks(c, chars.get(i + 1).map(|(_, n)| *n));
            }
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(q: &str) -> Vec<String> {
        tokenize(q).into_iter().map(|t| t.text).collect()
    }

    #[test]
    fn numbers_keep_their_separators_and_words_fold() {
        assert_eq!(
            texts("Acima de R$1.000.000,00 no Ministério da Saúde (2024)!"),
            [
                "acima",
                "de",
                "r$",
                "1.000.000,00",
                "no",
                "ministerio",
                "da",
                "saude",
                "2024"
            ]
        );
        assert_eq!(
            texts("CNPJ 12.345.678/0001-90, de 01/03/2022 a 2021-2023."),
            [
                "cnpj",
                "12.345.678/0001-90",
                "de",
                "01/03/2022",
                "a",
                "2021-2023"
            ]
        );
    }

    #[test]
    fn ordinals_are_one_token_and_acronyms_are_marked() {
        let t = tokenize("1º semestre, 2o trimestre da PRF e 10k");
        let shown: Vec<(&str, bool)> = t.iter().map(|t| (t.text.as_str(), t.upper)).collect();
        assert_eq!(
            shown,
            [
                ("1o", false),
                ("semestre", false),
                ("2o", false),
                ("trimestre", false),
                ("da", false),
                ("prf", true),
                ("e", false),
                ("10", false),
                ("k", false)
            ]
        );
    }

    #[test]
    fn clause_punctuation_is_marked_and_a_dot_inside_a_word_is_not() {
        let t = tokenize("No Ministério da Saúde, quais? Claro S.A. e Min. X");
        let marked: Vec<&str> = t
            .iter()
            .filter(|t| t.after_break)
            .map(|t| t.text.as_str())
            .collect();
        assert_eq!(marked, ["quais", "claro", "e", "x"]);
    }

    #[test]
    fn spans_quote_the_original_text() {
        let q = "até 17.600 reais";
        let t = tokenize(q);
        assert_eq!(&q[t[0].span.clone()], "até");
        assert_eq!(&q[t[1].span.clone()], "17.600");
    }
}
