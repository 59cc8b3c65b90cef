//! Supabase Realtime, proven from the WAL: a logical replication slot with
//! wal2json (format-version 2, what Realtime decodes with) on the test database
//! sees every UPDATE the worker makes, with the whole new row and, through
//! REPLICA IDENTITY FULL, the whole old one; progress never goes back; and the
//! number of events per investigation stays within what
//! `worker.progress_interval_ms` allows. Each test prints the events and the WAL
//! bytes one investigation cost.

use std::collections::BTreeSet;
use std::future::Future;

use fiscal::config::Settings;
use serde_json::{Map, Value};
use tokio_postgres::Client;
use uuid::Uuid;

use crate::harness::{add_user, block_on, connect, drain, drain_builtin_with, TestDb};
use crate::pipeline_end_to_end::{import_january, insert_as_citizen};
use crate::scripted;

/// A wal2json slot on one test database (slots are cluster-wide by name, tied to
/// their database by content), dropped when the test ends: a database with a slot
/// cannot be dropped.
struct Slot {
    name: String,
    url: String,
}

impl Slot {
    async fn create(db: &TestDb, client: &Client) -> Slot {
        let name = format!("fiscal_rt_{}", db.name);
        client
            .execute(
                "select pg_create_logical_replication_slot($1, 'wal2json')",
                &[&name],
            )
            .await
            .expect("a wal2json slot (is postgresql-15-wal2json installed?)");
        Slot {
            name,
            url: db.url.clone(),
        }
    }

    /// Consumes what the slot holds for `public.investigations`.
    async fn changes(&self, client: &Client) -> Vec<Change> {
        client
            .query(
                "select data from pg_logical_slot_get_changes($1, null, null,
                     'format-version', '2', 'include-transaction', 'false',
                     'add-tables', 'public.investigations')",
                &[&self.name],
            )
            .await
            .expect("reading the slot")
            .iter()
            .map(|r| Change::parse(r.get(0)))
            .collect()
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let (url, name) = (self.url.clone(), self.name.clone());
        block_on(async move {
            let client = connect(&url).await;
            let _ = client
                .execute(
                    "select pg_drop_replication_slot(slot_name) from pg_replication_slots where slot_name = $1",
                    &[&name],
                )
                .await;
        });
    }
}

/// One wal2json v2 message.
#[derive(Debug, Clone)]
struct Change {
    action: String,
    /// The new row: column name → value as wal2json prints it.
    columns: Map<String, Value>,
    /// The old row (UPDATE and DELETE).
    identity: Map<String, Value>,
    bytes: usize,
}

impl Change {
    fn parse(data: &str) -> Change {
        let message: Value = serde_json::from_str(data).expect("wal2json emits JSON");
        let by_name = |key: &str| {
            message[key]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|c| Some((c["name"].as_str()?.to_string(), c["value"].clone())))
                .collect::<Map<String, Value>>()
        };
        Change {
            action: message["action"].as_str().unwrap_or_default().to_string(),
            columns: by_name("columns"),
            identity: by_name("identity"),
            bytes: data.len(),
        }
    }

    fn id(&self) -> Option<Uuid> {
        self.columns["id"].as_str()?.parse().ok()
    }

    fn status(&self) -> &str {
        self.columns["status"].as_str().unwrap_or_default()
    }

    fn progress(&self) -> f64 {
        self.columns["progress"].as_f64().unwrap_or(-1.0)
    }

    /// A jsonb column arrives as its text.
    fn json(&self, column: &str) -> Value {
        serde_json::from_str(self.columns[column].as_str().unwrap_or("null"))
            .expect("a jsonb column")
    }
}

/// What one investigation cost in Realtime events and WAL.
struct Watched {
    id: Uuid,
    events: Vec<Change>,
    /// WAL records that touch the investigations table, its indexes and TOAST.
    wal_bytes_table: i64,
    /// Everything the cluster wrote meanwhile (parallel tests included).
    wal_bytes_cluster: i64,
    processing_time_ms: i32,
}

