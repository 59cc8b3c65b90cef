//! The whole contracts pipeline on a database: retrieval against a bare
//! `COPY (…) TO STDOUT` of the same rows (the baseline), and retrieval +
//! detection + analysis + summary, on N synthetic contracts (default 1,000,000)
//! generated from the real data's distributions (support/synthetic.rs).
//!
//!   FISCAL_BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
//!     cargo bench --bench pipeline
//!
//! The URL names a server where the bench may create (once) and reuse a database
//! `fiscal_bench`; FISCAL_BENCH_CONTRACTS changes N. Without the variable the
//! bench says so and measures nothing.

#[path = "support/synthetic.rs"]
mod synthetic;

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use fiscal::config::Settings;
use fiscal::domain::text::fold;
use fiscal::pipeline::contracts::Contracts;
use fiscal::pipeline::Investigation;
use fiscal::pipeline::{Job, Pipeline, Progress};
use fiscal::sources::contracts::{contracts_query, retrieve};
use fiscal::sources::filters::ContractFilters;
use futures_util::{pin_mut, StreamExt};
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, NoTls};
use tokio_util::sync::CancellationToken;

fn with_dbname(url: &str, db: &str) -> String {
    match url.rfind('/') {
        Some(i) if url[..i].contains("://") && url[..i].matches('/').count() >= 2 => {
            format!("{}/{db}", &url[..i])
        }
        _ => format!("{url}/{db}"),
    }
}

async fn connect(url: &str) -> Client {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await.expect("connect");
    tokio::spawn(connection);
    client
}

/// Creates `fiscal_bench`, migrates it and loads `n` synthetic contracts, unless
/// it already holds exactly that many.
async fn prepare(admin_url: &str, n: usize) -> String {
    let admin = connect(admin_url).await;
    let exists = admin
        .query_opt(
            "select 1 from pg_database where datname = 'fiscal_bench'",
            &[],
        )
        .await
        .expect("query")
        .is_some();
    if !exists {
        admin
            .batch_execute("create database fiscal_bench")
            .await
            .expect("create database");
    }
    let url = with_dbname(admin_url, "fiscal_bench");
    let mut settings = Settings::default();
    settings.database.url = url.clone();
    fiscal::db::migrate::run(&settings).await.expect("migrate");
    let client = connect(&url).await;
    let have: i64 = client
        .query_one("select count(*) from transparency.contracts", &[])
        .await
        .expect("count")
        .get(0);
    if have as usize == n {
        return url;
    }
    eprintln!("loading {n} synthetic contracts into fiscal_bench…");
    client
        .batch_execute("truncate transparency.contracts, transparency.amendments")
        .await
        .expect("truncate");
    let data = synthetic::synthetic(&synthetic::real_contracts(), n);
    // Values go through float8, as `fiscal import` sends them, and are cast on
    // the way into the table.
    client
        .batch_execute(
            "create temp table bench_stage (like transparency.contracts including defaults);
             alter table bench_stage alter valor_inicial type float8, alter valor_final type float8;",
        )
        .await
        .expect("staging table");
    let sink = client
        .copy_in(
            "copy bench_stage (contract_id, source_month, source_file, source_line,
                 numero, objeto, objeto_busca, fundamento_legal, modalidade, modalidade_busca,
                 codigo_orgao_superior, nome_orgao_superior, codigo_orgao, nome_orgao,
                 codigo_ug, nome_ug, data_assinatura, data_publicacao_dou, data_inicio_vigencia,
                 data_fim_vigencia, codigo_contratado, nome_contratado, valor_inicial, valor_final,
                 modalidade_licitacao) from stdin binary",
        )
        .await
        .expect("copy");
    let types = [
        Type::TEXT,
        Type::DATE,
        Type::TEXT,
        Type::INT4,
        Type::TEXT,
        Type::TEXT,
        Type::TEXT,
        Type::TEXT,
        Type::TEXT,
        Type::TEXT,
        Type::TEXT,
        Type::TEXT,
        Type::TEXT,
        Type::TEXT,
        Type::TEXT,
        Type::TEXT,
        Type::DATE,
        Type::DATE,
        Type::DATE,
        Type::DATE,
        Type::TEXT,
        Type::TEXT,
        Type::FLOAT8,
        Type::FLOAT8,
        Type::TEXT,
    ];
    let writer = BinaryCopyInWriter::new(sink, &types);
    pin_mut!(writer);
    let month = chrono::NaiveDate::from_ymd_opt(2022, 1, 1).expect("date");
    for (i, c) in data.contracts.iter().enumerate() {
        let line = i as i32;
        let modality_folded = c.modality.as_deref().map(fold);
        // The real file republishes some contracts: one id per synthetic row.
        let id = format!("{}#{i}", c.key);
        let text = |t: &Option<fiscal::sources::contracts::model::Shared>| {
            t.as_deref().map(str::to_string)
        };
        let (legal, modality) = (text(&c.legal_basis), text(&c.modality));
        let (sup_code, sup_name) = (text(&c.superior_agency.code), text(&c.superior_agency.name));
        let (agency_code, agency_name) = (text(&c.agency.code), text(&c.agency.name));
        let (ug_code, ug_name) = (text(&c.ug.code), text(&c.ug.name));
        let (supplier, supplier_name) = (text(&c.supplier_code), text(&c.supplier_name));
        let bidding_modality = text(&c.bidding_modality);
        let row: [&(dyn ToSql + Sync); 25] = [
            &id,
            &month,
            &"bench",
            &line,
            &c.number,
            &c.object,
            &fold(&c.object),
            &legal,
            &modality,
            &modality_folded,
            &sup_code,
            &sup_name,
            &agency_code,
            &agency_name,
            &ug_code,
            &ug_name,
            &c.signed,
            &c.published,
            &c.valid_from,
            &c.valid_until,
            &supplier,
            &supplier_name,
            &c.initial_value,
            &c.final_value,
            &bidding_modality,
        ];
        writer.as_mut().write(&row).await.expect("copy row");
    }
    writer.finish().await.expect("finish copy");
    client
        .batch_execute(
            "insert into transparency.contracts select * from bench_stage;
             drop table bench_stage;
             analyze transparency.contracts;",
        )
        .await
        .expect("load");
    url
}

