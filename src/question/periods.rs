//! Periods of signature: "em 2024", "no primeiro semestre de 2022", "entre março
//! e junho de 2023", "em janeiro de 2021", "nos últimos 12 meses", "desde 2022",
//! "de 01/03/2022 a 30/06/2022".
//!
//! A question with two periods that are not one range ("em 2021 e em 2023") is a
//! problem to tell the citizen, not a guess.

use chrono::{Datelike, Months, NaiveDate};
use serde_json::json;

use super::tokens::Kind;
use super::{Group, Reader};
use crate::domain::format::date;

/// A stretch of days; either end may be open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Span {
    from: Option<NaiveDate>,
    until: Option<NaiveDate>,
}

/// One end of a range as written: a day, a month, or a year.
#[derive(Debug, Clone, Copy)]
enum Point {
    Day(NaiveDate),
    /// A month, its year possibly left to the other end ("entre março e junho
    /// de 2023").
    Month(Option<i32>, u32),
    Year(i32),
}

fn month_start(y: i32, m: u32) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(y, m, 1)
}

fn month_end(y: i32, m: u32) -> Option<NaiveDate> {
    month_start(y, m)?
        .checked_add_months(Months::new(1))?
        .pred_opt()
}

fn year_of(text: &str) -> Option<i32> {
    if text.len() != 4 || !text.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    text.parse::<i32>()
        .ok()
        .filter(|y| (1990..=2100).contains(y))
}

impl Point {
    fn first(self, fallback_year: Option<i32>) -> Option<NaiveDate> {
        match self {
            Point::Day(d) => Some(d),
            Point::Month(y, m) => month_start(y.or(fallback_year)?, m),
            Point::Year(y) => NaiveDate::from_ymd_opt(y, 1, 1),
        }
    }

    fn last(self, fallback_year: Option<i32>) -> Option<NaiveDate> {
        match self {
            Point::Day(d) => Some(d),
            Point::Month(y, m) => month_end(y.or(fallback_year)?, m),
            Point::Year(y) => NaiveDate::from_ymd_opt(y, 12, 31),
        }
    }

    fn year(self) -> Option<i32> {
        match self {
            Point::Day(d) => Some(d.year()),
            Point::Month(y, _) => y,
            Point::Year(y) => Some(y),
        }
    }
}

