//! The citizen's question, read: filters derived from the Portuguese text of
//! `query` ("contratos acima de R$ 1 milhão em 2024 no Ministério da Saúde").
//!
//! Pure and deterministic: no network, no model. [`read`] finds amounts, periods,
//! modalities, anomaly families, CNPJs, object words and the mentions of agencies
//! and suppliers, with the words the citizen used for each; [`resolve`] turns the
//! mentions into codes against what was imported (a [`Lookup`]), and says so
//! plainly when a name matches several units or none. The words it knows are
//! data: `data/question/vocabulary.toml`.
//!
//! Explicit `filters` win over the text, a whole group at a time (a period given
//! by `year` leaves every period of the text aside), and what was taken from which
//! words is recorded in the metadata and told in the summary ("Entendi: …").

mod amounts;
pub mod lookup;
mod names;
mod periods;
pub mod tokens;
pub mod vocabulary;

#[cfg(test)]
mod tests;

use chrono::NaiveDate;
use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::analysis::Family;
pub use lookup::{Directory, Level, Lookup, SupplierEntry, UnitEntry};
use tokens::{tokenize, Kind, Token};
pub use vocabulary::Vocabulary;

/// Which filters a reading sets; explicit filters override a whole group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Group {
    Value,
    Period,
    Agency,
    Supplier,
    Modality,
    Object,
    Families,
}

impl Group {
    /// The `filters` keys of the group.
    pub fn keys(self) -> &'static [&'static str] {
        match self {
            Group::Value => &["min_value", "max_value"],
            Group::Period => &["year", "data_inicial", "data_final"],
            Group::Agency => &["codigo_orgao", "codigo_orgao_superior", "codigo_ug"],
            Group::Supplier => &["cnpj_fornecedor"],
            Group::Modality => &["modalidade"],
            Group::Object => &["texto"],
            Group::Families => &[],
        }
    }
}

/// One thing understood, from which words.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reading {
    pub group: Group,
    /// The filters it sets, as `filters` carries them.
    pub filters: Map<String, Value>,
    /// Families it names (group `Families`).
    pub families: Vec<&'static str>,
    /// The citizen's words, as written.
    pub words: String,
    /// What the summary says, in Portuguese: "com valor acima de R$ 1.000.000,00".
    pub said: String,
}

impl Reading {
    fn new(group: Group, filters: Map<String, Value>, words: String, said: String) -> Reading {
        Reading {
            group,
            filters,
            families: Vec::new(),
            words,
            said,
        }
    }

    /// A reading that sets one filter.
    fn setting(group: Group, key: &str, value: Value, words: String, said: String) -> Reading {
        let mut filters = Map::new();
        filters.insert(key.to_string(), value);
        Reading::new(group, filters, words, said)
    }
}

/// Something the text asks that cannot be answered as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub group: Group,
    /// pt-BR, for the row's `error_message`.
    pub message: String,
}

/// A name still to be looked up in the imported data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mention {
    /// Folded words of the name, connectives left out.
    pub words: Vec<String>,
    /// The citizen's words.
    pub written: String,
    /// The name an acronym stands for, from the vocabulary ("PRF").
    pub alias_of: Option<String>,
    /// Started by a head word read through a typo: dropped, not reported, when
    /// it names nothing.
    pub tentative: bool,
}

/// What [`read`] found before any lookup.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Draft {
    pub readings: Vec<Reading>,
    pub problems: Vec<Problem>,
    pub agencies: Vec<Mention>,
    pub suppliers: Vec<Mention>,
    /// The question asks for everything on purpose ("todos os contratos").
    pub everything: bool,
}

/// The question as understood: readings, and problems that stop the analysis.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Understanding {
    pub readings: Vec<Reading>,
    pub problems: Vec<Problem>,
    pub everything: bool,
}

/// The token stream and what is still free to read.
pub(crate) struct Reader<'a> {
    text: &'a str,
    tokens: Vec<Token>,
    used: Vec<bool>,
    vocab: &'a Vocabulary,
    today: NaiveDate,
    draft: Draft,
}

impl<'a> Reader<'a> {
    fn new(text: &'a str, vocab: &'a Vocabulary, today: NaiveDate) -> Self {
        let mut tokens = tokenize(text);
        // "Min. da Saúde": an abbreviation is known by its dot, which then ends
        // no clause.
        for k in 0..tokens.len() {
            let dotted = text[tokens[k].span.end..].starts_with('.');
            if let Some(full) = vocab.abbreviations.get(&tokens[k].text).filter(|_| dotted) {
                tokens[k].text = full.clone();
                if let Some(next) = tokens.get_mut(k + 1) {
                    next.after_break = false;
                }
            }
        }
        let used = vec![false; tokens.len()];
        Reader {
            text,
            tokens,
            used,
            vocab,
            today,
            draft: Draft::default(),
        }
    }

