//! The value limits under which a federal body may buy without bidding
//! ("dispensa de licitação em razão do valor"), as data.
//!
//! The limits change by law and by yearly decree, so they live in one table
//! ([`LIMITS`]) with the legal source of every row, not in the detectors' code.
//! Adding next year's decree is adding two rows.
//!
//! Two laws coexisted from 2021-04-01 (Lei 14.133/2021 in force) to 2023-12-30
//! (Lei 8.666/93 revoked by Lei 14.133 art. 193, II, as extended by Lei
//! Complementar 198/2023): each purchase chose one. [`applicable_law`] takes the
//! law the contract's legal basis names; when it names none (98% of the Portal's
//! rows leave `Fundamento Legal` empty), it decides by the signature date, and
//! inside the coexistence period by a setting of the caller (in 2021–2022 almost
//! every federal purchase still ran under Lei 8.666/93).
//!
//! Each law has two limits: one for engineering (Lei 8.666/93 art. 24, I: "obras e
//! serviços de engenharia"; Lei 14.133/2021 art. 75, I: also "serviços de
//! manutenção de veículos automotores") and one for everything else (inciso II).
//! [`kind_of`] tells them apart from the object's words.
//!
//! Not modelled: the doubled limits of Lei 8.666/93 art. 24 §1º (consórcios
//! públicos, empresas públicas, agências executivas) and Lei 14.133 art. 75 §2º:
//! a detector using this table is conservative for those bodies' peers and may
//! over-report for them.

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::domain::text::fold;

/// A procurement law that sets dispensa limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Law {
    /// Lei 8.666/1993, art. 24, I and II.
    #[serde(rename = "lei_8666")]
    Lei8666,
    /// Lei 14.133/2021, art. 75, I and II.
    #[serde(rename = "lei_14133")]
    Lei14133,
}

impl Law {
    /// How the law reads in pt-BR text.
    pub fn name(self) -> &'static str {
        match self {
            Law::Lei8666 => "Lei 8.666/93",
            Law::Lei14133 => "Lei 14.133/21",
        }
    }
}

/// Which of the two limits of a law applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Inciso {
    /// Inciso I: engineering works and services (and, in Lei 14.133, vehicle
    /// maintenance).
    I,
    /// Inciso II: other purchases and services.
    II,
}

/// What the object says was bought, as far as the limits care.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Engineering,
    VehicleMaintenance,
    Other,
}

impl Kind {
    /// The inciso of `law` that covers this kind: vehicle maintenance has its own
    /// place only in Lei 14.133 (art. 75, I); under Lei 8.666 it is inciso II.
    pub fn inciso(self, law: Law) -> Inciso {
        match (self, law) {
            (Kind::Engineering, _) => Inciso::I,
            (Kind::VehicleMaintenance, Law::Lei14133) => Inciso::I,
            (Kind::VehicleMaintenance, Law::Lei8666) | (Kind::Other, _) => Inciso::II,
        }
    }
}

/// One row of the table: a limit in force between two dates (inclusive).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limit {
    pub law: Law,
    pub inciso: Inciso,
    /// First day in force, as yyyymmdd.
    pub from: u32,
    /// Last day in force, as yyyymmdd; `None` while no later act replaced it.
    pub until: Option<u32>,
    /// In reais.
    pub value: f64,
    /// The legal source, as cited in what citizens read.
    pub source: &'static str,
}