fn pipeline(c: &mut Criterion) {
    let Ok(admin_url) = std::env::var("FISCAL_BENCH_DATABASE_URL") else {
        eprintln!("FISCAL_BENCH_DATABASE_URL is not set: nothing measured");
        return;
    };
    let n: usize = std::env::var("FISCAL_BENCH_CONTRACTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let url = runtime.block_on(prepare(&admin_url, n));
    let client = runtime.block_on(connect(&url));
    let filters = ContractFilters::parse(&serde_json::json!({})).expect("filters");
    let (sql, _) = contracts_query(&filters);
    let mut settings = Settings::default();
    settings.database.url = url.clone();
    let pool = fiscal::db::pool(&settings.database).expect("pool");
    let pipeline = Investigation::new(
        pool,
        settings.analysis.clone(),
        Contracts::new(&settings.analysis, settings.detectors.clone()),
    );
    let job = Job {
        id: uuid::Uuid::nil(),
        user_id: uuid::Uuid::nil(),
        query: "todos os contratos".into(),
        data_source: "contracts".into(),
        filters: serde_json::json!({}),
        anomaly_types: serde_json::json!([]),
        attempt: 1,
        max_attempts: 1,
    };

    let mut group = c.benchmark_group(format!("pipeline/{n}"));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(60));
    group.throughput(Throughput::Elements(n as u64));
    group.bench_function("copy_baseline", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let stream = client
                    .copy_out(&format!("copy ({sql}) to stdout"))
                    .await
                    .expect("copy out");
                pin_mut!(stream);
                let mut bytes = 0usize;
                while let Some(chunk) = stream.next().await {
                    bytes += chunk.expect("chunk").len();
                }
                bytes
            })
        })
    });
    group.bench_function("retrieve", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let (data, _) = retrieve(
                    &client,
                    &filters,
                    (usize::MAX, settings.detectors.vendor.newcomer_min_value),
                    &CancellationToken::new(),
                    |_| {},
                )
                .await
                .expect("retrieve");
                data.contracts.len()
            })
        })
    });
    group.bench_function("whole_pipeline", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let (progress, _updates) = Progress::new();
                pipeline
                    .run(&job, &progress, &CancellationToken::new())
                    .await
                    .expect("pipeline")
                    .anomalies_found
            })
        })
    });
    group.finish();
}

criterion_group!(benches, pipeline);
criterion_main!(benches);
