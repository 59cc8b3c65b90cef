//! The servants source end to end: the real `/servidores` capture of IBGE
//! imported with `fiscal import` or served by a local HTTP server in the API's
//! shape, investigations inserted as a citizen would, the worker, the rows.

use fiscal::sources::import::{import_paths, Kind};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::harness::{add_user, drain_builtin, drain_builtin_with, fetch, TestDb};
use crate::import::shipped;
use crate::pipeline_end_to_end::row_json;
use crate::portal_api::{settings, Mode, Server, SERVANTS_PAGE};

pub const CAPTURE: &str = "servants/servidores_orgaoServidorExercicio-45205_paged_2025-03.json";
const RAW: &str = "servants/servidores_single_response_raw_2025-03.json";

async fn ask(client: &tokio_postgres::Client, filters: Value, types: Value) -> Uuid {
    let user = add_user(client).await;
    crate::harness::ask(
        client,
        user,
        "servants",
        "servidores do IBGE",
        filters,
        types,
    )
    .await
}

#[tokio::test]
async fn the_real_servants_capture_is_found_by_its_shape_and_imports_whole_and_once() {
    let db = TestDb::new().await;
    let mut client = db.client().await;
    let reports = import_paths(&mut client, &[shipped(CAPTURE), shipped(RAW)]).await;
    let got: Vec<(Option<Kind>, u64, u64, u64)> = reports
        .iter()
        .map(|r| (r.kind, r.read, r.loaded, r.rejected))
        .collect();
    // The raw body is one more servant (the origin author), not among the 180.
    assert_eq!(
        got,
        vec![
            (Some(Kind::Servants), 180, 180, 0),
            (Some(Kind::Servants), 1, 1, 0)
        ],
        "{reports:#?}"
    );
    let again = import_paths(&mut client, &[shipped(CAPTURE)]).await;
    assert_eq!(
        (again[0].loaded, again[0].unchanged),
        (0, 180),
        "{}",
        again[0].line()
    );
}

#[tokio::test]
async fn an_investigation_of_the_imported_ibge_staff_finds_the_retired_servant_still_active() {
    let db = TestDb::new().await;
    let mut client = db.client().await;
    fiscal::sources::import::check(&import_paths(&mut client, &[shipped(CAPTURE)]).await)
        .expect("imported");
    let id = ask(&client, json!({"codigo_orgao": "45205"}), json!([])).await;
    let unknown = ask(&client, json!({"year": 2024}), json!([])).await;
    let unpaid = ask(&client, json!({}), json!(["price"])).await;
    let report = drain_builtin(&db).await;
    assert_eq!((report.completed, report.failed), (1, 2), "{report:?}");

    let row = row_json(&client, id).await;
    assert_eq!(row["status"], "completed", "{row:#}");
    assert_eq!(row["total_records_analyzed"], 180);
    let meta = &row["investigation_metadata"];
    assert_eq!(
        meta["anomalies_by_rule"],
        json!({"duplicate.retired_and_active": 1})
    );
    for family in ["price", "payment", "vendor", "pattern"] {
        assert!(meta["not_applicable"][family].is_string(), "{meta:#}");
    }
    let summary = row["summary"].as_str().expect("summary");
    assert!(summary.contains("teto constitucional"), "{summary}");
    let finding = &row["results"][0];
    assert_eq!(finding["severity"], "high");
    assert!(
        finding["description"]
            .as_str()
            .is_some_and(|d| d.contains("ANTONIO SILVA REGO FILHO") && d.contains("01/11/2024")),
        "{finding:#}"
    );
    assert_eq!(finding["affected_records"][0]["id"], "servidor/308783063");

    let message = row_json(&client, unknown).await["error_message"].clone();
    assert!(
        message
            .as_str()
            .is_some_and(|m| m.contains("\"year\" não existe") && m.contains("codigo_orgao")),
        "{message}"
    );
    let message = row_json(&client, unpaid).await["error_message"].clone();
    assert!(
        message
            .as_str()
            .is_some_and(|m| m.contains("remuneração") && m.contains("duplicate")),
        "{message}"
    );
}

#[tokio::test]
async fn an_organ_named_in_the_filters_is_fetched_from_the_api_page_by_page() {
    let db = TestDb::new().await;
    let server = Server::start(Mode::TooManyRequests(1)).await;
    let client = db.client().await;
    let id = ask(&client, json!({"codigo_orgao": "45205"}), json!([])).await;
    let report = drain_builtin_with(settings(&db, &server)).await;
    assert_eq!(report.completed, 1, "{report:?}");
    let row = fetch(&client, id).await;
    assert_eq!(row.total_records_analyzed, 180);
    let fetched = &row.metadata["portal_api"];
    assert_eq!(fetched["records"], 180, "{fetched}");
    // 12 full pages, the empty 13th, and the 429 waited out before them.
    let pages = 180 / SERVANTS_PAGE + 1;
    assert_eq!(fetched["requests"], json!(pages + 1), "{fetched}");
    assert_eq!(server.requests(), pages + 1);
    assert_eq!(
        row.metadata["anomalies_by_rule"],
        json!({"duplicate.retired_and_active": 1})
    );
    let stored: i64 = client
        .query_one(
            "select count(*) from transparency.servants where source = 'api:/servidores'",
            &[],
        )
        .await
        .expect("count")
        .get(0);
    assert_eq!(stored, 180);
}

#[tokio::test]
async fn a_refused_key_a_malformed_body_and_a_dead_api_each_fail_with_their_message() {
    for (mode, key, expected) in [
        (Mode::Normal, "chave-errada", "recusou a chave"),
        (
            Mode::Malformed,
            crate::portal_api::KEY,
            "formato inesperado",
        ),
        (Mode::ServerError, crate::portal_api::KEY, "não respondeu"),
    ] {
        let db = TestDb::new().await;
        let server = Server::start(mode).await;
        let client = db.client().await;
        let id = ask(&client, json!({"codigo_orgao": "45205"}), json!([])).await;
        // One attempt: a dead API is retried by the worker otherwise.
        client
            .execute(
                "update investigations set max_attempts = 1 where id = $1",
                &[&id],
            )
            .await
            .expect("one attempt");
        let mut settings = settings(&db, &server);
        settings.portal.api_key = key.into();
        drain_builtin_with(settings).await;
        let row = fetch(&client, id).await;
        assert_eq!(row.status, "failed", "{mode:?}: {row:?}");
        let message = row.error_message.unwrap_or_default();
        assert!(message.contains(expected), "{mode:?}: {message}");
        if expected != "recusou a chave" {
            assert!(message.contains("servidores do órgão 45205"), "{message}");
        }
    }
}
