//! Row Level Security, attacked as the frontend's users can: every statement runs
//! the way PostgREST runs a request (one transaction, `role` and
//! `request.jwt.claims` set locally, then the statement), as a signed-in citizen or
//! as `anon`. The attack table names each attempt and exactly how it must end;
//! one test runs them all and lists every case that ended otherwise.

use serde_json::json;
use tokio_postgres::Client;
use uuid::Uuid;

use crate::harness::{add_user, TestDb};

/// Who sends the request.
#[derive(Debug, Clone, Copy)]
pub enum Actor {
    /// Alice, signed in.
    Citizen,
    /// Alice with a JWT whose `role` claim says service_role: PostgREST would
    /// reject the signature, but policies must not trust claims anyway.
    CitizenClaimingServiceRole,
    /// No session at all.
    Anon,
}

/// How an attack must end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// Refused with this SQLSTATE.
    Refused(&'static str),
    /// Accepted, but it saw or changed no row.
    Nothing,
}

/// What a statement did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Rows(u64),
    Refused(String),
}

impl Expect {
    fn met_by(self, outcome: &Outcome) -> bool {
        match (self, outcome) {
            (Expect::Refused(code), Outcome::Refused(got)) => code == got,
            (Expect::Nothing, Outcome::Rows(0)) => true,
            _ => false,
        }
    }
}

impl Outcome {
    fn of(result: Result<u64, tokio_postgres::Error>) -> Outcome {
        match result {
            Ok(rows) => Outcome::Rows(rows),
            Err(e) => Outcome::Refused(
                e.code()
                    .map(|c| c.code().to_string())
                    .unwrap_or_else(|| format!("no SQLSTATE: {e}")),
            ),
        }
    }
}

struct Attack {
    name: &'static str,
    actor: Actor,
    /// `{alice_*}` / `{bob_*}` stand for the ids of the rows set up below.
    sql: &'static str,
    expect: Expect,
}

const INSUFFICIENT_PRIVILEGE: Expect = Expect::Refused("42501");
const CAP: Expect = Expect::Refused("PT429");