/// The limits. Rows of one (law, inciso) never overlap (a test checks it).
pub const LIMITS: &[Limit] = &[
    // Lei 8.666/93 art. 24 I/II: 10% of the convite limits of art. 23, as set by
    // Lei 9.648/1998 (DOU 28/05/1998).
    Limit {
        law: Law::Lei8666,
        inciso: Inciso::I,
        from: 19980528,
        until: Some(20180618),
        value: 15_000.00,
        source: "Lei 8.666/93, art. 24, I (redação da Lei 9.648/98)",
    },
    Limit {
        law: Law::Lei8666,
        inciso: Inciso::II,
        from: 19980528,
        until: Some(20180618),
        value: 8_000.00,
        source: "Lei 8.666/93, art. 24, II (redação da Lei 9.648/98)",
    },
    // Decreto 9.412/2018 updated the art. 23 values from 19/06/2018; art. 24 I/II
    // follow at 10%. Open-ended: contracts of processes started under Lei 8.666
    // could still be signed after its revocation (Lei 14.133 art. 190–191).
    Limit {
        law: Law::Lei8666,
        inciso: Inciso::I,
        from: 20180619,
        until: None,
        value: 33_000.00,
        source: "Lei 8.666/93, art. 24, I (valor do Decreto 9.412/2018)",
    },
    Limit {
        law: Law::Lei8666,
        inciso: Inciso::II,
        from: 20180619,
        until: None,
        value: 17_600.00,
        source: "Lei 8.666/93, art. 24, II (valor do Decreto 9.412/2018)",
    },
    // Lei 14.133/2021 art. 75 I/II, original values, in force from 01/04/2021.
    Limit {
        law: Law::Lei14133,
        inciso: Inciso::I,
        from: 20210401,
        until: Some(20221231),
        value: 100_000.00,
        source: "Lei 14.133/21, art. 75, I",
    },
    Limit {
        law: Law::Lei14133,
        inciso: Inciso::II,
        from: 20210401,
        until: Some(20221231),
        value: 50_000.00,
        source: "Lei 14.133/21, art. 75, II",
    },
    // Yearly updates by decree (Lei 14.133 art. 182).
    Limit {
        law: Law::Lei14133,
        inciso: Inciso::I,
        from: 20230101,
        until: Some(20231231),
        value: 114_416.65,
        source: "Lei 14.133/21, art. 75, I (valor do Decreto 11.317/2022)",
    },
    Limit {
        law: Law::Lei14133,
        inciso: Inciso::II,
        from: 20230101,
        until: Some(20231231),
        value: 57_208.33,
        source: "Lei 14.133/21, art. 75, II (valor do Decreto 11.317/2022)",
    },
    Limit {
        law: Law::Lei14133,
        inciso: Inciso::I,
        from: 20240101,
        until: Some(20241231),
        value: 119_812.02,
        source: "Lei 14.133/21, art. 75, I (valor do Decreto 11.871/2023)",
    },
    Limit {
        law: Law::Lei14133,
        inciso: Inciso::II,
        from: 20240101,
        until: Some(20241231),
        value: 59_906.02,
        source: "Lei 14.133/21, art. 75, II (valor do Decreto 11.871/2023)",
    },
    Limit {
        law: Law::Lei14133,
        inciso: Inciso::I,
        from: 20250101,
        until: None,
        value: 125_451.15,
        source: "Lei 14.133/21, art. 75, I (valor do Decreto 12.343/2024)",
    },
    Limit {
        law: Law::Lei14133,
        inciso: Inciso::II,
        from: 20250101,
        until: None,
        value: 62_725.59,
        source: "Lei 14.133/21, art. 75, II (valor do Decreto 12.343/2024)",
    },
];

/// First day Lei 14.133/2021 could be used.
const LEI_14133_FROM: u32 = 20210401;
/// Last day Lei 8.666/93 could be chosen for a new purchase.
const LEI_8666_UNTIL: u32 = 20231230;

fn yyyymmdd(d: NaiveDate) -> u32 {
    // Years before 0 do not occur in contracts; the clamp keeps the cast honest.
    (d.year().clamp(0, 9999) as u32) * 10_000 + d.month() * 100 + d.day()
}

/// The limit of `law`/`inciso` in force on `date`; `None` before the table starts.
pub fn limit(law: Law, inciso: Inciso, date: NaiveDate) -> Option<&'static Limit> {
    let day = yyyymmdd(date);
    LIMITS.iter().find(|l| {
        l.law == law && l.inciso == inciso && l.from <= day && l.until.map_or(true, |u| day <= u)
    })
}

