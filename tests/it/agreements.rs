//! The agreements source end to end, on a hand-written file in the Portal's
//! documented Convênios layout (tests/data/agreements/SOURCES.md): import, an
//! investigation inserted as a citizen would, the worker, the row.

use fiscal::sources::import::{import_paths, Kind};
use serde_json::json;

use crate::harness::{add_user, ask, drain_builtin, repo_path, TestDb};
use crate::pipeline_end_to_end::row_json;

#[tokio::test]
async fn an_agreements_investigation_finds_money_beyond_the_value_and_after_the_validity() {
    let db = TestDb::new().await;
    let mut client = db.client().await;
    let file = repo_path("tests/data/agreements/20240101_Convenios.csv");
    let reports = import_paths(&mut client, &[&file]).await;
    let r = &reports[0];
    assert_eq!(
        (r.kind, r.read, r.loaded, r.rejected),
        (Some(Kind::Agreements), 5, 4, 1),
        "{reports:#?}"
    );
    assert!(
        r.rejections[0].contains(":6:") && r.rejections[0].contains("abc"),
        "{:?}",
        r.rejections
    );
    let again = import_paths(&mut client, &[&file]).await;
    assert_eq!((again[0].loaded, again[0].unchanged), (0, 4));

    let user = add_user(&client).await;
    let id = ask(
        &client,
        user,
        "agreements",
        "convênios do Fundo Nacional de Saúde",
        json!({"codigo_orgao": "36901"}),
        json!([]),
    )
    .await;
    let vendor_only = ask(
        &client,
        user,
        "agreements",
        "convenentes",
        json!({}),
        json!(["vendor"]),
    )
    .await;
    let report = drain_builtin(&db).await;
    assert_eq!((report.completed, report.failed), (1, 1), "{report:?}");
    let row = row_json(&client, id).await;
    assert_eq!(row["total_records_analyzed"], 4, "{row:#}");
    assert_eq!(
        row["investigation_metadata"]["anomalies_by_rule"],
        json!({"payment.released_above_agreed": 1, "temporal.released_after_validity": 1})
    );
    let ids: Vec<&str> = row["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter_map(|r| r["affected_records"][0]["id"].as_str())
        .collect();
    assert_eq!(ids.len(), 2);
    assert!(
        ids.contains(&"900001") && ids.contains(&"900002"),
        "{ids:?}"
    );
    let message = row_json(&client, vendor_only).await["error_message"].clone();
    assert!(
        message.as_str().is_some_and(|m| m.contains("payment")),
        "{message}"
    );
}

#[tokio::test]
async fn an_organ_named_in_the_filters_has_its_agreements_fetched_from_the_api() {
    use crate::portal_api::{settings, Mode, Server};
    let db = TestDb::new().await;
    let server = Server::start(Mode::Normal).await;
    let client = db.client().await;
    let user = add_user(&client).await;
    let id = ask(
        &client,
        user,
        "agreements",
        "convênios do Fundo Nacional de Saúde",
        json!({"codigo_orgao": "36901"}),
        json!([]),
    )
    .await;
    let report = crate::harness::drain_builtin_with(settings(&db, &server)).await;
    let row = row_json(&client, id).await;
    assert_eq!(report.completed, 1, "{report:?} {row:#}");
    assert_eq!(row["total_records_analyzed"], 17, "{row:#}");
    let meta = &row["investigation_metadata"];
    // A page of 15 and a short one of 2, which ends the paging.
    assert_eq!(meta["portal_api"]["records"], 17, "{meta:#}");
    assert_eq!(meta["portal_api"]["requests"], 2, "{meta:#}");
    assert_eq!(
        meta["anomalies_by_rule"],
        json!({"payment.released_above_agreed": 1, "temporal.released_after_validity": 1})
    );
    let listed = &row["results"][0]["affected_records"][0];
    assert_eq!(
        listed["uf"], "MG",
        "the swapped sigla and nome are read right"
    );
}
