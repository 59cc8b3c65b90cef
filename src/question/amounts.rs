//! Amounts in reais: "acima de R$ 1 milhão", "mais de 500 mil", "entre R$ 10 mil
//! e R$ 50 mil", "até 17.600 reais", "de 10 a 50 mil".
//!
//! A number is taken for money only with a sign of it (R$, reais, a multiplier
//! such as "mil") or, after a comparison, when it cannot be a year: "até 2023"
//! is left to the periods.

use serde_json::json;

use super::tokens::Kind;
use super::{Group, Reader};
use crate::domain::format::reais;
use crate::sources::filters::MAX_MONEY;

#[derive(Debug, Clone, Copy)]
struct Amount {
    value: f64,
    end: usize,
    /// R$, reais or a multiplier was written.
    marked: bool,
    multiplier: Option<f64>,
    /// A four-digit whole number between 1990 and 2100, without any sign of money.
    year_like: bool,
}

/// A number as written in Brazil: "1.000.000,00", "17.600", "1,5"; also "1.5".
pub(crate) fn number(text: &str) -> Option<f64> {
    if text.is_empty()
        || !text
            .chars()
            .all(|c| c.is_ascii_digit() || c == '.' || c == ',')
    {
        return None;
    }
    let commas = text.matches(',').count();
    let dots = text.matches('.').count();
    let thousands_groups = |s: &str, sep: char| {
        let mut parts = s.split(sep);
        let first = parts.next().unwrap_or("");
        !first.is_empty() && first.len() <= 3 && parts.all(|p| p.len() == 3)
    };
    let normal = match (dots, commas) {
        (0, 0) => text.to_string(),
        (_, 0) if thousands_groups(text, '.') => text.replace('.', ""),
        (1, 0) => text.to_string(),
        (_, 1) => {
            let (whole, frac) = text.split_once(',')?;
            if whole.contains('.') && !thousands_groups(whole, '.') {
                return None;
            }
            format!("{}.{frac}", whole.replace('.', ""))
        }
        // "1,000,000": written the English way.
        (0, _) if thousands_groups(text, ',') => text.replace(',', ""),
        _ => return None,
    };
    normal.parse::<f64>().ok().filter(|v| v.is_finite())
}

