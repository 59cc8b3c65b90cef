//! Text normalisation shared by the detectors and the data source: what "the same
//! object" and "ignoring case and accents" mean everywhere in fiscal.

use std::collections::BTreeSet;

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

/// Lower case, accents removed, anything but letters and digits turned into single
/// spaces: "Aquisição de ÁGUA-mineral" → "aquisicao de agua mineral".
pub fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut space = true;
    for c in text.nfd().filter(|c| !is_combining_mark(*c)) {
        if c.is_alphanumeric() {
            out.extend(c.to_lowercase());
            space = false;
        } else if !space {
            out.push(' ');
            space = true;
        }
    }
    if out.ends_with(' ') {
        out.pop();
    }
    out
}

/// Portuguese function words and procurement boilerplate that say nothing about
/// what was bought ("contratação de empresa para prestação de serviços de …").
const STOP_WORDS: &[&str] = &[
    "a",
    "ao",
    "aos",
    "as",
    "com",
    "da",
    "das",
    "de",
    "do",
    "dos",
    "e",
    "em",
    "na",
    "nas",
    "no",
    "nos",
    "o",
    "os",
    "ou",
    "para",
    "pela",
    "pelas",
    "pelo",
    "pelos",
    "por",
    "que",
    "se",
    "sem",
    "sob",
    "um",
    "uma",
    "objeto",
    "contratacao",
    "empresa",
    "especializada",
    "prestacao",
    "servico",
    "servicos",
    "aquisicao",
    "fornecimento",
    "conforme",
    "termo",
    "referencia",
    "edital",
    "anexo",
    "item",
    "itens",
    "lote",
    "processo",
    "contrato",
    "n",
    "no",
    "nº",
];

/// The words of `fold(text)` that carry meaning, as a set.
pub fn tokens(text: &str) -> BTreeSet<String> {
    fold(text)
        .split(' ')
        .filter(|w| w.len() > 1 && !STOP_WORDS.contains(w))
        .map(str::to_string)
        .collect()
}

/// |A ∩ B| / |A ∪ B|; two empty sets are not similar.
pub fn jaccard(a: &BTreeSet<String>, b: &BTreeSet<String>) -> f64 {
    if a.is_empty() && b.is_empty() {
        return 0.0;
    }
    let common = a.intersection(b).count();
    common as f64 / (a.len() + b.len() - common) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fold_ignores_case_accents_and_punctuation() {
        assert_eq!(
            fold("Objeto: Aquisição de ÁGUA-mineral (20L)."),
            "objeto aquisicao de agua mineral 20l"
        );
    }

    #[test]
    fn boilerplate_does_not_make_objects_similar() {
        let a =
            tokens("Contratação de empresa especializada para prestação de serviços de limpeza");
        let b =
            tokens("Contratação de empresa especializada para prestação de serviços de vigilância");
        assert_eq!(jaccard(&a, &b), 0.0);
        let c = tokens("Serviços de LIMPEZA");
        assert_eq!(jaccard(&a, &c), 1.0);
    }
}
