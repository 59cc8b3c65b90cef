//! The words the question reader knows, from `data/question/vocabulary.toml`:
//! compiled into the binary, and read by the tests from the same file.
//!
//! Every phrase is split into folded tokens once, by the tokenizer that splits the
//! question, so a phrase and the citizen's words compare token by token.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde::Deserialize;

use super::tokens::tokenize;
use crate::analysis::Family;

/// The vocabulary as shipped.
pub const SOURCE: &str = include_str!("../../data/question/vocabulary.toml");

/// A phrase as folded tokens: `["acima", "de"]`.
pub type Phrase = Vec<String>;

#[derive(Debug, Clone)]
pub struct Modality {
    pub words: Vec<Phrase>,
    pub values: Vec<String>,
    pub said: String,
}

#[derive(Debug, Clone)]
pub struct AgencyAlias {
    pub aliases: Vec<Phrase>,
    /// As the Portal writes it.
    pub name: String,
}

#[derive(Debug, Clone)]
pub struct Vocabulary {
    pub numbers: HashMap<String, f64>,
    pub multipliers: HashMap<String, f64>,
    pub currency: Vec<Phrase>,
    pub money_units: Vec<Phrase>,
    pub at_least: Vec<Phrase>,
    pub at_most: Vec<Phrase>,
    pub money_between: Vec<(Phrase, Phrase)>,
    pub counts: Vec<Phrase>,
    pub months: HashMap<String, u32>,
    pub month_abbreviations: HashMap<String, u32>,
    pub ordinals: HashMap<String, u32>,
    pub parts: HashMap<String, u32>,
    pub since: Vec<Phrase>,
    pub until: Vec<Phrase>,
    pub before: Vec<Phrase>,
    pub period_between: Vec<(Phrase, Phrase)>,
    pub recent: Vec<Phrase>,
    pub recent_units: HashMap<String, u32>,
    pub this_year: Vec<Phrase>,
    pub last_year: Vec<Phrase>,
    pub last_month: Vec<Phrase>,
    pub modalities: Vec<Modality>,
    /// Each family with its words and how the summary says it.
    pub families: Vec<(Family, Vec<Phrase>, String)>,
    pub everything: Vec<Phrase>,
    pub object_markers: Vec<Phrase>,
    pub object_stops: Vec<String>,
    pub object_ignored: Vec<String>,
    pub endings: Vec<(String, String)>,
    pub object_max_words: usize,
    pub object_min_letters: usize,
    pub supplier_markers: Vec<Phrase>,
    pub supplier_suffixes: Vec<Phrase>,
    pub agency_heads: Vec<Phrase>,
    pub agency_before: Vec<Phrase>,
    pub agency_stops: Vec<String>,
    pub connectives: Vec<String>,
    pub optional_first: Vec<String>,
    pub feminine_endings: Vec<String>,
    pub abbreviations: HashMap<String, String>,
    pub typo_letters: usize,
    pub typo_head_letters: usize,
    pub agencies: Vec<AgencyAlias>,
}

#[derive(Deserialize)]
struct Raw {
    numbers: HashMap<String, f64>,
    multipliers: HashMap<String, f64>,
    money: RawMoney,
    months: HashMap<String, u32>,
    month_abbreviations: HashMap<String, u32>,
    periods: RawPeriods,
    modality: Vec<RawModality>,
    family: Vec<RawFamily>,
    everything: RawWords,
    objects: RawObjects,
    suppliers: RawSuppliers,
    agencies: RawAgencies,
    agency: Vec<RawAgency>,
}

#[derive(Deserialize)]
struct RawMoney {
    currency: Vec<String>,
    units: Vec<String>,
    at_least: Vec<String>,
    at_most: Vec<String>,
    between: Vec<(String, String)>,
    counts: Vec<String>,
}

#[derive(Deserialize)]
struct RawPeriods {
    ordinals: HashMap<String, u32>,
    parts: HashMap<String, u32>,
    since: Vec<String>,
    until: Vec<String>,
    before: Vec<String>,
    between: Vec<(String, String)>,
    recent: Vec<String>,
    recent_units: HashMap<String, u32>,
    this_year: Vec<String>,
    last_year: Vec<String>,
    last_month: Vec<String>,
}

#[derive(Deserialize)]
struct RawModality {
    words: Vec<String>,
    values: Vec<String>,
    said: String,
}

#[derive(Deserialize)]
struct RawFamily {
    family: String,
    said: String,
    words: Vec<String>,
}

#[derive(Deserialize)]
struct RawWords {
    words: Vec<String>,
}

#[derive(Deserialize)]
struct RawSuppliers {
    markers: Vec<String>,
    suffixes: Vec<String>,
}

#[derive(Deserialize)]
struct RawObjects {
    markers: Vec<String>,
    stops: Vec<String>,
    ignored: Vec<String>,
    endings: Vec<(String, String)>,
    max_words: usize,
    min_letters: usize,
}

