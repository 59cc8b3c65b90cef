//! Agencies, suppliers and objects named in the question.
//!
//! An agency is found by an acronym of the vocabulary ("PRF", "IFSP") or by a
//! name that starts with a head word after a preposition ("no Ministério da
//! Saúde"); it is resolved against the imported units, comparing folded words
//! without connectives. An exact name wins over names it only begins; among
//! matches the broadest level wins (a name that is an órgão and its UG means the
//! órgão); several units left at that level are listed back to the citizen.

use serde_json::json;

use super::lookup::{name_words, Lookup, SupplierEntry, UnitEntry, MAX_SUPPLIERS};
use super::tokens::Kind;
use super::{
    document, list_pt, Group, Mention, Problem, Reader, Reading, Understanding, Vocabulary,
};

/// Units named in an ambiguity message at most.
const LISTED: usize = 6;

impl Reader<'_> {
    fn preceded_by_any(&self, i: usize, list: &[Vec<String>]) -> bool {
        list.iter().any(|p| {
            i >= p.len()
                && p.iter()
                    .enumerate()
                    .all(|(k, w)| self.tokens[i - p.len() + k].text == *w)
        })
    }

    fn capitalised(&self, i: usize) -> bool {
        self.text[self.tokens[i].span.clone()]
            .chars()
            .next()
            .is_some_and(char::is_uppercase)
    }

    /// The end of a name that starts at `i`: up to a stop word, a number, a word
    /// already read, or another name ("do IFSP e da UFG").
    fn name_end(&self, i: usize, stops: &[String]) -> usize {
        let mut j = i;
        // A stop word right after a connective is part of the name: "do Pará"
        // is a state, "para" a preposition.
        let stops_here = |j: usize| {
            stops.contains(&self.tokens[j].text)
                && !(j > i && self.vocab.connectives.contains(&self.tokens[j - 1].text))
        };
        while self.kind_at(j) == Some(Kind::Word)
            && !stops_here(j)
            && !(j > i && self.tokens[j].after_break)
        {
            // "do IFSP e da UFG", "da Saúde e do Ministério da Educação".
            let another = self.any_at(j, &self.vocab.agency_heads).is_some()
                || self
                    .vocab
                    .agencies
                    .iter()
                    .any(|a| self.any_at(j, &a.aliases).is_some());
            if j > i + 1 && another {
                let and_at = if self.tokens[j - 1].text == "e" {
                    Some(j - 1)
                } else {
                    (self.preceded_by_any(j, &self.vocab.agency_before)
                        && self.tokens[j - 2].text == "e")
                        .then(|| j - 2)
                };
                if let Some(and_at) = and_at.filter(|a| *a > i) {
                    return self.trim_connectives(i, and_at);
                }
            }
            j += 1;
        }
        self.trim_connectives(i, j)
    }

    /// Connectives left at the end belong to what follows ("Saúde de 2024").
    fn trim_connectives(&self, i: usize, mut j: usize) -> usize {
        while j > i && self.vocab.connectives.contains(&self.tokens[j - 1].text) {
            j -= 1;
        }
        j
    }

    /// A head word starts here: `Some(false)`; a long one with a typo
    /// ("minsterio"): `Some(true)`, tentative.
    fn head_at(&self, i: usize) -> Option<bool> {
        if self.any_at(i, &self.vocab.agency_heads).is_some() {
            return Some(false);
        }
        let word = self.text_at(i)?;
        // Short heads are a letter away from common words (banco/branco,
        // fundo/mundo, escola/escolha): only long ones are read through a typo.
        let typo = word.chars().count() >= self.vocab.typo_head_letters
            && self
                .vocab
                .agency_heads
                .iter()
                .any(|h| h.len() == 1 && one_edit_apart(word, &h[0]));
        typo.then_some(true)
    }

    pub(crate) fn agencies(&mut self) {
        // Names first, so "Comando do Exército" is one name and not "Comando" and
        // the acronym-like "Exército"; a name that is an alias ("Polícia
        // Federal") stands for the agency it names.
        let mut i = 0;
        while i < self.len() {
            let head = self.head_at(i).filter(|_| self.free(i));
            // "da empresa Fundação Getúlio Vargas" names a supplier.
            let starts = head.is_some()
                && !self.preceded_by_any(i, &self.vocab.supplier_markers)
                && (i == 0
                    || self.capitalised(i)
                    || self.preceded_by_any(i, &self.vocab.agency_before));
            if !starts {
                i += 1;
                continue;
            }
            let tentative = head == Some(true);
            let end = self.name_end(i, &self.vocab.agency_stops);
            let folded: Vec<String> = self.tokens[i..end].iter().map(|t| t.text.clone()).collect();
            let alias_of = self
                .vocab
                .agencies
                .iter()
                .find(|a| a.aliases.contains(&folded))
                .map(|a| a.name.clone());
            let written = self.words(i, end);
            // From the tokens, where abbreviations are spelt out ("Min." is
            // "ministerio").
            let words = match &alias_of {
                Some(name) => name_words(name, self.vocab),
                None => folded
                    .into_iter()
                    .filter(|w| !self.vocab.connectives.contains(w))
                    .collect(),
            };
            self.take(i, end);
            self.draft.agencies.push(Mention {
                words,
                written,
                alias_of,
                tentative,
            });
            i = end.max(i + 1);
        }
        for i in 0..self.len() {
            let aliases = &self.vocab.agencies;
            if let Some((n, name)) = aliases
                .iter()
                .find_map(|a| self.any_at(i, &a.aliases).map(|n| (n, a.name.clone())))
            {
                let mention = Mention {
                    words: name_words(&name, self.vocab),
                    written: self.words(i, i + n),
                    alias_of: Some(name),
                    tentative: false,
                };
                self.take(i, i + n);
                self.draft.agencies.push(mention);
            }
        }
    }

    pub(crate) fn suppliers(&mut self) {
        let mut i = 0;
        while i < self.len() {
            let Some(n) = self.any_at(i, &self.vocab.supplier_markers) else {
                i += 1;
                continue;
            };
            let start = i + n;
            let end = self.name_end(start, &self.vocab.agency_stops);
            let words: Vec<String> = self.tokens[start..end]
                .iter()
                .map(|t| t.text.clone())
                .filter(|w| !self.vocab.connectives.contains(w))
                .collect();
            if words.iter().any(|w| w.chars().count() >= 2) {
                let written = self.words(start, end);
                self.take(i, end);
                self.draft.suppliers.push(Mention {
                    words,
                    written,
                    alias_of: None,
                    tentative: false,
                });
            }
            i = end.max(i + 1);
        }
    }

    /// The stem every form of a word contains: "ambulâncias" → "ambulancia".
    fn stem(&self, word: &str) -> String {
        for (ending, replacement) in &self.vocab.endings {
            if let Some(base) = word.strip_suffix(ending.as_str()) {
                let stem = format!("{base}{replacement}");
                if stem.chars().count() >= self.vocab.object_min_letters {
                    return stem;
                }
            }
        }
        word.to_string()
    }

    /// What was bought: the words after "compras de", "aquisição de", …
    pub(crate) fn objects(&mut self) {
        let mut words: Vec<String> = Vec::new();
        // Each object: where its marker starts, where its words start, its end.
        let mut spans: Vec<(usize, usize, usize)> = Vec::new();
        let mut i = 0;
        while i < self.len() {
            let Some(n) = self.any_at(i, &self.vocab.object_markers) else {
                i += 1;
                continue;
            };
            let mut j = i + n;
            let mut found = Vec::new();
            while self.kind_at(j) == Some(Kind::Word)
                && !self.vocab.object_stops.contains(&self.tokens[j].text)
                && !(j > i + n && self.tokens[j].after_break)
            {
                let w = &self.tokens[j].text;
                if !self.vocab.object_ignored.contains(w)
                    && w.chars().count() >= self.vocab.object_min_letters
                {
                    found.push(self.stem(w));
                }
                j += 1;
            }
            if found.is_empty() {
                i += n;
                continue;
            }
            for w in found {
                if !words.contains(&w) && words.len() < self.vocab.object_max_words {
                    words.push(w);
                }
            }
            spans.push((i, i + n, j));
            self.take(i, j);
            i = j;
        }
        if spans.is_empty() {
            return;
        }
        let written: Vec<String> = spans.iter().map(|(a, _, b)| self.words(*a, *b)).collect();
        let object: Vec<String> = spans.iter().map(|(_, a, b)| self.words(*a, *b)).collect();
        self.draft.readings.push(Reading::setting(
            Group::Object,
            "texto",
            json!(words.join(" ")),
            written.join("; "),
            format!("com objeto sobre \"{}\"", object.join("\", \"")),
        ));
    }
}