    fn len(&self) -> usize {
        self.tokens.len()
    }

    fn free(&self, i: usize) -> bool {
        i < self.tokens.len() && !self.used[i]
    }

    fn text_at(&self, i: usize) -> Option<&str> {
        self.free(i).then(|| self.tokens[i].text.as_str())
    }

    fn kind_at(&self, i: usize) -> Option<Kind> {
        self.free(i).then(|| self.tokens[i].kind)
    }

    fn is(&self, i: usize, word: &str) -> bool {
        self.text_at(i) == Some(word)
    }

    /// Whether `phrase` is at `i`, all of it unread.
    fn phrase_at(&self, i: usize, phrase: &[String]) -> bool {
        !phrase.is_empty() && phrase.iter().enumerate().all(|(k, w)| self.is(i + k, w))
    }

    /// The length of the first (longest) phrase of `list` at `i`.
    fn any_at(&self, i: usize, list: &[Vec<String>]) -> Option<usize> {
        list.iter().find(|p| self.phrase_at(i, p)).map(Vec::len)
    }

    /// The citizen's words of tokens `from..to`, as written (short, one line).
    fn words(&self, from: usize, to: usize) -> String {
        if from >= to || to > self.tokens.len() {
            return String::new();
        }
        let span = self.tokens[from].span.start..self.tokens[to - 1].span.end;
        crate::input::echo(&self.text[span])
    }

    fn take(&mut self, from: usize, to: usize) {
        for u in &mut self.used[from..to.min(self.tokens.len())] {
            *u = true;
        }
    }

    fn reading(&mut self, from: usize, to: usize, group: Group, filters: Value, said: String) {
        let filters = match filters {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        let words = self.words(from, to);
        self.take(from, to);
        self.draft
            .readings
            .push(Reading::new(group, filters, words, said));
    }

    fn problem(&mut self, group: Group, message: String) {
        self.draft.problems.push(Problem { group, message });
    }

    fn everything(&mut self) {
        for i in 0..self.len() {
            // Left unread: "todos os contratos de limpeza" still names an object.
            if self.any_at(i, &self.vocab.everything).is_some() {
                self.draft.everything = true;
            }
        }
    }

    fn modalities(&mut self) {
        let mut values: Vec<String> = Vec::new();
        let mut said: Vec<String> = Vec::new();
        let mut spans: Vec<(usize, usize)> = Vec::new();
        for i in 0..self.len() {
            for m in &self.vocab.modalities {
                if let Some(n) = self.any_at(i, &m.words) {
                    spans.push((i, i + n));
                    for v in &m.values {
                        if !values.contains(v) {
                            values.push(v.clone());
                        }
                    }
                    if !said.contains(&m.said) {
                        said.push(m.said.clone());
                    }
                    self.take(i, i + n);
                    break;
                }
            }
        }
        if let (Some(first), Some(last)) = (spans.first(), spans.last()) {
            let words: Vec<String> = spans.iter().map(|(a, b)| self.words(*a, *b)).collect();
            let words = if spans.len() == 1 {
                self.words(first.0, last.1)
            } else {
                words.join("; ")
            };
            self.draft.readings.push(Reading::setting(
                Group::Modality,
                "modalidade",
                json!(values),
                words,
                list_pt(&said, "ou"),
            ));
        }
    }

    fn families(&mut self) {
        let mut found: Vec<(Family, String)> = Vec::new();
        let mut words: Vec<String> = Vec::new();
        for i in 0..self.len() {
            for (family, phrases, said) in &self.vocab.families {
                if let Some(n) = self.any_at(i, phrases) {
                    if !found.iter().any(|(f, _)| f == family) {
                        found.push((*family, said.clone()));
                    }
                    words.push(self.words(i, i + n));
                    self.take(i, i + n);
                    break;
                }
            }
        }
        if found.is_empty() {
            return;
        }
        found.sort();
        let names: Vec<String> = found.iter().map(|(_, said)| said.clone()).collect();
        let mut reading = Reading::new(
            Group::Families,
            Map::new(),
            words.join("; "),
            format!("buscando indícios de {}", list_pt(&names, "e de")),
        );
        reading.families = found.iter().map(|(f, _)| f.as_str()).collect();
        self.draft.readings.push(reading);
    }

    /// CNPJs and CPFs, with their check digits verified.
    fn documents(&mut self) {
        for i in 0..self.len() {
            if self.kind_at(i) != Some(Kind::Number) {
                continue;
            }
            let text = &self.tokens[i].text;
            if text.chars().any(|c| c.is_alphabetic()) {
                continue;
            }
            let digits: String = text.chars().filter(char::is_ascii_digit).collect();
            let bare = text.len() == digits.len();
            // Punctuated, a CNPJ has its slash and a CPF its dash: "99.000.000.000.000"
            // is an amount.
            let kind = match digits.len() {
                14 if bare || text.contains('/') => "CNPJ",
                11 if !bare && text.contains('-') || self.is(i.wrapping_sub(1), "cpf") => "CPF",
                _ => continue,
            };
            if valid_document(&digits) {
                let said = format!("do fornecedor de {}", document(&digits));
                self.reading(
                    i,
                    i + 1,
                    Group::Supplier,
                    json!({"cnpj_fornecedor": digits}),
                    said,
                );
            } else {
                let written = self.words(i, i + 1);
                self.take(i, i + 1);
                self.problem(
                    Group::Supplier,
                    format!(
                        "O {kind} {written} da pergunta não é válido: seus dígitos \
                         verificadores não conferem. Confira o número."
                    ),
                );
            }
        }
    }
}

/// "a, b e c".
pub(crate) fn list_pt(items: &[String], last: &str) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., tail] => format!("{} {last} {tail}", init.join(", ")),
    }
}