const ATTACKS: &[Attack] = &[
    // Reading what is not yours.
    Attack {
        name: "read another citizen's rows",
        actor: Actor::Citizen,
        sql: "select * from investigations where user_id = '{bob}'",
        expect: Expect::Nothing,
    },
    Attack {
        name: "read another citizen's row by id",
        actor: Actor::Citizen,
        sql: "select results, summary from investigations where id = '{bob_processing}'",
        expect: Expect::Nothing,
    },
    Attack {
        name: "read another citizen's rows through investigation_summaries",
        actor: Actor::Citizen,
        sql: "select * from investigation_summaries where user_id = '{bob}'",
        expect: Expect::Nothing,
    },
    Attack {
        name: "ask get_investigation_stats about another citizen",
        actor: Actor::Citizen,
        sql: "select * from get_investigation_stats('{bob}') where total_investigations > 0",
        expect: Expect::Nothing,
    },
    Attack {
        name: "read another citizen's rows with a forged service_role claim",
        actor: Actor::CitizenClaimingServiceRole,
        sql: "select * from investigations where user_id = '{bob}'",
        expect: Expect::Nothing,
    },
    Attack {
        name: "lock another citizen's row",
        actor: Actor::Citizen,
        sql: "select id from investigations where id = '{bob_pending}' for update",
        expect: Expect::Nothing,
    },
    // Inserting what the worker or someone else should write.
    Attack {
        name: "insert for another user_id",
        actor: Actor::Citizen,
        sql: "insert into investigations (user_id, query, data_source) values ('{bob}', 'q', 'contracts')",
        expect: INSUFFICIENT_PRIVILEGE,
    },
    Attack {
        name: "insert as completed",
        actor: Actor::Citizen,
        sql: "insert into investigations (query, data_source, status) values ('q', 'contracts', 'completed')",
        expect: INSUFFICIENT_PRIVILEGE,
    },
    Attack {
        name: "insert as processing",
        actor: Actor::Citizen,
        sql: "insert into investigations (query, data_source, status) values ('q', 'contracts', 'processing')",
        expect: INSUFFICIENT_PRIVILEGE,
    },
    Attack {
        name: "insert with results",
        actor: Actor::Citizen,
        sql: "insert into investigations (query, data_source, results) values ('q', 'contracts', '[{\"type\": \"price\"}]')",
        expect: INSUFFICIENT_PRIVILEGE,
    },
    Attack {
        name: "insert with progress",
        actor: Actor::Citizen,
        sql: "insert into investigations (query, data_source, progress) values ('q', 'contracts', 1)",
        expect: INSUFFICIENT_PRIVILEGE,
    },
    Attack {
        name: "insert with locked_by",
        actor: Actor::Citizen,
        sql: "insert into investigations (query, data_source, locked_by) values ('q', 'contracts', 'w')",
        expect: INSUFFICIENT_PRIVILEGE,
    },
    Attack {
        name: "insert with a summary",
        actor: Actor::Citizen,
        sql: "insert into investigations (query, data_source, summary) values ('q', 'contracts', 'forjado')",
        expect: INSUFFICIENT_PRIVILEGE,
    },
    Attack {
        name: "insert with attempts already spent",
        actor: Actor::Citizen,
        sql: "insert into investigations (query, data_source, attempts) values ('q', 'contracts', 99)",
        expect: INSUFFICIENT_PRIVILEGE,
    },
    Attack {
        name: "insert ahead of the queue with an old run_after",
        actor: Actor::Citizen,
        sql: "insert into investigations (query, data_source, run_after) values ('q', 'contracts', '2000-01-01')",
        expect: INSUFFICIENT_PRIVILEGE,
    },
    Attack {
        name: "exceed the per-user active cap",
        actor: Actor::Citizen,
        sql: "insert into investigations (query, data_source)
              select 'q', 'contracts' from generate_series(1, 4)",
        expect: CAP,
    },
    // Updating what only the worker writes.
    Attack {
        name: "update own status to completed",
        actor: Actor::Citizen,
        sql: "update investigations set status = 'completed' where id = '{alice_processing}'",
        expect: INSUFFICIENT_PRIVILEGE,
    },
    Attack {
        name: "requeue own processing row",
        actor: Actor::Citizen,
        sql: "update investigations set status = 'pending' where id = '{alice_processing}'",
        expect: INSUFFICIENT_PRIVILEGE,
    },
    Attack {
        name: "update own results",
        actor: Actor::Citizen,
        sql: "update investigations set results = '[]' where id = '{alice_completed}'",
        expect: INSUFFICIENT_PRIVILEGE,
    },
    Attack {
        name: "update own summary",
        actor: Actor::Citizen,
        sql: "update investigations set summary = 'forjado' where id = '{alice_completed}'",
        expect: INSUFFICIENT_PRIVILEGE,
    },
    Attack {
        name: "update own progress",
        actor: Actor::Citizen,
        sql: "update investigations set progress = 1 where id = '{alice_processing}'",
        expect: INSUFFICIENT_PRIVILEGE,
    },
    Attack {
        name: "update own attempts",
        actor: Actor::Citizen,
        sql: "update investigations set attempts = 0 where id = '{alice_processing}'",
        expect: INSUFFICIENT_PRIVILEGE,
    },
    Attack {
        name: "reassign own row to another citizen",
        actor: Actor::Citizen,
        sql: "update investigations set user_id = '{bob}' where id = '{alice_pending}'",
        expect: INSUFFICIENT_PRIVILEGE,
    },
    Attack {
        name: "cancel another citizen's row",
        actor: Actor::Citizen,
        sql: "update investigations set status = 'cancelled' where user_id = '{bob}'",
        expect: Expect::Nothing,
    },
    Attack {
        name: "cancel own completed row",
        actor: Actor::Citizen,
        sql: "update investigations set status = 'cancelled' where id = '{alice_completed}'",
        expect: Expect::Nothing,
    },
    // Deleting.
    Attack {
        name: "delete own processing row",
        actor: Actor::Citizen,
        sql: "delete from investigations where id = '{alice_processing}'",
        expect: Expect::Nothing,
    },
    Attack {
        name: "delete another citizen's rows",
        actor: Actor::Citizen,
        sql: "delete from investigations where user_id = '{bob}'",
        expect: Expect::Nothing,
    },
    Attack {
        name: "truncate the table",
        actor: Actor::Citizen,
        sql: "truncate investigations",
        expect: INSUFFICIENT_PRIVILEGE,
    },
    // Around the policies. (SET ROLE is not among them: the check is made against
    // the session user, which under PostgREST is `authenticator`, a member of every
    // API role; PostgREST never lets a request send it.)
    Attack {
        name: "turn row level security off",
        actor: Actor::Citizen,
        sql: "alter table investigations disable row level security",
        expect: INSUFFICIENT_PRIVILEGE,
    },
    Attack {
        name: "raise own cap in fiscal.settings",
        actor: Actor::Citizen,
        sql: "update fiscal.settings set value = '1000' where key = 'max_active_per_user'",
        expect: INSUFFICIENT_PRIVILEGE,
    },
    Attack {
        name: "read the worker table",
        actor: Actor::Citizen,
        sql: "select * from fiscal.workers",
        expect: INSUFFICIENT_PRIVILEGE,
    },
    Attack {
        name: "read the imported procurement data directly",
        actor: Actor::Citizen,
        sql: "select * from transparency.contracts",
        expect: INSUFFICIENT_PRIVILEGE,
    },
    // anon gets nothing.
    Attack {
        name: "anon select",
        actor: Actor::Anon,
        sql: "select * from investigations",
        expect: INSUFFICIENT_PRIVILEGE,
    },
    Attack {
        name: "anon select investigation_summaries",
        actor: Actor::Anon,
        sql: "select * from investigation_summaries",
        expect: INSUFFICIENT_PRIVILEGE,
    },
    Attack {
        name: "anon get_investigation_stats",
        actor: Actor::Anon,
        sql: "select * from get_investigation_stats('{bob}')",
        expect: INSUFFICIENT_PRIVILEGE,
    },
    Attack {
        name: "anon insert",
        actor: Actor::Anon,
        sql: "insert into investigations (user_id, query, data_source) values ('{bob}', 'q', 'contracts')",
        expect: INSUFFICIENT_PRIVILEGE,
    },
    Attack {
        name: "anon update",
        actor: Actor::Anon,
        sql: "update investigations set status = 'cancelled'",
        expect: INSUFFICIENT_PRIVILEGE,
    },
    Attack {
        name: "anon delete",
        actor: Actor::Anon,
        sql: "delete from investigations",
        expect: INSUFFICIENT_PRIVILEGE,
    },
];

