//! The contracts pipeline end to end: real Portal data imported with `fiscal
//! import`, an investigation inserted as a citizen would, the worker, the row.

use std::collections::BTreeSet;

use fiscal::pipeline::contracts::Contracts;
use fiscal::pipeline::Investigation;
use fiscal::pipeline::{Job, Pipeline, Progress};
use serde_json::{json, Value};
use tokio_postgres::Client;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::harness::{add_user, drain_builtin, fetch, TestDb};
use crate::import::{shipped, MONTHLY_ZIP};

pub async fn import_january(client: &mut Client) {
    let reports = fiscal::sources::import::import_paths(client, &[shipped(MONTHLY_ZIP)]).await;
    fiscal::sources::import::check(&reports).expect("imported");
}

/// A test database with the real January 2021 month imported, and a client.
pub async fn january() -> (TestDb, Client) {
    let db = TestDb::new().await;
    let mut client = db.client().await;
    import_january(&mut client).await;
    (db, client)
}

/// Inserts through RLS as the signed-in citizen, as supabase-js does.
pub async fn insert_as_citizen(
    client: &Client,
    user: Uuid,
    query: &str,
    filters: Value,
    types: Value,
) -> Uuid {
    crate::harness::citizen_insert(
        client,
        user,
        query,
        &filters.to_string(),
        &types.to_string(),
        None,
    )
    .await
    .expect("citizen insert")
}

pub async fn row_json(client: &Client, id: Uuid) -> Value {
    client
        .query_one(
            "select to_jsonb(i) - 'claim_token' from investigations i where id = $1",
            &[&id],
        )
        .await
        .expect("row")
        .get(0)
}

#[tokio::test]
async fn a_citizens_investigation_over_the_real_january_data_completes_with_ranked_findings() {
    let (db, client) = january().await;
    let user = add_user(&client).await;
    let id = insert_as_citizen(
        &client,
        user,
        "todos os contratos importados",
        json!({}),
        json!([]),
    )
    .await;

    let report = drain_builtin(&db).await;
    assert_eq!(report.completed, 1, "{report:?}");
    let row = row_json(&client, id).await;
    assert_eq!(row["status"], "completed", "{row:#}");
    assert_eq!(row["progress"], 1.0);
    assert_eq!(row["current_phase"], "completed");

    let distinct: i64 = client
        .query_one(
            "select count(distinct contract_id) from transparency.contracts",
            &[],
        )
        .await
        .expect("count")
        .get(0);
    assert_eq!(row["total_records_analyzed"], json!(distinct));
    let confidence = row["confidence_score"].as_f64().expect("confidence");
    assert!((0.5..=1.0).contains(&confidence), "{confidence}");

    let results = row["results"].as_array().expect("results");
    let found = row["anomalies_found"].as_u64().expect("count") as usize;
    assert!(!results.is_empty(), "real data has anomalies");
    assert!(results.len() <= db.settings().analysis.results_cap && results.len() <= found);
    let families: BTreeSet<&str> = [
        "price",
        "vendor",
        "temporal",
        "payment",
        "duplicate",
        "pattern",
    ]
    .into();
    let severities = ["critical", "high", "medium", "low"];
    let mut last_rank = 0;
    let mut ids = BTreeSet::new();
    for r in results {
        assert!(
            Uuid::parse_str(r["anomaly_id"].as_str().unwrap_or("")).is_ok(),
            "{r:#}"
        );
        assert!(
            ids.insert(r["anomaly_id"].as_str().unwrap_or("").to_string()),
            "duplicate id"
        );
        let family = r["type"].as_str().expect("type");
        assert!(families.contains(family), "{family}");
        let rank = severities
            .iter()
            .position(|s| r["severity"] == *s)
            .expect("severity");
        assert!(rank >= last_rank, "results not ordered by severity");
        last_rank = rank;
        let c = r["confidence"].as_f64().expect("confidence");
        assert!((0.0..=1.0).contains(&c));
        assert!(!r["description"].as_str().unwrap_or("").is_empty());
        assert!(!r["explanation"].as_str().unwrap_or("").is_empty());
        assert!(
            r["suggested_actions"]
                .as_array()
                .is_some_and(|a| !a.is_empty()),
            "{r:#}"
        );
        assert!(r["metadata"]["rule"]
            .as_str()
            .unwrap_or("")
            .starts_with(&format!("{family}.")));
        assert!(r["metadata"]["financial_impact"].is_number());
        let records = r["affected_records"].as_array().expect("records");
        assert!(!records.is_empty(), "{r:#}");
        for rec in records {
            for key in ["id", "numero", "objeto", "fornecedor", "orgao", "valor"] {
                assert!(
                    rec.get(key).is_some(),
                    "affected record without {key}: {rec:#}"
                );
            }
        }
    }

    let summary = row["summary"].as_str().expect("summary");
    assert!(summary.starts_with("Analisamos "), "{summary}");
    assert!(
        summary.contains(&fiscal::domain::format::count(distinct as usize)),
        "{summary}"
    );
    assert!(
        summary.contains("R$ ") && summary.contains("Principais achados"),
        "{summary}"
    );
    let meta = &row["investigation_metadata"];
    assert_eq!(meta["pipeline"], "contracts");
    assert!(meta["pipeline_version"].is_string());
    assert!(meta["phases_ms"]["data_retrieval"].is_number());
    assert_eq!(meta["rows_read"]["contracts"], json!(distinct));
}

