//! The citizen's question read into filters, end to end: inserted under RLS
//! with `filters` empty, as many frontends send it, over the real January 2021
//! month, and drained by the worker.

use serde_json::{json, Value};
use tokio_postgres::Client;
use uuid::Uuid;

use crate::harness::{add_user, drain_builtin, drain_builtin_with, TestDb};
use crate::pipeline_end_to_end::{insert_as_citizen, january, row_json};

/// A question with `filters` and `anomaly_types` empty, as many frontends send it.
async fn ask(client: &Client, user: Uuid, question: &str) -> Uuid {
    insert_as_citizen(client, user, question, json!({}), json!([])).await
}

/// The row's results without their ids, which are derived from the row's own
/// id, in a fixed order: findings that tie on severity, confidence and money
/// are ranked by that id.
fn results_without_ids(row: &Value) -> Vec<String> {
    let mut results: Vec<String> = row["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| {
            let mut r = r.clone();
            if let Some(o) = r.as_object_mut() {
                o.remove("anomaly_id");
            }
            r.to_string()
        })
        .collect();
    results.sort();
    results
}

async fn run_pair(client: &Client, db: &TestDb, question: &str, explicit: Value) -> (Value, Value) {
    let user = add_user(client).await;
    let asked = ask(client, user, question).await;
    let filtered = insert_as_citizen(client, user, "filtros do painel", explicit, json!([])).await;
    let report = drain_builtin(db).await;
    assert_eq!(report.completed, 2, "{report:?}");
    (
        row_json(client, asked).await,
        row_json(client, filtered).await,
    )
}

#[tokio::test]
async fn a_question_with_empty_filters_gives_the_results_of_the_same_explicit_filters() {
    let (db, client) = january().await;
    for (question, explicit, understood) in [
        (
            "contratos acima de R$ 1 milhão no Ministério da Educação",
            json!({"min_value": 1000000, "codigo_orgao_superior": "26000"}),
            "Entendi: contratos com valor a partir de R$ 1.000.000,00, do Ministério da \
             Educação (órgão superior 26000).",
        ),
        (
            "contratos da empresa Daten Tecnologia",
            json!({"cnpj_fornecedor": "04602789000101"}),
            "Entendi: contratos do fornecedor DATEN TECNOLOGIA LTDA (CNPJ \
             04.602.789/0001-01).",
        ),
        (
            "dispensas de licitação acima de 50 mil reais",
            json!({"modalidade": "dispensa", "min_value": 50000}),
            "Entendi: contratos com valor a partir de R$ 50.000,00, por dispensa de licitação.",
        ),
    ] {
        let (asked, filtered) = run_pair(&client, &db, question, explicit).await;
        assert_eq!(asked["status"], "completed", "{asked:#}");
        assert_eq!(filtered["status"], "completed", "{filtered:#}");
        let analysed = asked["total_records_analyzed"].as_i64().expect("a count");
        assert!(analysed > 0, "{question}: the sample has such contracts");
        assert_eq!(
            asked["total_records_analyzed"], filtered["total_records_analyzed"],
            "{question}"
        );
        assert_eq!(
            asked["anomalies_found"], filtered["anomalies_found"],
            "{question}"
        );
        assert_eq!(
            results_without_ids(&asked),
            results_without_ids(&filtered),
            "{question}"
        );
        let summary = asked["summary"].as_str().unwrap_or("");
        assert!(summary.starts_with(understood), "{summary}");
        let derived = &asked["investigation_metadata"]["question"]["derived"];
        assert!(
            derived.as_array().is_some_and(|d| !d.is_empty()),
            "{derived:#}"
        );
    }
}

#[tokio::test]
async fn explicit_filters_win_and_the_text_they_override_is_recorded() {
    let (db, client) = january().await;
    let user = add_user(&client).await;
    let id = insert_as_citizen(
        &client,
        user,
        "contratos acima de R$ 1 milhão no Ministério da Saúde",
        json!({"codigo_orgao_superior": "26000"}),
        json!([]),
    )
    .await;
    drain_builtin(&db).await;
    let row = row_json(&client, id).await;
    assert_eq!(row["status"], "completed", "{row:#}");
    let question = &row["investigation_metadata"]["question"];
    assert_eq!(question["derived"][0]["words"], "acima de R$ 1 milhão");
    assert_eq!(
        question["overridden_by_filters"][0]["words"],
        "Ministério da Saúde"
    );
    for r in row["results"].as_array().expect("results") {
        assert_ne!(r["description"].as_str(), None);
    }
    let summary = row["summary"].as_str().unwrap_or("");
    assert!(
        summary.starts_with("Entendi: contratos com valor a partir de R$ 1.000.000,00."),
        "{summary}"
    );
}

