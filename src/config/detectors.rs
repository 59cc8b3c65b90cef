//! The thresholds of every contracts rule: sections `[detectors.<family>]` of
//! config.toml. They live with the rest of the configuration, so loading it
//! validates them and the rules read plain values.

use serde::{Deserialize, Serialize};

use crate::domain::law::dispensa_limits::Law;

/// Every family's thresholds: sections `[detectors.<family>]` of config.toml.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DetectorSettings {
    pub price: PriceSettings,
    pub vendor: VendorSettings,
    pub temporal: TemporalSettings,
    pub payment: PaymentSettings,
    pub duplicate: DuplicateSettings,
    pub pattern: PatternSettings,
}

/// Thresholds of the price family: section `[detectors.price]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PriceSettings {
    /// Robust z (on log value) above which a contract is an outlier. Defaults to 3.5.
    pub z_threshold: f64,
    /// A flagged contract must also be at least this many times the group's typical
    /// value (or at most its inverse, for low outliers). Defaults to 5.0.
    pub min_ratio_to_median: f64,
    /// Fewest contracts (the contract included) a group needs to be a yardstick;
    /// a smaller group of similar objects falls back to agency and modality.
    /// Defaults to 8.
    pub min_group_size: usize,
    /// Floor of the robust spread of log values (natural log units; 0.25 ≈ ±28%),
    /// so groups of near-identical values do not make tiny differences "extreme".
    /// Defaults to 0.25.
    pub min_log_scale: f64,
    /// Values below this, in reais, are placeholders (R$ 0,01) rather than prices
    /// and are left out. Defaults to 10.0.
    pub min_value: f64,
    /// Robust z from which a high outlier is severe. Defaults to 6.0.
    pub severe_z: f64,
    /// Value, in reais, from which a high outlier is a large contract. Defaults to
    /// 1000000.0.
    pub large_value: f64,
    /// Also report contracts far below their group (data errors, split purchases).
    /// Defaults to false.
    pub include_low_outliers: bool,
    /// Most findings reported per dataset; the strongest are kept. Defaults to 200.
    pub max_findings: usize,
    /// `price.item_unit_price`: fewest distinct agencies that bought an item
    /// for its unit prices to be a yardstick. Defaults to 5.
    pub item_min_agencies: usize,
    /// Fewest priced purchases of the item in the database. Defaults to 8.
    pub item_min_purchases: usize,
    /// Largest 75th/25th percentile ratio of the peers' unit prices: beyond
    /// it the catalogue entry covers things priced too differently to compare.
    /// Defaults to 5.0.
    pub item_max_spread: f64,
    /// A flagged unit price is at least this many times the peers' median (and
    /// above their 90th percentile). Defaults to 3.0.
    pub item_min_ratio: f64,
    /// Fewest reais the item costs above the median, times its quantity.
    /// Defaults to 20000.0.
    pub item_min_excess: f64,
    /// An item bought in a quantity below the peers' median quantity divided
    /// by this is a lot, kit or month, and is not compared. Defaults to 10.0.
    pub item_quantity_gap: f64,
}

impl Default for PriceSettings {
    fn default() -> Self {
        Self {
            z_threshold: 3.5,
            min_ratio_to_median: 5.0,
            min_group_size: 8,
            min_log_scale: 0.25,
            min_value: 10.0,
            severe_z: 6.0,
            large_value: 1_000_000.0,
            include_low_outliers: false,
            max_findings: 200,
            item_min_agencies: 5,
            item_min_purchases: 8,
            item_max_spread: 5.0,
            item_min_ratio: 3.0,
            item_min_excess: 20_000.0,
            item_quantity_gap: 10.0,
        }
    }
}