/// Modulo-11 check digits of a CNPJ (14 digits) or CPF (11).
fn valid_document(digits: &str) -> bool {
    let d: Vec<u32> = digits.chars().filter_map(|c| c.to_digit(10)).collect();
    if d.iter().all(|x| *x == d[0]) {
        return false;
    }
    let check = |body: &[u32], weights: &[u32]| {
        let sum: u32 = body.iter().zip(weights).map(|(a, b)| a * b).sum();
        let r = sum % 11;
        if r < 2 {
            0
        } else {
            11 - r
        }
    };
    match d.len() {
        14 => {
            let w1 = [5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2];
            let w2 = [6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2];
            check(&d[..12], &w1) == d[12] && check(&d[..13], &w2) == d[13]
        }
        11 => {
            let w1 = [10, 9, 8, 7, 6, 5, 4, 3, 2];
            let w2 = [11, 10, 9, 8, 7, 6, 5, 4, 3, 2];
            check(&d[..9], &w1) == d[9] && check(&d[..10], &w2) == d[10]
        }
        _ => false,
    }
}

/// How a supplier's code reads: "CNPJ 12.345.678/0001-90", "CPF …", a CNPJ
/// root with its branches, or the code as the data has it.
pub(crate) fn document(code: &str) -> String {
    if !code.bytes().all(|b| b.is_ascii_digit()) {
        return format!("código {}", crate::input::echo(code));
    }
    match code.len() {
        14 => format!("CNPJ {}", format_document(code)),
        11 => format!("CPF {}", format_document(code)),
        8 => format!("CNPJ {}, matriz e filiais", format_document(code)),
        _ => format!("código {code}"),
    }
}

/// "12.345.678/0001-90", "123.456.789-09", a CNPJ root "12.345.678".
fn format_document(digits: &str) -> String {
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return digits.to_string();
    }
    match digits.len() {
        14 => format!(
            "{}.{}.{}/{}-{}",
            &digits[0..2],
            &digits[2..5],
            &digits[5..8],
            &digits[8..12],
            &digits[12..14]
        ),
        8 => format!("{}.{}.{}", &digits[0..2], &digits[2..5], &digits[5..8]),
        11 => format!(
            "{}.{}.{}-{}",
            &digits[0..3],
            &digits[3..6],
            &digits[6..9],
            &digits[9..11]
        ),
        _ => digits.to_string(),
    }
}

/// Reads the question: everything but the names' codes. `today` anchors "nos
/// últimos 12 meses" (Brasília's date, passed in so the reading is
/// deterministic).
pub fn read(text: &str, today: NaiveDate, vocab: &Vocabulary) -> Draft {
    let mut r = Reader::new(text, vocab, today);
    r.everything();
    r.documents();
    r.amounts();
    r.periods();
    r.modalities();
    r.families();
    r.agencies();
    r.suppliers();
    r.objects();
    r.draft
}