#[tokio::test]
async fn an_agency_name_of_several_units_fails_listing_them_and_the_worker_goes_on() {
    let (db, client) = january().await;
    let user = add_user(&client).await;
    let ambiguous = ask(&client, user, "contratos do Instituto Federal").await;
    let unknown = ask(&client, user, "contratos do Ministério da Pesca").await;
    let fine = ask(&client, user, "contratos da PRF").await;
    let misspelt_filter = insert_as_citizen(
        &client,
        user,
        "contratos do Instituto Federal",
        json!({"ano": 2022}),
        json!([]),
    )
    .await;
    drain_builtin(&db).await;
    let row = row_json(&client, misspelt_filter).await;
    assert!(
        row["error_message"]
            .as_str()
            .unwrap_or("")
            .contains("\"ano\" não existe"),
        "the row's own mistake is told first: {row:#}"
    );
    let row = row_json(&client, ambiguous).await;
    assert_eq!(
        (row["status"].as_str(), row["attempts"].as_i64()),
        (Some("failed"), Some(1))
    );
    let message = row["error_message"].as_str().unwrap_or("");
    assert!(
        message.contains("\"Instituto Federal\" corresponde a") && message.contains("(órgão 26"),
        "{message}"
    );
    let row = row_json(&client, unknown).await;
    assert_eq!(row["status"], "failed");
    assert!(
        row["error_message"]
            .as_str()
            .unwrap_or("")
            .contains("Não encontramos \"Ministério da Pesca\""),
        "{row:#}"
    );
    let row = row_json(&client, fine).await;
    assert_eq!(row["status"], "completed", "{row:#}");
    assert_eq!(
        row["investigation_metadata"]["question"]["derived"][0]["filters"],
        json!({"codigo_orgao": "30802"})
    );
}

#[tokio::test]
async fn a_question_that_narrows_nothing_fails_over_a_large_table_unless_it_asks_for_all() {
    let (db, client) = january().await;
    let mut settings = db.settings();
    settings.analysis.unfocused_question_limit = 1_000;
    let user = add_user(&client).await;
    let vague = ask(&client, user, "quero investigar a corrupção").await;
    let all = ask(&client, user, "todos os contratos").await;
    drain_builtin_with(settings).await;
    let row = row_json(&client, vague).await;
    assert_eq!(row["status"], "failed", "{row:#}");
    let message = row["error_message"].as_str().unwrap_or("");
    assert!(
        message.contains("mais de 1.000 contratos")
            && message.contains("acima de R$ 1 milhão em 2024 no Ministério da Saúde")
            && message.contains("todos os contratos"),
        "{message}"
    );
    let row = row_json(&client, all).await;
    assert_eq!(row["status"], "completed", "{row:#}");
    assert_eq!(
        row["investigation_metadata"]["question"]["everything"],
        true
    );
}

#[tokio::test]
async fn names_are_learned_from_the_rows_whoever_inserts_them() {
    let (_db, client) = january().await;
    let counts = "select (select count(*) from transparency.units where level = 'ug'),
                         (select count(distinct codigo_ug) from transparency.contracts),
                         (select count(*) from transparency.suppliers),
                         (select count(distinct codigo_contratado) from transparency.contracts)";
    let row = client.query_one(counts, &[]).await.expect("counts");
    assert_eq!(
        row.get::<_, i64>(0),
        row.get::<_, i64>(1),
        "every UG imported"
    );
    assert_eq!(
        row.get::<_, i64>(2),
        row.get::<_, i64>(3),
        "every supplier imported"
    );

    // The Portal API cache writes as the worker role, which has no grant on the
    // names tables: the trigger records them all the same.
    let contract = Uuid::new_v4().to_string();
    client
        .batch_execute(&format!(
            "set role fiscal_worker;
             insert into transparency.contracts (contract_id, source_month, source_file,
                 source_line, numero, objeto, objeto_busca, codigo_ug, nome_ug,
                 codigo_contratado, nome_contratado)
             values ('{contract}', '2021-02-01', 'api:test', 1, '1', 'x', 'x', '999001',
                 'UG DE TESTE DA API', '11222333000181', 'FORNECEDORA ÁGUA LIMPA LTDA');
             reset role;"
        ))
        .await
        .expect("an API row inserted as the worker");
    let learned = client
        .query_one(
            "select (select name from transparency.units where level = 'ug' and code = '999001'),
                    (select name_busca from transparency.suppliers where code = '11222333000181')",
            &[],
        )
        .await
        .expect("names");
    assert_eq!(
        learned.get::<_, Option<String>>(0).as_deref(),
        Some("UG DE TESTE DA API")
    );
    assert_eq!(
        learned.get::<_, Option<String>>(1).as_deref(),
        Some("fornecedora agua limpa ltda")
    );
}
