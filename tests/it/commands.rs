//! `fiscal status` and `fiscal enqueue`, run as an operator would.

use crate::harness::{add_user, enqueue, TestDb};

#[tokio::test]
async fn status_reports_queue_depth_oldest_pending_workers_and_failures_as_json() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let user = add_user(&client).await;
    let waiting = enqueue(&client, user, "a").await;
    let backed_off = enqueue(&client, user, "b").await;
    let stuck = enqueue(&client, user, "c").await;
    let failed = enqueue(&client, user, "d").await;
    client
        .batch_execute(&format!(
            "update investigations set created_at = now() - interval '90 seconds' where id = '{waiting}';
             update investigations set run_after = now() + interval '1 hour' where id = '{backed_off}';
             update investigations set status = 'processing', attempts = 1,
                 lease_expires_at = now() - interval '1 second' where id = '{stuck}';
             update investigations set status = 'failed', attempts = 1, completed_at = now(),
                 error_message = 'O filtro \"ano\" não existe.' where id = '{failed}';
             insert into fiscal.workers (worker_id, hostname, pid, version, concurrency, running)
                 values ('alive', 'host-a', 10, '0.1.0', 4, 1);
             insert into fiscal.workers (worker_id, hostname, pid, version, concurrency, running, last_seen_at)
                 values ('gone', 'host-b', 11, '0.1.0', 4, 0, now() - interval '1 hour');"
        ))
        .await
        .expect("a queue in every state");

    let out = crate::harness::fiscal_command()
        .args(["status", "--json"])
        .env("FISCAL_DATABASE__URL", &db.worker_url)
        .output()
        .await
        .expect("running fiscal status");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    assert_eq!(status["pending"], 2);
    assert_eq!(status["runnable"], 1);
    assert_eq!(status["processing"], 1);
    assert_eq!(status["expired_leases"], 1);
    let oldest = status["oldest_pending_seconds"].as_f64().expect("an age");
    assert!((89.0..600.0).contains(&oldest), "{oldest}");
    let workers: Vec<&str> = status["workers"]
        .as_array()
        .expect("workers")
        .iter()
        .filter_map(|w| w["worker_id"].as_str())
        .collect();
    assert_eq!(
        workers,
        ["alive"],
        "a worker silent for an hour is not alive"
    );
    assert_eq!(status["recent_failures"][0]["id"], failed.to_string());
    assert!(status["recent_failures"][0]["error_message"]
        .as_str()
        .unwrap_or("")
        .contains("\"ano\""));

    let text = crate::harness::fiscal_command()
        .arg("status")
        .env("FISCAL_DATABASE__URL", &db.worker_url)
        .output()
        .await
        .expect("running fiscal status");
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("queue: 2 pending (1 runnable now), 1 processing (1 with an expired lease)"),
        "{text}"
    );
    assert!(text.contains("oldest pending: 1m"), "{text}");
}

async fn fiscal(db: &TestDb, args: &[&str]) -> std::process::Output {
    crate::harness::fiscal_command()
        .args(args)
        .env("FISCAL_DATABASE__URL", &db.url)
        .output()
        .await
        .expect("running fiscal")
}

#[tokio::test]
async fn enqueue_inserts_under_rls_as_the_citizen_and_the_cap_answers_in_portuguese() {
    let db = TestDb::new().await;
    let client = db.client().await;
    client
        .execute(
            "update fiscal.settings set value = '1' where key = 'max_active_per_user'",
            &[],
        )
        .await
        .expect("a cap of one");
    let user = uuid::Uuid::new_v4().to_string();
    let args = [
        "enqueue",
        "--user",
        &user,
        "--query",
        "contratos acima de R$ 1 milhão em 2024",
        "--filters",
        r#"{"min_value": 1000000, "year": 2024}"#,
        "--create-user",
    ];
    let out = fiscal(&db, &args).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id: uuid::Uuid = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("an id on stdout");
    let row = client
        .query_one(
            "select user_id::text, status, filters from investigations where id = $1",
            &[&id],
        )
        .await
        .expect("the row");
    assert_eq!(row.get::<_, String>(0), user);
    assert_eq!(row.get::<_, String>(1), "pending");
    assert_eq!(row.get::<_, serde_json::Value>(2)["year"], 2024);

    let refused = fiscal(&db, &args).await;
    assert!(
        !refused.status.success(),
        "the cap of one must refuse a second one"
    );
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("PT429") && stderr.contains("em andamento"),
        "{stderr}"
    );

    let bad = fiscal(
        &db,
        &[
            "enqueue",
            "--user",
            &user,
            "--query",
            "q",
            "--filters",
            "{year: 2024}",
        ],
    )
    .await;
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--filters is not valid JSON"));
}

async fn status_of(client: &tokio_postgres::Client, id: uuid::Uuid) -> (String, i32) {
    let row = client
        .query_one(
            "select status, attempts from investigations where id = $1",
            &[&id],
        )
        .await
        .expect("the row");
    (row.get(0), row.get(1))
}