/// Thresholds of the vendor family: section `[detectors.vendor]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VendorSettings {
    /// Share (0–1) of a unit's contracted value above which a supplier dominates it.
    /// Defaults to 0.7.
    pub dominant_share: f64,
    /// Fewest contracts with a value a unit (agency or UG) needs for dominance to
    /// be judged. Defaults to 5.
    pub dominant_min_contracts: usize,
    /// Fewest distinct suppliers a unit needs; 1 also reports units that bought
    /// from a single supplier. Defaults to 1.
    pub dominant_min_suppliers: usize,
    /// Fewest contracts the dominant supplier needs at the unit, so one large
    /// contract alone is not called dominance. Defaults to 2.
    pub dominant_min_supplier_contracts: usize,
    /// HHI (0–1) above which an agency's suppliers are highly concentrated.
    /// Defaults to 0.25.
    pub hhi_threshold: f64,
    /// Fewest contracts with a value an agency needs for its HHI. Defaults to 10.
    pub hhi_min_contracts: usize,
    /// Fewest distinct suppliers an agency needs for its HHI. Defaults to 3.
    pub hhi_min_suppliers: usize,
    /// Fewest direct contracts (dispensa/inexigibilidade) between one UG and one
    /// supplier that make a repetition. Defaults to 5.
    pub direct_min_contracts: usize,
    /// Emergency dispensas between one UG and one supplier, in the whole
    /// database, that make `vendor.repeated_emergency_dispensa`. Defaults to 2.
    pub emergency_min_awards: usize,
    /// `vendor.newcomer_direct_award`: reais from which a direct award that is
    /// its supplier's first contract in the database is reported. Defaults to
    /// 1000000.0.
    pub newcomer_min_value: f64,
    /// Days after the database's earliest month of publication before which
    /// "first contract" cannot be told. Defaults to 365.
    pub newcomer_min_history_days: u32,
    /// `vendor.exceptional_direct_award`: reais from which a direct award is
    /// compared with its agency's. Defaults to 1000000.0.
    pub exceptional_min_value: f64,
    /// Times the 90th percentile of the agency's direct awards, in the whole
    /// database, from which one is exceptional. Defaults to 20.0.
    pub exceptional_ratio: f64,
    /// Fewest direct awards an agency needs in the database for its habit to
    /// be judged. Defaults to 30.
    pub exceptional_min_agency_awards: u32,
    /// `vendor.dispensas_across_units`: fewest UGs that hired one supplier by
    /// dispensa, in the whole database. Defaults to 5.
    pub spread_min_units: usize,
    /// Most example contracts one of its findings lists (three for a lawful
    /// case). Defaults to 5.
    pub spread_max_records: usize,
    /// Reais from which an amount is large for severity. Defaults to 1000000.0.
    pub large_value: f64,
    /// Most records listed in one finding (the largest are kept). Defaults to 50.
    pub max_records: usize,
    /// Most findings per rule per dataset; the strongest are kept. Defaults to 200.
    pub max_findings: usize,
}