impl Reader<'_> {
    fn amount(&self, i: usize) -> Option<Amount> {
        let mut j = i;
        let mut marked = false;
        if let Some(n) = self.any_at(j, &self.vocab.currency) {
            j += n;
            marked = true;
        }
        let mut currency = marked;
        let (mut value, plain) = match self.kind_at(j) {
            Some(Kind::Number) => (number(&self.tokens[j].text)?, self.tokens[j].text.clone()),
            Some(Kind::Word) => (
                *self.vocab.numbers.get(&self.tokens[j].text)?,
                String::new(),
            ),
            _ => return None,
        };
        j += 1;
        let mut multiplier = None;
        if let Some(m) = self.text_at(j).and_then(|w| self.vocab.multipliers.get(w)) {
            value *= m;
            multiplier = Some(*m);
            marked = true;
            j += 1;
            // "1 milhão e meio".
            if self.is(j, "e") && self.is(j + 1, "meio") {
                value += 0.5 * m;
                j += 2;
            }
        }
        if let Some(n) = self.any_at(j, &self.vocab.money_units) {
            j += n;
            marked = true;
            currency = true;
        }
        // "mais de 100 contratos", "mais de 5 mil contratos": a count.
        if !currency && self.any_at(j, &self.vocab.counts).is_some() {
            return None;
        }
        // "25%" is a share, never an amount.
        if self.is(j, "%") || self.is(j, "por") && self.is(j + 1, "cento") {
            return None;
        }
        let year_like = !marked
            && plain.len() == 4
            && plain.chars().all(|c| c.is_ascii_digit())
            && (1990.0..=2100.0).contains(&value);
        Some(Amount {
            value,
            end: j,
            marked,
            multiplier,
            year_like,
        })
    }

    /// "entre A e B", "de A a B": a range, when either end is money.
    fn money_range(&self, i: usize) -> Option<(f64, f64, usize)> {
        for (open, middle) in &self.vocab.money_between {
            if !self.phrase_at(i, open) {
                continue;
            }
            let Some(mut a) = self.amount(i + open.len()) else {
                continue;
            };
            if !self.phrase_at(a.end, middle) {
                continue;
            }
            let Some(b) = self.amount(a.end + middle.len()) else {
                continue;
            };
            if !(a.marked || b.marked) || a.year_like && b.year_like {
                continue;
            }
            // "de 10 a 50 mil": the multiplier of the second end holds for both.
            if let (None, Some(m)) = (a.multiplier, b.multiplier) {
                if a.value * m <= b.value {
                    a.value *= m;
                }
            }
            return Some((a.value.min(b.value), a.value.max(b.value), b.end));
        }
        None
    }

    /// Reads every amount with a comparison or a range.
    pub(crate) fn amounts(&mut self) {
        let mut i = 0;
        while i < self.len() {
            if let Some((low, high, end)) = self.money_range(i) {
                self.bounds(i, end, Some(low), Some(high));
                i = end;
                continue;
            }
            let at_least = self.any_at(i, &self.vocab.at_least);
            let at_most = self.any_at(i, &self.vocab.at_most);
            let (n, lower) = match (at_least, at_most) {
                (Some(n), _) => (n, true),
                (None, Some(n)) => (n, false),
                (None, None) => {
                    i += 1;
                    continue;
                }
            };
            // "acima do valor de", "acima de um valor de" are rare; the amount
            // follows the comparison.
            match self.amount(i + n) {
                Some(a) if !a.year_like && (a.marked || a.value >= 100.0) => {
                    let (low, high) = if lower {
                        (Some(a.value), None)
                    } else {
                        (None, Some(a.value))
                    };
                    self.bounds(i, a.end, low, high);
                    i = a.end;
                }
                _ => i += 1,
            }
        }
    }

    fn bounds(&mut self, from: usize, to: usize, low: Option<f64>, high: Option<f64>) {
        let too_large = [low, high].into_iter().flatten().find(|v| *v > MAX_MONEY);
        if let Some(v) = too_large {
            let written = self.words(from, to);
            self.take(from, to);
            self.problem(
                Group::Value,
                format!(
                    "O valor \"{written}\" da pergunta ({}) passa de {}, mais do que todo o \
                     orçamento federal. Confira o valor.",
                    reais(v),
                    reais(MAX_MONEY)
                ),
            );
            return;
        }
        if let Some(previous) = self.draft.readings.iter().find(|r| r.group == Group::Value) {
            let clash = (low.is_some() && previous.filters.contains_key("min_value"))
                || (high.is_some() && previous.filters.contains_key("max_value"));
            if clash {
                let (a, b) = (previous.words.clone(), self.words(from, to));
                self.take(from, to);
                self.problem(
                    Group::Value,
                    format!(
                        "A pergunta dá dois limites de valor do mesmo lado (\"{a}\" e \"{b}\"). \
                         Indique um só, como \"acima de R$ 1 milhão\"."
                    ),
                );
                return;
            }
        }
        let mut filters = json!({});
        let said = match (low, high) {
            (Some(a), Some(b)) => format!("com valor entre {} e {}", reais(a), reais(b)),
            (Some(a), None) => format!("com valor a partir de {}", reais(a)),
            (None, Some(b)) => format!("com valor até {}", reais(b)),
            (None, None) => return,
        };
        if let Some(a) = low {
            filters["min_value"] = json!(a);
        }
        if let Some(b) = high {
            filters["max_value"] = json!(b);
        }
        self.reading(from, to, Group::Value, filters, said);
    }
}

#[cfg(test)]
mod tests {
    use super::number;

    #[test]
    fn numbers_read_the_brazilian_way() {
        assert_eq!(number("1.000.000,00"), Some(1_000_000.0));
        assert_eq!(number("17.600"), Some(17_600.0));
        assert_eq!(number("1,5"), Some(1.5));
        assert_eq!(number("1.5"), Some(1.5));
        assert_eq!(number("1,000,000"), Some(1_000_000.0));
        assert_eq!(number("12.34.5"), None);
        assert_eq!(number("31/12/2024"), None);
    }
}
