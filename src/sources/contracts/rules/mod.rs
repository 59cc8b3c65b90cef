//! The detector families, one module each. Every rule is named
//! `family.rule` in `metadata.rule`, and its thresholds live in the module's
//! settings (section `[detectors.<family>]` of config.toml).

pub mod duplicate;
pub mod emergency;
pub mod exceptional;
pub mod item_price;
pub mod newcomer;
pub mod pattern;
pub mod payment;
pub mod price;
pub mod recognised;
pub mod sanctioned;
pub mod spread;
pub mod temporal;
pub mod vendor;

use std::sync::Arc;

use super::model::{Dataset, Detector, Family};
pub use crate::config::detectors::DetectorSettings;

/// The detectors of the requested families, in family order.
pub fn build(settings: &DetectorSettings, families: &[Family]) -> Vec<Arc<dyn Detector<Dataset>>> {
    let mut families = families.to_vec();
    families.sort();
    families.dedup();
    families
        .into_iter()
        .map(|family| -> Arc<dyn Detector<Dataset>> {
            match family {
                Family::Price => Arc::new(price::PriceDetector {
                    settings: settings.price.clone(),
                }),
                Family::Vendor => Arc::new(vendor::VendorDetector {
                    settings: settings.vendor.clone(),
                }),
                Family::Temporal => Arc::new(temporal::TemporalDetector {
                    settings: settings.temporal.clone(),
                }),
                Family::Payment => Arc::new(payment::PaymentDetector {
                    settings: settings.payment.clone(),
                }),
                Family::Duplicate => Arc::new(duplicate::DuplicateDetector {
                    settings: settings.duplicate.clone(),
                }),
                Family::Pattern => Arc::new(pattern::PatternDetector {
                    settings: settings.pattern.clone(),
                }),
            }
        })
        .collect()
}

/// The findings of one rule, for tests.
#[cfg(test)]
pub(crate) fn of_rule<'a>(
    findings: &'a [super::model::Finding],
    rule: &str,
) -> Vec<&'a super::model::Finding> {
    findings.iter().filter(|f| f.rule == rule).collect()
}

/// How many findings are critical, high, medium and low, for tests' reports.
#[cfg(test)]
pub(crate) fn severity_counts(findings: &[&super::model::Finding]) -> [usize; 4] {
    use super::model::Severity;
    [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
    ]
    .map(|s| findings.iter().filter(|f| f.severity == s).count())
}

/// The real 2021–2022 Portal file as the data source reads it (one record per
/// contract, at its latest publication, with its amendments), for the tests that
/// check each rule's volume on real data. The files ship with the repository
/// (`data/procurement`, zipped); their absence fails the test.
#[cfg(test)]
pub(crate) fn real_data() -> super::model::Dataset {
    use std::collections::HashMap;

    use crate::sources::contracts::{attach_amendments, from_portal};
    use crate::sources::portal;

    let open = |name: &str| {
        std::io::Cursor::new(
            crate::sources::shipped::procurement_csv(name)
                .unwrap_or_else(|e| panic!("real data file {name}: {e:#}")),
        )
    };
    let rows = portal::read_contracts(
        open("portal_transparencia_compras_202101-202212.csv"),
        "compras",
    )
    .expect("contracts header");
    let mut latest: HashMap<String, usize> = HashMap::new();
    let mut contracts: Vec<super::model::Contract> = Vec::new();
    for row in rows.filter_map(Result::ok) {
        let c = from_portal(&row);
        match latest.get(&c.key) {
            Some(&i) => contracts[i] = c,
            None => {
                latest.insert(c.key.clone(), contracts.len());
                contracts.push(c);
            }
        }
    }
    let mut amendments: Vec<portal::Amendment> = portal::read_amendments(
        open("portal_transparencia_termos_aditivos_202101-202212.csv"),
        "aditivos",
    )
    .expect("amendments header")
    .filter_map(Result::ok)
    .collect();
    amendments.dedup();
    attach_amendments(&mut contracts, &amendments);
    super::model::Dataset {
        contracts,
        ..Default::default()
    }
}
