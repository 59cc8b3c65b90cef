//! What names in a question are resolved against: the agencies, units and
//! suppliers of the imported contracts, kept by the database in
//! `transparency.units` and `transparency.suppliers` (sql/migrations/0010) as
//! contracts arrive, from `fiscal import` or the Portal API alike.

use anyhow::{Context, Result};
use tokio_postgres::Client;

use super::Vocabulary;
use crate::domain::text::fold;

/// Ordered from the narrowest: a name matching a UG and its órgão means the órgão.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    Ug,
    Orgao,
    OrgaoSuperior,
}

impl Level {
    /// The filter key a code of this level goes to.
    pub fn filter(self) -> &'static str {
        match self {
            Level::Ug => "codigo_ug",
            Level::Orgao => "codigo_orgao",
            Level::OrgaoSuperior => "codigo_orgao_superior",
        }
    }

    pub fn said(self) -> &'static str {
        match self {
            Level::Ug => "UG",
            Level::Orgao => "órgão",
            Level::OrgaoSuperior => "órgão superior",
        }
    }

    fn parse(db: &str) -> Option<Level> {
        match db {
            "ug" => Some(Level::Ug),
            "orgao" => Some(Level::Orgao),
            "orgao_superior" => Some(Level::OrgaoSuperior),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitEntry {
    pub level: Level,
    pub code: String,
    /// As the Portal writes it.
    pub name: String,
    /// Folded words of the name, connectives left out.
    pub words: Vec<String>,
    /// The Portal cuts agency names at 45 characters: the last word may be cut.
    pub cut: bool,
}

/// Characters at which the Portal cuts agency names.
const PORTAL_NAME_CUT: usize = 45;

/// Folded words without connectives: what names are compared by.
pub fn name_words(name: &str, vocab: &Vocabulary) -> Vec<String> {
    fold(name)
        .split(' ')
        .filter(|w| !w.is_empty() && !vocab.connectives.iter().any(|c| c == w))
        .map(str::to_string)
        .collect()
}

impl UnitEntry {
    pub fn new(level: Level, code: &str, name: &str, vocab: &Vocabulary) -> UnitEntry {
        UnitEntry {
            level,
            code: code.to_string(),
            name: name.trim().to_string(),
            words: name_words(name, vocab),
            cut: name.trim().chars().count() >= PORTAL_NAME_CUT,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SupplierEntry {
    pub code: String,
    pub name: String,
}

/// Names to resolve mentions against.
pub trait Lookup {
    fn units(&self) -> &[UnitEntry];
    /// Suppliers whose name holds every one of `words` (folded) as a word.
    fn suppliers(&self, words: &[String]) -> Vec<SupplierEntry>;
}

/// Units and suppliers in memory: all of them in tests, those a question's
/// supplier mentions could match in production.
#[derive(Debug, Clone, Default)]
pub struct Directory {
    pub units: Vec<UnitEntry>,
    /// With the folded name.
    pub suppliers: Vec<(String, SupplierEntry)>,
    known: std::collections::HashSet<(Option<Level>, String)>,
}

impl Directory {
    pub fn add_unit(&mut self, level: Level, code: &str, name: &str, vocab: &Vocabulary) {
        if code.is_empty() || name.trim().is_empty() {
            return;
        }
        if self.known.insert((Some(level), code.to_string())) {
            self.units.push(UnitEntry::new(level, code, name, vocab));
        }
    }

    pub fn add_supplier(&mut self, code: &str, name: &str) {
        if code.is_empty() || name.trim().is_empty() || !self.known.insert((None, code.to_string()))
        {
            return;
        }
        self.suppliers.push((
            fold(name),
            SupplierEntry {
                code: code.to_string(),
                name: name.trim().to_string(),
            },
        ));
    }
}

impl Lookup for Directory {
    fn units(&self) -> &[UnitEntry] {
        &self.units
    }

    fn suppliers(&self, words: &[String]) -> Vec<SupplierEntry> {
        let mut out: Vec<SupplierEntry> = Vec::new();
        for (folded, s) in &self.suppliers {
            let padded = format!(" {folded} ");
            if words.iter().all(|w| padded.contains(&format!(" {w} "))) {
                out.push(s.clone());
            }
        }
        out
    }
}

/// Suppliers a name may match before it is "more than" this many: an
/// ambiguity either way; one more is read to tell "50" from "more than 50".
pub const MAX_SUPPLIERS: usize = 50;

/// Loads the units, and the suppliers the mentions could name.
pub async fn load(
    client: &Client,
    supplier_mentions: &[Vec<String>],
    vocab: &Vocabulary,
) -> Result<Directory> {
    let mut dir = Directory::default();
    let rows = client
        .query(
            "select level, code, name from transparency.units order by level, code",
            &[],
        )
        .await
        .context("reading transparency.units")?;
    for r in rows {
        let (level, code, name): (&str, &str, &str) = (r.get(0), r.get(1), r.get(2));
        if let Some(level) = Level::parse(level) {
            dir.add_unit(level, code, name, vocab);
        }
    }
    for words in supplier_mentions {
        // `fold` leaves letters, digits and spaces only: no LIKE wildcard.
        let patterns: Vec<String> = words.iter().map(|w| format!("% {w} %")).collect();
        let rows = client
            .query(
                "select code, name from transparency.suppliers
                 where ' ' || name_busca || ' ' like all($1::text[])
                 order by name, code limit $2",
                &[&patterns, &(MAX_SUPPLIERS as i64 + 1)],
            )
            .await
            .context("reading transparency.suppliers")?;
        for r in rows {
            dir.add_supplier(r.get(0), r.get(1));
        }
    }
    Ok(dir)
}