/// The law a legal-basis text names, if it names exactly one of the two.
/// Spellings seen in the Portal: "Lei 8.666/93, Artigo 24 , Inciso 02",
/// "LEI Nº 8666/93", "Lei n  8.666/1993.", "Leis nº 13.303/16, … e 14.133/21.".
pub fn law_named_in(legal_basis: &str) -> Option<Law> {
    // Numbers are read with their thousands dots removed, so "8.666" and "8666"
    // are the same number and "18.666" is not 8666.
    let mut names_8666 = false;
    let mut names_14133 = false;
    let mut number = String::new();
    let bytes = legal_basis.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        let dot_inside_number =
            b == b'.' && !number.is_empty() && bytes.get(i + 1).is_some_and(u8::is_ascii_digit);
        if b.is_ascii_digit() {
            number.push(b as char);
        } else if !dot_inside_number {
            names_8666 |= number == "8666";
            names_14133 |= number == "14133";
            number.clear();
        }
    }
    names_8666 |= number == "8666";
    names_14133 |= number == "14133";
    match (names_8666, names_14133) {
        (true, false) => Some(Law::Lei8666),
        (false, true) => Some(Law::Lei14133),
        _ => None,
    }
}

/// The law whose limits apply to a contract: the one its legal basis names;
/// else Lei 8.666 before 2021-04-01, Lei 14.133 after 2023-12-30, and
/// `in_coexistence` in between.
pub fn applicable_law(legal_basis: Option<&str>, signed: NaiveDate, in_coexistence: Law) -> Law {
    if let Some(law) = legal_basis.and_then(law_named_in) {
        return law;
    }
    let day = yyyymmdd(signed);
    if day < LEI_14133_FROM {
        Law::Lei8666
    } else if day > LEI_8666_UNTIL {
        Law::Lei14133
    } else {
        in_coexistence
    }
}

/// Whole words (after [`fold`]) that make an object an engineering work or
/// service. "mão de obra" (labour) is removed first: it is not an "obra".
const ENGINEERING_WORDS: &[&str] = &[
    "obra",
    "obras",
    "engenharia",
    "reforma",
    "reformas",
    "construcao",
    "ampliacao",
    "pavimentacao",
    "manutencao predial",
    "edificacao",
    "edificacoes",
];

const VEHICLE_MAINTENANCE_WORDS: &[&str] = &[
    "manutencao de veiculos",
    "manutencao veicular",
    "manutencao da frota",
    "manutencao de viaturas",
];

/// Engineering, vehicle maintenance or other, from the object text.
pub fn kind_of(object: &str) -> Kind {
    kind_of_folded(&fold(object))
}

/// [`kind_of`] for an object already passed through [`fold`].
pub fn kind_of_folded(folded: &str) -> Kind {
    let padded = format!(" {folded} ")
        .replace(" mao de obra ", " ")
        .replace(" mao obra ", " ");
    let has = |words: &[&str]| words.iter().any(|w| has_phrase(&padded, w));
    if has(ENGINEERING_WORDS) {
        Kind::Engineering
    } else if has(VEHICLE_MAINTENANCE_WORDS) {
        Kind::VehicleMaintenance
    } else {
        Kind::Other
    }
}

