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

#[tokio::test]
async fn an_organ_named_in_the_filters_has_its_biddings_fetched_in_30_day_windows() {
    use crate::portal_api::{settings, Mode, Server};
    let db = TestDb::new().await;
    let server = Server::start(Mode::Normal).await;
    let mut client = db.client().await;
    fiscal::sources::import::check(&import_paths(&mut client, &fixtures()).await)
        .expect("imported");
    let user = add_user(&client).await;
    let id = crate::harness::ask(
        &client,
        user,
        "biddings",
        "licitações do IFSP em 2022",
        json!({"year": 2022, "codigo_orgao": "26439"}),
        json!([]),
    )
    .await;
    let report = crate::harness::drain_builtin_with(settings(&db, &server)).await;
    let row = row_json(&client, id).await;
    assert_eq!(report.completed, 1, "{report:?} {row:#}");
    let meta = &row["investigation_metadata"];
    // 2022 in windows of 30 days is 13 windows. Nine are empty (one request
    // each); the first holds 16 biddings, a page of 15 and a short one that
    // ends it; three hold one, a page that may be the last, then `[]`.
    assert_eq!(meta["portal_api"]["windows"], 13, "{meta:#}");
    assert_eq!(meta["portal_api"]["requests"], 9 + 2 + 3 * 2, "{meta:#}");
    assert_eq!(meta["portal_api"]["records"], 19, "{meta:#}");
    assert_eq!(meta["portal_api"]["skipped"], 1, "{meta:#}");
    // The file's seven and the API's sixteen of its own: the two the file
    // also holds are one row each, with the file's participants.
    assert_eq!(row["total_records_analyzed"], 23, "{row:#}");
    assert_eq!(meta["rows_read"]["biddings_without_participants"], 16);
    assert_eq!(
        meta["anomalies_by_rule"],
        json!({"vendor.single_bidder": 2, "vendor.bidder_rotation": 1}),
        "{meta:#}"
    );
    let stored: Vec<(String, Option<f64>, String)> = client
        .query(
            "select codigo_modalidade, valor::float8, source_file from transparency.biddings
             where numero in ('000012022', '000902022') order by numero",
            &[],
        )
        .await
        .expect("biddings")
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(
        stored,
        vec![
            // The API's valor 0 of a registro did not erase the file's value.
            (
                "5".to_string(),
                Some(2_500_000.0),
                "api:/licitacoes".to_string()
            ),
            (
                "api:leilao".to_string(),
                Some(45_000.0),
                "api:/licitacoes".to_string()
            ),
        ]
    );
}

#[tokio::test]
async fn biddings_stored_with_zero_padded_modality_codes_are_re_keyed_once() {
    let db = TestDb::new().await;
    let client = db.client().await;
    // As an import before codes lost their zeros stored them: one bidding
    // alone, one whose unpadded twin was imported since.
    client
        .batch_execute(
            "insert into transparency.biddings (bidding_id, source_file, source_line, numero,
                 codigo_ug, codigo_modalidade, objeto, objeto_busca)
             values ('158137/000012022/05', 'old.csv', 2, '000012022', '158137', '05', 'a', 'a'),
                    ('158137/000022022/01', 'old.csv', 3, '000022022', '158137', '01', 'b', 'b'),
                    ('158137/000022022/1', 'new.csv', 3, '000022022', '158137', '1', 'b', 'b');
             insert into transparency.bidding_participants (participant_key, bidding_id,
                 source_file, source_line, codigo_participante, vencedor)
             values ('158137/000012022/05/1/33333333000153', '158137/000012022/05', 'old.csv',
                     2, '33333333000153', true),
                    ('158137/000022022/01/1/44444444000134', '158137/000022022/01', 'old.csv',
                     2, '44444444000134', true),
                    ('158137/000022022/1/1/44444444000134', '158137/000022022/1', 'new.csv',
                     2, '44444444000134', true);",
        )
        .await
        .expect("old rows");
    let rekey = fiscal::db::migrate::MIGRATIONS
        .iter()
        .find(|m| m.name == "0016_biddings_from_the_api")
        .expect("the migration");
    for _ in 0..2 {
        client.batch_execute(rekey.sql).await.expect("re-keyed");
    }
    let keys = |table: &'static str, column: &'static str| {
        let client = &client;
        async move {
            client
                .query(
                    &format!("select {column} from transparency.{table} order by 1"),
                    &[],
                )
                .await
                .expect("keys")
                .iter()
                .map(|r| r.get::<_, String>(0))
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        keys("biddings", "bidding_id").await,
        vec!["158137/000012022/5", "158137/000022022/1"]
    );
    assert_eq!(
        keys("bidding_participants", "participant_key").await,
        vec![
            "158137/000012022/5/1/33333333000153",
            "158137/000022022/1/1/44444444000134"
        ]
    );
}