/// Two citizens: Alice (the attacker) and Bob, each with rows in several states.
/// Bob is at the default cap of 5 active investigations; Alice has 2.
struct World {
    alice: Uuid,
    bob: Uuid,
    ids: Vec<(&'static str, Uuid)>,
}

async fn world(client: &Client) -> World {
    let alice = add_user(client).await;
    let bob = add_user(client).await;
    let mut ids = Vec::new();
    for (name, user, status) in [
        ("alice_pending", alice, "pending"),
        ("alice_processing", alice, "processing"),
        ("alice_completed", alice, "completed"),
        ("bob_pending", bob, "pending"),
        ("bob_processing", bob, "processing"),
        ("bob_pending_2", bob, "pending"),
        ("bob_pending_3", bob, "pending"),
        ("bob_pending_4", bob, "pending"),
        ("bob_completed", bob, "completed"),
    ] {
        let id: Uuid = client
            .query_one(
                "insert into investigations (user_id, query, data_source, status, progress, results, summary)
                 values ($1, $2, 'contracts', $3::text,
                         case when $3::text = 'completed' then 1 else 0 end,
                         case when $3::text = 'completed' then '[{\"type\": \"price\"}]'::jsonb else '[]' end,
                         case when $3::text = 'completed' then 'Uma anomalia.' end)
                 returning id",
                &[&user, &name, &status],
            )
            .await
            .expect("a row of the world")
            .get(0);
        ids.push((name, id));
    }
    World { alice, bob, ids }
}

impl World {
    fn statement(&self, template: &str) -> String {
        let mut sql = template.to_string();
        for (name, id) in &self.ids {
            sql = sql.replace(&format!("{{{name}}}"), &id.to_string());
        }
        sql.replace("{alice}", &self.alice.to_string())
            .replace("{bob}", &self.bob.to_string())
    }

    fn id(&self, name: &str) -> Uuid {
        self.ids
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, id)| *id)
            .expect("a row of the world")
    }
}

