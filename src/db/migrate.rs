//! Schema migrations: plain SQL under `sql/`, compiled into the binary so a
//! container needs nothing beside it.
//!
//! Each migration runs once, in its own transaction, and is recorded with the md5
//! of its text in `fiscal.schema_migrations`. Every step (the bookkeeping table,
//! the Supabase shim, each migration) takes a transaction-level advisory lock and
//! checks inside it whether it is still needed, so any number of processes starting
//! at once are safe: one applies, the others wait and then find nothing to do.
//! Nothing outlives a transaction (no session lock, no session setting, unnamed
//! statements only), so migrating through a transaction-mode pooler works too. The
//! Supabase shim runs first, only where `auth.uid()` is missing (plain PostgreSQL).

use anyhow::{Context, Result};
use tokio_postgres::types::Type;
use tokio_postgres::{Client, GenericClient, Transaction};
use tracing::{info, warn};

use crate::config::Settings;

pub struct Migration {
    pub version: i32,
    pub name: &'static str,
    pub sql: &'static str,
}

macro_rules! migration {
    ($version:expr, $name:literal) => {
        Migration {
            version: $version,
            name: $name,
            sql: include_str!(concat!("../../sql/migrations/", $name, ".sql")),
        }
    };
}

/// In order. A test checks that this list and `sql/migrations/` agree.
pub const MIGRATIONS: &[Migration] = &[
    migration!(1, "0001_investigations"),
    migration!(2, "0002_queue"),
    migration!(3, "0003_security_and_realtime"),
    migration!(4, "0004_transparency"),
    migration!(5, "0005_worker_role"),
    migration!(6, "0006_operations"),
    migration!(7, "0007_portal_api"),
    migration!(8, "0008_citizen_input_limits"),
    migration!(9, "0009_claim_order"),
    migration!(10, "0010_question_names"),
    migration!(11, "0011_sanctions"),
    migration!(12, "0012_budget_lines"),
    migration!(13, "0013_servants"),
    migration!(14, "0014_biddings"),
    migration!(15, "0015_agreements"),
    migration!(16, "0016_biddings_from_the_api"),
    migration!(17, "0017_expense_documents"),
    migration!(18, "0018_operator_controls"),
    migration!(19, "0019_item_prices"),
    migration!(20, "0020_direct_award_norms"),
];

pub const SUPABASE_SHIM: &str = include_str!("../../sql/supabase_shim.sql");

/// "fiscal" in ASCII: the advisory lock every migrating transaction queues on.
const MIGRATION_LOCK: i64 = 0x66_69_73_63_61_6c;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct MigrationReport {
    pub shim_applied: bool,
    pub applied: Vec<String>,
}

/// Brings the database at `settings.migrate_url()` up to date and writes the
/// database-side settings.
pub async fn run(settings: &Settings) -> Result<MigrationReport> {
    let (mut client, driver) =
        crate::db::connect_driven(settings.migrate_url(), &settings.database).await?;
    let report = apply_all(&mut client, settings).await;
    drop(client);
    let _ = driver.await;
    report
}

/// Opens a transaction that holds the migration lock until it ends.
async fn locked(client: &mut Client) -> Result<Transaction<'_>> {
    let tx = client.transaction().await?;
    // "already exists, skipping" notices of the idempotent DDL are noise in logs.
    tx.batch_execute("set local client_min_messages = warning")
        .await
        .context("configuring the migration transaction")?;
    tx.execute_typed(
        "select pg_advisory_xact_lock($1)",
        &[(&MIGRATION_LOCK, Type::INT8)],
    )
    .await
    .context("waiting for the migration lock")?;
    Ok(tx)
}

