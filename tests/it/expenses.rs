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
        "preços unitários",
        json!({"year": 2022}),
        json!(["price"]),
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
            "Entendi pela pergunta: orçamento de 2022, órgão superior 36000, documentos de \
             01/01/2022 a 30/06/2022. O orçamento é anual"
        ),
        "{summary}"
    );

    let row = row_json(&client, whole_year).await;
    assert_eq!(row["status"], "completed", "{row:#}");
    assert_eq!(row["total_records_analyzed"], 6_825, "allocations of 2021");
    let meta = &row["investigation_metadata"];
    assert_eq!(meta["pipeline"], "expenses");
    for family in ["duplicate", "price"] {
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
        summary.contains(
            "Registros lidos: 6.825 alocações do orçamento e nenhum documento de despesa"
        ),
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
        message.contains("não se aplicam a despesas") && message.contains("temporal"),
        "{message}"
    );
}

pub const DAILY_2025_01_01: &str = "expenses/portal_transparencia_despesas_20250101_original.zip";

#[tokio::test]
async fn the_real_daily_expenses_file_imports_its_commitments_and_says_what_it_skips() {
    let db = TestDb::new().await;
    let mut client = db.client().await;
    let reports = import_paths(&mut client, &[shipped(DAILY_2025_01_01)]).await;
    fiscal::sources::import::check(&reports).expect("imported");
    let read: Vec<(Option<Kind>, u64, u64, u64)> = reports
        .iter()
        .filter(|r| r.skipped.is_none())
        .map(|r| (r.kind, r.read, r.loaded, r.rejected))
        .collect();
    // A holiday: 36 commitments and a payments file with its header only.
    assert_eq!(
        read,
        vec![
            (Some(Kind::ExpenseCommitments), 36, 36, 0),
            (Some(Kind::ExpensePayments), 0, 0, 0)
        ],
        "{reports:#?}"
    );
    // Items, liquidations and the payments' lists: nine members, each said.
    assert_eq!(reports.iter().filter(|r| r.skipped.is_some()).count(), 9);
    let (sum, payees): (String, i64) = {
        let row = client
            .query_one(
                "select sum(valor)::text, count(distinct codigo_favorecido)
                 from transparency.expense_documents where data_emissao = '2025-01-01'",
                &[],
            )
            .await
            .expect("sum");
        (row.get(0), row.get(1))
    };
    assert_eq!((sum.as_str(), payees), ("38841631.80", 24));
    let again = import_paths(&mut client, &[shipped(DAILY_2025_01_01)]).await;
    assert_eq!((again[0].loaded, again[0].unchanged), (0, 36));

    let user = add_user(&client).await;
    let id = ask(
        &client,
        user,
        "despesas do dia 1º de janeiro de 2025",
        json!({"data_inicial": "2025-01-01", "data_final": "2025-01-01"}),
        json!([]),
    )
    .await;
    let report = drain_builtin(&db).await;
    assert_eq!(report.completed, 1, "{report:?}");
    let row = row_json(&client, id).await;
    assert_eq!(row["total_records_analyzed"], 36, "{row:#}");
    let summary = row["summary"].as_str().expect("summary");
    assert!(
        summary.contains(
            "Registros lidos: nenhuma alocação do orçamento e 36 documentos de despesa \
             (36 empenhos, nenhum pagamento)."
        ),
        "{summary}"
    );
    // One day of a year: nothing to say of its end, nor of its payees.
    assert_eq!(row["anomalies_found"], 0, "{row:#}");
}

