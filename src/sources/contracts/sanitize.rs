//! Values the Portal registered wrongly, kept out of the statistics.
//!
//! The real 2021–2022 data holds a R$ 332,8 billion contract for transporting food
//! (about 4% of Brazil's GDP) and initial/final value pairs that differ by exactly
//! a power of ten (R$ 44.146.700,00 registered as R$ 4.414.670.000,00). One such
//! value turns an agency's monthly totals, its suppliers' shares and its market
//! concentration into noise. So, before detection, every family but `payment`
//! reads a sanitised copy of the dataset:
//! * a value at or above `analysis.implausible_value` becomes unknown, and is
//!   reported once as `price.implausible_value`;
//! * where initial and final values differ by a factor of 100, 1 000, … (within
//!   1%), or by 100 times or more, the larger is taken for a registration error
//!   and becomes unknown. `payment`
//!   sees the values as registered and reports these pairs itself
//!   (`payment.value_discrepancy`), so they are not reported twice.
//!
//! Affected records in the results show the values as registered.

use serde_json::json;

use super::model::{Dataset, Family, Finding, Severity};
use crate::domain::format::reais;

pub const IMPLAUSIBLE_VALUE: &str = "price.implausible_value";

/// Initial and final values this far apart are a registration error, not an
/// execution: the law caps additions at 25% or 50% of the initial value, and
/// on the real data such pairs are decimal shifts, monthly-against-total or a
/// price registry's global value (R$ 3,39 billion against R$ 3,9 million).
pub const IMPROBABLE_RATIO: f64 = 100.0;

/// True when `a / b` is within 1% of 10^k for some k ≥ 2, or at least
/// [`IMPROBABLE_RATIO`].
fn power_of_ten_apart(a: f64, b: f64) -> bool {
    if a <= 0.0 || b <= 0.0 {
        return false;
    }
    let ratio = a.max(b) / a.min(b);
    let k = ratio.log10().round();
    ratio >= IMPROBABLE_RATIO || k >= 2.0 && (ratio / 10f64.powf(k) - 1.0).abs() <= 0.01
}

/// Values as registered, to put back once detection is over: (record, initial,
/// final).
pub type Registered = Vec<(usize, Option<f64>, Option<f64>)>;

/// Sanitises `data` in place; returns what to restore and the findings about
/// what was set aside. Touches only the few records concerned, so a million
/// contracts are not copied.
pub fn sanitize(data: &mut Dataset, ceiling: f64) -> (Registered, Vec<Finding>) {
    let mut registered = Vec::new();
    let mut findings = Vec::new();
    for (i, c) in data.contracts.iter_mut().enumerate() {
        let before = (c.initial_value, c.final_value);
        let mut set_aside = None;
        for value in [&mut c.initial_value, &mut c.final_value] {
            if let Some(v) = *value {
                if v >= ceiling {
                    set_aside = set_aside.or(Some(v));
                    *value = None;
                }
            }
        }
        if let (Some(initial), Some(final_value)) = (c.initial_value, c.final_value) {
            if power_of_ten_apart(initial, final_value) {
                if initial > final_value {
                    c.initial_value = None;
                } else {
                    c.final_value = None;
                }
            }
        }
        if (c.initial_value, c.final_value) != before {
            registered.push((i, before.0, before.1));
        }
        if let Some(v) = set_aside {
            let unit =
                c.ug.name
                    .as_deref()
                    .or(c.agency.name.as_deref())
                    .unwrap_or("unidade não informada");
            findings.push(Finding {
                family: Family::Price,
                rule: IMPLAUSIBLE_VALUE,
                severity: Severity::Medium,
                confidence: 0.9,
                description: format!(
                    "Contrato {} de {unit} registrado com valor implausível: {}",
                    c.number,
                    reais(v)
                ),
                explanation: format!(
                    "O Portal da Transparência registra {} para este contrato, acima de {}, \
                     valor que nenhum contrato federal comum alcança; é quase certamente um erro \
                     de registro. Deixamos esse valor fora das demais análises (preços típicos, \
                     participação de fornecedores, picos mensais), para que ele não distorça \
                     os resultados, mas o erro em si afeta painéis e somas publicados com esses \
                     dados.",
                    reais(v),
                    reais(ceiling)
                ),
                records: vec![i],
                suggested_actions: vec![
                    "Pedir ao órgão o valor correto do contrato e a correção do registro no \
                     Comprasnet/Portal da Transparência."
                        .to_string(),
                ],
                evidence: json!({"registered_value": v, "ceiling": ceiling}),
                financial_impact: 0.0,
            });
        }
    }
    (registered, findings)
}