#[tokio::test]
async fn a_failed_investigation_retried_from_the_command_line_runs_again_and_completes() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let user = add_user(&client).await;
    let id = enqueue(&client, user, "todos os contratos").await;
    // A fleet that serves no data source fails it at once.
    let report = crate::harness::drain(db.settings(), Default::default()).await;
    assert_eq!(report.failed, 1, "{report:?}");
    assert_eq!(status_of(&client, id).await.0, "failed");

    // The dead letters list it, with both messages and the command to retry.
    let listed = fiscal(&db, &["failed"]).await;
    let text = crate::harness::printed(&listed);
    assert!(listed.status.success(), "{text}");
    assert!(
        text.contains(&format!("fiscal retry {id}")) && text.contains("told the citizen: "),
        "{text}"
    );
    let listed = fiscal(&db, &["failed", "--json"]).await;
    let letters: serde_json::Value = serde_json::from_slice(&listed.stdout).expect("JSON");
    assert_eq!(letters[0]["id"], id.to_string(), "{letters}");
    assert!(letters[0]["last_error"].is_string(), "{letters}");
    assert_eq!(letters[0]["query"], "todos os contratos");

    // The worker's role may not: it is told which URL to give.
    let as_worker = crate::harness::fiscal_command()
        .args(["retry", &id.to_string()])
        .env("FISCAL_DATABASE__URL", &db.worker_url)
        .output()
        .await
        .expect("running fiscal");
    let text = crate::harness::printed(&as_worker);
    assert!(!as_worker.status.success(), "{text}");
    assert!(
        text.contains("may not change it") && text.contains("migrate_url"),
        "{text}"
    );
    assert_eq!(status_of(&client, id).await.0, "failed");

    let out = fiscal(&db, &["retry", &id.to_string()]).await;
    let text = crate::harness::printed(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("pending again"), "{text}");
    assert_eq!(status_of(&client, id).await, ("pending".to_string(), 0));
    let again = fiscal(&db, &["retry", &id.to_string()]).await;
    let text = crate::harness::printed(&again);
    assert!(!again.status.success(), "{text}");
    assert!(
        text.contains("is pending; only a failed investigation is retried"),
        "{text}"
    );

    let metadata: serde_json::Value = client
        .query_one(
            "select investigation_metadata from investigations where id = $1",
            &[&id],
        )
        .await
        .expect("the row")
        .get(0);
    assert!(metadata["last_error"].is_string(), "{metadata}");
    assert!(metadata["retried_error_message"].is_string(), "{metadata}");
    assert_eq!(metadata["retried_after_attempts"], 1, "{metadata}");

    let report = crate::harness::drain_builtin(&db).await;
    assert_eq!(report.completed, 1, "{report:?}");
    assert_eq!(status_of(&client, id).await, ("completed".to_string(), 1));
    let unknown = fiscal(&db, &["retry", &uuid::Uuid::new_v4().to_string()]).await;
    assert!(!unknown.status.success());
    assert!(crate::harness::printed(&unknown).contains("no investigation"));
}

#[tokio::test]
async fn a_paused_fleet_claims_nothing_until_resumed() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let user = add_user(&client).await;
    let out = fiscal(&db, &["pause"]).await;
    assert!(out.status.success(), "{}", crate::harness::printed(&out));
    let status = fiscal(&db, &["status", "--json"]).await;
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).expect("status JSON");
    assert_eq!(status["claims_paused"], true, "{status}");
    let shown = crate::harness::printed(&fiscal(&db, &["status"]).await);
    assert!(shown.contains("claims: PAUSED"), "{shown}");

    let id = enqueue(&client, user, "todos os contratos").await;
    let settings = db.settings();
    let worker = crate::harness::RunningWorker::start(
        settings.clone(),
        fiscal::pipeline::Pipelines::builtin(&settings).expect("pipelines"),
    );
    // Once the worker is up, it polls twice a second and the insert woke it:
    // in two seconds more it has looked several times.
    crate::harness::eventually(
        std::time::Duration::from_secs(60),
        "the worker registered",
        || async {
            let n: i64 = client
                .query_one("select count(*) from fiscal.workers", &[])
                .await
                .expect("workers")
                .get(0);
            (n > 0).then_some(())
        },
    )
    .await;
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert_eq!(status_of(&client, id).await, ("pending".to_string(), 0));

    let out = fiscal(&db, &["resume"]).await;
    assert!(out.status.success(), "{}", crate::harness::printed(&out));
    crate::harness::eventually(
        std::time::Duration::from_secs(60),
        "the investigation completed after resume",
        || async { (status_of(&client, id).await.0 == "completed").then_some(()) },
    )
    .await;
    worker.stop().await;
}

#[tokio::test]
async fn an_operator_cancels_a_pending_investigation_and_is_told_when_it_is_too_late() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let user = add_user(&client).await;
    let id = enqueue(&client, user, "todos os contratos").await;
    let out = fiscal(&db, &["cancel", &id.to_string()]).await;
    assert!(out.status.success(), "{}", crate::harness::printed(&out));
    assert_eq!(status_of(&client, id).await.0, "cancelled");
    let again = fiscal(&db, &["cancel", &id.to_string()]).await;
    let text = crate::harness::printed(&again);
    assert!(!again.status.success(), "{text}");
    assert!(
        text.contains("is cancelled; only a pending or running"),
        "{text}"
    );
}
