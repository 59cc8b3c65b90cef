//! The detector families, one module each. Every rule is named
//! `family.rule` in `metadata.rule`, and its thresholds live in the module's
//! settings (section `[detectors.<family>]` of config.toml).

pub mod price;
pub mod holidays;
pub mod temporal;
pub mod payment;

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::model::{Detector, Family};

/// Every family's thresholds: section `[detectors]` of config.toml.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DetectorSettings {}

/// The detectors of the requested families, in family order.
pub fn build(_settings: &DetectorSettings, families: &[Family]) -> Vec<Arc<dyn Detector>> {
    let _ = families;
    Vec::new()
}