/// How a unit matches a mention, best first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Match {
    /// The whole name (as far as the Portal wrote it).
    Exact,
    /// The mention is the name's beginning.
    Begun,
    /// The whole name, with a typo in a long word.
    Typo,
}

/// One insertion, deletion, substitution or swap of neighbours at most.
fn one_edit_apart(a: &str, b: &str) -> bool {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let (short, long) = if a.len() <= b.len() {
        (&a, &b)
    } else {
        (&b, &a)
    };
    if long.len() - short.len() > 1 {
        return false;
    }
    let start = short
        .iter()
        .zip(long.iter())
        .take_while(|(x, y)| x == y)
        .count();
    if short.len() == long.len() {
        let tail = |from: usize| short[from..] == long[from..];
        start == short.len()
            || tail(start + 1)
            || (start + 1 < short.len()
                && short[start] == long[start + 1]
                && short[start + 1] == long[start]
                && tail(start + 2))
    } else {
        short[start..] == long[start + 1..]
    }
}

fn matches(m: &[String], u: &UnitEntry, vocab: &Vocabulary) -> Option<Match> {
    let mut names: Vec<&[String]> = vec![&u.words];
    if u.words.len() > 1 && vocab.optional_first.contains(&u.words[0]) {
        names.push(&u.words[1..]);
    }
    let close = |a: &String, b: &String| {
        a == b
            || a.chars().count().max(b.chars().count()) >= vocab.typo_letters
                && one_edit_apart(a, b)
    };
    let mut best: Option<Match> = None;
    for n in names {
        let exact = m == n
            || u.cut
                && m.len() >= n.len()
                && !n.is_empty()
                && m[..n.len() - 1] == n[..n.len() - 1]
                && m[n.len() - 1].starts_with(n[n.len() - 1].as_str());
        let found = if exact {
            Some(Match::Exact)
        } else if !m.is_empty() && m.len() < n.len() && n[..m.len()] == *m {
            Some(Match::Begun)
        } else if m.len() == n.len() && m.iter().zip(n).all(|(a, b)| close(a, b)) {
            Some(Match::Typo)
        } else {
            None
        };
        best = match (best, found) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
    best
}

fn unit_said(u: &UnitEntry) -> String {
    format!("{} ({} {})", u.name, u.level.said(), u.code)
}

/// The first [`LISTED`] of `items` ("a; b; c"), with how many of `total`
/// are left out: "… e mais 4".
fn listing(items: impl Iterator<Item = String>, total: usize) -> String {
    let shown: Vec<String> = items.take(LISTED).collect();
    let rest = total.saturating_sub(shown.len());
    if rest > 0 {
        format!("{} e mais {rest}", shown.join("; "))
    } else {
        shown.join("; ")
    }
}

/// "da" Universidade, "do" Ministério.
fn of(unit: &UnitEntry, vocab: &Vocabulary) -> &'static str {
    let first = unit.words.first().map_or("", String::as_str);
    if vocab
        .feminine_endings
        .iter()
        .any(|e| first.ends_with(e.as_str()))
    {
        "da"
    } else {
        "do"
    }
}