/// Runs `sql` as PostgREST runs a request for `actor` (Alice, when signed in),
/// then commits if `commit`, else rolls back. Rows seen or changed, or the SQLSTATE.
pub async fn act(client: &Client, actor: Actor, user: Uuid, sql: &str, commit: bool) -> Outcome {
    let (role, claims) = match actor {
        Actor::Citizen => (
            "authenticated",
            json!({"sub": user, "role": "authenticated", "aud": "authenticated"}),
        ),
        Actor::CitizenClaimingServiceRole => (
            "authenticated",
            json!({"sub": user, "role": "service_role", "aud": "authenticated"}),
        ),
        Actor::Anon => ("anon", json!({"role": "anon"})),
    };
    client.batch_execute("begin").await.expect("begin");
    client
        .execute(
            "select set_config('role', $1, true), set_config('request.jwt.claims', $2, true)",
            &[&role, &claims.to_string()],
        )
        .await
        .expect("acting as PostgREST does");
    let outcome = Outcome::of(client.execute(sql, &[]).await);
    let end = if commit && matches!(outcome, Outcome::Rows(_)) {
        "commit"
    } else {
        "rollback"
    };
    client.batch_execute(end).await.expect("ending the request");
    outcome
}

#[tokio::test]
async fn no_attack_on_row_level_security_gets_through() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let world = world(&client).await;
    let before: String = client
        .query_one(
            "select string_agg(to_jsonb(i)::text, ',' order by id) from investigations i",
            &[],
        )
        .await
        .expect("a snapshot")
        .get(0);

    let mut wrong = Vec::new();
    for attack in ATTACKS {
        let sql = world.statement(attack.sql);
        let outcome = act(&client, attack.actor, world.alice, &sql, false).await;
        let as_expected = attack.expect.met_by(&outcome);
        let got_through = matches!(outcome, Outcome::Rows(n) if n > 0)
            || (matches!(outcome, Outcome::Rows(_)) && matches!(attack.expect, Expect::Refused(_)));
        eprintln!(
            "{:>5}  {:<62} expected {:?}, got {:?}",
            if as_expected {
                "ok"
            } else if got_through {
                "OPEN"
            } else {
                "DIFF"
            },
            attack.name,
            attack.expect,
            outcome
        );
        if !as_expected {
            wrong.push(format!(
                "{} ({}): expected {:?}, got {:?}{}",
                attack.name,
                sql.split_whitespace().collect::<Vec<_>>().join(" "),
                attack.expect,
                outcome,
                if got_through { " — GOT THROUGH" } else { "" }
            ));
        }
    }
    eprintln!(
        "{} attack cases, {} not as expected",
        ATTACKS.len(),
        wrong.len()
    );
    assert!(
        wrong.is_empty(),
        "{} of {} attacks did not end as expected:\n{}",
        wrong.len(),
        ATTACKS.len(),
        wrong.join("\n")
    );
    let after: String = client
        .query_one(
            "select string_agg(to_jsonb(i)::text, ',' order by id) from investigations i",
            &[],
        )
        .await
        .expect("a snapshot")
        .get(0);
    assert_eq!(after, before, "the attacks changed a row");
}

#[tokio::test]
async fn citizen_inserts_own_pending_row_and_gets_it_back_with_returning_star() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let alice = add_user(&client).await;
    // What supabase-js sends: user_id and status included, then `.select()`.
    let sql = format!(
        "insert into investigations (user_id, status, query, data_source, filters, anomaly_types, session_id)
         values ('{alice}', 'pending', 'contratos de 2024', 'contracts', '{{\"year\": 2024}}', '[\"price\"]', 's1')
         returning *"
    );
    assert_eq!(
        act(&client, Actor::Citizen, alice, &sql, true).await,
        Outcome::Rows(1)
    );
    // Without user_id, it defaults to the caller.
    let sql =
        "insert into investigations (query, data_source) values ('q', 'contracts') returning *";
    assert_eq!(
        act(&client, Actor::Citizen, alice, sql, true).await,
        Outcome::Rows(1)
    );
    let rows = client
        .query(
            "select status, progress, attempts, filters from investigations where user_id = $1",
            &[&alice],
        )
        .await
        .expect("rows");
    assert_eq!(rows.len(), 2);
    for row in &rows {
        assert_eq!(row.get::<_, String>(0), "pending");
        assert_eq!(row.get::<_, Option<f64>>(1), Some(0.0));
        assert_eq!(row.get::<_, i32>(2), 0);
    }
}

