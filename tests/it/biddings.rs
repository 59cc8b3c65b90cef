//! The biddings source end to end, on hand-written files in the Portal's
//! documented Licitações layout (tests/data/biddings/SOURCES.md): import,
//! an investigation inserted as a citizen would, the worker, the row.

use fiscal::sources::import::{import_paths, Kind};
use serde_json::json;

use crate::harness::{add_user, drain_builtin, repo_path, TestDb};
use crate::pipeline_end_to_end::row_json;

fn fixtures() -> Vec<std::path::PathBuf> {
    vec![
        repo_path("tests/data/biddings/202203_Licitação.csv"),
        repo_path("tests/data/biddings/202203_ParticipantesLicitação.csv"),
    ]
}

#[tokio::test]
async fn biddings_and_participants_import_by_header_and_a_broken_row_is_named() {
    let db = TestDb::new().await;
    let mut client = db.client().await;
    let reports = import_paths(&mut client, &fixtures()).await;
    let got: Vec<(Option<Kind>, u64, u64, u64)> = reports
        .iter()
        .map(|r| (r.kind, r.read, r.loaded, r.rejected))
        .collect();
    assert_eq!(
        got,
        vec![
            (Some(Kind::Biddings), 8, 7, 1),
            (Some(Kind::BiddingParticipants), 14, 14, 0)
        ],
        "{reports:#?}"
    );
    assert!(
        reports[0].rejections[0].contains(":9:") && reports[0].rejections[0].contains("31/06/2022"),
        "{:?}",
        reports[0].rejections
    );
    let again = import_paths(&mut client, &fixtures()).await;
    assert_eq!((again[0].loaded, again[0].unchanged), (0, 7));
    assert_eq!((again[1].loaded, again[1].unchanged), (0, 14));
}

#[tokio::test]
async fn a_biddings_investigation_finds_the_lone_bidder_the_short_convite_and_the_rotation() {
    let db = TestDb::new().await;
    let mut client = db.client().await;
    fiscal::sources::import::check(&import_paths(&mut client, &fixtures()).await)
        .expect("imported");
    let user = add_user(&client).await;
    crate::harness::lift_citizen_limits(&client, 10).await;
    let query = "licitações do IFSP em 2022";
    let ask = crate::harness::ask;
    let id = ask(
        &client,
        user,
        "biddings",
        query,
        json!({"year": 2022, "codigo_orgao": "26439"}),
        json!([]),
    )
    .await;
    let dated = ask(
        &client,
        user,
        "biddings",
        query,
        json!({"data_inicial": "2022-04-01"}),
        json!([]),
    )
    .await;
    let report = drain_builtin(&db).await;
    assert_eq!(report.completed, 2, "{report:?}");

    let row = row_json(&client, id).await;
    assert_eq!(row["status"], "completed", "{row:#}");
    assert_eq!(row["total_records_analyzed"], 7);
    let meta = &row["investigation_metadata"];
    assert_eq!(
        meta["anomalies_by_rule"],
        json!({"vendor.single_bidder": 2, "vendor.bidder_rotation": 1}),
        "{meta:#}"
    );
    assert!(meta["checked_against"]
        .as_str()
        .is_some_and(|c| c.contains("documented layouts")));
    let summary = row["summary"].as_str().expect("summary");
    assert!(
        summary.contains("7 licitações (abertas em 2022, órgão 26439)"),
        "{summary}"
    );
    let rotation = row["results"]
        .as_array()
        .expect("results")
        .iter()
        .find(|r| r["metadata"]["rule"] == "vendor.bidder_rotation")
        .expect("the rotation is a result");
    assert_eq!(
        rotation["affected_records"].as_array().map(Vec::len),
        Some(3)
    );

    // Opened from April on: two of the cleaning pregões, no rotation left.
    let row = row_json(&client, dated).await;
    assert_eq!(row["total_records_analyzed"], 4, "{row:#}");
    assert!(row["investigation_metadata"]["anomalies_by_rule"]
        .get("vendor.bidder_rotation")
        .is_none());
}
