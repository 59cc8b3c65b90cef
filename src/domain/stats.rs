//! Robust statistics the detectors share.

use std::f64::consts::PI;

/// Median of a slice (sorted in place). None for an empty slice.
pub fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(|a, b| a.total_cmp(b));
    let n = values.len();
    Some(if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    })
}

/// The `q` quantile (0..=1) of sorted `values`, interpolating between ranks.
pub fn quantile_sorted(sorted: &[f64], q: f64) -> Option<f64> {
    let last = sorted.len().checked_sub(1)?;
    let at = q.clamp(0.0, 1.0) * last as f64;
    let (lo, hi) = (at.floor() as usize, at.ceil() as usize);
    Some(sorted[lo] + (sorted[hi] - sorted[lo]) * (at - lo as f64))
}

/// Median and a robust estimate of the spread, on the scale of a standard
/// deviation: 1.4826·MAD; where more than half the values are equal (MAD = 0),
/// 1.2533·mean absolute deviation (IBM's fallback for the modified z-score).
/// `None` for no values or no spread at all.
pub fn robust_center_scale(values: &[f64]) -> Option<(f64, f64)> {
    let mut v = values.to_vec();
    let med = median(&mut v)?;
    let mut dev: Vec<f64> = values.iter().map(|x| (x - med).abs()).collect();
    let mad = median(&mut dev)?;
    let scale = if mad > 0.0 {
        1.4826 * mad
    } else {
        1.2533 * dev.iter().sum::<f64>() / dev.len() as f64
    };
    (scale > 0.0).then_some((med, scale))
}

/// How many robust standard deviations `x` lies from the median. A few outliers
/// cannot hide themselves by inflating the spread, as they do with mean and
/// standard deviation.
pub fn robust_z(x: f64, center: f64, scale: f64) -> f64 {
    (x - center) / scale
}

/// Mean and population standard deviation.
pub fn mean_std(values: &[f64]) -> Option<(f64, f64)> {
    if values.is_empty() {
        return None;
    }
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = values.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
    Some((mean, var.sqrt()))
}

// ---------------------------------------------------------------- Benford

/// Benford's probability of first digit d (index d − 1).
pub fn benford_expected() -> [f64; 9] {
    let mut p = [0.0; 9];
    for (k, slot) in p.iter_mut().enumerate() {
        *slot = (1.0 + 1.0 / (k as f64 + 1.0)).log10();
    }
    p
}

/// The first significant digit of a positive value.
pub fn first_digit(value: f64) -> Option<u8> {
    if !(value.is_finite() && value > 0.0) {
        return None;
    }
    let mut x = value;
    // Division by ten is exact enough: the digit, not the mantissa, is needed.
    while x >= 10.0 {
        x /= 10.0;
    }
    while x < 1.0 {
        x *= 10.0;
    }
    Some((x.floor() as u8).clamp(1, 9))
}

/// What the Benford test found in one group.
pub struct BenfordTest {
    pub n: usize,
    pub observed: [f64; 9],
    pub mad: f64,
    pub chance_mad: f64,
    pub digit: u8,
}

pub fn benford_test(digits: &[u8]) -> Option<BenfordTest> {
    let n = digits.len();
    if n == 0 {
        return None;
    }
    let expected = benford_expected();
    let mut counts = [0usize; 9];
    for &d in digits {
        counts[usize::from(d.clamp(1, 9)) - 1] += 1;
    }
    let observed = counts.map(|c| c as f64 / n as f64);
    let mad = observed
        .iter()
        .zip(&expected)
        .map(|(o, e)| (o - e).abs())
        .sum::<f64>()
        / 9.0;
    let chance_mad = expected
        .iter()
        .map(|p| (2.0 * p * (1.0 - p) / (PI * n as f64)).sqrt())
        .sum::<f64>()
        / 9.0;
    // The most over-represented digit; ties go to the smaller digit.
    let mut digit = 1u8;
    let mut excess = f64::NEG_INFINITY;
    for k in 0..9 {
        let e = observed[k] - expected[k];
        if e > excess {
            excess = e;
            digit = k as u8 + 1;
        }
    }
    Some(BenfordTest {
        n,
        observed,
        mad,
        chance_mad,
        digit,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_huge_value_does_not_hide_itself_from_the_robust_z() {
        let mut values: Vec<f64> = (0..24).map(|i| 90.0 + i as f64).collect();
        values.push(1_000_000.0);
        let (center, scale) = robust_center_scale(&values).expect("spread");
        assert!(robust_z(1_000_000.0, center, scale) > 100.0);
        let (mean, std) = mean_std(&values).expect("values");
        assert!((1_000_000.0 - mean) / std < 5.0, "the plain z is masked");
    }

    #[test]
    fn equal_majority_falls_back_to_the_mean_deviation() {
        let mut values = vec![100.0; 20];
        values.extend([150.0, 5_000.0]);
        let (center, scale) = robust_center_scale(&values).expect("spread");
        assert_eq!(center, 100.0);
        assert!(robust_z(5_000.0, center, scale) > 3.5);
    }
}
