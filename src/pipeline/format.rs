//! How numbers and dates read in Brazilian Portuguese, for what citizens read.

use chrono::NaiveDate;

/// "R$ 1.234.567,89"
pub fn reais(value: f64) -> String {
    let negative = value < 0.0;
    let cents = (value.abs() * 100.0).round() as u128;
    let (whole, frac) = (cents / 100, cents % 100);
    let digits = whole.to_string();
    let mut grouped = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push('.');
        }
        grouped.push(c);
    }
    format!("{}R$ {grouped},{frac:02}", if negative { "-" } else { "" })
}

/// "37,5%" from 0.375.
pub fn percent(fraction: f64) -> String {
    decimal(fraction * 100.0, 1) + "%"
}

/// A number with a decimal comma and `places` decimals: "2,35".
pub fn decimal(value: f64, places: usize) -> String {
    format!("{value:.places$}").replace('.', ",")
}

/// "31/12/2021"
pub fn date(d: NaiveDate) -> String {
    d.format("%d/%m/%Y").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_reads_as_in_brazil() {
        assert_eq!(reais(1_234_567.891), "R$ 1.234.567,89");
        assert_eq!(reais(0.5), "R$ 0,50");
        assert_eq!(reais(999.0), "R$ 999,00");
        assert_eq!(reais(-1000.0), "-R$ 1.000,00");
        assert_eq!(percent(0.375), "37,5%");
    }
}
