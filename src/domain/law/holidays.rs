//! Brazilian national holidays and federal working days, for the rules that
//! read signature and publication dates.
//!
//! Fixed dates (Lei 662/1949, Lei 6.802/1980, Lei 10.607/2002): 1/1, 21/4, 1/5,
//! 7/9, 12/10, 2/11, 15/11, 25/12; and 20/11 (Consciência Negra) from 2024 on
//! (Lei 14.759/2023). Movable dates, counted from Easter Sunday: Carnaval Monday
//! and Tuesday (Easter − 48 and − 47), Sexta-feira Santa (Easter − 2) and Corpus
//! Christi (Easter + 60).
//!
//! Carnaval and Corpus Christi are not holidays by law: they are *pontos
//! facultativos* that the federal government declares every year, and federal
//! bodies close on them. For "was this a working day at a federal body" they are
//! treated as non-working days. Ash Wednesday (closed until 14h) counts as a
//! working day, and state or municipal holidays are ignored: a signature on them
//! is not unusual for the federal calendar.

use chrono::{Datelike, Duration, NaiveDate, Weekday};

/// Easter Sunday of `year` in the Gregorian calendar (the anonymous algorithm of
/// Meeus/Jones/Butcher). `None` only for years chrono cannot represent.
pub fn easter(year: i32) -> Option<NaiveDate> {
    let a = year.rem_euclid(19);
    let b = year.div_euclid(100);
    let c = year.rem_euclid(100);
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    NaiveDate::from_ymd_opt(year, month as u32, day as u32)
}

/// The name of the national holiday (or federal ponto facultativo) on `date`, if
/// it is one.
pub fn holiday_name(date: NaiveDate) -> Option<&'static str> {
    let fixed = match (date.month(), date.day()) {
        (1, 1) => Some("Confraternização Universal"),
        (4, 21) => Some("Tiradentes"),
        (5, 1) => Some("Dia do Trabalho"),
        (9, 7) => Some("Independência"),
        (10, 12) => Some("Nossa Senhora Aparecida"),
        (11, 2) => Some("Finados"),
        (11, 15) => Some("Proclamação da República"),
        (11, 20) if date.year() >= 2024 => Some("Consciência Negra"),
        (12, 25) => Some("Natal"),
        _ => None,
    };
    if fixed.is_some() {
        return fixed;
    }
    let offset = (date - easter(date.year())?).num_days();
    match offset {
        -48 => Some("Carnaval (segunda-feira)"),
        -47 => Some("Carnaval (terça-feira)"),
        -2 => Some("Sexta-feira Santa"),
        60 => Some("Corpus Christi"),
        _ => None,
    }
}

/// Saturday or Sunday.
pub fn is_weekend(date: NaiveDate) -> bool {
    matches!(date.weekday(), Weekday::Sat | Weekday::Sun)
}

/// A day federal bodies work: not a weekend, holiday or Carnaval/Corpus Christi.
pub fn is_working_day(date: NaiveDate) -> bool {
    !is_weekend(date) && holiday_name(date).is_none()
}

/// The `n`-th (1-based) working day of the month after the month of `date`: the
/// day by which Lei 8.666 art. 61 wants a contract's extract sent to the DOU.
pub fn nth_working_day_of_next_month(date: NaiveDate, n: u32) -> Option<NaiveDate> {
    let (year, month) = if date.month() == 12 {
        (date.year() + 1, 1)
    } else {
        (date.year(), date.month() + 1)
    };
    let mut day = NaiveDate::from_ymd_opt(year, month, 1)?;
    let mut seen = 0;
    // A month has at least 15 working days, so this ends within the month.
    for _ in 0..31 {
        if is_working_day(day) {
            seen += 1;
            if seen == n.max(1) {
                return Some(day);
            }
        }
        day += Duration::days(1);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("valid date")
    }

    #[test]
    fn easter_falls_on_the_published_dates() {
        let known = [
            (1961, d(1961, 4, 2)),
            (1996, d(1996, 4, 7)),
            (2000, d(2000, 4, 23)),
            (2008, d(2008, 3, 23)),
            (2011, d(2011, 4, 24)),
            (2019, d(2019, 4, 21)),
            (2020, d(2020, 4, 12)),
            (2021, d(2021, 4, 4)),
            (2022, d(2022, 4, 17)),
            (2023, d(2023, 4, 9)),
            (2024, d(2024, 3, 31)),
            (2025, d(2025, 4, 20)),
            (2038, d(2038, 4, 25)),
        ];
        for (year, expected) in known {
            assert_eq!(easter(year), Some(expected), "Easter {year}");
        }
    }

    #[test]
    fn movable_holidays_follow_easter() {
        assert_eq!(
            holiday_name(d(2022, 2, 28)),
            Some("Carnaval (segunda-feira)")
        );
        assert_eq!(holiday_name(d(2022, 3, 1)), Some("Carnaval (terça-feira)"));
        assert_eq!(holiday_name(d(2022, 4, 15)), Some("Sexta-feira Santa"));
        assert_eq!(holiday_name(d(2022, 6, 16)), Some("Corpus Christi"));
        assert_eq!(holiday_name(d(2021, 6, 3)), Some("Corpus Christi"));
        assert_eq!(holiday_name(d(2022, 3, 2)), None, "Ash Wednesday is worked");
    }

    #[test]
    fn black_consciousness_day_is_national_only_from_2024() {
        assert_eq!(holiday_name(d(2023, 11, 20)), None);
        assert_eq!(holiday_name(d(2024, 11, 20)), Some("Consciência Negra"));
        assert_eq!(
            holiday_name(d(2021, 1, 1)),
            Some("Confraternização Universal")
        );
        assert_eq!(
            holiday_name(d(2021, 11, 15)),
            Some("Proclamação da República")
        );
    }

    #[test]
    fn the_fifth_working_day_skips_weekends_and_holidays() {
        // February 2022: Tue 1 … Mon 7 is the 5th working day.
        assert_eq!(
            nth_working_day_of_next_month(d(2022, 1, 10), 5),
            Some(d(2022, 2, 7))
        );
        // January 2022: 1/1 is a Saturday; Mon 3 … Fri 7 is the 5th.
        assert_eq!(
            nth_working_day_of_next_month(d(2021, 12, 31), 5),
            Some(d(2022, 1, 7))
        );
        // March 2022 starts on Carnaval Tuesday: Wed 2 … Tue 8.
        assert_eq!(
            nth_working_day_of_next_month(d(2022, 2, 3), 5),
            Some(d(2022, 3, 8))
        );
        assert!(!is_working_day(d(2022, 3, 1)));
        assert!(!is_working_day(d(2022, 3, 5)));
        assert!(is_working_day(d(2022, 3, 2)));
    }
}
