//! `fiscal migrate` on empty databases, on Supabase-like ones, and from many
//! processes at once.

use fiscal::db::migrate;
use tokio_postgres::Client;
use uuid::Uuid;

use crate::harness::{connect, test_settings, EmptyDb};

/// Everything a migration creates, as text, to compare before and after.
async fn schema_fingerprint(client: &Client) -> String {
    let queries = [
        "select string_agg(table_schema||'.'||table_name||'.'||column_name||':'||data_type||':'||coalesce(column_default,''), ',' order by 1)
         from information_schema.columns where table_schema in ('public','fiscal','auth')",
        "select string_agg(indexdef, ',' order by indexdef) from pg_indexes where schemaname in ('public','fiscal')",
        "select string_agg(policyname||':'||cmd||':'||coalesce(qual,'')||':'||coalesce(with_check,''), ',' order by policyname) from pg_policies",
        "select string_agg(tgname, ',' order by tgname) from pg_trigger where not tgisinternal",
        "select string_agg(grantee||':'||privilege_type||':'||table_name, ',' order by 1) from information_schema.role_table_grants where table_schema = 'public'",
        "select string_agg(key||'='||value::text, ',' order by key) from fiscal.settings",
    ];
    let mut out = String::new();
    for q in queries {
        let row = client.query_one(q, &[]).await.expect("fingerprint query");
        out.push_str(&row.get::<_, Option<String>>(0).unwrap_or_default());
        out.push('\n');
    }
    out
}

#[tokio::test]
async fn migrations_apply_to_an_empty_database_and_again_with_no_change() {
    let db = EmptyDb::new().await;
    let settings = test_settings(&db.url);

    let first = migrate::run(&settings).await.expect("first migration");
    assert!(first.shim_applied, "plain PostgreSQL needs the shim");
    let all: Vec<&str> = migrate::MIGRATIONS.iter().map(|m| m.name).collect();
    assert_eq!(first.applied, all);

    let client = connect(&db.url).await;
    let before = schema_fingerprint(&client).await;
    let second = migrate::run(&settings).await.expect("second migration");
    assert!(!second.shim_applied, "auth.uid() exists now");
    assert!(
        second.applied.is_empty(),
        "nothing left to apply: {:?}",
        second.applied
    );
    assert_eq!(schema_fingerprint(&client).await, before);
    assert!(migrate::pending(&client).await.expect("pending").is_empty());
}

#[tokio::test]
async fn shim_is_skipped_where_supabase_auth_already_exists() {
    let db = EmptyDb::new().await;
    let client = connect(&db.url).await;
    // What a Supabase project has before our migrations (roles are cluster-wide
    // and exist already once any shim ran; create them if this test runs first).
    client
        .batch_execute(
            "do $$ begin
                 if not exists (select 1 from pg_roles where rolname = 'authenticated') then
                     create role anon nologin; create role authenticated nologin;
                     create role service_role nologin bypassrls;
                 end if;
             exception when duplicate_object or unique_violation then null; end $$;
             create schema auth;
             create table auth.users (id uuid primary key);
             create function auth.uid() returns uuid language sql stable as
                 $f$ select nullif(current_setting('request.jwt.claim.sub', true), '')::uuid $f$;
             create publication supabase_realtime;",
        )
        .await
        .expect("a Supabase-like database");

    let report = migrate::run(&test_settings(&db.url))
        .await
        .expect("migration");
    assert!(!report.shim_applied);
    assert_eq!(report.applied.len(), migrate::MIGRATIONS.len());
    let shim_only: bool = client
        .query_one("select to_regprocedure('auth.jwt()') is null", &[])
        .await
        .expect("query")
        .get(0);
    assert!(shim_only, "the shim would have created auth.jwt()");
}

#[tokio::test]
async fn ten_processes_migrating_at_once_apply_each_migration_once() {
    let db = EmptyDb::new().await;
    let settings = test_settings(&db.url);
    let runs: Vec<_> = (0..10)
        .map(|_| {
            let settings = settings.clone();
            tokio::spawn(async move { migrate::run(&settings).await })
        })
        .collect();
    let mut applied = 0;
    let mut shims = 0;
    for run in runs {
        let report = run
            .await
            .expect("task")
            .expect("every concurrent migration succeeds");
        applied += report.applied.len();
        shims += usize::from(report.shim_applied);
    }
    assert_eq!(
        applied,
        migrate::MIGRATIONS.len(),
        "each migration applied exactly once"
    );
    assert_eq!(shims, 1, "the shim applied exactly once");
    let client = connect(&db.url).await;
    let recorded: i64 = client
        .query_one("select count(*) from fiscal.schema_migrations", &[])
        .await
        .expect("query")
        .get(0);
    assert_eq!(recorded as usize, migrate::MIGRATIONS.len());
}