#[tokio::test]
async fn a_ug_named_in_the_filters_has_a_months_documents_fetched_day_by_day() {
    use crate::portal_api::{settings, Mode, Server};
    let db = TestDb::new().await;
    let server = Server::start(Mode::Normal).await;
    let client = db.client().await;
    let user = add_user(&client).await;
    let id = ask(
        &client,
        user,
        "pagamentos do IFSP em dezembro de 2022",
        json!({"codigo_ug": "158137", "data_inicial": "2022-12-01", "data_final": "2022-12-31"}),
        json!([]),
    )
    .await;
    let report = crate::harness::drain_builtin_with(settings(&db, &server)).await;
    let row = row_json(&client, id).await;
    assert_eq!(report.completed, 1, "{report:?} {row:#}");
    let meta = &row["investigation_metadata"];
    assert_eq!(meta["portal_api"]["days"], 31, "{meta:#}");
    // Each day asks for commitments and payments: a day with documents takes a
    // page that may be the last, then `[]`; six days have payments, three
    // have commitments.
    assert_eq!(meta["portal_api"]["requests"], 62 + 6 + 3, "{meta:#}");
    assert_eq!(meta["portal_api"]["records"], 16, "{meta:#}");
    assert_eq!(meta["portal_api"]["skipped"], 1, "{meta:#}");
    assert_eq!(
        meta["documents_read"],
        "only: a UG is not a budget classification, so no allocation was read"
    );
    assert_eq!(row["total_records_analyzed"], 15, "{row:#}");
    // One cleaning company took nine tenths of what the UG paid companies; the
    // December commitments are not judged on one month of the year.
    assert_eq!(
        meta["anomalies_by_rule"],
        json!({"vendor.payee_concentration": 1}),
        "{meta:#}"
    );
    let finding = &row["results"][0];
    assert!(
        finding["description"]
            .as_str()
            .is_some_and(|d| d.contains("LIMPEZA TOTAL SERVICOS LTDA")),
        "{finding:#}"
    );
    assert_eq!(
        finding["affected_records"].as_array().map(Vec::len),
        Some(8)
    );
    assert_eq!(finding["affected_records"][0]["fase"], "pagamento");

    // A year is not fetched day by day: the investigation says so and reads
    // what is there.
    let long = ask(
        &client,
        user,
        "pagamentos do IFSP em 2022",
        json!({"codigo_ug": "158137", "year": 2022}),
        json!([]),
    )
    .await;
    let report = crate::harness::drain_builtin_with(settings(&db, &server)).await;
    assert_eq!(report.completed, 1, "{report:?}");
    let row = row_json(&client, long).await;
    assert_eq!(row["status"], "completed", "{row:#}");
    let summary = row["summary"].as_str().expect("summary");
    assert!(summary.contains("o período tem 365 dias"), "{summary}");
    assert_eq!(row["total_records_analyzed"], 15, "{row:#}");
}

#[tokio::test]
async fn an_import_behind_the_portals_own_totals_is_told_to_the_citizen() {
    use crate::portal_api::{settings, Mode, Server};
    let db = TestDb::new().await;
    let server = Server::start(Mode::Normal).await;
    let mut client = db.client().await;
    fiscal::sources::import::check(&import_paths(&mut client, &[shipped(BUDGET_2022)]).await)
        .expect("imported");
    let user = add_user(&client).await;
    let id = ask(
        &client,
        user,
        "orçamento da Defesa em 2022",
        json!({"year": 2022, "codigo_orgao_superior": "52000"}),
        json!(["payment"]),
    )
    .await;
    let report = crate::harness::drain_builtin_with(settings(&db, &server)).await;
    let row = row_json(&client, id).await;
    assert_eq!(report.completed, 1, "{report:?} {row:#}");
    let checked = &row["investigation_metadata"]["portal_api_by_organ"];
    // 13 organs, one page that may be the last, then `[]`.
    assert_eq!(checked["requests"], 2, "{checked:#}");
    assert_eq!(checked["organs"].as_array().map(Vec::len), Some(13));
    let summary = row["summary"].as_str().expect("summary");
    assert!(
        summary.contains("O orçamento de 2022 importado está desatualizado")
            && summary.contains("Comando da Aeronáutica (52111)")
            && !summary.contains("Comando do Exército (52121)"),
        "{summary}"
    );
}