#[tokio::test]
async fn citizen_reads_own_rows_summaries_and_stats() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let world = world(&client).await;
    let alice = world.alice;
    for (sql, expected) in [
        ("select * from investigations".to_string(), 3),
        (
            format!("select * from investigations where user_id = '{alice}'"),
            3,
        ),
        ("select * from investigation_summaries".to_string(), 3),
        (
            format!(
                "select * from investigation_summaries where id = '{}' and results_count = 1",
                world.id("alice_completed")
            ),
            1,
        ),
        (
            format!(
                "select * from get_investigation_stats('{alice}')
                 where total_investigations = 3 and completed_investigations = 1
                   and pending_investigations = 2 and failed_investigations = 0"
            ),
            1,
        ),
    ] {
        assert_eq!(
            act(&client, Actor::Citizen, alice, &sql, false).await,
            Outcome::Rows(expected),
            "{sql}"
        );
    }
}

#[tokio::test]
async fn citizen_cancels_own_pending_and_processing_rows_and_the_row_is_completed() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let world = world(&client).await;
    let sql = format!(
        "update investigations set status = 'cancelled' where id in ('{}', '{}') returning *",
        world.id("alice_pending"),
        world.id("alice_processing")
    );
    assert_eq!(
        act(&client, Actor::Citizen, world.alice, &sql, true).await,
        Outcome::Rows(2)
    );
    let rows = client
        .query(
            "select status, current_phase, completed_at is not null, lease_expires_at is null
             from investigations where user_id = $1 and status <> 'completed'",
            &[&world.alice],
        )
        .await
        .expect("rows");
    assert_eq!(rows.len(), 2);
    for row in rows {
        assert_eq!(row.get::<_, String>(0), "cancelled");
        assert_eq!(
            row.get::<_, Option<String>>(1).as_deref(),
            Some("cancelled")
        );
        assert!(row.get::<_, bool>(2) && row.get::<_, bool>(3));
    }
    // A finished row may then be deleted by its owner.
    let sql = format!(
        "delete from investigations where id = '{}'",
        world.id("alice_pending")
    );
    assert_eq!(
        act(&client, Actor::Citizen, world.alice, &sql, true).await,
        Outcome::Rows(1)
    );
}

#[tokio::test]
async fn the_worker_role_cannot_insert_delete_or_rewrite_what_is_not_its_to_write() {
    let db = TestDb::new().await;
    let owner = db.client().await;
    let world = world(&owner).await;
    let worker = crate::harness::connect(&db.worker_url).await;
    let role = worker
        .query_one(
            "select r.rolsuper, r.rolbypassrls, pg_has_role(current_user, 'fiscal_worker', 'usage')
             from pg_roles r where r.rolname = current_user",
            &[],
        )
        .await
        .expect("the worker's role");
    assert_eq!(
        (
            role.get::<_, bool>(0),
            role.get::<_, bool>(1),
            role.get::<_, bool>(2)
        ),
        (false, false, true),
        "neither superuser nor BYPASSRLS, and a member of fiscal_worker"
    );
    let attempts = [
        ("insert into investigations (user_id, query, data_source) values ('{bob}', 'q', 'contracts')", Expect::Refused("42501")),
        ("delete from investigations where id = '{bob_pending}'", Expect::Refused("42501")),
        ("update investigations set query = 'outra' where id = '{bob_pending}'", Expect::Refused("42501")),
        ("update investigations set user_id = '{alice}' where id = '{bob_pending}'", Expect::Refused("42501")),
        ("update investigations set status = 'cancelled' where id = '{bob_pending}'", Expect::Refused("42501")),
        ("update investigations set summary = 'reescrito' where id = '{bob_completed}'", Expect::Nothing),
        ("update fiscal.settings set value = '1000' where key = 'max_active_per_user'", Expect::Refused("42501")),
        ("select * from auth.users", Expect::Refused("42501")),
        // It may insert and update contracts (the Portal API cache, migration
        // 0007) but never delete them, nor write amendments.
        ("delete from transparency.contracts", Expect::Refused("42501")),
        ("insert into transparency.amendments (amendment_id, source_month, source_file, source_line, numero_contrato, objeto) values ('x', '2024-01-01', 'f', 1, 'n', 'o')", Expect::Refused("42501")),
        ("create table public.intruder (id int)", Expect::Refused("42501")),
    ];
    let mut wrong = Vec::new();
    for (template, expect) in attempts {
        let sql = world.statement(template);
        let outcome = Outcome::of(worker.execute(sql.as_str(), &[]).await);
        let as_expected = expect.met_by(&outcome);
        if !as_expected {
            wrong.push(format!("{sql}: expected {expect:?}, got {outcome:?}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
