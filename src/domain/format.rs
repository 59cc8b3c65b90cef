//! How numbers and dates read in Brazilian Portuguese, for what citizens read.

use chrono::NaiveDate;

/// Digits with a dot every three from the right: "1234567" → "1.234.567".
fn group(digits: &str) -> String {
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push('.');
        }
        out.push(c);
    }
    out
}

/// "R$ 1.234.567,89"
pub fn reais(value: f64) -> String {
    let negative = value < 0.0;
    let cents = (value.abs() * 100.0).round() as u128;
    let (whole, frac) = (cents / 100, cents % 100);
    format!(
        "{}R$ {},{frac:02}",
        if negative { "-" } else { "" },
        group(&whole.to_string())
    )
}

/// A whole number with thousands dots: 2500.4 → "2.500".
pub fn thousands(x: f64) -> String {
    let digits = format!("{:.0}", x.abs());
    let sign = if x < 0.0 && digits != "0" { "-" } else { "" };
    format!("{sign}{}", group(&digits))
}

/// A count with thousands dots: "12.345".
pub fn count(n: usize) -> String {
    group(&n.to_string())
}

/// `x` rounded to `places` decimals, for numbers stored in results.
pub fn round(x: f64, places: i32) -> f64 {
    let f = 10f64.powi(places);
    (x * f).round() / f
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
        assert_eq!(thousands(2_500.4), "2.500");
        assert_eq!(thousands(-1_234_567.0), "-1.234.567");
        assert_eq!(count(12_345), "12.345");
    }
}
