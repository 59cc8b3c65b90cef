//! Contracts for benchmarks, generated from the real 2021–2022 Portal da
//! Transparência file (data/procurement): each synthetic contract is a
//! real one whose agency and UG codes are suffixed by a replica number (so the
//! number and size of groups grow as in more months of real data, rather than
//! every group swelling), whose values are scaled by a log-normal factor
//! (σ = 0.3) and whose dates move by up to ±180 days. Distributions of values,
//! modalities, objects, suppliers and amendments are thus the real ones.

use chrono::Duration;
use fiscal::sources::contracts::model::{Contract, Dataset};
use fiscal::sources::contracts::{attach_amendments, from_portal};
use fiscal::sources::portal;

/// One of the two-year CSVs the repository ships (data/procurement, zipped).
pub fn shipped(file: &str) -> std::io::Cursor<Vec<u8>> {
    std::io::Cursor::new(fiscal::sources::shipped::procurement_csv(file).expect("real data file"))
}

pub fn real_contracts() -> Vec<Contract> {
    let reader = shipped("portal_transparencia_compras_202101-202212.csv");
    let mut contracts: Vec<Contract> = portal::read_contracts(reader, "compras")
        .expect("header")
        .filter_map(Result::ok)
        .map(|c| from_portal(&c))
        .collect();
    let reader = shipped("portal_transparencia_termos_aditivos_202101-202212.csv");
    let amendments: Vec<portal::Amendment> = portal::read_amendments(reader, "aditivos")
        .expect("header")
        .filter_map(Result::ok)
        .collect();
    attach_amendments(&mut contracts, &amendments);
    contracts
}

/// A standard normal draw (Box–Muller).
fn normal(rng: &mut fastrand::Rng) -> f64 {
    let u1 = rng.f64().max(f64::MIN_POSITIVE);
    let u2 = rng.f64();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

pub fn synthetic(real: &[Contract], n: usize) -> Dataset {
    let mut rng = fastrand::Rng::with_seed(2021);
    let contracts = (0..n)
        .map(|i| {
            let replica = i / real.len();
            let mut c = real[i % real.len()].clone();
            if replica > 0 {
                c.key = format!("{}#{replica}", c.key);
                for unit in [&mut c.agency, &mut c.ug] {
                    unit.code = unit
                        .code
                        .take()
                        .map(|code| format!("{code}-{replica}").into());
                }
                let factor = (0.3 * normal(&mut rng)).exp();
                c.initial_value = c.initial_value.map(|v| v * factor);
                c.final_value = c.final_value.map(|v| v * factor);
                let shift = Duration::days(rng.i64(-180..=180));
                for d in [
                    &mut c.signed,
                    &mut c.published,
                    &mut c.valid_from,
                    &mut c.valid_until,
                ] {
                    *d = d.map(|d| d + shift);
                }
            }
            c
        })
        .collect();
    Dataset {
        contracts,
        ..Default::default()
    }
}