/// What `{"min_value": 1000000, "year": 2020}` selects, counted in plain SQL.
pub async fn contracts_over_a_million_in_2020(client: &Client) -> i64 {
    client
        .query_one(
            "select count(distinct contract_id) from transparency.contracts
             where coalesce(valor_final, valor_inicial) >= 1000000
               and data_assinatura between '2020-01-01' and '2020-12-31'",
            &[],
        )
        .await
        .expect("count")
        .get(0)
}

#[tokio::test]
async fn the_original_frontends_filters_select_what_they_say() {
    let (db, client) = january().await;
    let user = add_user(&client).await;
    let id = insert_as_citizen(
        &client,
        user,
        "contratos acima de R$ 1 milhão em 2020",
        json!({"min_value": 1000000, "year": 2020}),
        json!(["payment", "price"]),
    )
    .await;
    drain_builtin(&db).await;
    let expected = contracts_over_a_million_in_2020(&client).await;
    assert!(expected > 0, "the sample has such contracts");
    let row = row_json(&client, id).await;
    assert_eq!(row["status"], "completed", "{row:#}");
    assert_eq!(row["total_records_analyzed"], json!(expected));
    for r in row["results"].as_array().expect("results") {
        assert!(
            r["type"] == "payment" || r["type"] == "price",
            "anomaly_types not honoured: {r:#}"
        );
    }
    assert!(row["summary"]
        .as_str()
        .unwrap_or("")
        .contains("assinados em 2020, valor a partir de R$ 1.000.000,00"));
}

#[tokio::test]
async fn invalid_filters_and_unknown_types_fail_with_messages_naming_them() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let user = add_user(&client).await;
    let bad_key = insert_as_citizen(&client, user, "q", json!({"ano": 2024}), json!([])).await;
    let bad_type = insert_as_citizen(&client, user, "q", json!({}), json!(["preco"])).await;
    drain_builtin(&db).await;
    let row = fetch(&client, bad_key).await;
    assert_eq!((row.status.as_str(), row.attempts), ("failed", 1));
    assert!(row
        .error_message
        .unwrap_or_default()
        .contains("\"ano\" não existe"));
    let row = fetch(&client, bad_type).await;
    assert_eq!(row.status, "failed");
    let message = row.error_message.unwrap_or_default();
    assert!(
        message.contains("\"preco\"") && message.contains("price, vendor, temporal"),
        "{message}"
    );
}

