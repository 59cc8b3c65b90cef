//! The queue statements on their own: claims, fences, retries, the sweep.

use std::collections::HashSet;
use std::time::Duration;

use fiscal::queue::{self, Backoff, Completion, Fenced, ProgressWrite};
use serde_json::json;

use crate::harness::{add_user, enqueue, enqueue_many, fetch, TestDb};

const LEASE: Duration = Duration::from_secs(60);
const BACKOFF: Backoff = Backoff {
    base_seconds: 5.0,
    max_seconds: 600.0,
    jitter: 0.2,
};

fn done() -> Completion {
    Completion {
        results: json!([]),
        anomalies_found: 0,
        total_records_analyzed: 3,
        confidence_score: Some(0.5),
        summary: "Nenhuma anomalia encontrada.".into(),
        metadata: json!({}),
    }
}

#[tokio::test]
async fn two_pools_claiming_at_once_never_take_the_same_row() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let user = add_user(&client).await;
    enqueue_many(&client, user, "instant", 300).await;
    let claimers: Vec<_> = (0..2)
        .map(|n| {
            let pool = db.pool();
            tokio::spawn(async move {
                let client = pool.get().await.expect("connection");
                let mut mine = Vec::new();
                loop {
                    let rows = queue::claim(&client, &format!("pool-{n}"), 7, LEASE)
                        .await
                        .expect("claim");
                    if rows.is_empty() {
                        return mine;
                    }
                    mine.extend(rows.into_iter().map(|r| r.fence.id));
                }
            })
        })
        .collect();
    let mut seen = HashSet::new();
    let mut total = 0;
    for claimer in claimers {
        let ids = claimer.await.expect("claimer");
        assert!(!ids.is_empty(), "both pools got work");
        total += ids.len();
        seen.extend(ids);
    }
    assert_eq!(total, 300);
    assert_eq!(seen.len(), 300, "no row was claimed twice");
}

#[tokio::test]
async fn late_writes_of_a_reclaimed_attempt_are_refused_by_the_fence() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let pool = db.pool();
    let c = pool.get().await.expect("connection");
    let id = enqueue(&client, add_user(&client).await, "instant").await;

    let old = queue::claim(&c, "old", 1, LEASE)
        .await
        .expect("claim")
        .remove(0);
    client
        .execute(
            "update investigations set lease_expires_at = now() - interval '1 s' where id = $1",
            &[&id],
        )
        .await
        .expect("expire the lease");
    let swept = queue::sweep_expired(&c, 100, BACKOFF).await.expect("sweep");
    assert_eq!(swept.requeued, 1);
    let row = fetch(&client, id).await;
    assert_eq!(row.status, "pending");
    assert!(row.run_after_in_future, "a swept attempt backs off");
    assert!(row.metadata["last_error"]
        .as_str()
        .unwrap_or("")
        .contains("expired"));

    client
        .execute(
            "update investigations set run_after = now() where id = $1",
            &[&id],
        )
        .await
        .expect("make it runnable");
    let new = queue::claim(&c, "new", 1, LEASE)
        .await
        .expect("claim")
        .remove(0);
    assert_ne!(old.fence.token, new.fence.token);
    assert_eq!(new.attempt, 2);

    let progress = ProgressWrite {
        phase: "analysis",
        fraction: 0.5,
        records_analyzed: None,
    };
    assert_eq!(
        queue::report_progress(&c, old.fence, &progress, LEASE)
            .await
            .expect("write"),
        Fenced::Lost
    );
    assert_eq!(
        queue::complete(&c, old.fence, &done())
            .await
            .expect("write"),
        Fenced::Lost
    );
    assert_eq!(
        queue::fail(&c, old.fence, "x", "x").await.expect("write"),
        Fenced::Lost
    );
    assert_eq!(
        queue::retry(&c, old.fence, "x", BACKOFF)
            .await
            .expect("write"),
        None
    );
    assert_eq!(queue::release(&c, &[old.fence]).await.expect("write"), 0);
    assert_eq!(
        queue::heartbeat(&c, &[old.fence], LEASE)
            .await
            .expect("write"),
        vec![old.fence]
    );
    assert_eq!(
        queue::lost_fences(&c, &[old.fence, new.fence])
            .await
            .expect("read"),
        vec![id]
    );

    assert_eq!(
        queue::complete(&c, new.fence, &done())
            .await
            .expect("write"),
        Fenced::Written
    );
    let row = fetch(&client, id).await;
    assert_eq!(row.status, "completed");
    assert_eq!(row.progress, Some(1.0));
    assert_eq!(row.current_phase.as_deref(), Some("completed"));
    assert!(row.completed_at.is_some() && row.processing_time_ms.is_some());
}

