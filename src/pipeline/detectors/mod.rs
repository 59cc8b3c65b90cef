//! The detector families, one module each. Every rule is named
//! `family.rule` in `metadata.rule`, and its thresholds live in the module's
//! settings (section `[detectors.<family>]` of config.toml).

pub mod dispensa_limits;
pub mod duplicate;
pub mod holidays;
pub mod pattern;
pub mod payment;
pub mod price;
pub mod temporal;
pub mod vendor;

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::model::{Detector, Family};

/// Every family's thresholds: sections `[detectors.<family>]` of config.toml.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DetectorSettings {
    pub price: price::PriceSettings,
    pub vendor: vendor::VendorSettings,
    pub temporal: temporal::TemporalSettings,
    pub payment: payment::PaymentSettings,
    pub duplicate: duplicate::DuplicateSettings,
    pub pattern: pattern::PatternSettings,
}

/// The detectors of the requested families, in family order.
pub fn build(settings: &DetectorSettings, families: &[Family]) -> Vec<Arc<dyn Detector>> {
    let mut families = families.to_vec();
    families.sort();
    families.dedup();
    families
        .into_iter()
        .map(|family| -> Arc<dyn Detector> {
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