/// The unit a mention names, or the problem to tell.
fn choose<'a>(
    m: &Mention,
    units: &'a [UnitEntry],
    vocab: &Vocabulary,
) -> Result<&'a UnitEntry, String> {
    let best = |words: &[String]| -> (Option<Match>, Vec<&'a UnitEntry>) {
        let found: Vec<(Match, &UnitEntry)> = units
            .iter()
            .filter_map(|u| matches(words, u, vocab).map(|k| (k, u)))
            .collect();
        let best = found.iter().map(|(k, _)| *k).min();
        let units = found
            .iter()
            .filter(|(k, _)| Some(*k) == best)
            .map(|(_, u)| *u)
            .collect();
        (best, units)
    };
    let (_, mut candidates) = best(&m.words);
    if candidates.is_empty() {
        // "Ministério da Saúde quais foram…": words no unit's name holds cannot
        // end a name; without them, an exact name is taken.
        let mut words = m.words.clone();
        while words
            .last()
            .is_some_and(|w| !units.iter().any(|u| u.words.contains(w)))
        {
            words.pop();
        }
        if !words.is_empty() && words.len() < m.words.len() {
            if let (Some(Match::Exact), exact) = best(&words) {
                candidates = exact;
            }
        }
    }
    let Some(top) = candidates.iter().map(|u| u.level).max() else {
        let meant = m
            .alias_of
            .as_ref()
            .map(|name| format!(" ({name})"))
            .unwrap_or_default();
        return Err(format!(
            "Não encontramos \"{}\"{meant} entre os órgãos e unidades dos contratos importados. \
             Confira o nome ou use o filtro \"codigo_orgao\" com o código SIAFI do órgão, como \
             26000.",
            m.written
        ));
    };
    let mut at_top: Vec<&UnitEntry> = candidates.into_iter().filter(|u| u.level == top).collect();
    at_top.sort_by(|a, b| (&a.name, &a.code).cmp(&(&b.name, &b.code)));
    at_top.dedup_by(|a, b| a.code == b.code);
    match at_top.as_slice() {
        [one] => Ok(one),
        many => Err(format!(
            "\"{}\" corresponde a {} unidades dos contratos importados: {}. Escreva o nome \
             completo de uma delas ou use o filtro \"{}\" com o código.",
            m.written,
            many.len(),
            listing(many.iter().map(|u| unit_said(u)), many.len()),
            top.filter()
        )),
    }
}

