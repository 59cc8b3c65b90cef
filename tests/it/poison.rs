//! A corpus of hostile questions a citizen can insert, through RLS, each one run
//! by one real `fiscal work` process over the real January 2021 contracts: every
//! one ends `completed`, or `failed` with a message in Portuguese, after one
//! attempt; the process never panics or stops; another citizen's question,
//! asked after all of them, is among the first to run; memory stays bounded.

use std::time::Duration;

use crate::harness::{
    add_user, citizen_insert_into, fetch, wait_until_all_finished, TestDb, WorkProcess,
};
use crate::pipeline_end_to_end::import_january;

/// (what, data_source, query, filters, anomaly_types), as the frontend would send
/// them: JSON text, which the server parses.
fn corpus() -> Vec<(&'static str, &'static str, String, String, String)> {
    let filters = [
        ("year as text", r#"{"year": "2021"}"#),
        ("year with a fraction", r#"{"year": 2021.5}"#),
        ("year as boolean", r#"{"year": true}"#),
        ("year 0", r#"{"year": 0}"#),
        ("year 99999", r#"{"year": 99999}"#),
        ("negative year", r#"{"year": -2021}"#),
        ("year as a list", r#"{"year": [2021, 2022]}"#),
        ("year as an operator", r#"{"year": {"$gt": 2020}}"#),
        ("amount as words", r#"{"min_value": "abc"}"#),
        ("NaN as text", r#"{"min_value": "NaN"}"#),
        ("Infinity as text", r#"{"min_value": "Infinity"}"#),
        ("negative amount", r#"{"min_value": -1}"#),
        ("absurd amount", r#"{"min_value": 1e14}"#),
        ("smallest double", r#"{"min_value": 5e-324}"#),
        ("zero ceiling", r#"{"max_value": 0}"#),
        (
            "floor above ceiling",
            r#"{"min_value": 100, "max_value": 10}"#,
        ),
        ("31 February", r#"{"data_inicial": "2021-02-31"}"#),
        ("31/02 Brazilian style", r#"{"data_inicial": "31/02/2021"}"#),
        ("date in year 0", r#"{"data_inicial": "0000-01-01"}"#),
        ("five-digit year", r#"{"data_inicial": "99999-01-01"}"#),
        ("month 13", r#"{"data_inicial": "2021-13-01"}"#),
        (
            "end before start",
            r#"{"data_inicial": "2022-01-01", "data_final": "2021-01-01"}"#,
        ),
        ("empty date", r#"{"data_inicial": ""}"#),
        (
            "SQL in a code",
            r#"{"codigo_orgao": "'; drop table investigations; --"}"#,
        ),
        ("tautology in a code", r#"{"codigo_orgao": "26000 or 1=1"}"#),
        ("code as a number", r#"{"codigo_orgao": 26000}"#),
        ("empty code", r#"{"codigo_orgao": ""}"#),
        (
            "CNPJ of zeros",
            r#"{"cnpj_fornecedor": "00.000.000/0000-00"}"#,
        ),
        ("CNPJ of letters", r#"{"cnpj_fornecedor": "abc"}"#),
        (
            "CNPJ too long",
            r#"{"cnpj_fornecedor": "12345678901234567890"}"#,
        ),
        ("SQL in modalidade", r#"{"modalidade": "' or ''='"}"#),
        ("empty modalidade", r#"{"modalidade": ""}"#),
        ("LIKE wildcards", r#"{"texto": "%_%"}"#),
        ("lone backslash", r#"{"texto": "\\"}"#),
        ("blank text", r#"{"texto": "   "}"#),
        ("emoji", r#"{"texto": "😀🇧🇷"}"#),
        ("right-to-left override", r#"{"texto": "\u202etxet"}"#),
        ("terminal escapes", r#"{"texto": "\u0007\u001b[31m"}"#),
        ("the word null", r#"{"texto": "null"}"#),
        ("unknown key", r#"{"unknown": 1}"#),
        ("key in capitals", r#"{"Year": 2021}"#),
        ("key with a space", r#"{"year ": 2021}"#),
        ("text as a list", r#"{"texto": ["a", "b"]}"#),
        ("amount as an object", r#"{"min_value": {"a": 1}}"#),
        (
            "ten words",
            r#"{"year": 2021, "texto": "a b c d e f g h i j"}"#,
        ),
        ("JSON null", "null"),
        ("January only", r#"{"data_final": "2021-01-31"}"#),
    ];
    let types = [
        ("unknown type", r#"["xyz"]"#),
        ("repeated type", r#"["price", "price"]"#),
        ("null type", "[null]"),
        ("empty type", r#"[""]"#),
        ("type in capitals", r#"["PRICE"]"#),
        ("type as a number", "[1]"),
        ("nested list", r#"[["price"]]"#),
        ("types as JSON null", "null"),
    ];
    let queries = [
        (
            "SQL in the question",
            "'; select pg_sleep(100); --".to_string(),
        ),
        (
            "terminal title escape",
            "\u{1b}]0;pwned\u{7}contratos".to_string(),
        ),
        (
            "2000 characters of SQL",
            "select * from pg_authid; "
                .repeat(80)
                .chars()
                .take(2000)
                .collect(),
        ),
        (
            "forged log line",
            "ok\n2026-12-02T00:00:00Z ERROR worker crashed".to_string(),
        ),
    ];
    let mut all = Vec::new();
    for (what, f) in filters {
        all.push((
            what,
            "contracts",
            "contratos".to_string(),
            f.to_string(),
            "[]".to_string(),
        ));
    }
    for (what, t) in types {
        all.push((
            what,
            "contracts",
            "contratos".to_string(),
            "{}".to_string(),
            t.to_string(),
        ));
    }
    for (what, q) in queries {
        all.push((what, "contracts", q, "{}".to_string(), "[]".to_string()));
    }
    all.push((
        "a source that does not exist",
        "contracts'; --",
        "contratos".to_string(),
        "{}".to_string(),
        "[]".to_string(),
    ));
    all.push((
        "a source with no pipeline yet",
        "servants",
        "servidores".to_string(),
        "{}".to_string(),
        "[]".to_string(),
    ));
    all
}

/// Portuguese, as far as a test can tell: common words or accents of the
/// language, and none of the words an English message would carry.
fn reads_as_portuguese(message: &str) -> bool {
    let lower = message.to_lowercase();
    let portuguese = [
        " de ", " não ", " deve ", " um ", " uma ", "ç", "ã", "é", "ê", "í", "ó", "ú",
    ]
    .iter()
    .any(|w| lower.contains(w));
    let english = ["invalid", "error", "failed", " must ", " the ", "panic"]
        .iter()
        .any(|w| lower.contains(w));
    portuguese && !english
}

#[tokio::test]
async fn fifty_hostile_questions_each_end_in_portuguese_and_delay_no_one() {
    let db = TestDb::new().await;
    let mut client = db.client().await;
    import_january(&mut client).await;
    // One citizen sends the whole corpus.
    crate::harness::lift_citizen_limits(&client, 1000).await;
    let attacker = add_user(&client).await;
    let corpus = corpus();
    assert!(corpus.len() >= 50, "{} cases", corpus.len());
    let mut rows = Vec::new();
    let mut refused = Vec::new();
    for (what, source, query, filters, types) in &corpus {
        match citizen_insert_into(&client, attacker, source, query, filters, types, None).await {
            Ok(id) => rows.push((*what, id)),
            // Refused at the door: with a status PostgREST maps to 4xx, and words
            // the frontend can show as they are.
            Err(e) => {
                let db = e.as_db_error().unwrap_or_else(|| panic!("{what}: {e}"));
                assert!(
                    db.code().code().starts_with("PT") && reads_as_portuguese(db.message()),
                    "{what}: refused with {} {:?}",
                    db.code().code(),
                    db.message()
                );
                refused.push(*what);
            }
        }
    }
    let citizen = add_user(&client).await;
    let normal = citizen_insert_into(
        &client,
        citizen,
        "contracts",
        "contratos de janeiro de 2021",
        r#"{"year": 2021}"#,
        "[]",
        None,
    )
    .await
    .expect("a normal question");

    let mut worker = WorkProcess::start(&db, 2);
    let pid = worker.child.id().expect("a running worker");
    wait_until_all_finished(&client, Duration::from_secs(180)).await;
    let peak = crate::harness::proc_kib(pid, "VmHWM");
    let exited = worker.child.try_wait().expect("worker status");
    let text = worker.log_text();
    drop(worker);
    assert!(exited.is_none(), "the worker exited: {exited:?}\n{text}");
    assert!(!text.contains("panicked"), "{text}");

    let mut wrong = Vec::new();
    let (mut completed, mut failed) = (0, 0);
    for (what, id) in &rows {
        let row = fetch(&client, *id).await;
        match row.status.as_str() {
            "completed" => completed += 1,
            "failed" => {
                failed += 1;
                let message = row.error_message.clone().unwrap_or_default();
                if !reads_as_portuguese(&message) {
                    wrong.push(format!("{what}: not a Portuguese message: {message:?}"));
                }
            }
            other => wrong.push(format!("{what}: {other}")),
        }
        if row.attempts != 1 {
            wrong.push(format!("{what}: {} attempts", row.attempts));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    let normal_row = fetch(&client, normal).await;
    assert_eq!(normal_row.status, "completed", "{normal_row:?}");
    let started_before: i64 = client
        .query_one(
            "select count(*) from investigations
             where started_at < (select started_at from investigations where id = $1)",
            &[&normal],
        )
        .await
        .expect("start order")
        .get(0);
    println!(
        "{} hostile questions: {} refused at insert ({refused:?}), {completed} completed, \
         {failed} failed in Portuguese; the other citizen's started after {started_before} of \
         them; worker peak memory {} MiB",
        corpus.len(),
        refused.len(),
        peak.map_or("?".to_string(), |k| (k / 1024).to_string())
    );
    assert!(
        started_before <= 4,
        "the other citizen waited for {started_before} hostile questions"
    );
    if let Some(peak) = peak {
        assert!(peak < 512 * 1024, "peak memory {peak} KiB");
    }
}