/// Puts the registered values back.
pub fn restore(data: &mut Dataset, registered: Registered) {
    for (i, initial, final_value) in registered {
        if let Some(c) = data.contracts.get_mut(i) {
            c.initial_value = initial;
            c.final_value = final_value;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::contracts::model::Contract;

    fn contract(initial: f64, final_value: f64) -> Contract {
        Contract {
            key: "k".into(),
            number: "452022".into(),
            initial_value: Some(initial),
            final_value: Some(final_value),
            ..Default::default()
        }
    }

    #[test]
    fn an_absurd_value_is_set_aside_and_reported_once() {
        let raw = Dataset {
            contracts: vec![
                contract(332_843_300_000.0, 332_843_300_000.0),
                contract(1_000.0, 1_200.0),
            ],
            ..Default::default()
        };
        let mut clean = raw.clone();
        let (registered, findings) = sanitize(&mut clean, 50_000_000_000.0);
        assert_eq!(
            clean.contracts[0]
                .final_value
                .or(clean.contracts[0].initial_value),
            None
        );
        assert_eq!(clean.contracts[1], raw.contracts[1]);
        restore(&mut clean, registered);
        assert_eq!(
            clean.contracts, raw.contracts,
            "registered values come back"
        );
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].rule, IMPLAUSIBLE_VALUE);
        assert!(findings[0].description.contains("R$ 332.843.300.000,00"));
    }

    #[test]
    fn a_value_typed_with_extra_zeros_yields_to_its_pair() {
        let raw = Dataset {
            contracts: vec![
                contract(4_414_670_000.0, 44_146_700.0),
                contract(2_902_850.0, 2_902_850_000.0),
            ],
            ..Default::default()
        };
        let mut clean = raw.clone();
        let (_, findings) = sanitize(&mut clean, 50_000_000_000.0);
        assert!(findings.is_empty(), "payment reports these");
        let used: Vec<Option<f64>> = clean
            .contracts
            .iter()
            .map(|c| c.final_value.or(c.initial_value))
            .collect();
        assert_eq!(used, vec![Some(44_146_700.0), Some(2_902_850.0)]);
    }

    #[test]
    fn values_a_hundred_times_apart_keep_the_smaller_for_the_statistics() {
        let raw = Dataset {
            contracts: vec![contract(3_940_000.0, 3_388_022_201.81)],
            ..Default::default()
        };
        let mut clean = raw.clone();
        let (registered, _) = sanitize(&mut clean, 50_000_000_000.0);
        assert_eq!(registered.len(), 1);
        assert_eq!(clean.contracts[0].final_value, None);
        assert_eq!(clean.contracts[0].initial_value, Some(3_940_000.0));
    }

    #[test]
    fn regular_growth_is_left_alone() {
        let raw = Dataset {
            contracts: vec![
                contract(100_000.0, 125_000.0),
                contract(100_000.0, 1_050_000.0),
            ],
            ..Default::default()
        };
        let mut clean = raw.clone();
        let (registered, _) = sanitize(&mut clean, 50_000_000_000.0);
        assert!(registered.is_empty());
        assert_eq!(clean.contracts, raw.contracts);
    }
}