#[derive(Deserialize)]
struct RawAgencies {
    heads: Vec<String>,
    before: Vec<String>,
    stops: Vec<String>,
    connectives: Vec<String>,
    optional_first: Vec<String>,
    feminine_endings: Vec<String>,
    abbreviations: HashMap<String, String>,
    typo_letters: usize,
    typo_head_letters: usize,
}

#[derive(Deserialize)]
struct RawAgency {
    aliases: Vec<String>,
    name: String,
}

fn phrase(text: &str) -> Phrase {
    tokenize(text).into_iter().map(|t| t.text).collect()
}

/// Longest first, so the first phrase that matches at a place is the longest.
fn phrases(texts: &[String]) -> Vec<Phrase> {
    let mut out: Vec<Phrase> = texts.iter().map(|t| phrase(t)).collect();
    out.retain(|p| !p.is_empty());
    out.sort_by_key(|p| std::cmp::Reverse(p.len()));
    out
}

fn words(texts: &[String]) -> Vec<String> {
    texts.iter().flat_map(|t| phrase(t)).collect()
}

fn keyed<V: Copy>(map: &HashMap<String, V>) -> HashMap<String, V> {
    map.iter().map(|(k, v)| (phrase(k).join(" "), *v)).collect()
}

fn pairs(texts: &[(String, String)]) -> Vec<(Phrase, Phrase)> {
    let mut out: Vec<(Phrase, Phrase)> =
        texts.iter().map(|(a, b)| (phrase(a), phrase(b))).collect();
    out.sort_by_key(|(a, _)| std::cmp::Reverse(a.len()));
    out
}

impl Vocabulary {
    /// Reads a vocabulary in the shipped file's shape.
    pub fn parse(source: &str) -> anyhow::Result<Vocabulary> {
        let raw: Raw = toml::from_str(source)?;
        let mut families = Vec::new();
        for f in &raw.family {
            let family = Family::parse(&f.family)
                .ok_or_else(|| anyhow::anyhow!("unknown family {:?}", f.family))?;
            families.push((family, phrases(&f.words), f.said.clone()));
        }
        let mut endings: Vec<(String, String)> = raw.objects.endings.clone();
        endings.sort_by_key(|(ending, _)| std::cmp::Reverse(ending.len()));
        Ok(Vocabulary {
            numbers: keyed(&raw.numbers),
            multipliers: keyed(&raw.multipliers),
            currency: phrases(&raw.money.currency),
            money_units: phrases(&raw.money.units),
            at_least: phrases(&raw.money.at_least),
            at_most: phrases(&raw.money.at_most),
            money_between: pairs(&raw.money.between),
            counts: phrases(&raw.money.counts),
            months: keyed(&raw.months),
            month_abbreviations: keyed(&raw.month_abbreviations),
            ordinals: keyed(&raw.periods.ordinals),
            parts: keyed(&raw.periods.parts),
            since: phrases(&raw.periods.since),
            until: phrases(&raw.periods.until),
            before: phrases(&raw.periods.before),
            period_between: pairs(&raw.periods.between),
            recent: phrases(&raw.periods.recent),
            recent_units: keyed(&raw.periods.recent_units),
            this_year: phrases(&raw.periods.this_year),
            last_year: phrases(&raw.periods.last_year),
            last_month: phrases(&raw.periods.last_month),
            modalities: raw
                .modality
                .iter()
                .map(|m| Modality {
                    words: phrases(&m.words),
                    values: m.values.iter().map(|v| phrase(v).join(" ")).collect(),
                    said: m.said.clone(),
                })
                .collect(),
            families,
            everything: phrases(&raw.everything.words),
            object_markers: phrases(&raw.objects.markers),
            object_stops: words(&raw.objects.stops),
            object_ignored: words(&raw.objects.ignored),
            endings,
            object_max_words: raw.objects.max_words,
            object_min_letters: raw.objects.min_letters,
            supplier_markers: phrases(&raw.suppliers.markers),
            supplier_suffixes: phrases(&raw.suppliers.suffixes),
            agency_heads: phrases(&raw.agencies.heads),
            agency_before: phrases(&raw.agencies.before),
            agency_stops: words(&raw.agencies.stops),
            connectives: words(&raw.agencies.connectives),
            optional_first: words(&raw.agencies.optional_first),
            feminine_endings: words(&raw.agencies.feminine_endings),
            abbreviations: raw
                .agencies
                .abbreviations
                .iter()
                .map(|(k, v)| (phrase(k).join(" "), phrase(v).join(" ")))
                .collect(),
            typo_letters: raw.agencies.typo_letters,
            typo_head_letters: raw.agencies.typo_head_letters,
            agencies: raw
                .agency
                .iter()
                .map(|a| AgencyAlias {
                    aliases: phrases(&a.aliases),
                    name: a.name.clone(),
                })
                .collect(),
        })
    }

    /// The shipped vocabulary, read once.
    pub fn builtin() -> &'static Vocabulary {
        static BUILTIN: OnceLock<Vocabulary> = OnceLock::new();
        BUILTIN.get_or_init(|| {
            // The file is compiled in and a unit test reads it: it cannot be
            // malformed in a built binary.
            Vocabulary::parse(SOURCE).expect("data/question/vocabulary.toml is well formed")
        })
    }
}
