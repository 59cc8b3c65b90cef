//! When a contract must appear in the Diário Oficial da União.
//!
//! Lei 8.666/1993, art. 61, parágrafo único: the summary of a contract is
//! published by the fifth working day of the month after its signature (and
//! within twenty days of it). Lei 14.133/2021 moved publicity to the PNCP
//! (art. 94), with deadlines counted from the signature instead; the Compras
//! files of 2021–2022 still carry the DOU date, judged by the older rule.

use chrono::NaiveDate;

use super::holidays::nth_working_day_of_next_month;

/// The day by which the summary of a contract signed on `signed` must be sent
/// for publication: the fifth working day of the next month (national holidays
/// and weekends skipped). The DOU may then take up to twenty days to publish it,
/// which is the rule's grace (`publication_grace_days`).
pub fn publication_deadline(signed: NaiveDate) -> Option<NaiveDate> {
    nth_working_day_of_next_month(signed, 5)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_contract_signed_in_december_2021_is_due_by_the_seventh_of_january() {
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).expect("date");
        // 1 January is a holiday and 1–2 January 2022 a weekend: 3, 4, 5, 6, 7.
        assert_eq!(publication_deadline(d(2021, 12, 20)), Some(d(2022, 1, 7)));
        // April 2022: the 1st is a Friday; 21 April (Tiradentes) is later.
        assert_eq!(publication_deadline(d(2022, 3, 2)), Some(d(2022, 4, 7)));
    }
}