pub(super) fn resolve_agencies(
    mentions: &[Mention],
    vocab: &Vocabulary,
    lookup: &dyn Lookup,
    u: &mut Understanding,
) {
    let mut chosen: Vec<(&Mention, &UnitEntry)> = Vec::new();
    let mut seen: Vec<&[String]> = Vec::new();
    for m in mentions {
        // The same name twice is one name, and costs one search.
        if seen.contains(&m.words.as_slice()) {
            continue;
        }
        seen.push(&m.words);
        match choose(m, lookup.units(), vocab) {
            Ok(unit) => {
                if !chosen
                    .iter()
                    .any(|(_, c)| c.level == unit.level && c.code == unit.code)
                {
                    chosen.push((m, unit));
                }
            }
            // A typo'd head that names nothing was an ordinary word.
            Err(_) if m.tentative => {}
            Err(message) => u.problems.push(Problem {
                group: Group::Agency,
                message,
            }),
        }
    }
    match chosen.as_slice() {
        [] => {}
        [(m, unit)] => u.readings.push(Reading::setting(
            Group::Agency,
            unit.level.filter(),
            json!(unit.code),
            m.written.clone(),
            format!("{} {}", of(unit, vocab), unit_said(unit)),
        )),
        many => {
            let names: Vec<String> = many.iter().map(|(_, unit)| unit_said(unit)).collect();
            u.problems.push(Problem {
                group: Group::Agency,
                message: format!(
                    "A pergunta cita mais de um órgão ({}); uma investigação analisa um órgão \
                     por vez. Crie uma investigação para cada um.",
                    list_pt(&names, "e")
                ),
            });
        }
    }
}