/// Whether `phrase` occurs in `padded` (folded text with a space at each end) as
/// whole words: "obra" in "a obra nova", not in "sobra".
pub fn has_phrase(padded: &str, phrase: &str) -> bool {
    !phrase.is_empty()
        && padded
            .match_indices(phrase)
            .any(|(i, _)| padded[..i].ends_with(' ') && padded[i + phrase.len()..].starts_with(' '))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
    }

    #[test]
    fn limits_follow_the_law_and_the_decree_in_force() {
        let v = |law, inciso, date| limit(law, inciso, date).map(|l| l.value);
        assert_eq!(v(Law::Lei8666, Inciso::II, day(2022, 5, 1)), Some(17_600.0));
        assert_eq!(v(Law::Lei8666, Inciso::I, day(2018, 6, 19)), Some(33_000.0));
        assert_eq!(v(Law::Lei8666, Inciso::I, day(2018, 6, 18)), Some(15_000.0));
        assert_eq!(
            v(Law::Lei14133, Inciso::II, day(2022, 12, 31)),
            Some(50_000.0)
        );
        assert_eq!(
            v(Law::Lei14133, Inciso::I, day(2023, 1, 1)),
            Some(114_416.65)
        );
        assert_eq!(
            v(Law::Lei14133, Inciso::I, day(2024, 3, 1)),
            Some(119_812.02)
        );
        assert_eq!(
            v(Law::Lei14133, Inciso::II, day(2025, 7, 1)),
            Some(62_725.59)
        );
        assert_eq!(v(Law::Lei14133, Inciso::II, day(2021, 3, 31)), None);
        assert_eq!(v(Law::Lei8666, Inciso::II, day(1996, 8, 28)), None);
    }

    #[test]
    fn the_table_has_no_overlapping_rows() {
        for (i, a) in LIMITS.iter().enumerate() {
            assert!(
                a.until.map_or(true, |u| a.from <= u),
                "row {i} ends before it starts"
            );
            for b in &LIMITS[i + 1..] {
                if a.law == b.law && a.inciso == b.inciso {
                    let a_end = a.until.unwrap_or(u32::MAX);
                    let b_end = b.until.unwrap_or(u32::MAX);
                    assert!(a_end < b.from || b_end < a.from, "{a:?} overlaps {b:?}");
                }
            }
        }
    }

    #[test]
    fn the_law_is_read_from_the_portal_spellings() {
        assert_eq!(
            law_named_in("Lei 8.666/93, Artigo 24 , Inciso 02"),
            Some(Law::Lei8666)
        );
        assert_eq!(
            law_named_in("Fundamento Legal: LEI Nº 8666/93"),
            Some(Law::Lei8666)
        );
        assert_eq!(
            law_named_in("Fundamento Legal: Lei n  8.666/1993."),
            Some(Law::Lei8666)
        );
        assert_eq!(
            law_named_in("Fundamento Legal: Leis nº 13.303/16, 12.846/13 e 14.133/21."),
            Some(Law::Lei14133)
        );
        assert_eq!(law_named_in("Lei 10.520/02, Artigo 1 , Inciso 00"), None);
        assert_eq!(law_named_in("Lei 18.666/2020"), None);
        assert_eq!(
            law_named_in("Lei 8.666/93 e Lei 14.133/21"),
            None,
            "both: ambiguous"
        );
    }

    #[test]
    fn without_a_named_law_the_date_decides() {
        let coexist = Law::Lei8666;
        assert_eq!(
            applicable_law(None, day(2021, 3, 31), Law::Lei14133),
            Law::Lei8666
        );
        assert_eq!(applicable_law(None, day(2022, 6, 1), coexist), Law::Lei8666);
        assert_eq!(
            applicable_law(None, day(2022, 6, 1), Law::Lei14133),
            Law::Lei14133
        );
        assert_eq!(
            applicable_law(None, day(2023, 12, 31), coexist),
            Law::Lei14133
        );
        assert_eq!(
            applicable_law(
                Some("Lei 14.133/2021, art. 75, II"),
                day(2022, 6, 1),
                coexist
            ),
            Law::Lei14133
        );
    }

    #[test]
    fn labour_is_not_an_engineering_work() {
        assert_eq!(kind_of("REFORMA DO TELHADO DO BLOCO B"), Kind::Engineering);
        assert_eq!(kind_of("Serviços comuns de engenharia"), Kind::Engineering);
        assert_eq!(
            kind_of("SERVIÇOS CONTINUADOS DE AUXILIAR COM DISPONIBILIZAÇÃO DE MÃO-DE-OBRA"),
            Kind::Other
        );
        assert_eq!(
            kind_of("Manutenção de veículos da frota oficial"),
            Kind::VehicleMaintenance
        );
        assert_eq!(Kind::VehicleMaintenance.inciso(Law::Lei8666), Inciso::II);
        assert_eq!(Kind::VehicleMaintenance.inciso(Law::Lei14133), Inciso::I);
        assert_eq!(kind_of("Aquisição de material de expediente"), Kind::Other);
        assert_eq!(
            kind_of("Sobras de madeira de obras anteriores"),
            Kind::Engineering
        );
        assert_eq!(kind_of("Aquisição de sobras de madeira"), Kind::Other);
        assert!(has_phrase(" a obra nova ", "obra nova"));
        assert!(!has_phrase(" manobra ", "obra"));
    }
}
