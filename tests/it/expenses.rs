//! The expenses source end to end: the real yearly "Orçamento da Despesa" files
//! imported with `fiscal import`, investigations inserted as a citizen would,
//! the worker, the rows.

use fiscal::sources::import::{import_paths, Kind};
use serde_json::json;

use crate::harness::{add_user, drain_builtin, TestDb};
use crate::import::shipped;
use crate::pipeline_end_to_end::row_json;

pub const BUDGET_2021: &str = "expenses/portal_transparencia_orcamento_despesa_2021_original.zip";
pub const BUDGET_2022: &str = "expenses/portal_transparencia_orcamento_despesa_2022_original.zip";

/// Inserts an expenses investigation through RLS as the signed-in citizen.
async fn ask(
    client: &tokio_postgres::Client,
    user: uuid::Uuid,
    query: &str,
    filters: serde_json::Value,
    types: serde_json::Value,
) -> uuid::Uuid {
    crate::harness::ask(client, user, "expenses", query, filters, types).await
}

async fn sum_realizado(client: &tokio_postgres::Client, year: i32) -> String {
    client
        .query_one(
            "select sum(realizado)::text from transparency.budget_lines where exercicio = $1",
            &[&year],
        )
        .await
        .expect("sum")
        .get(0)
}

#[tokio::test]
async fn the_real_budget_files_import_whole_their_parts_summed_and_a_second_import_changes_nothing()
{
    let db = TestDb::new().await;
    let mut client = db.client().await;
    let reports = import_paths(&mut client, &[shipped(BUDGET_2021), shipped(BUDGET_2022)]).await;
    let got: Vec<(Option<Kind>, u64, u64, u64, u64)> = reports
        .iter()
        .map(|r| (r.kind, r.read, r.loaded, r.merged, r.rejected))
        .collect();
    assert_eq!(
        got,
        vec![
            (Some(Kind::BudgetLines), 25_222, 22_695, 2_527, 0),
            (Some(Kind::BudgetLines), 23_615, 21_623, 1_992, 0),
        ],
        "{reports:#?}"
    );
    // The exact decimal sums of the files' "ORÇAMENTO REALIZADO" column.
    assert_eq!(sum_realizado(&client, 2021).await, "3743772506888.58");
    assert_eq!(sum_realizado(&client, 2022).await, "3927288338950.66");

    let again = import_paths(&mut client, &[shipped(BUDGET_2021)]).await;
    assert_eq!(
        (again[0].loaded, again[0].unchanged),
        (0, 22_695),
        "{}",
        again[0].line()
    );
}