/// Resolves the draft's mentions against the imported data.
pub fn resolve(draft: Draft, vocab: &Vocabulary, lookup: &dyn Lookup) -> Understanding {
    let mut u = Understanding {
        readings: draft.readings,
        problems: draft.problems,
        everything: draft.everything,
    };
    names::resolve_agencies(&draft.agencies, vocab, lookup, &mut u);
    names::resolve_suppliers(&draft.suppliers, vocab, lookup, &mut u);
    u.readings.sort_by_key(|r| r.group);
    u
}

/// Reads and resolves at once.
pub fn understand(
    text: &str,
    today: NaiveDate,
    vocab: &Vocabulary,
    lookup: &dyn Lookup,
) -> Understanding {
    resolve(read(text, today, vocab), vocab, lookup)
}

/// The filters `readings` set, on top of `filters`, and the families they name.
fn merge<'a>(
    readings: impl IntoIterator<Item = &'a Reading>,
    mut filters: Map<String, Value>,
) -> (Map<String, Value>, Vec<&'static str>) {
    let mut families = Vec::new();
    for r in readings {
        for (k, v) in &r.filters {
            filters.insert(k.clone(), v.clone());
        }
        families.extend(r.families.iter().copied());
    }
    (filters, families)
}

impl Understanding {
    /// The filters the readings set, as `filters` would carry them.
    pub fn filters(&self) -> Map<String, Value> {
        merge(&self.readings, Map::new()).0
    }

    pub fn families(&self) -> Vec<&'static str> {
        merge(&self.readings, Map::new()).1
    }
}

/// What the pipeline runs with once the question is applied to the row.
#[derive(Debug, Clone, PartialEq)]
pub struct Applied {
    /// Explicit filters, with what the text adds where they are silent.
    pub filters: Value,
    pub anomaly_types: Value,
    /// For `investigation_metadata.question`.
    pub metadata: Value,
    /// "Entendi: …", when the text added anything.
    pub sentence: Option<String>,
    /// The first problem of a group the explicit filters leave to the text.
    pub problem: Option<String>,
    /// Nothing narrows the analysis: no filter, no reading, no "todos".
    pub unfocused: bool,
}

/// Puts the understanding under the explicit `filters` and `anomaly_types`.
pub fn apply(u: &Understanding, query: &str, filters: &Value, anomaly_types: &Value) -> Applied {
    let explicit = filters.as_object();
    let explicit_families = anomaly_types.as_array().is_some_and(|a| !a.is_empty());
    let overridden = |g: Group| match g {
        Group::Families => explicit_families,
        _ => explicit.is_some_and(|m| {
            g.keys()
                .iter()
                .any(|k| m.get(*k).is_some_and(|v| !v.is_null()))
        }),
    };
    let (used, set_aside): (Vec<&Reading>, Vec<&Reading>) =
        u.readings.iter().partition(|r| !overridden(r.group));
    let (merged, families) = merge(used.iter().copied(), explicit.cloned().unwrap_or_default());
    let problem = u
        .problems
        .iter()
        .find(|p| !overridden(p.group))
        .map(|p| p.message.clone());
    let sentence = (!used.is_empty()).then(|| {
        let said: Vec<String> = used.iter().map(|r| r.said.clone()).collect();
        format!("Entendi: contratos {}.", said.join(", "))
    });
    let unfocused =
        !query.trim().is_empty() && !u.everything && merged.values().all(Value::is_null);
    let metadata = json!({
        "derived": used,
        "overridden_by_filters": set_aside,
        "problems": u.problems,
        "everything": u.everything,
        "understood": sentence,
    });
    Applied {
        filters: if explicit.is_some() || filters.is_null() {
            Value::Object(merged)
        } else {
            // Not an object: left as sent, for the filter check to refuse it.
            filters.clone()
        },
        anomaly_types: if families.is_empty() {
            anomaly_types.clone()
        } else {
            json!(families)
        },
        metadata,
        sentence,
        problem,
        unfocused,
    }
}

/// The message for a question that narrows nothing over a large table: what
/// it understands, with examples.
pub fn unfocused_message(records_at_least: usize) -> String {
    format!(
        "Não encontramos na pergunta um recorte dos contratos (valor, período, órgão, \
         fornecedor, modalidade ou objeto), e analisar todos os mais de {} contratos \
         importados não responderia a ela. Escreva, por exemplo: \"contratos acima de R$ 1 \
         milhão em 2024 no Ministério da Saúde\", \"dispensas do IFSP no primeiro semestre de \
         2022\", \"compras de ambulâncias entre março e junho de 2023\", \"contratos da empresa \
         NOME\" ou um CNPJ; ou preencha os filtros. Para analisar tudo, escreva \"todos os \
         contratos\".",
        crate::domain::format::count(records_at_least)
    )
}