/// Records every UPDATE of the table by a trigger, so the slot can be compared
/// with what the worker really did.
const UPDATE_RECORDER: &str = "
create table test.updates_seen (n serial, id uuid, status text, progress float8);
create function test.record_update() returns trigger language plpgsql as $$
begin insert into test.updates_seen (id, status, progress) values (new.id, new.status, new.progress); return new; end $$;
create trigger record_update after update on public.investigations
    for each row execute function test.record_update();
grant insert on test.updates_seen to fiscal_worker;
grant usage on sequence test.updates_seen_n_seq to fiscal_worker;
create extension if not exists pg_walinspect;";

/// Inserts and runs one investigation (`run` returns its id) under a slot, and
/// checks what the slot saw against the recorder and the row.
async fn watch<F: Future<Output = Uuid>>(
    db: &TestDb,
    client: &Client,
    settings: &Settings,
    run: F,
) -> Watched {
    client
        .batch_execute(UPDATE_RECORDER)
        .await
        .expect("an update recorder");
    let slot = Slot::create(db, client).await;
    let start: String = client
        .query_one("select pg_current_wal_lsn()::text", &[])
        .await
        .expect("lsn")
        .get(0);
    let id = run.await;
    // The completion's commit was flushed (synchronous_commit), so everything of
    // this run is readable up to here.
    let end: String = client
        .query_one("select pg_current_wal_flush_lsn()::text", &[])
        .await
        .expect("lsn")
        .get(0);
    let events: Vec<Change> = slot
        .changes(client)
        .await
        .into_iter()
        .filter(|c| c.id() == Some(id))
        .collect();
    let wal = client
        .query_one(
            "with rels as (
                 select pg_relation_filenode(c.oid)::text as filenode from pg_class c
                 where c.oid = 'public.investigations'::regclass
                    or c.oid = (select reltoastrelid from pg_class where oid = 'public.investigations'::regclass)
                    or c.oid in (select indexrelid from pg_index where indrelid in (
                           'public.investigations'::regclass,
                           (select reltoastrelid from pg_class where oid = 'public.investigations'::regclass)))
             )
             select coalesce(sum(w.record_length), 0)::int8,
                    pg_wal_lsn_diff($2::text::pg_lsn, $1::text::pg_lsn)::int8
             from pg_get_wal_records_info($1::text::pg_lsn, $2::text::pg_lsn) w
             where exists (
                 select 1 from rels
                 where w.block_ref like '%/' || (select oid from pg_database where datname = current_database())
                                       || '/' || rels.filenode || ' %')",
            &[&start, &end],
        )
        .await
        .expect("measuring WAL");
    let processing_time_ms: i32 = client
        .query_one(
            "select processing_time_ms from investigations where id = $1",
            &[&id],
        )
        .await
        .expect("row")
        .get(0);
    let watched = Watched {
        id,
        events,
        wal_bytes_table: wal.get(0),
        wal_bytes_cluster: wal.get(1),
        processing_time_ms,
    };
    check(client, settings, &watched).await;
    watched
}