#[tokio::test]
async fn a_newer_download_of_the_same_year_updates_only_the_lines_it_changed() {
    let db = TestDb::new().await;
    let mut client = db.client().await;
    let bytes = fiscal::sources::shipped::read_single_entry(&shipped(BUDGET_2022))
        .expect("the real 2022 file");
    // The header and the first 200 rows, as the Portal wrote them (CRLF, Latin-1).
    let head: Vec<u8> = bytes
        .split_inclusive(|b| *b == b'\n')
        .take(201)
        .flatten()
        .copied()
        .collect();
    let dir = std::env::temp_dir().join(format!("fiscal-budget-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("dir");
    let first = dir.join("2022_OrcamentoDespesa.csv");
    std::fs::write(&first, &head).expect("write");
    let loaded = import_paths(&mut client, &[&first]).await;
    let lines = loaded[0].loaded;
    assert!(lines > 150, "{}", loaded[0].line());

    // The next night's file: the last row's committed amount grew by R$ 1.000,00.
    let text = from_latin1(&head);
    let mut rows: Vec<String> = text.split_inclusive('\n').map(str::to_string).collect();
    let last = rows.last_mut().expect("a row");
    let fields: Vec<String> = last.trim_end().split(';').map(str::to_string).collect();
    let committed = fields[23].trim_matches('"').replace(',', ".");
    let grown: f64 = committed.parse::<f64>().expect("amount") + 1000.0;
    let mut changed = fields.clone();
    changed[23] = format!("\"{}\"", format!("{grown:.2}").replace('.', ","));
    *last = changed.join(";") + "\r\n";
    let newer = dir.join("2022_OrcamentoDespesa_newer.csv");
    std::fs::write(&newer, latin1(&rows.concat())).expect("write");
    let updated = import_paths(&mut client, &[&newer]).await;
    assert_eq!(
        (updated[0].loaded, updated[0].unchanged, updated[0].rejected),
        (1, lines - 1, 0),
        "{}",
        updated[0].line()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Latin-1 bytes as text: each byte is the code point of the same value.
fn from_latin1(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| b as char).collect()
}

fn latin1(text: &str) -> Vec<u8> {
    text.chars().map(|c| c as u32 as u8).collect()
}

#[tokio::test]
async fn a_citizens_budget_investigation_over_the_real_2021_file_finds_what_the_law_forbids() {
    let db = TestDb::new().await;
    let mut client = db.client().await;
    let reports = import_paths(&mut client, &[shipped(BUDGET_2021), shipped(BUDGET_2022)]).await;
    fiscal::sources::import::check(&reports).expect("imported");
    let user = add_user(&client).await;
    crate::harness::lift_citizen_limits(&client, 10).await;
    let whole_year = ask(
        &client,
        user,
        "orçamento federal de 2021",
        json!({"year": 2021}),
        json!([]),
    )
    .await;
    let wrong_key = ask(
        &client,
        user,
        "despesas com o fornecedor",
        json!({"cnpj_fornecedor": "12345678000190"}),
        json!([]),
    )
    .await;
    let wrong_family = ask(
        &client,
        user,
        "favorecidos concentrados",
        json!({"year": 2022}),
        json!(["vendor"]),
    )
    .await;
    let asked_in_words = ask(
        &client,
        user,
        "despesas do Ministério da Saúde no primeiro semestre de 2022",
        json!({}),
        json!([]),
    )
    .await;
    let report = drain_builtin(&db).await;
    assert_eq!((report.completed, report.failed), (2, 2), "{report:?}");

    let row = row_json(&client, asked_in_words).await;
    assert_eq!(row["status"], "completed", "{row:#}");
    let summary = row["summary"].as_str().expect("summary");
    assert!(
        summary.starts_with(
            "Entendi pela pergunta: orçamento de 2022, órgão superior 36000. O orçamento é anual"
        ),
        "{summary}"
    );

    let row = row_json(&client, whole_year).await;
    assert_eq!(row["status"], "completed", "{row:#}");
    assert_eq!(row["total_records_analyzed"], 6_825, "allocations of 2021");
    let meta = &row["investigation_metadata"];
    assert_eq!(meta["pipeline"], "expenses");
    for family in ["vendor", "temporal", "duplicate", "price"] {
        assert!(
            meta["not_applicable"][family].is_string(),
            "{family} is said not to apply: {meta:#}"
        );
    }
    let by_rule = &meta["anomalies_by_rule"];
    assert!(
        by_rule["payment.committed_above_budget"].as_u64() > Some(30),
        "{by_rule}"
    );
    assert!(
        by_rule["pattern.budget_revision_outlier"].as_u64() > Some(10),
        "{by_rule}"
    );
    let summary = row["summary"].as_str().expect("summary");
    assert!(summary.contains("não se aplicam"), "{summary}");
    assert!(
        summary.contains("6.825 alocações do orçamento"),
        "{summary}"
    );

    let results = row["results"].as_array().expect("results");
    // The Gripen fighters (action 14T0) are committed above their budget, told
    // with the exchange rate that explains it.
    let gripen = results
        .iter()
        .find(|r| {
            r["affected_records"][0]["id"]
                .as_str()
                .is_some_and(|id| id.contains("14T0/4"))
        })
        .expect("the FX-2 programme is among the results");
    assert_eq!(gripen["metadata"]["rule"], "payment.committed_above_budget");
    assert!(
        gripen["explanation"]
            .as_str()
            .is_some_and(|e| e.contains("câmbio") && e.contains("art. 59")),
        "{gripen:#}"
    );
    let listed = &gripen["affected_records"][0];
    assert_eq!(
        listed["unidade_orcamentaria"],
        "COMANDO DA AERONAUTICA (52111)"
    );
    assert!(listed["empenhado"].as_f64() > listed["orcamento_atualizado"].as_f64());

    let row = row_json(&client, wrong_key).await;
    assert_eq!(row["status"], "failed");
    let message = row["error_message"].as_str().expect("message");
    assert!(
        message.contains("\"cnpj_fornecedor\" não existe") && message.contains("codigo_uo"),
        "{message}"
    );
    let row = row_json(&client, wrong_family).await;
    assert_eq!(row["status"], "failed");
    let message = row["error_message"].as_str().expect("message");
    assert!(
        message.contains("não se aplicam ao orçamento") && message.contains("payment"),
        "{message}"
    );
}