pub(super) fn resolve_suppliers(
    mentions: &[Mention],
    vocab: &Vocabulary,
    lookup: &dyn Lookup,
    u: &mut Understanding,
) {
    // A CNPJ in the text says more than a name.
    if u.readings.iter().any(|r| r.group == Group::Supplier) {
        return;
    }
    let Some(m) = mentions.first() else { return };
    let found = lookup.suppliers(&m.words);
    let exact: Vec<SupplierEntry> = found
        .iter()
        .filter(|s| without_suffix(name_words(&s.name, vocab), vocab) == m.words)
        .cloned()
        .collect();
    // Every match the same company: its CNPJ root (the first 8 digits) selects
    // the head office and all its branches ("CLARO S.A.", 0001 to 0446).
    // Codes that are no CNPJ (the Portal also lists a 9-digit "404325440" for
    // CLARO S.A.) do not make the company ambiguous.
    let company = |list: &[SupplierEntry]| -> Option<(String, String)> {
        if list.len() > MAX_SUPPLIERS {
            return None;
        }
        let cnpjs: Vec<&SupplierEntry> = list.iter().filter(|s| is_document(&s.code, 14)).collect();
        let first = cnpjs.first()?;
        let root = &first.code[..8];
        cnpjs
            .iter()
            .all(|s| s.code.starts_with(root))
            .then(|| (root.to_string(), first.name.clone()))
    };
    let pick = match (found.as_slice(), exact.as_slice()) {
        ([one], _) | (_, [one]) => Some((one.code.clone(), one.name.clone())),
        _ => company(&found).or_else(|| company(&exact)),
    };
    if let Some((code, name)) = &pick {
        if !is_document(code, code.len()) {
            u.problems.push(Problem {
                group: Group::Supplier,
                message: format!(
                    "O fornecedor {} aparece nos contratos importados com o código \"{}\", \
                     que não é um CNPJ nem um CPF; não é possível selecionar seus contratos por \
                     ele.",
                    crate::input::echo(name),
                    crate::input::echo(code)
                ),
            });
            return;
        }
    }
    if let Some((code, name)) = pick {
        u.readings.push(Reading::setting(
            Group::Supplier,
            "cnpj_fornecedor",
            json!(code),
            m.written.clone(),
            format!("do fornecedor {name} ({})", document(&code)),
        ));
        return;
    }
    let message = if found.is_empty() {
        format!(
            "Não encontramos o fornecedor \"{}\" nos contratos importados. Confira o nome ou \
             informe o CNPJ.",
            m.written
        )
    } else {
        let names = found
            .iter()
            .map(|s| format!("{} ({})", s.name, document(&s.code)));
        // Past the lookup's limit the true number is unknown.
        let (how_many, shown) = if found.len() > MAX_SUPPLIERS {
            (
                format!("mais de {MAX_SUPPLIERS}"),
                format!("{} e outros", listing(names, LISTED)),
            )
        } else {
            (found.len().to_string(), listing(names, found.len()))
        };
        format!(
            "\"{}\" corresponde a {how_many} fornecedores dos contratos importados: {shown}. \
             Informe o CNPJ do fornecedor que procura.",
            m.written
        )
    };
    u.problems.push(Problem {
        group: Group::Supplier,
        message,
    });
}

/// A supplier's name without "S.A.", "LTDA" and the like at its end.
fn without_suffix(mut words: Vec<String>, vocab: &Vocabulary) -> Vec<String> {
    while let Some(n) = vocab
        .supplier_suffixes
        .iter()
        .find(|s| s.len() < words.len() && words.ends_with(s))
        .map(Vec::len)
    {
        words.truncate(words.len() - n);
    }
    words
}

/// Digits only, `len` of them (8, 11 or 14 make a document).
fn is_document(code: &str, len: usize) -> bool {
    matches!(len, 8 | 11 | 14) && code.len() == len && code.bytes().all(|b| b.is_ascii_digit())
}