#[tokio::test]
async fn the_same_input_gives_the_same_results_byte_for_byte() {
    let (db, _client) = january().await;
    let settings = db.settings();
    let pipeline = Investigation::new(
        db.pool(),
        settings.analysis.clone(),
        Contracts::new(&settings.analysis, settings.detectors.clone()),
    );
    let job = Job {
        id: Uuid::new_v4(),
        user_id: Uuid::new_v4(),
        query: "todos".into(),
        data_source: "contracts".into(),
        filters: json!({}),
        anomaly_types: json!([]),
        attempt: 1,
        max_attempts: 3,
    };
    let mut outputs = Vec::new();
    for _ in 0..2 {
        let (progress, _updates) = Progress::new();
        let done = pipeline
            .run(&job, &progress, &CancellationToken::new())
            .await
            .expect("pipeline");
        outputs.push((
            serde_json::to_string(&done.results).expect("json"),
            done.summary,
            done.anomalies_found,
        ));
    }
    assert_eq!(outputs[0], outputs[1]);
}

#[tokio::test]
async fn results_are_cut_to_the_byte_budget_and_the_count_still_says_how_many() {
    let (db, client) = january().await;
    let mut settings = db.settings();
    settings.analysis.results_max_bytes = 30_000;
    let user = add_user(&client).await;
    let id = insert_as_citizen(&client, user, "todos", json!({}), json!([])).await;
    crate::harness::drain_builtin_with(settings).await;

    let row = row_json(&client, id).await;
    assert_eq!(row["status"], "completed", "{row:#}");
    let results = row["results"].as_array().expect("results");
    let bytes = row["results"].to_string().len();
    assert!(!results.is_empty());
    assert!(bytes <= 30_000, "{bytes} bytes of results");
    let found = row["anomalies_found"].as_i64().expect("a count");
    assert!(
        found > results.len() as i64,
        "{found} found, {} shown",
        results.len()
    );
    let metadata = &row["investigation_metadata"];
    assert_eq!(metadata["results_shown"], results.len());
    assert_eq!(
        results[0]["severity"], "critical",
        "the most serious come first"
    );
}

/// R2 RADIODIFUSAO E TELECOMUNICACOES LTDA was fined in the CNEP on 22/11/2021:
/// its contract 32021 signed on 14/12/2021 is reported with the penalty; 92020,
/// signed on 23/09/2020, before it, is not.
#[tokio::test]
async fn a_supplier_punished_before_the_signature_is_reported_with_its_penalty() {
    let db = TestDb::new().await;
    let mut client = db.client().await;
    let reports = fiscal::sources::import::import_paths(
        &mut client,
        &[
            crate::import::shipped(crate::import::CONTRACTS_ZIP),
            crate::import::shipped(crate::import::CNEP),
        ],
    )
    .await;
    fiscal::sources::import::check(&reports).expect("imported");
    let user = add_user(&client).await;
    let id = insert_as_citizen(
        &client,
        user,
        "contratos do CNPJ 05.613.242/0001-74",
        json!({}),
        json!(["vendor"]),
    )
    .await;
    drain_builtin(&db).await;
    let row = row_json(&client, id).await;
    assert_eq!(row["status"], "completed", "{row:#}");
    let sanctioned: Vec<&Value> = row["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter(|r| r["metadata"]["rule"] == "vendor.sanctioned_supplier")
        .collect();
    let numbers: Vec<&str> = sanctioned
        .iter()
        .filter_map(|r| r["affected_records"][0]["numero"].as_str())
        .collect();
    assert!(
        numbers.contains(&"32021") && !numbers.contains(&"92020"),
        "{numbers:?}"
    );
    let finding = sanctioned
        .iter()
        .find(|r| r["affected_records"][0]["numero"] == "32021")
        .expect("the contract of 14/12/2021");
    let before = &finding["metadata"]["evidence"]["sanctions_before_signature"];
    assert!(
        before.as_array().is_some_and(|b| b
            .iter()
            .any(|s| s["category"] == "Multa" && s["published"] == "2021-11-22")),
        "{finding:#}"
    );
}
