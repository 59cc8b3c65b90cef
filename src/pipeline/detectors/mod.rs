//! The detector families, one module each. Every rule is named
//! `family.rule` in `metadata.rule`, and its thresholds live in the module's
//! settings (section `[detectors.<family>]` of config.toml).