async fn apply_all(client: &mut Client, settings: &Settings) -> Result<MigrationReport> {
    let mut report = MigrationReport::default();
    let tx = locked(client).await?;
    tx.batch_execute(
        "create schema if not exists fiscal;
         create table if not exists fiscal.schema_migrations (
             version integer primary key,
             name text not null,
             checksum text not null,
             applied_at timestamptz not null default now()
         );",
    )
    .await
    .context("creating fiscal.schema_migrations")?;
    tx.commit().await?;

    let tx = locked(client).await?;
    let has_auth: bool = tx
        .query_typed_one("select to_regprocedure('auth.uid()') is not null", &[])
        .await?
        .get(0);
    if !has_auth {
        tx.batch_execute(SUPABASE_SHIM)
            .await
            .context("applying sql/supabase_shim.sql")?;
        report.shim_applied = true;
        info!("applied the Supabase shim (auth schema, roles, publication)");
    }
    tx.commit().await?;

    for migration in MIGRATIONS {
        let tx = locked(client).await?;
        // Read under the lock: another process may have applied it while we waited.
        let applied = applied_checksums(&tx).await?;
        if let Some(checksum) = applied.iter().find(|(v, _)| *v == migration.version) {
            let current: String = tx
                .query_typed_one("select md5($1)", &[(&migration.sql, Type::TEXT)])
                .await?
                .get(0);
            if checksum.1 != current {
                warn!(
                    migration = migration.name,
                    "migration file changed after it was applied; the database keeps the old version"
                );
            }
            tx.commit().await?;
            continue;
        }
        tx.batch_execute(migration.sql)
            .await
            .with_context(|| format!("applying sql/migrations/{}.sql", migration.name))?;
        tx.execute_typed(
            "insert into fiscal.schema_migrations (version, name, checksum) values ($1, $2, md5($3))",
            &[
                (&migration.version, Type::INT4),
                (&migration.name, Type::TEXT),
                (&migration.sql, Type::TEXT),
            ],
        )
        .await?;
        tx.commit().await?;
        info!(migration = migration.name, "applied migration");
        report.applied.push(migration.name.to_string());
    }

    write_settings(client, settings).await?;
    Ok(report)
}

async fn applied_checksums(client: &impl GenericClient) -> Result<Vec<(i32, String)>> {
    let rows = client
        .query_typed(
            "select version, checksum from fiscal.schema_migrations",
            &[],
        )
        .await
        .context("reading fiscal.schema_migrations")?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// The settings triggers and column defaults read, so the database holds no
/// literals that the configuration should decide.
async fn write_settings(client: &Client, settings: &Settings) -> Result<()> {
    let values = [
        (
            "max_attempts",
            serde_json::json!(settings.worker.max_attempts),
        ),
        (
            "max_active_per_user",
            serde_json::json!(settings.limits.max_active_per_user),
        ),
        (
            "max_inserts_per_minute",
            serde_json::json!(settings.limits.max_inserts_per_minute),
        ),
        (
            "queue_quantum_ms",
            serde_json::json!(settings.limits.queue_quantum_ms),
        ),
    ];
    for (key, value) in values {
        client
            .execute_typed(
                "insert into fiscal.settings (key, value) values ($1, $2)
                 on conflict (key) do update set value = excluded.value, updated_at = now()
                 where fiscal.settings.value is distinct from excluded.value",
                &[(&key, Type::TEXT), (&value, Type::JSONB)],
            )
            .await
            .with_context(|| format!("writing setting {key}"))?;
    }
    Ok(())
}

/// Migrations the database at hand has not applied yet, by name.
pub async fn pending(client: &Client) -> Result<Vec<&'static str>> {
    let exists: bool = client
        .query_typed_one(
            "select to_regclass('fiscal.schema_migrations') is not null",
            &[],
        )
        .await?
        .get(0);
    let applied = if exists {
        applied_checksums(client).await?
    } else {
        Vec::new()
    };
    Ok(MIGRATIONS
        .iter()
        .filter(|m| !applied.iter().any(|(v, _)| *v == m.version))
        .map(|m| m.name)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_in_sql_migrations_is_compiled_in_order() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("sql/migrations");
        let mut files: Vec<String> = std::fs::read_dir(&dir)
            .expect("sql/migrations exists")
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".sql"))
            .collect();
        files.sort();
        let compiled: Vec<String> = MIGRATIONS
            .iter()
            .map(|m| format!("{}.sql", m.name))
            .collect();
        assert_eq!(files, compiled);
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version as usize, i + 1, "{} is out of sequence", m.name);
            assert!(m.name.starts_with(&format!("{:04}_", m.version)));
        }
    }
}