/// What every run must show, whatever its pipeline.
async fn check(client: &Client, settings: &Settings, watched: &Watched) {
    let columns: BTreeSet<String> = client
        .query(
            "select column_name::text from information_schema.columns
             where table_schema = 'public' and table_name = 'investigations'",
            &[],
        )
        .await
        .expect("columns")
        .iter()
        .map(|r| r.get(0))
        .collect();
    let updates: Vec<&Change> = watched.events.iter().filter(|c| c.action == "U").collect();
    assert_eq!(
        watched.events.len() - updates.len(),
        1,
        "the insert and then only updates: {:?}",
        watched.events
    );

    // Every UPDATE the worker made, in order, and nothing else.
    let recorded: Vec<(String, f64)> = client
        .query(
            "select status, progress from test.updates_seen where id = $1 order by n",
            &[&watched.id],
        )
        .await
        .expect("recorded updates")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let decoded: Vec<(String, f64)> = updates
        .iter()
        .map(|c| (c.status().to_string(), c.progress()))
        .collect();
    assert_eq!(decoded, recorded, "the slot saw every update, in order");

    for change in &updates {
        let new: BTreeSet<String> = change.columns.keys().cloned().collect();
        let old: BTreeSet<String> = change.identity.keys().cloned().collect();
        assert_eq!(new, columns, "the whole new row in every event");
        assert_eq!(
            old, columns,
            "REPLICA IDENTITY FULL: the whole old row in every event"
        );
    }
    assert!(
        decoded.windows(2).all(|w| w[0].1 <= w[1].1),
        "progress went backwards: {decoded:?}"
    );
    let first = updates.first().expect("a claim event");
    assert_eq!(
        (first.identity["status"].as_str(), first.status()),
        (Some("pending"), "processing"),
        "the first event is the claim"
    );
    let last = updates.last().expect("a completion event");
    assert_eq!((last.status(), last.progress()), ("completed", 1.0));
    assert_eq!(last.identity["status"].as_str(), Some("processing"));
    let results: Value = client
        .query_one(
            "select results from investigations where id = $1",
            &[&watched.id],
        )
        .await
        .expect("results")
        .get(0);
    assert_eq!(
        last.json("results"),
        results,
        "the completion event carries the results"
    );

    // The throttle: the claim, the completion, at most one progress write per
    // interval from the claim on (the first is immediate), and heartbeats, which
    // renew only leases without progress for half a heartbeat.
    let w = &settings.worker;
    let ms = watched.processing_time_ms.max(0) as u64;
    let bound = 2 + (ms / w.progress_interval_ms + 1) + ms / (w.heartbeat_seconds * 500);
    assert!(
        updates.len() as u64 <= bound,
        "{} update events in {ms} ms exceed the throttle's {bound} (interval {} ms)",
        updates.len(),
        w.progress_interval_ms
    );
    let payload: usize = watched.events.iter().map(|c| c.bytes).sum();
    eprintln!(
        "realtime: {} events (1 insert + {} updates, throttle bound {bound}) in {ms} ms at \
         progress_interval_ms={}; wal2json payload {payload} B; WAL {} B on the table \
         ({} B cluster-wide meanwhile); results {} B",
        watched.events.len(),
        updates.len(),
        w.progress_interval_ms,
        watched.wal_bytes_table,
        watched.wal_bytes_cluster,
        results.to_string().len()
    );
}

#[tokio::test]
async fn a_scripted_investigation_reaches_realtime_as_whole_rows_with_throttled_progress() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let user = add_user(&client).await;
    let mut settings = db.settings();
    settings.worker.progress_interval_ms = 100;
    let watched = watch(&db, &client, &settings, async {
        let id = insert_as_citizen(
            &client,
            user,
            "steps 20 30",
            serde_json::json!({}),
            serde_json::json!([]),
        )
        .await;
        drain(settings.clone(), scripted::pipelines(&db.url, "w")).await;
        id
    })
    .await;
    let progress_events = watched
        .events
        .iter()
        .filter(|c| c.action == "U" && c.status() == "processing" && c.progress() > 0.0)
        .count();
    assert!(
        progress_events >= 1,
        "a multi-step job shows progress between claim and completion"
    );
}

#[tokio::test]
async fn a_real_investigation_reaches_realtime_with_its_results_in_the_completion_event() {
    let db = TestDb::new().await;
    let mut client = db.client().await;
    import_january(&mut client).await;
    let user = add_user(&client).await;
    let settings = db.settings();
    let mut production = settings.clone();
    production.worker.progress_interval_ms = Settings::default().worker.progress_interval_ms;
    let watched = watch(&db, &client, &production, async {
        let id = insert_as_citizen(
            &client,
            user,
            "contratos de janeiro de 2021",
            serde_json::json!({}),
            serde_json::json!([]),
        )
        .await;
        let report = drain_builtin_with(production.clone()).await;
        assert_eq!(report.completed, 1, "{report:?}");
        id
    })
    .await;
    let last = watched.events.last().expect("events");
    assert!(
        last.json("results")
            .as_array()
            .is_some_and(|r| !r.is_empty()),
        "real data has findings, and Realtime carries them"
    );
}