impl Default for VendorSettings {
    fn default() -> Self {
        Self {
            dominant_share: 0.7,
            dominant_min_contracts: 5,
            dominant_min_suppliers: 1,
            dominant_min_supplier_contracts: 2,
            hhi_threshold: 0.25,
            hhi_min_contracts: 10,
            hhi_min_suppliers: 3,
            direct_min_contracts: 5,
            emergency_min_awards: 2,
            newcomer_min_value: 1_000_000.0,
            newcomer_min_history_days: 365,
            exceptional_min_value: 1_000_000.0,
            exceptional_ratio: 20.0,
            exceptional_min_agency_awards: 30,
            spread_min_units: 5,
            spread_max_records: 5,
            large_value: 1_000_000.0,
            max_records: 50,
            max_findings: 200,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TemporalSettings {
    /// Robust z (log scale) above which a month's value or count is a spike.
    pub spike_z: f64,
    /// Months with contracts an agency needs before its months are compared.
    pub spike_min_months: usize,
    /// A value spike needs at least this much signed in the month, in reais.
    pub spike_min_month_value: f64,
    /// A count spike needs at least this many contracts in the month.
    pub spike_min_month_contracts: usize,
    /// Length of the end-of-year window, in days up to 31 December (31 = December).
    pub year_end_days: u32,
    /// The window's share of the year's value must exceed this many times the
    /// share an even year gives (days / days in the year).
    pub year_end_share_multiple: f64,
    /// Minimum value signed in the window, in reais.
    pub year_end_min_value: f64,
    /// Minimum contracts an agency signed in the year.
    pub year_end_min_contracts: usize,
    /// Only judge years the dataset covers: DOU publications in each month of the
    /// year and in the following January.
    pub year_end_require_full_year: bool,
    /// Share of contracts signed on weekends/holidays in regular data (0..1);
    /// 0.028 over the 49,414 real contracts of 2021–2022.
    pub offday_expected_share: f64,
    /// Minimum weekend/holiday signatures for a UG to be flagged.
    pub offday_min_count: usize,
    /// The UG's share must be at least this many times the expected share.
    pub offday_share_multiple: f64,
    /// Maximum binomial probability of so many such dates by chance (0..1).
    pub offday_max_p_value: f64,
    /// Days between validity start and a later signature before it is flagged.
    pub retroactive_min_days: i64,
    /// Days after the 5th working day of the month after signature within which
    /// the DOU publication must occur (Lei 8.666/1993 art. 61).
    pub publication_grace_days: i64,
    /// Signatures more than this many days before their DOU publication are
    /// republications of old contracts, not late publications; they are also left
    /// out of the monthly and year-end statistics.
    pub republication_days: i64,
    /// Minimum late publications for a UG to be flagged.
    pub late_min_count: usize,
    /// Minimum share (0..1) of a UG's contracts published late.
    pub late_min_share: f64,
    /// Contracts listed per finding (each is about a unit's habit): the ones
    /// that show it most, as examples rather than each a suspect; the count
    /// and value of them all are in the evidence. Defaults to 5.
    pub max_records_per_finding: usize,
    /// Findings kept per rule and dataset, the strongest first.
    pub max_findings_per_rule: usize,
}

impl Default for TemporalSettings {
    fn default() -> Self {
        Self {
            spike_z: 2.5,
            spike_min_months: 6,
            spike_min_month_value: 1_000_000.0,
            spike_min_month_contracts: 10,
            year_end_days: 15,
            year_end_share_multiple: 3.0,
            year_end_min_value: 1_000_000.0,
            year_end_min_contracts: 10,
            year_end_require_full_year: true,
            offday_expected_share: 0.03,
            offday_min_count: 5,
            offday_share_multiple: 3.0,
            offday_max_p_value: 1e-4,
            retroactive_min_days: 30,
            publication_grace_days: 20,
            republication_days: 365,
            late_min_count: 5,
            late_min_share: 0.5,
            max_records_per_finding: 5,
            max_findings_per_rule: 200,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PaymentSettings {
    /// Additions allowed over the initial value (Lei 8.666 art. 65 §1º), 0..1.
    pub addition_limit: f64,
    /// Additions allowed when the object is a renovation ("reforma"), 0..1.
    pub renovation_limit: f64,
    /// Days of validity beyond whole years that do not yet count as another
    /// 12-month period of a continuous service.
    pub period_slack_days: i64,
    /// Minimum excess over the allowed value for a finding, in reais.
    pub min_excess_value: f64,
    /// Final values below this fraction of the initial are discrepancies.
    pub discrepancy_low_ratio: f64,
    /// Final values above this multiple of the initial are discrepancies (and are
    /// left out of the legal-limit rule).
    pub discrepancy_high_ratio: f64,
    /// The larger of the two values must reach this, in reais.
    pub discrepancy_min_value: f64,
    /// Distinct amendments that make a contract "much amended".
    pub many_min_amendments: usize,
    /// …when they also come faster than this many per year.
    pub many_min_per_year: f64,
    /// Value-addition amendments that alone make a contract "much amended".
    pub many_min_value_additions: usize,
    /// Findings kept per rule and dataset, the strongest first.
    pub max_findings_per_rule: usize,
}

impl Default for PaymentSettings {
    fn default() -> Self {
        Self {
            addition_limit: 0.25,
            renovation_limit: 0.50,
            period_slack_days: 31,
            min_excess_value: 50_000.0,
            discrepancy_low_ratio: 0.05,
            discrepancy_high_ratio: 10.0,
            discrepancy_min_value: 1_000_000.0,
            many_min_amendments: 6,
            many_min_per_year: 2.0,
            many_min_value_additions: 3,
            max_findings_per_rule: 200,
        }
    }
}

/// Thresholds of the duplicate family: section `[detectors.duplicate]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DuplicateSettings {
    /// Jaccard similarity (0..1) of two objects' meaningful words from which they
    /// describe the same thing. Defaults to 0.85.
    pub min_similarity: f64,
    /// Objects with fewer meaningful words are too vague to compare ("aquisição de
    /// material"). Defaults to 3.
    pub min_object_words: usize,
    /// Days between signatures within which two contracts can be duplicates.
    /// Defaults to 30.
    pub near_window_days: u32,
    /// Relative difference (0..1, of the larger value) up to which two values are
    /// the same amount. Defaults to 0.01.
    pub value_tolerance: f64,
    /// Later contracts of the same UG and supplier each contract is compared with,
    /// at most: keeps a block of thousands of contracts linear. Defaults to 64.
    pub max_comparisons_per_contract: usize,
    /// Reais at stake from which a likely duplicate goes up one severity level.
    /// Defaults to 1000000.0.
    pub critical_amount: f64,
    /// Days a split purchase's contracts may spread over to be summed. Defaults
    /// to 90.
    pub split_window_days: u32,
    /// Words that mark a purchase modality as a direct purchase, matched in the
    /// modality ignoring case and accents. Defaults to ["dispensa"].
    pub split_modalities: Vec<String>,
    /// The law whose limits apply between 2021-04-01 and 2023-12-30 when the
    /// legal basis names none: "lei_8666" or "lei_14133". Defaults to "lei_8666".
    pub split_coexistence_law: Law,
    /// Phrases (ignoring case and accents) in the object or supplier name of a
    /// dispensa the law grants for reasons other than value; such contracts are
    /// left out. Defaults to family farming, fundações, utilities, Correios and
    /// cessão de uso.
    pub split_excluded_terms: Vec<String>,
    /// Days within which all of a group's contracts make one batch. Defaults to 7.
    pub split_batch_days: u32,
    /// Findings each rule keeps per dataset, the strongest. Defaults to 200.
    pub max_findings_per_rule: usize,
}

impl Default for DuplicateSettings {
    fn default() -> Self {
        Self {
            min_similarity: 0.85,
            min_object_words: 3,
            near_window_days: 30,
            value_tolerance: 0.01,
            max_comparisons_per_contract: 64,
            critical_amount: 1_000_000.0,
            split_window_days: 90,
            split_modalities: vec!["dispensa".to_string()],
            split_coexistence_law: Law::Lei8666,
            split_excluded_terms: [
                "agricultura familiar",
                "fundacao",
                "energia eletrica",
                "agua potavel",
                "esgoto",
                "correios",
                "cessao de uso",
                "concessao de uso",
                "permissao de uso",
            ]
            .map(String::from)
            .to_vec(),
            split_batch_days: 7,
            max_findings_per_rule: 200,
        }
    }
}

/// Thresholds of the pattern family: section `[detectors.pattern]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PatternSettings {
    /// Fewest values a group needs for the Benford test; smaller samples say
    /// nothing. Defaults to 300.
    pub benford_min_records: usize,
    /// Reais: smaller values are left out of the Benford test. Defaults to 10.0.
    pub benford_min_value: f64,
    /// MAD (0..1) above which conformity is only marginal (Nigrini, first digit).
    /// Defaults to 0.012.
    pub benford_marginal_mad: f64,
    /// MAD above which the first digits do not conform. Defaults to 0.015.
    pub benford_nonconformity_mad: f64,
    /// MAD from which the nonconformity is severe. Defaults to 0.025.
    pub benford_high_mad: f64,
    /// The MAD must also be at least this many times the MAD chance alone gives a
    /// conforming sample of the same size. Defaults to 1.5.
    pub benford_min_mad_over_chance: f64,
    /// Fewest days a periodicity series spans. Defaults to 120.
    pub periodic_min_days: usize,
    /// Fewest contracts inside the series. Defaults to 100.
    pub periodic_min_contracts: usize,
    /// Days of an agency's history analysed, the latest ones. Defaults to 1024.
    pub periodic_max_days: usize,
    /// Shortest cycle looked for, in days (2 is the shortest a daily series has).
    /// Defaults to 2.0.
    pub periodic_min_period_days: f64,
    /// Longest cycle looked for, in days; never more than a quarter of the series,
    /// so a cycle repeats at least four times. Defaults to 92.0.
    pub periodic_max_period_days: f64,
    /// Share (0..1) of the band's spectral power a cycle's harmonics must hold.
    /// Defaults to 0.25.
    pub periodic_min_share: f64,
    /// Largest chance probability (after the Bonferroni correction) of a flagged
    /// cycle. Defaults to 0.001.
    pub periodic_max_p_value: f64,
    /// Contracts cited per finding. Defaults to 50.
    pub max_records: usize,
    /// Findings each rule keeps per dataset, the strongest. Defaults to 200.
    pub max_findings_per_rule: usize,
}

impl Default for PatternSettings {
    fn default() -> Self {
        Self {
            benford_min_records: 300,
            benford_min_value: 10.0,
            benford_marginal_mad: 0.012,
            benford_nonconformity_mad: 0.015,
            benford_high_mad: 0.025,
            benford_min_mad_over_chance: 1.5,
            periodic_min_days: 120,
            periodic_min_contracts: 100,
            periodic_max_days: 1024,
            periodic_min_period_days: 2.0,
            periodic_max_period_days: 92.0,
            periodic_min_share: 0.25,
            periodic_max_p_value: 0.001,
            max_records: 50,
            max_findings_per_rule: 200,
        }
    }
}
