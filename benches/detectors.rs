//! Detector throughput at 10k, 100k and 1M contracts generated from the real
//! data's distributions (see support/synthetic.rs).
//!
//!   cargo bench --bench detectors
//!   FISCAL_BENCH_SIZES=10000,100000 cargo bench --bench detectors

#[path = "support/synthetic.rs"]
mod synthetic;

use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use fiscal::sources::contracts::model::Family;
use fiscal::sources::contracts::rules::{build, DetectorSettings};
use synthetic::{real_contracts, synthetic};

fn sizes() -> Vec<usize> {
    std::env::var("FISCAL_BENCH_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![10_000, 100_000, 1_000_000])
}

fn detectors(c: &mut Criterion) {
    let real = real_contracts();
    let settings = DetectorSettings::default();
    for n in sizes() {
        let data = Arc::new(synthetic(&real, n));
        let mut group = c.benchmark_group(format!("detect/{n}"));
        group.sample_size(10);
        group.throughput(Throughput::Elements(n as u64));
        for family in Family::ALL {
            for detector in build(&settings, &[family]) {
                group.bench_with_input(
                    BenchmarkId::from_parameter(family.as_str()),
                    &data,
                    |b, data| b.iter(|| detector.detect(data)),
                );
            }
        }
        let all = build(&settings, &Family::ALL);
        group.bench_with_input(
            BenchmarkId::from_parameter("all_sequential"),
            &data,
            |b, data| b.iter(|| all.iter().map(|d| d.detect(data).len()).sum::<usize>()),
        );
        group.finish();
    }
}

criterion_group!(benches, detectors);
criterion_main!(benches);