impl Reader<'_> {
    fn year_at(&self, i: usize) -> Option<i32> {
        (self.kind_at(i) == Some(Kind::Number))
            .then(|| year_of(&self.tokens[i].text))
            .flatten()
    }

    /// "de 2023", "do ano de 2023", "/2023" (the slash is dropped), "2023".
    fn year_after(&self, i: usize) -> Option<(i32, usize)> {
        const LEADS: &[&[&str]] = &[&["do", "ano", "de"], &["de"], &["do"], &[]];
        for lead in LEADS {
            let lead: Vec<String> = lead.iter().map(|s| s.to_string()).collect();
            if lead.is_empty() || self.phrase_at(i, &lead) {
                if let Some(y) = self.year_at(i + lead.len()) {
                    return Some((y, i + lead.len() + 1));
                }
            }
        }
        None
    }

    fn day_at(&self, i: usize) -> Option<NaiveDate> {
        if self.kind_at(i) != Some(Kind::Number) {
            return None;
        }
        let d = NaiveDate::parse_from_str(&self.tokens[i].text, "%d/%m/%Y").ok()?;
        (1990..=2100).contains(&d.year()).then_some(d)
    }

    /// A month, with its year when one follows. Without a year it counts only as
    /// an end of a range (`year_required` false); an abbreviation then too,
    /// since "mar", "set", "out" are words as well ("entre jan e mar de 2022").
    fn month_at(&self, i: usize, year_required: bool) -> Option<(Point, usize)> {
        let word = self.text_at(i)?;
        let m = self
            .vocab
            .months
            .get(word)
            .or_else(|| self.vocab.month_abbreviations.get(word))?;
        match self.year_after(i + 1) {
            Some((y, end)) => Some((Point::Month(Some(y), *m), end)),
            None if !year_required => Some((Point::Month(None, *m), i + 1)),
            None => None,
        }
    }

    fn point_at(&self, i: usize, year_required: bool) -> Option<(Point, usize)> {
        if let Some(d) = self.day_at(i) {
            return Some((Point::Day(d), i + 1));
        }
        if let Some(found) = self.month_at(i, year_required) {
            return Some(found);
        }
        self.year_at(i).map(|y| (Point::Year(y), i + 1))
    }

    fn range_at(&self, i: usize) -> Option<(Span, usize)> {
        for (open, middle) in &self.vocab.period_between {
            if !self.phrase_at(i, open) {
                continue;
            }
            let Some((a, after_a)) = self.point_at(i + open.len(), false) else {
                continue;
            };
            if !self.phrase_at(after_a, middle) {
                continue;
            }
            let Some((b, end)) = self.point_at(after_a + middle.len(), false) else {
                continue;
            };
            let mut a_year = a.year().or(b.year());
            // "entre novembro e fevereiro de 2023": November of the year before.
            if let (Point::Month(None, ma), Point::Month(Some(yb), mb)) = (a, b) {
                if ma > mb {
                    a_year = Some(yb - 1);
                }
            }
            let (Some(from), Some(until)) = (a.first(a_year), b.last(b.year().or(a_year))) else {
                continue;
            };
            return Some((
                Span {
                    from: Some(from),
                    until: Some(until),
                },
                end,
            ));
        }
        None
    }

    /// "primeiro semestre de 2022", "2º trimestre de 2023".
    fn part_at(&self, i: usize) -> Option<(Span, usize)> {
        let ordinal = *self.vocab.ordinals.get(self.text_at(i)?)?;
        let months = *self.vocab.parts.get(self.text_at(i + 1)?)?;
        let (y, end) = self.year_after(i + 2)?;
        // 0 is "último": the last part of the year.
        let ordinal = if ordinal == 0 { 12 / months } else { ordinal };
        if ordinal * months > 12 {
            return None;
        }
        let first = (ordinal - 1) * months + 1;
        Some((
            Span {
                from: month_start(y, first),
                until: month_end(y, first + months - 1),
            },
            end,
        ))
    }

    /// "nos últimos 12 meses", "no último ano", "nos últimos 90 dias".
    fn recent_at(&self, i: usize) -> Option<(Span, usize)> {
        let n = self.any_at(i, &self.vocab.recent)?;
        let mut j = i + n;
        let count = match self.text_at(j) {
            Some(w) if self.kind_at(j) == Some(Kind::Number) => w.parse::<u32>().ok(),
            Some(w) => self.vocab.numbers.get(w).map(|v| *v as u32),
            None => None,
        };
        if count.is_some() {
            j += 1;
        }
        let count = count.unwrap_or(1).clamp(1, 1200);
        let unit = *self.vocab.recent_units.get(self.text_at(j)?)?;
        let from = if unit == 0 {
            self.today
                .checked_sub_days(chrono::Days::new(u64::from(count)))?
        } else {
            self.today.checked_sub_months(Months::new(count * unit))?
        };
        Some((
            Span {
                from: from.succ_opt(),
                until: Some(self.today),
            },
            j + 1,
        ))
    }

    fn relative_at(&self, i: usize) -> Option<(Span, usize)> {
        let year = self.today.year();
        if let Some(n) = self.any_at(i, &self.vocab.this_year) {
            return Some((year_span(year), i + n));
        }
        if let Some(n) = self.any_at(i, &self.vocab.last_year) {
            return Some((year_span(year - 1), i + n));
        }
        if let Some(n) = self.any_at(i, &self.vocab.last_month) {
            let start =
                month_start(year, self.today.month())?.checked_sub_months(Months::new(1))?;
            return Some((
                Span {
                    from: Some(start),
                    until: month_end(start.year(), start.month()),
                },
                i + n,
            ));
        }
        None
    }

    /// "desde 2022", "até junho de 2023", "antes de 2023".
    fn open_at(&self, i: usize) -> Option<(Span, usize)> {
        if let Some(n) = self.any_at(i, &self.vocab.since) {
            let (p, end) = self.point_at(i + n, true)?;
            let span = Span {
                from: p.first(None),
                until: None,
            };
            return Some((span, end));
        }
        if let Some(n) = self.any_at(i, &self.vocab.until) {
            let (p, end) = self.point_at(i + n, true)?;
            let span = Span {
                from: None,
                until: p.last(None),
            };
            return Some((span, end));
        }
        if let Some(n) = self.any_at(i, &self.vocab.before) {
            let (p, end) = self.point_at(i + n, true)?;
            let span = Span {
                from: None,
                until: p.first(None)?.pred_opt(),
            };
            return Some((span, end));
        }
        None
    }

    /// A day, a month of a year, "2021-2023", "2023 e 2024", or a year.
    fn single_at(&self, i: usize) -> Option<(Span, usize)> {
        if self.kind_at(i) == Some(Kind::Number) {
            if let Some((a, b)) = self.tokens[i].text.split_once('-') {
                if let (Some(a), Some(b)) = (year_of(a), year_of(b)) {
                    if a <= b {
                        return Some((years(a, b), i + 1));
                    }
                }
            }
        }
        // "R$ 2000" is an amount, however year-like.
        if i > 0
            && self
                .vocab
                .currency
                .iter()
                .any(|c| c.len() == 1 && self.tokens[i - 1].text == c[0])
        {
            return None;
        }
        let (p, end) = self.point_at(i, true)?;
        if let Point::Year(a) = p {
            if self.is(end, "e") {
                if let Some(b) = self.year_at(end + 1).filter(|b| *b == a + 1) {
                    return Some((years(a, b), end + 2));
                }
            }
        }
        Some((
            Span {
                from: p.first(None),
                until: p.last(None),
            },
            end,
        ))
    }

    pub(crate) fn periods(&mut self) {
        let mut found: Vec<(Span, usize, usize)> = Vec::new();
        let mut i = 0;
        while i < self.len() {
            let at = self
                .range_at(i)
                .or_else(|| self.part_at(i))
                .or_else(|| self.recent_at(i))
                .or_else(|| self.relative_at(i))
                .or_else(|| self.open_at(i));
            match at {
                Some((span, end)) => {
                    found.push((span, i, end));
                    self.take(i, end);
                    i = end;
                }
                None => i += 1,
            }
        }
        // Years and months on their own, once the phrases around them are read.
        for i in 0..self.len() {
            if let Some((span, end)) = self.single_at(i) {
                found.push((span, i, end));
                self.take(i, end);
            }
        }
        match found.as_slice() {
            [] => {}
            [(span, from, to)] => {
                let (span, from, to) = (*span, *from, *to);
                self.period(span, from, to)
            }
            many => {
                let written: Vec<String> = many
                    .iter()
                    .map(|(_, a, b)| format!("\"{}\"", self.words(*a, *b)))
                    .collect();
                self.problem(
                    Group::Period,
                    format!(
                        "A pergunta cita mais de um período ({}); uma investigação analisa um \
                         período contínuo. Indique um só, como \"em 2024\" ou \"entre março e \
                         junho de 2023\".",
                        written.join(", ")
                    ),
                );
            }
        }
    }

    fn period(&mut self, span: Span, from: usize, to: usize) {
        if let (Some(a), Some(b)) = (span.from, span.until) {
            if a > b {
                let written = self.words(from, to);
                self.problem(
                    Group::Period,
                    format!(
                        "O período \"{written}\" da pergunta está vazio: começa em {} e termina \
                         em {}.",
                        date(a),
                        date(b)
                    ),
                );
                return;
            }
        }
        let whole_year = match (span.from, span.until) {
            (Some(a), Some(b)) => (a.year() == b.year()
                && (a.month(), a.day()) == (1, 1)
                && (b.month(), b.day()) == (12, 31))
                .then_some(a.year()),
            _ => None,
        };
        let (filters, said) = match (whole_year, span.from, span.until) {
            (Some(y), _, _) => (json!({"year": y}), format!("assinados em {y}")),
            (None, Some(a), Some(b)) => (
                json!({"data_inicial": a.to_string(), "data_final": b.to_string()}),
                format!("assinados de {} a {}", date(a), date(b)),
            ),
            (None, Some(a), None) => (
                json!({"data_inicial": a.to_string()}),
                format!("assinados a partir de {}", date(a)),
            ),
            (None, None, Some(b)) => (
                json!({"data_final": b.to_string()}),
                format!("assinados até {}", date(b)),
            ),
            (None, None, None) => return,
        };
        self.reading(from, to, Group::Period, filters, said);
    }
}

fn year_span(y: i32) -> Span {
    years(y, y)
}

fn years(a: i32, b: i32) -> Span {
    Span {
        from: NaiveDate::from_ymd_opt(a, 1, 1),
        until: NaiveDate::from_ymd_opt(b, 12, 31),
    }
}