#[tokio::test]
async fn an_expired_lease_on_the_last_attempt_fails_with_a_message() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let pool = db.pool();
    let c = pool.get().await.expect("connection");
    let id = enqueue(&client, add_user(&client).await, "instant").await;
    client
        .execute(
            "update investigations set max_attempts = 1 where id = $1",
            &[&id],
        )
        .await
        .expect("one attempt only");
    queue::claim(&c, "w", 1, LEASE).await.expect("claim");
    client
        .execute(
            "update investigations set lease_expires_at = now() - interval '1 s' where id = $1",
            &[&id],
        )
        .await
        .expect("expire");
    let swept = queue::sweep_expired(&c, 100, BACKOFF).await.expect("sweep");
    assert_eq!((swept.requeued, swept.failed), (0, 1));
    let row = fetch(&client, id).await;
    assert_eq!(row.status, "failed");
    assert_eq!(row.current_phase.as_deref(), Some("failed"));
    let message = row.error_message.expect("a message for the citizen");
    assert!(
        message.contains("1 tentativas") && message.contains("parou de responder"),
        "{message}"
    );
}

#[tokio::test]
async fn release_hands_the_row_back_without_counting_the_attempt() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let pool = db.pool();
    let c = pool.get().await.expect("connection");
    let id = enqueue(&client, add_user(&client).await, "instant").await;
    let claimed = queue::claim(&c, "w", 1, LEASE)
        .await
        .expect("claim")
        .remove(0);
    assert_eq!(fetch(&client, id).await.attempts, 1);
    assert_eq!(
        queue::release(&c, &[claimed.fence]).await.expect("release"),
        1
    );
    let row = fetch(&client, id).await;
    assert_eq!(
        (row.status.as_str(), row.attempts, row.progress),
        ("pending", 0, Some(0.0))
    );
    assert!(
        !row.run_after_in_future,
        "released rows are runnable at once"
    );
    assert!(row.locked_by.is_none());
}

#[tokio::test]
async fn retry_backs_off_exponentially_within_the_jitter() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let pool = db.pool();
    let c = pool.get().await.expect("connection");
    let id = enqueue(&client, add_user(&client).await, "instant").await;
    for attempt in 1..=3 {
        client
            .execute(
                "update investigations set run_after = now() where id = $1",
                &[&id],
            )
            .await
            .expect("runnable");
        let claimed = queue::claim(&c, "w", 1, LEASE)
            .await
            .expect("claim")
            .remove(0);
        assert_eq!(claimed.attempt, attempt);
        queue::retry(&c, claimed.fence, "timeout", BACKOFF)
            .await
            .expect("retry")
            .expect("fenced");
        let delay: f64 = client
            .query_one("select extract(epoch from run_after - now())::float8 from investigations where id = $1", &[&id])
            .await
            .expect("delay")
            .get(0);
        let expected = 5.0 * 2f64.powi(attempt - 1);
        assert!(
            delay > expected * 0.75 && delay < expected * 1.25,
            "attempt {attempt}: delay {delay:.1}s, expected {expected}s ± 20%"
        );
    }
}
