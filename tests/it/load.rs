//! Load: many citizens asking at once, one of them far more than the others.
//! Sizes are small for CI; `FISCAL_TEST_FULL=1` runs 50,000 investigations.

use std::collections::HashMap;

use uuid::Uuid;

use crate::harness::{add_user, TestDb};
use crate::scripted;

fn full() -> bool {
    std::env::var_os("FISCAL_TEST_FULL").is_some_and(|v| v != "0")
}

/// `n` investigations inserted by one citizen in one statement, through RLS and
/// the insert triggers, as a frontend batch would.
async fn citizen_inserts(client: &tokio_postgres::Client, user: Uuid, query: &str, n: i32) {
    let claims = serde_json::json!({"sub": user, "role": "authenticated"}).to_string();
    client
        .batch_execute(&format!(
            "begin; select set_config('role', 'authenticated', true);
             select set_config('request.jwt.claims', '{claims}', true);
             insert into investigations (query, data_source)
             select '{query}', 'contracts' from generate_series(1, {n});
             commit;"
        ))
        .await
        .expect("a citizen's batch");
}

#[tokio::test]
async fn one_citizens_burst_does_not_make_the_others_wait_for_all_of_it() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let (burst, citizens, each) = if full() {
        (10_000, 100, 400)
    } else {
        (600, 20, 5)
    };
    // The cap and the brake are raised for the test, as for a back office.
    client
        .batch_execute(
            "insert into fiscal.settings (key, value) values
                 ('max_active_per_user', '1000000'), ('max_inserts_per_minute', '1000000')
             on conflict (key) do update set value = excluded.value",
        )
        .await
        .expect("raising the limits");
    let bursty = add_user(&client).await;
    citizen_inserts(&client, bursty, "instant", burst).await;
    let mut others = Vec::new();
    for _ in 0..citizens {
        let user = add_user(&client).await;
        citizen_inserts(&client, user, "instant", each).await;
        others.push(user);
    }

    let mut settings = db.settings();
    settings.worker.concurrency = 4;
    crate::harness::drain(settings, scripted::pipelines(&db.url, "fair")).await;

    let rows = client
        .query(
            "select user_id, extract(epoch from started_at - created_at)::float8
             from investigations where status = 'completed' order by started_at, id",
            &[],
        )
        .await
        .expect("start order");
    let total = burst + citizens * each;
    assert_eq!(rows.len(), total as usize, "all completed");
    let mut waits: HashMap<Uuid, Vec<f64>> = HashMap::new();
    let mut last_other = 0;
    for (position, row) in rows.iter().enumerate() {
        let user: Uuid = row.get(0);
        if user != bursty {
            last_other = position;
        }
        waits.entry(user).or_default().push(row.get(1));
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let burst_median = median(waits.get_mut(&bursty).expect("the burst ran"));
    let mut other_medians: Vec<f64> = others
        .iter()
        .map(|u| median(waits.get_mut(u).expect("each citizen ran")))
        .collect();
    other_medians.sort_by(f64::total_cmp);
    eprintln!(
        "{total} investigations, {burst} from one citizen first: the other {citizens} \
         citizens' last one started {}th; median wait {:.3} s for the burst, {:.3}..{:.3} s \
         for the others",
        last_other + 1,
        burst_median,
        other_medians[0],
        other_medians[other_medians.len() - 1]
    );
    // First come, first served would start them after the whole burst. Fair
    // shares start each citizen's rows a quantum apart, interleaved with the
    // burst's: all of them are done within a few dozen burst rows.
    let others_total = (citizens * each) as usize;
    assert!(
        last_other < others_total + 50,
        "the others waited for the burst: their last started at {} of {total}",
        last_other + 1
    );
}