#[tokio::test]
async fn schema_keeps_the_original_contract_and_adds_the_queue() {
    let db = crate::harness::TestDb::new().await;
    let client = db.client().await;
    let indexes: Vec<String> = client
        .query(
            "select indexname from pg_indexes where tablename = 'investigations'",
            &[],
        )
        .await
        .expect("indexes")
        .iter()
        .map(|r| r.get(0))
        .collect();
    for name in [
        "idx_investigations_user_id",
        "idx_investigations_created_at",
        "idx_investigations_user_status",
        "idx_investigations_session_id",
        "idx_investigations_user_created",
        "idx_investigations_filters",
        "idx_investigations_results",
        "idx_investigations_queue",
        "idx_investigations_suspects",
        "idx_investigations_processing",
        "idx_investigations_failed",
    ] {
        assert!(
            indexes.iter().any(|i| i == name),
            "missing index {name}: {indexes:?}"
        );
    }
    // No index may cover what progress writes change, or they stop being HOT.
    let hot_breakers: Vec<String> = client
        .query(
            "select indexname from pg_indexes where tablename = 'investigations'
             and (indexdef ~ '\\m(progress|current_phase|lease_expires_at|updated_at)\\M')",
            &[],
        )
        .await
        .expect("indexes")
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(
        hot_breakers.is_empty(),
        "indexes on progress-write columns: {hot_breakers:?}"
    );

    let row = client
        .query_one(
            "select c.relreplident::text,
                    exists (select 1 from pg_publication_tables where pubname = 'supabase_realtime'
                            and tablename = 'investigations'),
                    (select count(*) from pg_constraint where conrelid = c.oid and conname in
                        ('valid_status','valid_data_source','valid_progress','valid_confidence')),
                    to_regclass('public.investigation_summaries') is not null,
                    to_regprocedure('public.get_investigation_stats(uuid)') is not null,
                    exists (select 1 from pg_trigger where tgname = 'update_investigations_updated_at'),
                    c.relrowsecurity
             from pg_class c where c.relname = 'investigations'",
            &[],
        )
        .await
        .expect("catalog");
    assert_eq!(row.get::<_, String>(0), "f", "REPLICA IDENTITY FULL");
    assert!(row.get::<_, bool>(1), "in publication supabase_realtime");
    assert_eq!(
        row.get::<_, i64>(2),
        4,
        "the four original check constraints"
    );
    assert!(row.get::<_, bool>(3) && row.get::<_, bool>(4) && row.get::<_, bool>(5));
    assert!(row.get::<_, bool>(6), "row level security enabled");
}

#[tokio::test]
async fn a_citizen_may_only_cancel_and_the_cap_holds() {
    let db = crate::harness::TestDb::new().await;
    let client = db.client().await;
    let user = crate::harness::add_user(&client).await;
    client
        .execute(
            "update fiscal.settings set value = '2' where key = 'max_active_per_user'",
            &[],
        )
        .await
        .expect("lower the cap");
    let ok =
        "insert into investigations (query, data_source) values ('contratos de 2024', 'contracts')";
    as_citizen(&client, user, ok)
        .await
        .expect("a citizen creates a pending investigation");
    as_citizen(&client, user, ok)
        .await
        .expect("second one, under the cap");
    let refused = as_citizen(&client, user, ok)
        .await
        .expect_err("a third one is over the cap");
    assert_eq!(refused.as_deref(), Some("PT429"));

    let forged = as_citizen(
        &client,
        user,
        "update investigations set status = 'completed'",
    )
    .await;
    assert!(forged.is_err(), "forging completion must be refused");
    as_citizen(
        &client,
        user,
        "update investigations set status = 'cancelled'",
    )
    .await
    .expect("cancelling is allowed");
    let phases: Vec<String> = client
        .query(
            "select current_phase from investigations where user_id = $1",
            &[&user],
        )
        .await
        .expect("rows")
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        phases,
        vec!["cancelled", "cancelled"],
        "the trigger completes cancelled rows"
    );
}

/// Runs and commits `sql` as PostgREST would for a signed-in citizen; the SQLSTATE
/// on refusal.
async fn as_citizen(client: &Client, user: Uuid, sql: &str) -> Result<(), Option<String>> {
    match crate::rls::act(client, crate::rls::Actor::Citizen, user, sql, true).await {
        crate::rls::Outcome::Rows(_) => Ok(()),
        crate::rls::Outcome::Refused(code) => Err(Some(code)),
    }
}

/// The role is cluster-wide and operators may re-run the file by hand (or a
/// database may have had it applied under another name): it must converge.
#[tokio::test]
async fn the_worker_role_migration_runs_again_and_ends_with_the_same_grants() {
    let db = crate::harness::TestDb::new().await;
    let client = db.client().await;
    let grants = "select string_agg(table_schema || '.' || table_name || ':' || privilege_type, ','
                      order by table_schema, table_name, privilege_type)
                  from information_schema.role_table_grants where grantee = 'fiscal_worker'";
    let before: String = client.query_one(grants, &[]).await.expect("grants").get(0);
    // 0005 revokes everything on schema transparency before it grants; 0007
    // grants the worker the API cache on top, 0010 the names questions are
    // resolved against, 0011 the sanctions, 0012 the budget lines, 0013 the
    // servants, 0014 the biddings, 0015 the agreements, 0016 the biddings
    // from the API, 0017 the expense documents, 0019 the item prices and 0020 the direct
    // awards' norms, so they are re-run in order.
    let sql: String = migrate::MIGRATIONS
        .iter()
        .filter(|m| {
            [
                "0005_worker_role",
                "0007_portal_api",
                "0010_question_names",
                "0011_sanctions",
                "0012_budget_lines",
                "0013_servants",
                "0014_biddings",
                "0015_agreements",
                "0016_biddings_from_the_api",
                "0017_expense_documents",
                "0019_item_prices",
                "0020_direct_award_norms",
            ]
            .contains(&m.name)
        })
        .map(|m| m.sql)
        .collect::<Vec<_>>()
        .join("\n");
    client
        .batch_execute(&format!(
            "grant delete on public.investigations to fiscal_worker; {sql}"
        ))
        .await
        .expect("0005 and the later grants run again");
    let after: String = client.query_one(grants, &[]).await.expect("grants").get(0);
    assert_eq!(after, before, "a grant made by hand is taken back");
}
